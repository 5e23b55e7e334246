"""`bench sweep GRID.yaml`: the Cartesian product of datasets x generators x strategies x classifiers
x presets x seeds, each job a normal run (its config-hash folder, its `done`), run locally or on SLURM.

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
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench import config, registry
from bench.errors import BenchError
from bench.records import DONE

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


def _compatible(generator: str | None, strategy: str | None) -> bool:
    produces = registry.get("generator", generator or "none").produces_images
    needs = registry.get("strategy", strategy or "none").needs_synthetic
    return produces == needs


def expand(grid: Grid) -> list[Job]:
    """Every job of the grid, in order, without duplicates (two combinations giving one run id)."""
    from bench.runner import load_data, normalise, run_id

    data_cache: dict[str, tuple] = {}
    jobs, seen = [], set()
    for values in itertools.product(*grid.axes.values()):
        point = dict(zip(grid.axes, values))
        if not _compatible(point["generator"], point["strategy"]):
            continue
        flags = {f"{axis}.name" if axis not in ("seed", "preset") else axis: value
                 for axis, value in point.items() if axis != "preset"}
        cfg = normalise(config.build(flags=flags, overrides=tuple(grid.overrides), preset=point["preset"]),
                        lambda line: None)
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
        if registry.get("generator", cfg.generator.name).produces_images:
            set_args = [a for axis in ("dataset", "generator", "preset") if point[axis] is not None
                        for a in (AXES[axis], str(point[axis]))]
        label = " ".join(f"{v}" for v in values if v is not None)
        jobs.append(Job(args + list(grid.overrides), rid, set_args and set_args + list(grid.overrides), label))
    return jobs


def state(job: Job, runs_dir: Path) -> str:
    """done | running | failed | missing, from the run folder and its lock alone."""
    folder = Path(runs_dir) / job.run_id[:16]
    if (folder / DONE).exists():
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


def bench_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "bench", *args]


def run_local(jobs: list[Job], common: list[str], say: Callable[[str], None], gpus: int = 0,
              parallel: int = 1) -> int:
    """Synthetic sets first, then every job not done: `parallel` at a time (default one per GPU, else
    one), each pinned to a GPU or to its share of the CPU cores. Returns the number that failed."""
    todo, sets = pending(jobs, common)
    failed = 0
    for set_args in sets:
        say(f"generate: {' '.join(set_args)}")
        failed += subprocess.run(bench_command(["generate", *set_args, *_set_options(common)])).returncode != 0
    workers = max(1, parallel if parallel > 1 else gpus)
    envs = [_worker_env(slot, workers, gpus) for slot in range(workers)]
    free = list(range(workers))
    lock = threading.Lock()

    def launch(item):
        number, job = item
        with lock:
            slot = free.pop()
        say(f"job {number}/{len(todo)}: {job.label}")
        try:
            return subprocess.run(bench_command(["run", *job.args, *common]), env=envs[slot]).returncode
        finally:
            with lock:
                free.append(slot)

    with ThreadPoolExecutor(workers) as pool:
        codes = list(pool.map(launch, enumerate(todo, start=1)))
    failed += sum(code != 0 for code in codes)
    say(f"sweep: {len(jobs) - len(todo)} already done, {len(todo)} run, {failed} failed")
    return failed


def _worker_env(slot: int, workers: int, gpus: int) -> dict[str, str] | None:
    """The environment of one local worker: its GPU, or its share of the cores when several share a CPU."""
    if gpus:
        return {**os.environ, "CUDA_VISIBLE_DEVICES": str(slot % gpus)}
    if workers == 1:
        return None
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def pending(jobs: list[Job], common: list[str]) -> tuple[list[Job], list[tuple[str, ...]]]:
    """The jobs not done yet, and the distinct synthetic sets they need (to generate first)."""
    todo = [j for j in jobs if state(j, runs_dir(common)) != "done"]
    return todo, list(dict.fromkeys(tuple(j.set_args) for j in todo if j.set_args))


def runs_dir(common: list[str]) -> Path:
    return Path(common[common.index("--runs-dir") + 1]) if "--runs-dir" in common else Path("runs")


def _set_options(common: list[str]) -> list[str]:
    """The options of `bench run` that `bench generate` takes too."""
    out = []
    for option in ("--runs-dir", "--synthetic-dir", "--device", "--inception-weights"):
        if option in common:
            out += [option, common[common.index(option) + 1]]
    return out


def run_command(command: list[str]) -> int:
    """What a SLURM job executes (a module-level function, so submitit can pickle it)."""
    code = subprocess.run(command).returncode
    if code:
        raise RuntimeError(f"{' '.join(command)} exited with {code}")
    return code


def run_slurm(jobs: list[Job], common: list[str], slurm: dict, folder: Path, say: Callable[[str], None]) -> list:
    """Submit through submitit: a job array for the missing synthetic sets, then one for the runs
    (dependent on the first with afterok). Returns the submitit jobs."""
    import submitit

    todo, sets = pending(jobs, common)
    if not todo:
        say(f"nothing to submit: all {len(jobs)} jobs are done")
        return []
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    executor.update_parameters(**{k: v for k, v in slurm.items() if v is not None})
    submitted = []
    if sets:
        set_jobs = executor.map_array(run_command, [bench_command(["generate", *s, *_set_options(common)])
                                                    for s in sets])
        submitted += set_jobs
        say(f"submitted {len(set_jobs)} synthetic-set jobs: {', '.join(j.job_id for j in set_jobs)}")
        executor.update_parameters(slurm_additional_parameters={  # runs start once every set is written
            "dependency": "afterok:" + ":".join(j.job_id for j in set_jobs), "kill-on-invalid-dep": "yes"})
    if todo:
        run_jobs = executor.map_array(run_command, [bench_command(["run", *j.args, *common]) for j in todo])
        submitted += run_jobs
        say(f"submitted {len(run_jobs)} run jobs: {', '.join(j.job_id for j in run_jobs)}")
    return submitted


def wait_slurm(submitted: list, poll_s: float = 5.0) -> None:
    """Block until every submitted job has left the SLURM queue (works without accounting/sacct)."""
    import time

    waiting = {job.job_id.split("_")[0] for job in submitted}
    while waiting:
        queue = subprocess.run(["squeue", "-h", "-o", "%F"], capture_output=True, text=True)
        if queue.returncode:
            raise BenchError(f"squeue failed while waiting: {(queue.stderr.strip().splitlines() or ['?'])[-1]}")
        waiting &= set(queue.stdout.split())
        if waiting:
            time.sleep(poll_s)
