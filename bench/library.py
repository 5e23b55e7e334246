"""The Python API, for notebooks: `bench run`, `bench generate` and `bench sweep` as functions.

Each takes the CLI's options in any of three forms, merged in this order (later wins): a config
(a `RunConfig`, a nested dict as in a config file, or a YAML/TOML path), a preset, then keyword
options: the CLI's shortcuts (`dataset=`, `generator=`, `strategy=`, `classifier=`, `seed=`,
`epochs=`) and any config key with `__` for its dots (`train__lr=3e-4`, `generator__epochs=1`), or
`overrides={"train.lr": 3e-4}` (or the CLI's form, `overrides=["train.lr=3e-4"]`). They return
records (plain dicts), and `load_runs` gives every finished run as one pandas row.

    import bench
    record = bench.run(generator="real", strategy="concat", epochs=1, dataset__n_images=300)
    record["metrics"]["test"]["f1_macro@tuned"]
    frame = bench.load_runs("runs")
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench import config as config_module
from bench.config import RunConfig
from bench.errors import BenchError

SHORTCUTS = {"dataset": "dataset.name", "generator": "generator.name", "strategy": "strategy.name",
             "classifier": "classifier.name", "seed": "seed", "epochs": "train.epochs"}


Overrides = dict[str, Any] | list[str] | tuple[str, ...] | None


def _override_pairs(overrides: Overrides) -> dict[str, Any]:
    """`overrides` as {key: value}: a dict as it is, or the CLI's "key=value" strings parsed as the CLI parses them."""
    if overrides is None or isinstance(overrides, dict):
        return dict(overrides or {})
    if isinstance(overrides, list | tuple) and all(isinstance(item, str) for item in overrides):
        return dict(config_module.parse_override(item) for item in overrides)
    raise BenchError(f"overrides={overrides!r}: expected a dict {{'train.lr': 3e-4}} or a list of 'key=value' "
                     "strings ['train.lr=3e-4']")


def configure(config: RunConfig | dict | str | Path | None = None, *, preset: str | None = None,
              overrides: Overrides = None, **options: Any) -> RunConfig:
    """The validated RunConfig that `run`, `generate` and `sweep` would use."""
    raw: dict = config_module.presets.load(preset) if preset else {}
    if isinstance(config, RunConfig):
        raw = config_module.merge(raw, config.to_dict())
    elif isinstance(config, dict):
        raw = config_module.merge(raw, config)
    elif config is not None:
        raw = config_module.merge(raw, config_module.load_file(Path(config)))
    dotted = {SHORTCUTS.get(k, k.replace("__", ".")): v for k, v in options.items()}
    for key, value in {**dotted, **_override_pairs(overrides)}.items():
        if value is not None:
            config_module.set_dotted(raw, key, value)
    return config_module.resolve(raw)


def _quiet(verbose: bool) -> Callable[[str], None]:
    return print if verbose else (lambda line: None)


def run(config: RunConfig | dict | str | Path | None = None, *, preset: str | None = None,
        overrides: Overrides = None, runs_dir: str | Path = "runs",
        synthetic_dir: str | Path = "synthetic", device: str = "auto", force: bool = False,
        loggers: tuple[str, ...] = (), verbose: bool = False, **options: Any) -> dict:
    """Train and evaluate one configuration (or reuse its finished run); the run's record:
    {"run_dir", "run_id", "reused", "config", "metrics", "record"}. `loggers`: experiment trackers
    ("tensorboard", "mlflow", "wandb"), as `bench run --logger`."""
    from bench.runs.execute import Runtime, execute

    cfg = configure(config, preset=preset, overrides=overrides, **options)
    runtime = Runtime(Path(runs_dir), device, force, Path(synthetic_dir), loggers=tuple(loggers))
    outcome = execute(cfg, runtime, say=_quiet(verbose))
    return read_run(outcome.run_dir, reused=outcome.reused)


