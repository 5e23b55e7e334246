"""The leaderboard: aggregated over seeds, split-safe, from finished runs only, byte-stable."""

from __future__ import annotations

import shutil

import pytest

from bench import config
from bench.leaderboard import load_runs, render
from bench.metrics import SELECTION_RULE
from bench.runner import Runtime, execute
from conftest import TINY


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    for overrides in (("seed=0",), ("seed=1",), ("split.name=paper",)):
        execute(config.build(overrides=TINY + overrides), Runtime(runs_dir, "cpu"), say=lambda line: None)
    return runs_dir


def test_rows_aggregate_seeds_and_never_mix_splits(runs):
    frame = load_runs(runs)
    assert len(frame) == 3
    text = render(frame)
    assert text.count("## synthetic-cells (160 images, 32 px) · split `stratified`") == 1
    assert text.count("## synthetic-cells (160 images, 32 px) · split `paper`") == 1
    stratified = next(s for s in text.split("\n## ")[1:] if s.split("\n")[0].endswith("`stratified`"))
    row = next(line for line in stratified.splitlines() if line.startswith("| none"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["none", "none", "resnet18"] and cells[5] == "2"  # two seeds in one row
    assert all("±" in c for c in cells[6:])
    assert SELECTION_RULE in text
    assert "### Validation − test gap" in text


def test_metrics_in_the_table_are_the_records_own(runs):
    frame = load_runs(runs)
    seeds = frame[frame["split"] == "stratified"]["test:f1_macro@tuned"]
    text = render(frame)
    assert f"{seeds.mean():.3f} ± {seeds.std(ddof=1):.3f}" in text


def test_unfinished_runs_are_ignored_and_rendering_is_byte_stable(runs, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    first = render(load_runs(copy))
    unfinished = next(copy.iterdir())
    (unfinished / "done").unlink()
    assert len(load_runs(copy)) == 2
    (unfinished / "done").write_text("x\n")
    assert render(load_runs(copy)) == first == render(load_runs(runs))


def test_empty_runs_folder(tmp_path):
    assert "No finished runs yet" in render(load_runs(tmp_path))
