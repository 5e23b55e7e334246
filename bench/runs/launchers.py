"""Where a sweep's jobs run: `local` (subprocesses, one per GPU or `--parallel` sharing the cores) or
`slurm` (two submitit job arrays: the missing synthetic sets, then the runs, `afterok`-dependent;
checkpointable, so a job at its time limit or pre-empted is requeued and resumes).

Every job is the plain `bench generate` / `bench run` command line, so a job that dies leaves what
any interrupted run leaves, and running the sweep again finishes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.errors import BenchError
from bench.runs.sweep import Job, pending


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
    return with_threads(dict(os.environ), max(1, (os.cpu_count() or 1) // workers))


def job_env(environ: dict | None = None) -> dict[str, str]:
    """A SLURM job's environment with its CPU threads set to the CPUs it was given (`--cpus`, SLURM's
    SLURM_CPUS_PER_TASK): torch would otherwise start one thread per core of the node and jobs sharing a
    node would oversubscribe it (measured on a 2-core node with two 1-CPU jobs: 10-11 s per epoch of a tiny
    run against 2 s alone)."""
    environ = dict(os.environ if environ is None else environ)
    cpus = environ.get("SLURM_CPUS_PER_TASK")
    return with_threads(environ, int(cpus)) if cpus and cpus.isdigit() else environ


def with_threads(environ: dict[str, str], threads: int) -> dict[str, str]:
    """`environ` with torch's CPU thread counts (OpenMP, MKL) set to `threads`, unless the user set them."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        environ.setdefault(name, str(threads))
    return environ


def _set_options(common: list[str]) -> list[str]:
    """The options of `bench run` that `bench generate` takes too."""
    out = []
    for option in ("--runs-dir", "--synthetic-dir", "--device", "--inception-weights"):
        if option in common:
            out += [option, common[common.index(option) + 1]]
    return out


class BenchJob:
    """A `bench` command line as a SLURM job that survives its time limit or pre-emption.

    submitit's checkpointing protocol: before the limit SLURM signals the job (submitit asks for the
    signal `slurm_signal_delay_s` ahead), submitit calls `checkpoint`, which hands back the same command,
    and requeues the job. SLURM then stops the running `bench` (SIGTERM: it keeps its finished epochs and
    sampled chunks) and the requeued job runs the same command, which resumes from them. A module-level
    class, so submitit can pickle it.
    """

    def __call__(self, command: list[str]) -> int:
        code = subprocess.run(command, env=job_env()).returncode
        if code:
            raise RuntimeError(f"{' '.join(command)} exited with {code}")
        return code

    def checkpoint(self, command: list[str]):
        import submitit
        return submitit.helpers.DelayedSubmission(BenchJob(), command)


run_command = BenchJob()  # what a SLURM job executes


def in_job(args: list[str], gpus: int) -> list[str]:
    """The command a job runs: `bench ARGS`, or with several GPUs one torchrun process per GPU (DDP)."""
    if gpus > 1 and args[:1] == ["run"]:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
                "-m", "bench", *args]
    return bench_command(args)


def run_slurm(jobs: list[Job], common: list[str], slurm: dict, folder: Path, say: Callable[[str], None]) -> list:
    """Submit through submitit: a job array for the missing synthetic sets, then one for the runs
    (dependent on the first with afterok); every job requeues itself at its time limit and resumes
    (`BenchJob`), and a run job with several GPUs runs one torchrun process per GPU. Returns the
    submitit jobs."""
    import submitit

    todo, sets = pending(jobs, common)
    if not todo:
        say(f"nothing to submit: all {len(jobs)} jobs are done")
        return []
    slurm = dict(slurm)
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm",  # requeues allowed at the time limit
                                     slurm_max_num_timeout=slurm.pop("slurm_max_num_timeout", 3))
    executor.update_parameters(**{k: v for k, v in slurm.items() if v is not None})
    submitted = []
    if sets:
        set_jobs = executor.map_array(run_command, [bench_command(["generate", *s, *_set_options(common)])
                                                    for s in sets])
        submitted += set_jobs
        say(f"submitted {len(set_jobs)} synthetic-set jobs: {', '.join(j.job_id for j in set_jobs)}")
        executor.update_parameters(slurm_additional_parameters={  # runs start once every set is written
            "dependency": "afterok:" + ":".join(j.job_id for j in set_jobs), "kill-on-invalid-dep": "yes"})
    gpus = int(slurm.get("gpus_per_node") or 0)
    run_jobs = executor.map_array(run_command, [in_job(["run", *j.args, *common], gpus) for j in todo])
    say(f"submitted {len(run_jobs)} run jobs: {', '.join(j.job_id for j in run_jobs)}")
    return submitted + run_jobs


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
