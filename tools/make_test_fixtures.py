"""Write the committed run folders that the reporting and sweep-status tests read (tests/fixtures/).

    python tools/make_test_fixtures.py          # about a minute on 2 CPU cores

Runs the tiny grid of tests/fixtures/grid.yaml (generators none and real, strategies none and concat,
two seeds, 1 epoch on 160 images at 32 px) and one run on the paper split, then keeps the small files
of each run folder (no model.pt) and of the synthetic set (no images.npy). The way DomainBed tests
`collect_results` on `misc/test_sweep_data`: reporting code is tested on real records, without training.
Run it again when a change alters run ids or record contents; tests/test_fixtures.py says when.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
KEEP_RUN = ("config.json", "record.json", "metrics.json", "per_class.csv", "predictions_test.csv", "split.csv",
            "log.txt", "done")
KEEP_SET = ("manifest.json", "labels.csv", "grid.png")


def main() -> None:
    from bench import config
    from bench.runs import sweep
    from bench.runs.execute import Runtime, execute

    grid = sweep.load_grid(FIXTURES / "grid.yaml")
    configs = [config.build(flags={"generator.name": job.args[job.args.index("--generator") + 1],
                                   "strategy.name": job.args[job.args.index("--strategy") + 1],
                                   "seed": int(job.args[job.args.index("--seed") + 1])},
                            overrides=tuple(grid.overrides)) for job in sweep.expand(grid)]
    configs.append(config.build(overrides=(*grid.overrides, "split.name=paper")))
    with tempfile.TemporaryDirectory() as work:
        runs, synthetic = Path(work) / "runs", Path(work) / "synthetic"
        for cfg in configs:
            execute(cfg, Runtime(runs, "cpu", synthetic_dir=synthetic), say=lambda line: None)
        copies = ((FIXTURES / "runs", runs, KEEP_RUN), (FIXTURES / "synthetic", synthetic, KEEP_SET))
        for target, source, keep in copies:
            shutil.rmtree(target, ignore_errors=True)
            for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
                (target / folder.name).mkdir(parents=True)
                for name in keep + tuple(p.name for p in folder.glob("fidelity-*.json")):
                    if (folder / name).exists():
                        shutil.copyfile(folder / name, target / folder.name / name)
    print(f"wrote {len(list((FIXTURES / 'runs').iterdir()))} run folders and "
          f"{len(list((FIXTURES / 'synthetic').iterdir()))} set folders under {FIXTURES}")


if __name__ == "__main__":
    sys.exit(main())
