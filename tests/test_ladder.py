"""`bench ladder FROM TO`: rungs grouped as settings must change together, run and tabled."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import TINY, bench_cli

from bench import config
from bench.runs import ladder


def _names(a, b):
    return {r.name: r.changes for r in ladder.rungs(a, b)}


def test_rungs_group_what_must_change_together():
    base = config.build(overrides=("train.lr=0.001",))
    other = config.build(overrides=("train.lr=0.01", "train.schedule=step", "train.step_epochs=3", "seed=5"))
    rungs = _names(base, other)
    assert set(rungs) == {"train.lr", "train.schedule"}  # the seed is not a rung
    assert rungs["train.schedule"] == {"train.schedule": "step", "train.step_epochs": 3}
    arc = config.build(overrides=("classifier.head=arcface", "train.loss=arcface"))
    assert set(_names(base, arc)) == {"classifier"}  # an ArcFace head and its loss: one rung
    mix = config.normalise(config.build(flags={"generator.name": "ddpm", "strategy.name": "mix_rep"}), print)
    changes = _names(mix, config.build())
    assert set(changes) == {"strategy"} and changes["strategy"]["generator.name"] == "none"


def test_the_paper_ladder_plans_every_rung_offline():
    result = bench_cli("ladder", "paper/mixrep-resnet18", "controlled", "--generator", "ddpm", "--dry-run")
    assert result.returncode == 0, result.stderr
    for rung in ("FROM", "strategy", "split", "train.schedule", "train.no_eval_inference", "train.val_rotation",
                 "TO"):
        assert any(line.startswith(rung + " ") or line == rung for line in result.stdout.splitlines()), rung
    assert "classifier.pretrained=false" in result.stdout  # offline, and it says so


@pytest.mark.slow
def test_a_ladder_runs_and_is_tabled(tmp_path):
    small = dict(item.split("=", 1) for item in TINY)
    base = {"dataset": {"name": "synthetic-cells", "n_images": 160, "resolution": 32},
            "train": {"epochs": 1, "batch_size": 32, "lr": 0.001, "flip": True}}  # 1 epoch: the ladder is tested
    other = {**base, "train": {**base["train"], "lr": 0.003, "flip": False}}
    for name, raw in (("from.yaml", base), ("to.yaml", other)):
        (tmp_path / name).write_text(yaml.safe_dump(raw))
    result = bench_cli("ladder", str(tmp_path / "from.yaml"), str(tmp_path / "to.yaml"), "--seeds", "0",
                       f"fidelity.epochs={small['fidelity.epochs']}", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-800:] + result.stderr[-800:]
    (manifest,) = (tmp_path / "runs" / "ladders").glob("*.json")
    rungs = json.loads(manifest.read_text())["rungs"]
    assert [r["name"] for r in rungs] == ["FROM", "train.flip", "train.lr", "TO"]
    assert all(len(r["runs"]) == 1 and all((tmp_path / "runs" / rid / "done").exists() for rid in r["runs"].values())
               for r in rungs)  # one seed keeps this test short; intervals over seeds are tested on fabricated runs
    again = bench_cli("ladder", str(tmp_path / "from.yaml"), str(tmp_path / "to.yaml"), "--seeds", "0",
                      f"fidelity.epochs={small['fidelity.epochs']}", cwd=tmp_path)
    assert again.returncode == 0 and "4 already done, 0 run" in again.stdout  # resumes: nothing to do
    board = tmp_path / "board.md"
    bench_cli("leaderboard", "--out", str(board), "--no-plots", cwd=tmp_path)
    text = board.read_text()
    assert "## Ladders" in text and "| train.lr" in text
    assert "**Verdict:**" in text and "no interval (1 seed)" in text  # one seed: the table says it has no interval


def _fabricated_ladder(seeds, gaps):
    """A ladder manifest and its runs' frame: rung -> the validation − test gap of each seed (test fixed)."""
    import pandas as pd

    from bench.evaluate.metrics import F1_TUNED

    rows, rungs = [], []
    for name, by_seed in gaps.items():
        runs = {}
        for seed in seeds:
            rid = f"{name}-{seed}"
            runs[str(seed)] = rid
            test = 0.30 + 0.01 * seed
            rows.append({"run": rid, f"val:{F1_TUNED}": test + by_seed[seed], f"test:{F1_TUNED}": test,
                         f"gap:{F1_TUNED}": by_seed[seed]})
        rungs.append({"name": name, "changes": {}, "runs": runs})
    return {"name": "a--b", "from": "a", "to": "b", "rungs": rungs}, pd.DataFrame(rows)


def test_the_verdict_names_the_rung_that_closes_the_gap_with_its_interval():
    from bench.report import ladders

    ladder, frame = _fabricated_ladder([0, 1, 2], {
        "FROM": [0.20, 0.22, 0.18], "train.lr": [0.19, 0.22, 0.17],
        "train.no_eval_inference": [0.02, 0.03, 0.01], "TO": [0.01, 0.02, 0.0]})
    line = ladders.verdict(ladder, frame)
    assert line.startswith("**Verdict:** from `a` (FROM) to `b` (TO) the validation − test gap of macro F1 @tuned "
                           "changes by "
                           "-0.190 [")
    assert "`train.no_eval_inference` (-0.180 [" in line and "its interval excludes 0" in line
    assert "(the interval excludes 0)" in line  # the total change itself
    assert "Rungs whose own gap change excludes 0: `train.no_eval_inference` -0.180 [" in line  # not train.lr
    table = "\n".join(ladders.render_one(ladder, frame))
    assert "| train.lr " in table and "-0.007 [" in table  # Δ gap of the lr rung, with its t-interval
    noisy, frame = _fabricated_ladder([0, 1, 2], {
        "FROM": [0.20, 0.22, 0.18], "train.lr": [0.10, 0.30, 0.05], "TO": [0.10, 0.25, 0.06]})
    noisy_line = ladders.verdict(noisy, frame)
    assert "(the interval includes 0, so with these seeds it is not told apart from seed noise)" in noisy_line
    assert noisy_line.endswith("No rung's own gap change excludes 0.")
    together, frame = _fabricated_ladder([0, 1], {"FROM": [0.20, 0.20], "train.lr": [0.25, 0.25], "TO": [0.1, 0.1]})
    assert "no rung on its own moves it that way (the change comes from rungs together)" in ladders.verdict(
        together, frame)


def test_a_ladder_from_one_seed_says_it_has_no_interval():
    from bench.report import ladders

    ladder, frame = _fabricated_ladder([0], {"FROM": [0.2], "train.lr": [0.1], "TO": [0.05]})
    assert "no interval (1 seed)" in "\n".join(ladders.render_one(ladder, frame))
    assert "no interval: one seed cannot tell it from seed noise" in ladders.verdict(ladder, frame)
    pending, frame = _fabricated_ladder([0, 1], {"FROM": [0.2, 0.1], "train.lr": [0.1, 0.1]})
    assert ladders.verdict(pending, frame).startswith("*Verdict pending")
