"""`bench run --seeds 0 1 2` and `bench.run_seeds`: one run per seed, reused when finished, then the mean and
interval the leaderboard prints; in processes with --parallel; interrupted and resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, bench_cli

EXE = str(Path(sys.executable).with_name("bench"))
pytestmark = pytest.mark.xdist_group("seeds")  # the module's runs are shared: one worker


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    runs = tmp_path_factory.mktemp("seeds")
    result = bench_cli("run", "--seeds", "0", "1", "2", "--runs-dir", str(runs), *TINY)
    assert result.returncode == 0, result.stderr
    return runs, result.stdout


@pytest.mark.slow  # three runs (the module's fixture)
def test_one_run_per_seed_then_the_mean_and_the_leaderboards_interval(three):
    runs, out = three
    folders = out.strip().splitlines()[-1].removeprefix("records: ").split()
    assert len(folders) == 3 and all((Path(f) / "done").exists() for f in folders)
    assert "3 seeds (0, 1, 2), mean ± sd and the 95% interval of the mean the leaderboard prints:" in out
    assert "test macro F1 @tuned" in out and "over seeds and test images" in out
    single = bench_cli("run", "--seed", "1", "--runs-dir", str(runs), *TINY)  # the same run as the seed's
    assert f"reusing finished run {folders[1]}" in single.stdout


@pytest.mark.slow  # three runs (the module's fixture)
def test_finished_seeds_are_reused(three):
    runs, _ = three
    again = bench_cli("run", "--seeds", "2", "0", "--runs-dir", str(runs), *TINY)
    assert again.returncode == 0 and again.stdout.count("reusing finished run") == 2
    assert "2 seeds (0, 2)" in again.stdout


@pytest.mark.slow  # three runs (the module's fixture)
def test_the_python_api_runs_seeds_too(three):
    import bench

    runs, _ = three
    result = bench.run_seeds(seeds=[0, 1], runs_dir=runs, overrides=dict(item.split("=") for item in TINY))
    assert [r["record"]["seed"] for r in result["runs"]] == [0, 1] and all(r["run_dir"].parent == runs
                                                                          for r in result["runs"])
    assert "2 seeds (0, 1)" in result["summary"]


@pytest.mark.parametrize("args,message", [
    (("--seeds", "0", "0"), "seed 0 is given twice"),
    (("--seeds", "-1"), "seed -1 is negative"),
    (("--seeds", "0", "1", "--seed", "2"), "give --seed or --seeds, not both"),
    (("--seeds", "x"), "expected integers, e.g. --seeds 0 1 2"),
    (("--seeds", "0", "1", "--parallel", "2", "--force"), "--force with --parallel"),
])
@pytest.mark.parametrize("dry", [(), ("--dry-run",)], ids=["run", "dry-run"])
def test_bad_seeds_are_one_line(tmp_path, args, message, dry):
    result = bench_cli("run", *args, *dry, "--runs-dir", str(tmp_path), *TINY)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_seeds_in_parallel_processes_and_a_killed_batch_resumes(tmp_path):
    args = [EXE, "run", "--seeds", "0", "1", "--parallel", "2", "--runs-dir", str(tmp_path), *TINY]  # 2 epochs: the
    # first one is checkpointed (the last never is: the run is scored at once)
    killed = subprocess.run(args, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "BENCH_FAULT": "metrics.json:1:KILL"})  # each process dies once
    assert killed.returncode == 2 and "2 of 2 seeds failed" in killed.stderr
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    records = resumed.stdout.strip().splitlines()[-1].removeprefix("records: ").split()
    seeds = [json.loads((Path(r) / "config.json").read_text())["seed"] for r in records]
    assert seeds == [0, 1] and all((Path(r) / "done").exists() for r in records)
    assert resumed.stdout.count("resumed from") == 2 and resumed.stdout.count("after epoch 1") == 2
    assert "2 seeds (0, 1)" in resumed.stdout
