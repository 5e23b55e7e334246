"""One configuration over several run seeds (`bench run --seeds 0 1 2`): one run per seed, one after the
other in this process or `parallel` at a time in processes of their own (the local launcher of sweeps),
finished seeds reused; then the mean and the interval the leaderboard would print for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import yaml

from bench.config import RunConfig
from bench.errors import BenchError
from bench.evaluate.metrics import F1_TUNED
from bench.files import write_text
from bench.runs.execute import execute, load_data, run_id
from bench.runs.preflight import Runtime


def check_seeds(seeds: list[int], parallel: int = 1, force: bool = False) -> list[int]:
    """The seeds as given; a duplicate or a negative one, or --force with --parallel, is one line."""
    doubled = sorted({s for s in seeds if seeds.count(s) > 1})
    if doubled:
        raise BenchError(f"--seeds {' '.join(map(str, seeds))}: seed {doubled[0]} is given twice; give each seed once")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise BenchError(f"--seeds: seed {negative[0]} is negative; run seeds are integers >= 0")
    if not seeds:
        raise BenchError("--seeds: give at least one seed, e.g. --seeds 0 1 2")
    if parallel > 1 and force:
        raise BenchError("--force with --parallel: the parallel launcher skips finished seeds; run with --force "
                         "without --parallel to run every seed again")
    return seeds


def run_seeds(cfg: RunConfig, seeds: list[int], runtime: Runtime, parallel: int,
              say: Callable[[str], None]) -> list[Path]:
    """The run folder of each seed, in the order given (finished ones reused)."""
    configs = [replace(cfg, seed=seed) for seed in check_seeds(seeds, parallel, runtime.force)]
    if parallel <= 1:
        folders = []
        for number, each in enumerate(configs, start=1):
            say(f"seed {each.seed} ({number} of {len(configs)})")
            folders.append(execute(each, runtime, say).run_dir)
        return folders
    return _in_processes(configs, runtime, parallel, say)


def _in_processes(configs: list[RunConfig], runtime: Runtime, parallel: int, say: Callable[[str], None]) -> list[Path]:
    """Each seed's resolved config written to runs/.seeds/ and run by `bench run --config` in a process of its
    own, `parallel` at a time (a synthetic set they share is built first, once)."""
    from bench import registry
    from bench.runs import launchers
    from bench.runs.sweep import Job

    local = [f"{kind} {getattr(configs[0], kind).name}" for kind in registry.KINDS
             if registry.origin(kind, getattr(configs[0], kind).name)["distribution"] == registry.SESSION]
    if local:
        raise BenchError(f"{local[0]} is registered in this Python session, which other processes cannot see: run "
                         f"its seeds here (parallel=1), or install it as a plugin package (docs/plugins.md)")

    data, split, _ = load_data(configs[0])
    folder = Path(runtime.runs_dir) / ".seeds"
    jobs = []
    for each in configs:
        rid = run_id(each, data, split)
        path = folder / f"{rid[:16]}.yaml"
        write_text(path, yaml.safe_dump(each.to_dict(), sort_keys=False))
        set_args = ["--config", str(path)] if each.generator.plugin.produces_images else None
        jobs.append(Job(["--config", str(path)], rid, set_args, f"seed {each.seed}"))
    common = ["--runs-dir", str(runtime.runs_dir), "--synthetic-dir", str(runtime.synthetic_dir), "--device",
              runtime.device, *[a for logger in runtime.loggers for a in ("--logger", logger)],
              *(["--inception-weights", runtime.inception_weights] if runtime.inception_weights else []),
              *(["--name", runtime.name] if runtime.name else [])]
    failed = launchers.run_local(jobs, common, say, 0, parallel)
    if failed:
        raise BenchError(f"{failed} of {len(jobs)} seeds failed (their output is above); the same command runs them "
                         f"again and reuses the finished ones")
    return [Path(runtime.runs_dir) / job.run_id[:16] for job in jobs]


def summary(folders: list[Path]) -> str:
    """Mean test (and validation) macro F1 @tuned over the seeds' runs, with the leaderboard's interval."""
    from bench.report.intervals import fmt, fmt_bounds
    from bench.report.paired import PairedTest, config_bounds
    from bench.report.runs_frame import load_runs

    runs_dir = folders[0].parent
    frame = load_runs(runs_dir, only={f.name for f in folders})
    lines = [f"{len(frame)} seeds ({', '.join(str(s) for s in sorted(frame['seed']))}), mean ± sd and the 95% "
             f"interval of the mean the leaderboard prints:"]
    for role in ("val", "test"):
        key = f"{role}:{F1_TUNED}"
        if frame[key].notna().any():
            bounds, kind = config_bounds(frame, key, PairedTest(runs_dir))
            over = {"seeds+images": "over seeds and test images", "seeds": "over seeds (Student t)"}[kind]
            interval = f" {fmt_bounds(bounds)} {over}" if bounds[0] is not None else " (one seed: no interval)"
            lines.append(f"  {role} macro F1 @tuned {fmt(frame[key])}{interval}")
    return "\n".join(lines)
