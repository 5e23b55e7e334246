"""`bench archive`: slim, committable copies of finished runs and sets, from which the leaderboard is regenerated
byte for byte; and the committed leaderboard itself, regenerated from its committed folders."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, bench_cli, folders


def _board(runs, sets, out):
    result = bench_cli("leaderboard", "--runs-dir", str(runs), "--synthetic-dir", str(sets), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return {p.name: p.read_bytes() for p in out.parent.iterdir()}


def test_an_archive_regenerates_the_same_leaderboard_and_holds_no_weights(fixture_runs, fixture_sets, tmp_path):
    runs = folders(fixture_runs)
    (runs[0] / "model.pt").write_bytes(b"weights")  # never archived
    (runs[0] / "kaggle.json").write_text('{"private": 0.4}')  # tabled
    (fixture_runs / "ladders").mkdir()
    (fixture_runs / "ladders" / "a-to-b.json").write_text(json.dumps(
        {"from": "a", "to": "b", "rungs": [{"name": "FROM", "runs": {"0": runs[0].name}}]}))
    result = bench_cli("archive", "--runs-dir", str(fixture_runs), "--synthetic-dir", str(fixture_sets),
                       "--to", str(tmp_path / "archive"))
    assert result.returncode == 0, result.stderr
    assert f"archived {len(runs)} new runs" in result.stdout
    archived = tmp_path / "archive"
    assert not list(archived.rglob("model.pt")) and not list(archived.rglob("*.npy"))
    assert [p.name for p in folders(archived / "runs")] == [p.name for p in folders(fixture_runs)]  # + ladders
    assert (archived / "runs" / "ladders" / "a-to-b.json").is_file()
    original = _board(fixture_runs, fixture_sets, tmp_path / "a" / "README.md")
    assert "Kaggle private" in original["README.md"].decode() and "## Ladders" in original["README.md"].decode()
    assert _board(archived / "runs", archived / "synthetic", tmp_path / "b" / "README.md") == original
    again = bench_cli("archive", "--runs-dir", str(fixture_runs), "--synthetic-dir", str(fixture_sets),
                      "--to", str(archived))
    assert again.returncode == 0 and "archived 0 new runs" in again.stdout  # nothing rewritten


@pytest.mark.slow
def test_the_committed_leaderboard_is_regenerated_from_its_folders_byte_for_byte(tmp_path):
    committed = REPO / "leaderboard"
    fresh = _board(committed / "runs", committed / "synthetic", tmp_path / "board" / "README.md")
    for name, content in fresh.items():
        assert (committed / name).read_bytes() == content, f"leaderboard/{name} differs from a regeneration"
