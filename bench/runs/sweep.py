"""`bench sweep GRID.yaml`: the Cartesian product of datasets x generators x strategies x classifiers
x presets x seeds, each job a normal run (its config-hash folder, its `done`); `bench.runs.launchers`
runs them locally or on SLURM.

A grid file (YAML):

    dataset: [synthetic-cells]
    generator: [none, real, ddpm, ddpm-unet]
    strategy: [none, concat, mix_loss, mix_rep]
    classifier: [resnet18]
    preset: [controlled]
    seed: [0, 1, 2]
    overrides: ["synthetic.per_real=0.25"]   # key=value applied to every job

A strategy that uses no synthetic images runs only with the generator `none`, and a strategy that
needs them never does; the combinations are filtered accordingly. Jobs are identified by their run
id, so a second sweep of the same grid runs only what is missing or failed, and synthetic sets are
generated once, before the jobs that use them.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from bench import config, registry
from bench.errors import BenchError
from bench.records import is_finished
from bench.runs.execute import load_data, run_id

AXES = {"dataset": "--dataset", "generator": "--generator", "strategy": "--strategy",
        "classifier": "--classifier", "preset": "--preset", "seed": "--seed"}


@dataclass
class Job:
    """One run of the grid: its command-line arguments and its run id."""

    args: list[str]
    run_id: str
    set_args: list[str] | None = None  # `bench generate` arguments of the synthetic set it needs
    label: str = ""


@dataclass
class Grid:
    axes: dict[str, list]
    overrides: list[str] = field(default_factory=list)


def load_grid(path: Path) -> Grid:
    raw = config.load_file(Path(path))
    unknown = set(raw) - set(AXES) - {"overrides"}
    if unknown:
        raise BenchError(f"grid {path}: unknown key {sorted(unknown)[0]!r}; expected {', '.join(AXES)}, overrides")
    axes = {}
    for axis in AXES:
        values = raw.get(axis, [None])
        values = values if isinstance(values, list) else [values]
        if not values:
            raise BenchError(f"grid {path}: {axis} is an empty list")
        axes[axis] = values
    overrides = raw.get("overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise BenchError(f"grid {path}: overrides must be a list of key=value strings")
    return Grid(axes, overrides)


def expand(grid: Grid) -> list[Job]:
    """Every job of the grid, in order, without duplicates (two combinations giving one run id)."""
    data_cache: dict[str, tuple] = {}
    jobs, seen = [], set()
    for values in itertools.product(*grid.axes.values()):
        point = dict(zip(grid.axes, values))
        flags = {f"{axis}.name" if axis not in ("seed", "preset") else axis: value
                 for axis, value in point.items() if axis != "preset"}
        cfg = config.build(flags=flags, overrides=tuple(grid.overrides), preset=point["preset"])
        if not registry.fits(cfg.generator.plugin, cfg.strategy.plugin):
            continue
        cfg = config.normalise(cfg, lambda line: None)
        resolved = cfg.to_dict()
        data_key = json.dumps([resolved["dataset"], resolved["split"]], sort_keys=True)
        if data_key not in data_cache:
            data, split, _ = load_data(cfg)
            data_cache[data_key] = (data, split)
        rid = run_id(cfg, *data_cache[data_key])
        if rid in seen:
            continue
        seen.add(rid)
        args = [a for axis, value in point.items() if value is not None for a in (AXES[axis], str(value))]
        set_args = None
        if cfg.generator.plugin.produces_images:
            set_args = [a for axis in ("dataset", "generator", "preset") if point[axis] is not None
                        for a in (AXES[axis], str(point[axis]))]
        label = " ".join(f"{v}" for v in values if v is not None)
        jobs.append(Job(args + list(grid.overrides), rid, set_args and set_args + list(grid.overrides), label))
    return jobs


def state(job: Job, runs_dir: Path) -> str:
    """done | running | failed | missing, from the run folder and its lock alone."""
    folder = Path(runs_dir) / job.run_id[:16]
    if is_finished(folder):
        return "done"
    lock = Path(runs_dir) / ".locks" / f"{job.run_id[:16]}.lock"
    if lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "running"
        finally:
            os.close(fd)
    return "failed" if folder.exists() else "missing"


def pending(jobs: list[Job], common: list[str]) -> tuple[list[Job], list[tuple[str, ...]]]:
    """The jobs not done yet, and the distinct synthetic sets they need (to generate first)."""
    todo = [j for j in jobs if state(j, runs_dir(common)) != "done"]
    return todo, list(dict.fromkeys(tuple(j.set_args) for j in todo if j.set_args))


def runs_dir(common: list[str]) -> Path:
    return Path(common[common.index("--runs-dir") + 1]) if "--runs-dir" in common else Path("runs")
