"""The real-data-size axis: `split.train_fraction` keeps nested, stratified subsets of the train role."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY, bench_cli, folders

from bench import config
from bench.data.splits import UNUSED, SplitConfig, make_split
from bench.datasets.synthetic_cells import SyntheticCells
from bench.errors import BenchError

pytestmark = pytest.mark.xdist_group("train_fraction")  # one worker renders the module's dataset once


@pytest.fixture(scope="module")
def data():
    return SyntheticCells(SyntheticCells.Options(n_images=1000, resolution=16)).load()


def test_fractions_are_nested_stratified_and_leave_val_and_test_alone(data):
    splits = {f: make_split(data.ids, data.labels, SplitConfig(train_fraction=f, allow_empty_classes=True))
              for f in (0.1, 0.25, 0.5, 1.0)}
    full = splits[1.0]
    train_sets = {f: set(np.flatnonzero(np.asarray(s.roles) == "train")) for f, s in splits.items()}
    assert train_sets[0.1] < train_sets[0.25] < train_sets[0.5] < train_sets[1.0]  # nested
    for f, split in splits.items():
        assert len(train_sets[f]) == round(f * full.counts()["train"])
        for role in ("val", "test"):
            assert np.array_equal(split.indices(role), full.indices(role))
        assert split.protocol_fingerprint == full.fingerprint  # one leaderboard section
        assert (split.fingerprint == full.fingerprint) == (f == 1.0)  # a set trained on it is another set
    whole = data.labels[sorted(train_sets[1.0])].mean(axis=0)
    quarter = data.labels[sorted(train_sets[0.25])].mean(axis=0)
    common = whole >= 0.05
    assert np.abs(quarter[common] - whole[common]).max() < 0.02  # class frequencies kept (stratified)
    assert UNUSED in splits[0.1].roles and UNUSED not in full.roles


def test_the_default_fraction_keeps_every_run_id():
    assert config.build(overrides=("split.train_fraction=1.0",)).hash() == config.build().hash()
    assert config.build(overrides=("split.train_fraction=0.5",)).hash() != config.build().hash()


@pytest.mark.parametrize("value, message", [("0", "must be in (0, 1]"), ("1.5", "must be in (0, 1]")])
def test_a_bad_fraction_is_one_line(value, message, tmp_path):
    result = bench_cli("run", f"split.train_fraction={value}", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


def test_a_fraction_that_empties_a_class_names_it_and_stops(data, tmp_path):
    from bench.data.labels import CLASS_NAMES

    allowed = make_split(data.ids, data.labels, SplitConfig(train_fraction=0.1, allow_empty_classes=True))
    full = make_split(data.ids, data.labels, SplitConfig())
    kept, whole = (data.labels[s.indices("train")].sum(axis=0) for s in (allowed, full))
    empty = [c for c in range(len(kept)) if whole[c] and not kept[c]]
    assert empty  # rare classes of a 1,000-image dataset do not survive a 10% subset
    with pytest.raises(BenchError, match=r"keeps 80 of the 800 train images and leaves \d+ class"):
        make_split(data.ids, data.labels, SplitConfig(train_fraction=0.1))
    result = bench_cli("run", "dataset.n_images=1000", "dataset.resolution=16", "split.train_fraction=0.1",
                       "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "(" + ", ".join(f"{c} {CLASS_NAMES[c]}" for c in empty) + ")" in result.stderr
    assert "or more to keep every class, or add split.allow_empty_classes=true" in result.stderr
    assert not (tmp_path / "runs").exists() or not folders(tmp_path / "runs")  # nothing half-written
    smallest = float(result.stderr.split("use split.train_fraction=")[1].split()[0])
    assert make_split(data.ids, data.labels, SplitConfig(train_fraction=smallest))  # that one is accepted
    permitted = config.build(overrides=("split.train_fraction=0.1", "split.allow_empty_classes=true"))
    assert permitted.hash() == config.build(overrides=("split.train_fraction=0.1",)).hash()  # a permission


@pytest.mark.slow
def test_runs_at_two_fractions_share_a_section_with_a_learning_curve(tmp_path):
    for fraction, epochs in (("0.5", 4), ("1.0", 2)):  # one optimizer budget: twice the epochs on half
        result = bench_cli("run", *TINY, f"split.train_fraction={fraction}", f"train.epochs={epochs}",
                           "split.allow_empty_classes=true", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert len(folders(tmp_path / "runs")) == 2
    from bench.report.runs_frame import load_runs

    runs = load_runs(tmp_path / "runs")
    assert runs["budget"].tolist() == [2.0, 2.0] and runs["curve"].nunique() == 1  # one learning curve
    result = bench_cli("leaderboard", "--out", str(tmp_path / "board" / "README.md"), cwd=tmp_path)
    board = (tmp_path / "board" / "README.md").read_text()
    assert result.returncode == 0 and board.count("\n## synthetic-cells") == 1  # one section: same val and test
    header = next(line for line in board.splitlines() if line.startswith("| generator") and "seeds" in line)
    assert "train images" in header
    assert "learning-curves.png" in board and list((tmp_path / "board").glob("*learning-curves.png"))


def test_a_named_budget_rule_makes_one_curve_of_sizes_trained_for_different_epochs():
    """`train.budget=plateau`: each size trains its own epochs (to its control's plateau), and the sizes still
    form one learning curve; without the rule those epochs would be two optimizer budgets, two curves."""
    from bench.report.runs_frame import _curve

    def curve(*overrides):
        cfg = config.build(overrides=overrides).to_dict()
        fraction = cfg["split"]["train_fraction"]
        return _curve(cfg, {"train": round(2000 * fraction), "unused": 2000 - round(2000 * fraction)})

    small = curve("split.train_fraction=0.1", "train.epochs=100", "train.budget=plateau")
    large = curve("split.train_fraction=1.0", "train.epochs=30", "train.budget=plateau")
    assert small == large and small["budget"] == "plateau"
    untagged = (curve("split.train_fraction=0.1", "train.epochs=100"), curve("train.epochs=30"))
    assert untagged[0]["budget"] == 10.0 and untagged[1]["budget"] == 30.0
    assert untagged[0]["curve"] != untagged[1]["curve"] and small["curve"] not in {c["curve"] for c in untagged}
    tagged = config.build(overrides=("train.budget=plateau",)).hash()
    assert tagged != config.build().hash()  # the rule is part of a run's identity, and absent leaves ids as before
