"""`bench sweep --launcher slurm` against a real single-node SLURM (slurm-wlm + munge on localhost)."""

from __future__ import annotations

import json

import pytest
import slurm_cluster
import yaml
from conftest import TINY, bench_cli, folders

from bench.runs import sweep

GRID = {"generator": ["none", "real"], "strategy": ["none", "concat"], "classifier": ["resnet18"], "seed": [0],
        "overrides": [*TINY, "train.epochs=1"]}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm() -> dict:
    reason = slurm_cluster.install()
    if reason:
        pytest.skip(f"no local SLURM: {reason}")
    with slurm_cluster.cluster() as env:
        yield env


def test_a_sweep_runs_on_slurm_and_is_collected(slurm, tmp_path):
    from bench.report.leaderboard import load_runs

    grid, runs = tmp_path / "grid.yaml", tmp_path / "runs"
    grid.write_text(yaml.safe_dump(GRID))
    options = ["--launcher", "slurm", "--cpus", "1", "--mem-gb", "2", "--time-min", "30",
               "--runs-dir", str(runs), "--synthetic-dir", str(tmp_path / "synthetic")]
    result = bench_cli("sweep", str(grid), *options, "--wait", env=slurm, timeout=1800)
    assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-1500:]
    assert "submitted 1 synthetic-set jobs" in result.stdout and "submitted 2 run jobs" in result.stdout
    assert "sweep: 2 of 2 jobs done" in result.stdout

    jobs = sweep.expand(sweep.load_grid(grid))
    assert len(jobs) == 2 and {sweep.state(job, runs) for job in jobs} == {"done"}
    records = [json.loads((runs / job.run_id[:16] / "record.json").read_text()) for job in jobs]
    slurm_ids = [record["environment"].get("slurm", {}).get("array_job_id") for record in records]
    assert all(slurm_ids) and len(set(slurm_ids)) == 1  # both ran as tasks of one SLURM job array
    assert len(folders(tmp_path / "synthetic")) == 1  # the `real` set, made once by its own job first

    frame = load_runs(runs)
    assert set(frame["run"]) >= {job.run_id[:16] for job in jobs}
    again = bench_cli("sweep", str(grid), *options, env=slurm, timeout=300)
    assert again.returncode == 0 and "nothing to submit: all 2 jobs are done" in again.stdout
