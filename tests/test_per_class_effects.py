"""Per-class effects against the control, by class frequency: a table of the rarest classes and a figure."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import TINY, bench_cli, folders

from bench.report.per_class import effects
from bench.report.runs_frame import load_runs

pytestmark = [pytest.mark.slow,  # two runs and a synthetic set
              pytest.mark.xdist_group("per_class_effects")]  # one worker trains the module's pair of runs once


@pytest.fixture(scope="session")  # once on the module's one worker (xdist_group), whatever the order
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


def test_several_train_sizes_rank_classes_at_the_largest_and_name_the_empty_ones():
    from bench.report.per_class import empty_classes, rarest_table

    rows = []
    for size, positives in ((100, {0: 10, 1: 0, 2: 3}), (1000, {0: 100, 1: 2, 2: 30})):
        for c, n in positives.items():
            rows.append({"config": f"edm / concat / resnet18 (g) at {size}", "class": c, "train_images": size,
                         "train_positives": n, "test_positives": 5, "delta": 0.01 * c})
    frame = pd.DataFrame(rows)
    header, _, train, test, *configs = [[cell.strip() for cell in line.split("|")[1:-1]]
                                         for line in rarest_table(frame).splitlines()]
    assert header[1:4] == ["1 Nuclear membrane", "2 Nucleoli", "0 Nucleoplasm"]  # ranked at 1000 images
    assert train == ["*training images of the class (at 1000)*", "2", "30", "100", ""]
    assert test[1:4] == ["5", "5", "5"]
    assert [row[0] for row in configs] == ["edm / concat / resnet18 (g) at 100", "edm / concat / resnet18 (g) at 1000"]
    assert configs[0][1:] == ["+0.010", "+0.020", "+0.000", "+0.010"]  # the last: mean over these classes
    assert empty_classes(frame) == ["At 100 train images, classes with no training image (F1 0 in every macro "
                                    "average there): 1 Nuclear membrane."]
