"""`bench run --name`: a user's tag, recorded, shown in the leaderboard and used to filter it; not an identity."""

from __future__ import annotations

import json

import pytest
from conftest import TINY, bench_cli, folders


@pytest.mark.parametrize("name, problem", [("", "is empty"), ("   ", "is empty"), ("a" * 65, "65 characters"),
                                           ("runs/x", "path separator"), ("a\\b", "path separator"),
                                           ("tab\there", "control character")])
def test_a_bad_name_is_one_line_before_anything_is_written(name, problem, tmp_path):
    result = bench_cli("run", "--name", name, "--runs-dir", str(tmp_path / "runs"), *TINY)
    assert result.returncode == 2 and problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("bench: error: --name")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_name_is_recorded_shown_and_filters_the_leaderboard(tmp_path):
    runs = tmp_path / "runs"
    named = bench_cli("run", "--name", "lr sweep", "--runs-dir", str(runs), *TINY)
    other = bench_cli("run", "--runs-dir", str(runs), *TINY, "train.lr=0.002")
    assert named.returncode == 0 and other.returncode == 0, named.stderr + other.stderr
    records = {json.loads((f / "record.json").read_text()).get("name") for f in folders(runs)}
    assert records == {"lr sweep", None}  # an unnamed run's record has no name

    board = tmp_path / "board.md"
    result = bench_cli("leaderboard", "--runs-dir", str(runs), "--name", "lr sweep", "--out", str(board), "--no-plots")
    assert result.returncode == 0 and "(1 finished runs)" in result.stdout
    assert "«lr sweep»" in board.read_text()

    missing = bench_cli("leaderboard", "--runs-dir", str(runs), "--name", "nope", "--out", str(board))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "is named 'nope' (names there: lr sweep)" in missing.stderr

    again = bench_cli("run", "--name", "renamed", "--runs-dir", str(runs), *TINY)  # same config: reused, said
    assert again.returncode == 0 and "reusing finished run" in again.stdout
    assert "that run is named 'lr sweep'; --name 'renamed' names new runs only" in again.stdout