def run_seeds(config: RunConfig | dict | str | Path | None = None, *, seeds: list[int], parallel: int = 1,
              preset: str | None = None, overrides: Overrides = None, runs_dir: str | Path = "runs",
              synthetic_dir: str | Path = "synthetic", device: str = "auto", force: bool = False,
              verbose: bool = False, **options: Any) -> dict:
    """One configuration over several run seeds, as `bench run --seeds`: {"runs": [each seed's record, as `run`
    returns it], "summary": the mean and interval the leaderboard prints, as text}."""
    from bench.runs.execute import Runtime
    from bench.runs.preflight import run_preflight
    from bench.runs.seeds import check_seeds, summary
    from bench.runs.seeds import run_seeds as run_each

    cfg = configure(config, preset=preset, overrides=overrides, **options)
    runtime = Runtime(Path(runs_dir), device, force, Path(synthetic_dir))
    check_seeds(list(seeds))
    cfg, _ = run_preflight(cfg, runtime, _quiet(verbose))
    folders = run_each(cfg, list(seeds), runtime, parallel, _quiet(verbose))
    return {"runs": [read_run(folder) for folder in folders], "summary": summary(folders)}


def read_run(run_dir: str | Path, reused: bool | None = None) -> dict:
    """A finished run folder as one dict."""
    from bench.records import verify

    folder = Path(run_dir)
    loaded = verify(folder)  # DamagedRun (one line) for a missing, altered or unreadable file
    return {"run_dir": folder, "run_id": folder.name, "reused": reused, **loaded}


def generate(config: RunConfig | dict | str | Path | None = None, *, preset: str | None = None,
             overrides: Overrides = None, runs_dir: str | Path = "runs",
             synthetic_dir: str | Path = "synthetic", device: str = "auto", verbose: bool = False,
             **options: Any) -> dict:
    """Build (or reuse) one synthetic set and its fidelity: {"folder", "n_images", "manifest", "fidelity"}."""
    from bench.runs.execute import Runtime, load_data, synthetic_for
    from bench.runs.preflight import preflight
    from bench.synthetic import sets

    cfg = configure(config, preset=preset, overrides=overrides, **options)
    if not cfg.generator.plugin.produces_images:
        raise BenchError(f"generator {cfg.generator.name!r} makes no images; nothing to generate")
    runtime = Runtime(Path(runs_dir), device, False, Path(synthetic_dir))
    found = preflight(cfg, runtime)
    data, split, roles = load_data(cfg)
    synthetic, scores = synthetic_for(cfg, data, split, roles, runtime, found, _quiet(verbose))
    folder = sets.set_folder(Path(synthetic_dir), cfg, data.fingerprint, split.fingerprint)
    return {"folder": folder, "n_images": len(synthetic), "manifest": json.loads((folder / sets.MANIFEST).read_text()),
            "fidelity": scores}


def sweep(grid: dict | str | Path, *, runs_dir: str | Path = "runs", synthetic_dir: str | Path = "synthetic",
          device: str = "auto", parallel: int = 1, loggers: tuple[str, ...] = (),
          verbose: bool = False) -> pd.DataFrame:
    """Run every configuration of a grid (a dict as in a grid file, or its path) with the local launcher,
    resuming what finished; one row per run (`load_runs` of the grid's runs)."""
    import tempfile

    import torch
    import yaml

    from bench.runs import launchers, tracking
    from bench.runs import sweep as sweeps

    if isinstance(grid, dict):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "grid.yaml"
            path.write_text(yaml.safe_dump(grid, sort_keys=False))
            jobs = sweeps.expand(sweeps.load_grid(path))
    else:
        jobs = sweeps.expand(sweeps.load_grid(Path(grid)))
    tracking.check(tuple(loggers))
    common = ["--runs-dir", str(runs_dir), "--synthetic-dir", str(synthetic_dir), "--device", device,
              *(a for name in loggers for a in ("--logger", name))]
    gpus = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    failed = launchers.run_local(jobs, common, _quiet(verbose), gpus, parallel)
    if failed:
        raise BenchError(f"{failed} job(s) of the sweep failed; running it again retries them")
    frame = load_runs(runs_dir)
    return frame[frame["run"].isin({job.run_id[:16] for job in jobs})].reset_index(drop=True)


def load_runs(runs_dir: str | Path = "runs") -> pd.DataFrame:
    """One row per finished run: ids, plugin names and options, metrics per role, fidelity, timing."""
    from bench.report.runs_frame import load_runs as rows

    if not Path(runs_dir).is_dir():
        raise BenchError(f"runs folder {runs_dir} does not exist")
    frame = rows(Path(runs_dir))
    if frame.empty:
        return frame
    fidelity = pd.json_normalize([f or {} for f in frame.pop("fidelity")], sep=".").add_prefix("fidelity.")
    fidelity = fidelity.drop(columns=[c for c in fidelity.columns if c.startswith("fidelity.per_class")])
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("fidelity:")])
    return pd.concat([frame.reset_index(drop=True), fidelity], axis=1)
