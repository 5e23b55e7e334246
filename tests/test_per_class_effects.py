"""Per-class effects against the control, by class frequency: a table of the rarest classes and a figure."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import TINY, bench_cli, folders

from bench.report.leaderboard import load_runs
from bench.report.per_class import effects


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair")
    for args in ((), ("--generator", "real", "--strategy", "concat")):
        result = bench_cli("run", *args, *TINY, cwd=root)
        assert result.returncode == 0, result.stderr
    return root


def test_effects_are_the_paired_per_class_differences(pair):
    runs = pair / "runs"
    frame = load_runs(runs)
    section = frame[frame["purpose"] == ""]
    table = effects(section, runs)
    control = next(r for r in folders(runs) if r.name == section[section["generator"] == "none"]["run"].iloc[0])
    mine = next(r for r in folders(runs) if r.name == section[section["generator"] == "real"]["run"].iloc[0])
    a, b = (pd.read_csv(r / "per_class.csv") for r in (mine, control))
    assert len(table) == 28 and table["seeds"].eq(1).all()
    assert table["delta"].tolist() == pytest.approx((a["test_f1@tuned"] - b["test_f1@tuned"]).tolist())
    assert table["train_positives"].tolist() == a["train_positives"].tolist()


def test_the_leaderboard_has_the_rarest_classes_and_the_figure(pair, tmp_path):
    out = tmp_path / "board" / "README.md"
    result = bench_cli("leaderboard", "--runs-dir", str(pair / "runs"), "--out", str(out),
                       "--synthetic-dir", str(pair / "synthetic"))
    board = out.read_text()
    assert result.returncode == 0 and "### Per-class effects on the rarest classes" in board
    assert "per-class-effects.png" in board and list(out.parent.glob("*per-class-effects.png"))
