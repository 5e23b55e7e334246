"""`bench sweep` with the local launcher: the product, status, only-missing re-runs, a killed sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench import sweep
from conftest import TINY, bench_cli

GRID = {"generator": ["none", "real"], "strategy": ["none", "concat"], "classifier": ["resnet18"],
        "seed": [0, 1], "overrides": [*TINY, "train.epochs=1"]}


@pytest.fixture()
def grid(tmp_path) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(GRID))
    return path


def states(grid: Path, runs: Path) -> dict[str, str]:
    return {job.label: sweep.state(job, runs) for job in sweep.expand(sweep.load_grid(grid))}


def test_the_product_skips_pairs_that_cannot_run(grid):
    labels = [job.label for job in sweep.expand(sweep.load_grid(grid))]
    assert labels == ["none none resnet18 0", "none none resnet18 1", "real concat resnet18 0",
                      "real concat resnet18 1"]  # none x concat needs images; real x none is the control


def test_sweep_runs_what_is_missing_and_reports_status(grid, tmp_path):
    runs = tmp_path / "runs"
    common = ["--runs-dir", str(runs), "--synthetic-dir", str(tmp_path / "synthetic")]
    before = bench_cli("sweep", str(grid), "--status", "--runs-dir", str(runs))
    assert before.returncode == 0 and "0 done, 0 running, 0 failed, 4 missing" in before.stdout
    first = bench_cli("sweep", str(grid), *common, "--parallel", "2", timeout=900)  # two 1-thread workers
    assert first.returncode == 0, first.stderr[-1500:]
    assert set(states(grid, runs).values()) == {"done"}
    victim = next(job for job in sweep.expand(sweep.load_grid(grid)) if job.label.startswith("real concat"))
    (runs / victim.run_id[:16] / "done").unlink()  # as if it had died before finishing
    assert states(grid, runs)[victim.label] == "failed"
    second = bench_cli("sweep", str(grid), *common, timeout=900)
    assert second.returncode == 0 and "sweep: 3 already done, 1 run, 0 failed" in second.stdout
    assert set(states(grid, runs).values()) == {"done"}


def test_a_killed_sweep_loses_and_double_counts_nothing(grid, tmp_path):
    from bench.leaderboard import load_runs, render

    runs = tmp_path / "runs"
    command = [str(Path(sys.executable).with_name("bench")), "sweep", str(grid), "--runs-dir", str(runs),
               "--synthetic-dir", str(tmp_path / "synthetic")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while list(states(grid, runs).values()).count("done") < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
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
    from bench.runner import normalise

    quiet = lambda line: None  # noqa: E731
    plain = normalise(config.build(), quiet)
    assert normalise(config.build(overrides=("synthetic.per_real=0.25",)), quiet).hash() == plain.hash()
    with_set = normalise(config.build(overrides=("generator.name=real", "strategy.name=concat",
                                                  "synthetic.per_real=0.25")), quiet)
    assert with_set.synthetic.per_real == 0.25
