"""`bench sweep --launcher slurm` against a real single-node SLURM (slurm-wlm + munge on localhost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import slurm_cluster
import yaml
from conftest import TINY, bench_cli, folders
from slurm_cluster import wait_until

from bench.runs import sweep

GRID = {"generator": ["none", "real"], "strategy": ["none", "concat"], "classifier": ["resnet18"], "seed": [0]}
LONG_RUN = [*TINY, "train.epochs=6"]  # long enough to be signalled after its first epoch
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one local SLURM at a time


@pytest.fixture(scope="module")
def slurm() -> dict:
    reason = slurm_cluster.install()
    if reason:
        pytest.skip(f"no local SLURM: {reason}")
    with slurm_cluster.cluster() as env:
        yield env


def test_a_sweep_on_slurm_survives_a_requeue_and_is_collected(slurm, tmp_path):
    """One sweep on the local SLURM: its synthetic set is made by its own job first, its runs are the tasks
    of one job array, `--wait` returns when all are done, and they are collected; on the way, one run gets
    SLURM's warning signal (USR2: what `--signal=USR2@requeue-signal-s` sends before the time limit and
    what a pre-empting scheduler sends) mid-training: it requeues itself (submitit's checkpoint), resumes
    from its last finished epoch and ends with the metrics of an uninterrupted run.

    The signal is sent by the test once an epoch has been checkpointed rather than by waiting for a
    time limit, so the test does not depend on how fast this machine trains."""
    from bench.report.runs_frame import load_runs

    grid, runs = tmp_path / "grid.yaml", tmp_path / "runs"
    grid.write_text(yaml.safe_dump({**GRID, "overrides": LONG_RUN}))
    options = ["--launcher", "slurm", "--cpus", "1", "--mem-gb", "2", "--time-min", "30", "--requeue-signal-s",
               "90", "--runs-dir", str(runs), "--synthetic-dir", str(tmp_path / "synthetic")]
    bench = str(Path(sys.executable).with_name("bench"))
    sweeping = subprocess.Popen([bench, "sweep", str(grid), *options, "--wait"], env=slurm, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # the uninterrupted run to compare with, trained while the sweep waits on SLURM (the job's --cpus 1: one
    # thread, since sums depend on it)
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    plain = subprocess.Popen([bench, "run", *LONG_RUN, "--runs-dir", str(tmp_path / "plain")], cwd=tmp_path,
                             env=one_thread, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    jobs = sweep.expand(sweep.load_grid(grid))
    plain_job = next(i for i, job in enumerate(jobs) if job.args[job.args.index("--generator") + 1] == "none")
    run_dir = runs / jobs[plain_job].run_id[:16]
    log = run_dir / "log.txt"  # shown by wait_until when a wait times out
    wait_until(lambda: (run_dir / "checkpoint.pt").exists() or (run_dir / "done").exists(), 600, "a first epoch", log)
    assert not (run_dir / "done").exists(), "the run finished before it could be signalled; give it more epochs"
    script = next((runs / ".submitit").rglob("*_submission.sh")).read_text()
    assert "#SBATCH --signal=USR2@90" in script  # the time limit's warning is this same signal
    array = _queue(slurm).split()[0].split("_")[0]  # the run array (the set job has left the queue)
    job_id = f"{array}_{plain_job}"  # tasks follow the grid's order
    signalled = subprocess.run(["scancel", "--signal=USR2", job_id], env=slurm, capture_output=True, text=True)
    assert signalled.returncode == 0, signalled.stderr
    wait_until(lambda: "JobState=PENDING" in _show(job_id, slurm), 300, "the job going back to the queue", log)
    # SLURM holds a requeued job back for a while (BeginTime); let it start at once
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], env=slurm, capture_output=True)
    out, err = sweeping.communicate(timeout=1200)
    assert sweeping.returncode == 0, out[-1000:] + err[-1500:]
    assert "submitted 1 synthetic-set jobs" in out and f"submitted 2 run jobs: {array}_0, {array}_1" in out
    assert "sweep: 2 of 2 jobs done" in out

    assert {sweep.state(job, runs) for job in jobs} == {"done"}
    records = [json.loads((runs / job.run_id[:16] / "record.json").read_text()) for job in jobs]
    slurm_ids = [record["environment"].get("slurm", {}).get("array_job_id") for record in records]
    assert all(slurm_ids) and len(set(slurm_ids)) == 1  # both ran as tasks of one SLURM job array
    assert len(folders(tmp_path / "synthetic")) == 1  # the `real` set, made once by its own job first
    assert "resumed from" in log.read_text()  # the signalled run stopped and picked up where it left off
    logs = "".join(p.read_text() for p in (runs / ".submitit").rglob("*.err"))
    assert "requeu" in logs.lower()
    _, plain_err = plain.communicate(timeout=600)
    assert plain.returncode == 0, plain_err[-1500:]
    (uninterrupted,) = folders(tmp_path / "plain")
    assert (run_dir / "metrics.json").read_bytes() == (uninterrupted / "metrics.json").read_bytes()

    frame = load_runs(runs)
    assert set(frame["run"]) >= {job.run_id[:16] for job in jobs}
    again = bench_cli("sweep", str(grid), *options, env=slurm, timeout=300)
    assert again.returncode == 0 and "nothing to submit: all 2 jobs are done" in again.stdout


def _queue(env: dict) -> str:
    return subprocess.run(["squeue", "-h", "-o", "%F"], env=env, capture_output=True, text=True).stdout


def _show(job_id: str, env: dict) -> str:
    return subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True).stdout
