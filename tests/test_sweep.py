"""`bench sweep` with the local launcher: the product, status, only-missing re-runs, a killed sweep."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, TINY, bench_cli

from bench.runs import sweep

# The fixture grid: generators none and real x strategies none and concat x seeds 0 and 1, whose run
# folders are committed under tests/fixtures/runs (tools/make_test_fixtures.py writes them).
FIXTURE_GRID = FIXTURES / "grid.yaml"
STALE = "fixture runs are stale (a change altered run ids): run `python tools/make_test_fixtures.py`"


def states(grid: Path, runs: Path) -> dict[str, str]:
    return {job.label: sweep.state(job, runs) for job in sweep.expand(sweep.load_grid(grid))}


def test_the_product_skips_pairs_that_cannot_run():
    labels = [job.label for job in sweep.expand(sweep.load_grid(FIXTURE_GRID))]
    assert labels == ["none none resnet18 0", "none none resnet18 1", "real concat resnet18 0",
                      "real concat resnet18 1"]  # none x concat needs images; real x none is the control


def test_status_reads_the_run_folders(fixture_runs):
    result = bench_cli("sweep", str(FIXTURE_GRID), "--status", "--runs-dir", str(fixture_runs))
    assert result.returncode == 0 and "4 done, 0 running, 0 failed, 0 missing" in result.stdout, STALE
    victim = next(job for job in sweep.expand(sweep.load_grid(FIXTURE_GRID)) if job.label.startswith("real"))
    (fixture_runs / victim.run_id[:16] / "done").unlink()  # as if it had died before finishing
    assert states(FIXTURE_GRID, fixture_runs)[victim.label] == "failed"
    result = bench_cli("sweep", str(FIXTURE_GRID), "--status", "--runs-dir", str(fixture_runs))
    assert "3 done, 0 running, 1 failed, 0 missing" in result.stdout


@pytest.mark.slow  # the local launcher runs each job as a real `bench run` process
def test_a_sweep_runs_only_what_is_not_done(fixture_runs, tmp_path):
    victim = next(job for job in sweep.expand(sweep.load_grid(FIXTURE_GRID)) if job.label == "none none resnet18 1")
    shutil.rmtree(fixture_runs / victim.run_id[:16])
    assert states(FIXTURE_GRID, fixture_runs)[victim.label] == "missing"
    result = bench_cli("sweep", str(FIXTURE_GRID), "--runs-dir", str(fixture_runs), "--synthetic-dir",
                       str(tmp_path / "synthetic"))
    assert result.returncode == 0 and "sweep: 3 already done, 1 run, 0 failed" in result.stdout, result.stderr
    assert set(states(FIXTURE_GRID, fixture_runs).values()) == {"done"}
    assert not (tmp_path / "synthetic").exists()  # the sets of finished jobs are not made again


@pytest.mark.slow
def test_a_killed_sweep_loses_and_double_counts_nothing(tmp_path):
    from bench.report.leaderboard import render
    from bench.report.runs_frame import load_runs

    grid, runs = tmp_path / "grid.yaml", tmp_path / "runs"
    grid.write_text(yaml.safe_dump({"seed": [0, 1], "overrides": [*TINY, "train.epochs=1"]}))  # killed in the 2nd
    command = [str(Path(sys.executable).with_name("bench")), "sweep", str(grid), "--runs-dir", str(runs)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while "done" not in states(grid, runs).values() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the sweep and the job it was running
    process.wait()
    assert "missing" in states(grid, runs).values() or "failed" in states(grid, runs).values()
    again = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-1500:]
    assert set(states(grid, runs).values()) == {"done"}
    frame = load_runs(runs)
    jobs = sweep.expand(sweep.load_grid(grid))
    assert all((frame["run"] == job.run_id[:16]).sum() == 1 for job in jobs)
    assert render(load_runs(runs)) == render(frame)  # regenerated from the folders alone: the same bytes


def test_bad_grid_is_one_line(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("generator: [none]\nstrategy: [nope]\n")
    result = bench_cli("sweep", str(path), "--status")
    assert result.returncode == 2 and result.stderr.startswith("bench: error: unknown strategy 'nope'")
    path.write_text("generators: [none]\n")
    result = bench_cli("sweep", str(path), "--status")
    assert result.returncode == 2 and "unknown key 'generators'" in result.stderr


def test_controls_with_other_synthetic_settings_are_one_run():
    from bench import config
    from bench.config import normalise

    quiet = lambda line: None  # noqa: E731
    plain = normalise(config.build(), quiet)
    assert normalise(config.build(overrides=("synthetic.per_real=0.25",)), quiet).hash() == plain.hash()
    with_set = normalise(config.build(overrides=("generator.name=real", "strategy.name=concat",
                                                  "synthetic.per_real=0.25")), quiet)
    assert with_set.synthetic.per_real == 0.25


def test_a_slurm_job_gets_as_many_threads_as_cpus_it_asked_for():
    from bench.runs.launchers import job_env

    assert job_env({"SLURM_CPUS_PER_TASK": "4"})["OMP_NUM_THREADS"] == "4"
    assert job_env({"SLURM_CPUS_PER_TASK": "4"})["MKL_NUM_THREADS"] == "4"
    assert job_env({"SLURM_CPUS_PER_TASK": "4", "OMP_NUM_THREADS": "2"})["OMP_NUM_THREADS"] == "2"  # the user's
    assert "OMP_NUM_THREADS" not in job_env({"PATH": "/bin"})  # not in a SLURM job: torch's default


def test_local_workers_share_the_cores_and_keep_a_thread_count_the_user_set(monkeypatch):
    import os

    from bench.runs.launchers import _worker_env

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert _worker_env(0, 2, gpus=0)["OMP_NUM_THREADS"] == share == _worker_env(1, 2, gpus=0)["MKL_NUM_THREADS"]
    assert _worker_env(0, 1, gpus=0) is None  # one worker: torch's default
    assert _worker_env(1, 2, gpus=2)["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _worker_env(0, 2, gpus=0)["OMP_NUM_THREADS"] == "3"
