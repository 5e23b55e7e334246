"""The leaderboard: aggregated over seeds, split-safe, from finished runs only, byte-stable."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import folders

from bench.evaluate.metrics import SELECTION_RULE
from bench.report.intervals import change_bounds, macro_f1_weighted, seed_image_bounds
from bench.report.leaderboard import render
from bench.report.runs_frame import load_runs


@pytest.fixture()
def runs(fixture_runs):
    """The committed fixture runs (tests/fixtures/runs): a tiny grid over two seeds and one paper-split run."""
    return fixture_runs


def test_rows_aggregate_seeds_and_never_mix_splits(runs):
    frame = load_runs(runs)
    assert len(frame) == 6  # 4 grid runs, the fidelity reference run of the `real` set, 1 on the paper split
    text = render(frame, runs_dir=runs)
    assert text.count("## synthetic-cells (160 images, 32 px) · split `stratified`") == 1
    assert text.count("## synthetic-cells (160 images, 32 px) · split `paper`") == 1
    stratified = next(s for s in text.split("\n## ")[1:] if s.split("\n")[0].endswith("`stratified`"))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in stratified.splitlines()
            if line.startswith("| none")]
    cells = next(cells for cells in rows if cells[5] == "2")  # the grid's control: two seeds in one row
    assert cells[:3] == ["none", "none", "resnet18"] and cells[4] == "1"
    assert all("±" in c for c in cells[6:-2]) and cells[-2].startswith("[")  # the interval over seeds and images
    assert "the 95% interval of the mean over seeds and test images" in stratified
    assert cells[-1] == "defaults"  # no plugin option differs from its default
    assert SELECTION_RULE in text
    assert "### Validation − test gap" in text


def test_metrics_in_the_table_are_the_records_own(runs):
    frame = load_runs(runs)
    controls = frame[(frame["split"] == "stratified") & (frame["strategy"] == "none")]
    seeds = controls.groupby("group").filter(lambda runs: len(runs) == 2)["test:f1_macro@tuned"]
    assert len(seeds) == 2  # the control of the grid, beside the 1-seed fidelity reference run
    text = render(frame)
    assert f"{seeds.mean():.3f} ± {seeds.std(ddof=1):.3f}" in text


def test_unfinished_runs_are_ignored_and_rendering_is_byte_stable(runs, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    first = render(load_runs(copy))
    unfinished = folders(copy)[0]
    (unfinished / "done").unlink()
    assert len(load_runs(copy)) == 5
    (unfinished / "done").write_text("x\n")
    assert render(load_runs(copy)) == first == render(load_runs(runs))


def test_empty_runs_folder(tmp_path):
    assert "No finished runs yet" in render(load_runs(tmp_path))


def test_a_configurations_interval_and_paired_effects():
    import numpy as np
    import pandas as pd
    from scipy import stats

    from bench.report.effects import EFFECT_HEADERS, effect_rows
    from bench.report.leaderboard import _verdict, summary_lines
    from bench.report.paired import PairedTest, config_bounds

    runs = pd.DataFrame({"run": ["a", "b", "c"], "val:f1_macro@tuned": [0.1, 0.2, None]})
    (low, high), over = config_bounds(runs, "val:f1_macro@tuned", PairedTest(None))
    assert over == "seeds" and np.isclose(high - 0.15, stats.t.ppf(0.975, 1) * 0.05)  # the t over 2 seeds
    assert config_bounds(runs.head(1), "val:f1_macro@tuned", PairedTest(None))[0] == (None, None)
    rows = []
    for seed, base in enumerate([0.30, 0.40, 0.50]):
        rows.append({"group": "c0", "generator": "none", "strategy": "none", "classifier": "resnet18", "seed": seed,
                     "control_key": "k", "val:f1_macro@tuned": base, "test:f1_macro@tuned": base - 0.1})
        rows.append({"group": "m1", "generator": "ddpm", "strategy": "mix_rep", "classifier": "resnet18", "seed": seed,
                     "control_key": "k", "val:f1_macro@tuned": base + 0.02, "test:f1_macro@tuned": base - 0.15})
    rows.append({"group": "other", "generator": "none", "strategy": "none", "classifier": "resnet18", "seed": 0,
                 "control_key": "x", "val:f1_macro@tuned": 0.9, "test:f1_macro@tuned": 0.9})  # other settings
    effects, kinds = effect_rows(pd.DataFrame(rows).assign(train_images=100))
    assert kinds == {"seeds"}  # no runs folder: no test predictions to resample
    assert len(effects) == 1
    row = dict(zip(EFFECT_HEADERS, effects[0].cells()))
    assert row["paired seeds"] == 3 and row["Δ val macro F1 @tuned"] == "+0.020"
    assert row["Δ test macro F1 @tuned"] == "-0.050"
    assert row["test 95% CI"] == "[-0.050, -0.050]"  # the same difference on every seed
    assert np.isclose(float(row["val 95% CI"].strip("[]").split(",")[0]), 0.02)
    # validation overstates test by 0.07 more than for the control, on every seed
    assert (row["Δ gap (val − test)"], row["gap 95% CI"]) == ("+0.070", "[0.070, 0.070]")
    frame = pd.DataFrame(rows).assign(dataset="synthetic-cells", split="stratified", train_images=100)
    (line, misleading, wider) = summary_lines(frame, effects)
    assert wider == ("  - Validation overstating test more than for the control (Δ gap, 95%): ddpm/mix_rep/resnet18 "
                     "(+0.070 [0.070, 0.070]).")
    assert "Below it on test: ddpm/mix_rep/resnet18 (-0.050 [-0.050, -0.050])" in line
    assert misleading == ("  - Above the control on validation but not on test: ddpm/mix_rep/resnet18 "
                          "(-0.050 [-0.050, -0.050]).")
    verdict = _verdict(effects, has_test=True)  # +0.02 on every seed on validation, -0.05 on test
    assert ("on validation, above the control: ddpm/mix_rep/resnet18; below it: none; "
            "on test, above the control: none; below it: ddpm/mix_rep/resnet18; validation − test gap wider than the "
            "control's: ddpm/mix_rep/resnet18; narrower: none.") in verdict


def test_effects_at_several_train_sizes_pair_within_a_size_and_read_as_learning_curves():
    import pandas as pd

    from bench.report.effects import effect_rows, learning_curves
    from bench.report.leaderboard import curve_table, summary_lines

    rows = []
    for size, gain in ((50, 0.10), (500, -0.02)):  # synthetic images help with little real data only
        for seed in range(3):
            base = 0.2 + 0.01 * seed + size / 5000
            for group, generator, strategy, shift in (("c", "none", "none", 0.0), ("g", "edm", "concat", gain)):
                rows.append({"group": f"{group}{size}", "generator": generator, "strategy": strategy,
                             "classifier": "resnet18", "seed": seed, "control_key": f"k{size}",
                             "train_images": size, "val:f1_macro@tuned": base + shift,
                             "test:f1_macro@tuned": base + shift + (0.001 * seed if shift > 0 else 0.0)})
    frame = pd.DataFrame(rows).assign(dataset="synthetic-cells", split="stratified", budget=10.0, curve="k",
                                      epochs=10)
    effects, _ = effect_rows(frame)
    assert [e.cells()[3] for e in effects] == ["g50 · 50 train images, 10 epochs, budget 10",
                                                 "g500 · 500 train images, 10 epochs, budget 10"]
    (curve,) = learning_curves(frame, effects)
    curve_headers, curves = curve_table([curve])
    assert curve_headers[3:] == ["Δ test at 50 train images (95%)", "Δ test at 500 train images (95%)",
                                 "change: Δ at smallest − Δ at largest size (95%)"]
    assert curves == [["edm", "concat", "resnet18", " ".join(effects[0].shown("test")), "-0.020 [-0.020, -0.020]",
                       curve.shown()]]
    # without saved predictions, Welch's interval over the per-seed differences (+0.100, +0.101, +0.102 at 50
    # images; -0.020 three times at 500): the change is +0.121 with the t of 2 degrees of freedom
    assert curve.change == pytest.approx(0.121) and curve.kind == "seeds"
    assert curve.bounds == pytest.approx((0.121 - 4.303 * 0.001 / np.sqrt(3), 0.121 + 4.303 * 0.001 / np.sqrt(3)),
                                         abs=1e-4)
    short = frame[frame["group"].isin(["c50", "g50"])].assign(group=lambda f: f["group"] + "-short", budget=1.0,
                                                               curve="s", control_key="k50-short")
    both = pd.concat([frame, short])  # the same names at 50 images with another optimizer budget: another curve
    curve_headers, curves = curve_table(learning_curves(both, effect_rows(both)[0]))
    assert curve_headers[3] == "budget (epochs of the whole train role)"
    assert [row[3:] for row in curves] == [["10", curves[0][4], "-0.020 [-0.020, -0.020]", curves[0][6]],
                                           ["1", curves[1][4], "—", "—"]]  # one size: no change
    named = pd.concat([frame, short.assign(budget="plateau")])  # a named budget rule sorts before the numeric ones
    curve_headers, curves = curve_table(learning_curves(named, effect_rows(named)[0]))
    assert [row[3] for row in curves] == ["plateau", "10"]
    assert effects[0].shown("test")[0] == "+0.101"  # paired with the control of its own size, not the other one's
    line, change = summary_lines(frame, effects, [curve])
    assert "Above it on test: edm/concat/resnet18 at 50 train images, 10 epochs, budget 10 (+0.101" in line
    assert "Below it on test: edm/concat/resnet18 at 500 train images, 10 epochs, budget 10 (-0.020" in line
    assert "higher at the smaller size (less harm or more gain with less real data): edm/concat/resnet18 (50 vs " \
           "500 train images, budget 10) (+0.121" in change
    assert change.endswith("no evidence either way: 0 of 1 curves.")
    assert learning_curves(frame, effect_rows(frame[frame["train_images"] == 50])[0]) == []


def test_cli_writes_figures_beside_the_markdown_byte_for_byte(runs, tmp_path):
    from conftest import bench_cli

    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name / "README.md"
        result = bench_cli("leaderboard", "--runs-dir", str(runs), "--out", str(out))
        assert result.returncode == 0, result.stderr
        outputs.append({p.name: p.read_bytes() for p in out.parent.iterdir()})
    assert outputs[0] == outputs[1]
    pngs = sorted(name for name in outputs[0] if name.endswith(".png"))
    # val-vs-test, per-class and per-class effects of the stratified section; the paper split has no test
    assert len(pngs) == 3 and any(name.endswith("per-class-effects.png") for name in pngs)
    text = outputs[0]["README.md"].decode()
    assert all(f"]({name})" in text for name in pngs)


def test_each_synthetic_set_used_gets_its_sample_grid_in_the_leaderboard(runs, fixture_sets, tmp_path):
    from conftest import bench_cli

    out = tmp_path / "board" / "README.md"
    result = bench_cli("leaderboard", "--runs-dir", str(runs), "--synthetic-dir", str(fixture_sets), "--out", str(out))
    assert result.returncode == 0, result.stderr
    (grid,) = out.parent.glob("*-samples-real-*.png")
    (set_folder,) = folders(fixture_sets)
    assert grid.read_bytes() == (set_folder / "grid.png").read_bytes()
    assert f"]({grid.name})" in out.read_text() and "Samples of generator `real`" in out.read_text()
    shutil.rmtree(fixture_sets)  # sets deleted: the leaderboard still renders, without their grids
    again = bench_cli("leaderboard", "--runs-dir", str(runs), "--synthetic-dir", str(fixture_sets),
                      "--out", str(tmp_path / "again" / "README.md"))
    assert again.returncode == 0 and "samples-real" not in (tmp_path / "again" / "README.md").read_text()


def test_plugin_options_that_differ_from_the_defaults_are_shown():
    from bench import config
    from bench.report.runs_frame import plugin_options

    cfg = config.build(overrides=("generator.name=ddpm", "strategy.name=mix_rep", "generator.epochs=3",
                                  "strategy.lam=uniform"))
    assert plugin_options(cfg.to_dict()) == "generator.epochs=3, strategy.lam=uniform"
    assert plugin_options(config.build().to_dict()) == "defaults"


def test_runs_from_other_library_versions_are_flagged(runs):
    import json

    text = render(load_runs(runs))
    assert "**Library versions:** " in text and "(every run)" in text and "mixed library versions" not in text
    record_path = next(p for p in sorted(runs.glob("*/record.json")) if '"seed": 1' in p.read_text())
    record = json.loads(record_path.read_text())
    record["environment"]["libraries"]["torch"] = "0.0.1"
    record_path.write_text(json.dumps(record))
    text = render(load_runs(runs))
    assert "**Library versions differ between runs**" in text and "torch 0.0.1" in text
    assert "(mixed library versions)" in text


@pytest.mark.slow
def test_the_effect_interval_holds_its_level_with_three_seeds():
    """Simulated paired differences over 3 seeds (normal seed-to-seed noise, fixed random seed): with no effect
    the t-interval excludes 0 in 2-8% of cases and covers a fixed true effect at least 90% of the time, where the
    percentile bootstrap of 3 differences did neither."""
    from bench.report.intervals import t_bounds

    rng = np.random.default_rng(20261128)
    sims, seeds, noise = 4000, 3, 0.015
    null = rng.normal(0.0, noise, size=(sims, seeds))
    false_positive = np.mean([not (lo <= 0 <= hi) for lo, hi in map(t_bounds, null)])
    assert 0.02 <= false_positive <= 0.08
    effect = 0.02
    shifted = rng.normal(effect, noise, size=(sims, seeds))
    coverage = np.mean([lo <= effect <= hi for lo, hi in map(t_bounds, shifted)])
    assert coverage >= 0.90
    # the interval it replaces: percentile bootstrap of the mean of 3 differences
    picks = rng.integers(0, seeds, size=(sims, 2000, seeds))
    means = np.take_along_axis(null[:, None, :], picks, axis=2).mean(axis=2)
    low, high = np.percentile(means, [2.5, 97.5], axis=1)
    assert np.mean((low > 0) | (high < 0)) > 0.15  # far above its nominal 5%


def _simulated_test_set(rng, images: int = 300):
    """Labels of one draw of test images, and each image's per-class difficulty (shared by every run, so the
    test set is a source of variance)."""
    prevalence = np.array([0.4, 0.25, 0.12, 0.06, 0.04])
    labels = (rng.random((images, len(prevalence))) < prevalence).astype(np.int8)
    return labels, rng.normal(0, 1.0, labels.shape)


def _simulated_runs(rng, test_set, margin: float, effect: float, seeds: int = 3):
    """0/1 predictions of `seeds` treated and control runs on `test_set`: a seed shifts each class and adds
    per-image noise; `margin` is how well the control separates the classes, `effect` sharpens the treated."""
    labels, difficulty = test_set

    def run(m):
        score = (2 * labels - 1) * m + difficulty + rng.normal(0, 0.15, labels.shape[1]) \
            + rng.normal(0, 0.8, labels.shape) - 0.8
        return (score > 0).astype(np.int8)

    return [run(margin + effect) for _ in range(seeds)], [run(margin) for _ in range(seeds)]


def _simulated_experiment(rng, effect: float, images: int = 300, seeds: int = 3):
    """Labels, treated and control predictions of `seeds` paired runs on one draw of test images."""
    test_set = _simulated_test_set(rng, images)
    return (test_set[0], *_simulated_runs(rng, test_set, 1.0, effect, seeds))


def _paired_effect(labels, treated, control) -> float:
    one = np.ones((1, len(labels)))
    return float(np.mean([macro_f1_weighted(labels, t, one)[0] - macro_f1_weighted(labels, c, one)[0]
                          for t, c in zip(treated, control)]))


@pytest.mark.slow
def test_the_seed_and_image_interval_holds_its_level_with_three_seeds():
    """Simulated test sets and seeds (fixed random seed): with no effect the seed-and-image interval excludes
    0 in 2-8% of draws, and it covers a fixed effect (its expectation over seeds and test sets, computed by
    simulation) in at least 90% of draws, and a configuration's expected score in 90-99%."""
    rng = np.random.default_rng(20261128)
    difference = _paired_effect
    truth = np.mean([difference(*_simulated_experiment(rng, 0.3)) for _ in range(2000)])
    assert truth > 0.05  # a real effect
    null = [seed_image_bounds(*_simulated_experiment(rng, 0.0), resamples=400) for _ in range(800)]
    false_positive = np.mean([not (lo <= 0 <= hi) for lo, hi in null])
    assert 0.02 <= false_positive <= 0.08, false_positive
    fixed = [seed_image_bounds(*_simulated_experiment(rng, 0.3), resamples=400) for _ in range(400)]
    coverage = np.mean([lo <= truth <= hi for lo, hi in fixed])
    assert coverage >= 0.90, coverage
    # a configuration's own mean score (the main table): covered, and not by an uninformatively wide interval
    # (a t with 2 degrees of freedom on the image part as well covered it in 100% of draws)
    expected = np.mean([difference(labels, treated, [np.zeros_like(t) for t in treated])
                        for labels, treated, _ in (_simulated_experiment(rng, 0.3) for _ in range(2000))])
    scores = [seed_image_bounds(labels, treated, resamples=400)
              for labels, treated, _ in (_simulated_experiment(rng, 0.3) for _ in range(400))]
    assert 0.90 <= np.mean([lo <= expected <= hi for lo, hi in scores]) <= 0.99
    labels, treated, control = _simulated_experiment(rng, 0.0, seeds=1)
    assert seed_image_bounds(labels, treated, control) == (None, None)  # one seed: no interval


@pytest.mark.slow
def test_the_interval_on_a_change_of_effect_between_train_sizes_holds_its_level():
    """Simulated learning curves (two train sizes, 3 seeds each, scored on one draw of test images): with the
    same effect at both sizes the interval on the change of effect excludes 0 in 2-8% of draws; a change (a
    larger effect at the smaller size) is covered in at least 90% of draws and told apart from 0 in most."""
    rng = np.random.default_rng(20261128)

    def curve(small: tuple, large: tuple, seeds: int = 3):
        test_set = _simulated_test_set(rng)
        return test_set[0], _simulated_runs(rng, test_set, *small, seeds), _simulated_runs(rng, test_set, *large, seeds)

    same = [change_bounds(*curve((1.0, 0.3), (1.0, 0.3)), resamples=300) for _ in range(500)]
    false_positive = np.mean([not (lo <= 0 <= hi) for lo, hi in same])
    assert 0.02 <= false_positive <= 0.08, false_positive
    small, large = (0.6, 0.4), (1.4, 0.1)  # a weaker control at the small size, and a larger effect there
    changes = [curve(small, large) for _ in range(1000)]
    truth = np.mean([_paired_effect(labels, *a) - _paired_effect(labels, *b) for labels, a, b in changes])
    assert truth > 0.05
    changed = [change_bounds(*curve(small, large), resamples=300) for _ in range(300)]
    assert np.mean([lo <= truth <= hi for lo, hi in changed]) >= 0.90
    assert np.mean([lo > 0 for lo, _ in changed]) > 0.5  # not uninformatively wide
    assert change_bounds(*curve(small, large, seeds=1)) == (None, None)  # one seed: no interval


def test_test_effects_use_the_saved_predictions(runs):
    """With the runs' test predictions at hand, test effects get the seed-and-image interval, named above the
    table; the per-run macro F1 recomputed from the predictions equals the recorded one."""
    from bench.report.paired import load_test_predictions

    frame = load_runs(runs)
    for run in frame["run"]:
        table = load_test_predictions(runs / run)
        if table is None:
            continue
        f1 = macro_f1_weighted(table["y"].to_numpy(), table["p"].to_numpy(), np.ones((1, len(table))))[0]
        assert f1 == pytest.approx(frame.set_index("run").loc[run, "test:f1_macro@tuned"], abs=1e-6)
    text = render(load_runs(runs), {}, (), runs)
    assert "variance the test images add to every seed alike" in text
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]  # at the top, before the first section
    assert "1 configuration against the no-synthetic control (2 paired seeds)" in summary
    assert "No evidence either way: 1" in summary


def test_runs_recorded_before_an_option_existed_pair_with_runs_that_have_it_at_its_default():
    from bench.report.runs_frame import _identity_view

    old = {"train": {"lr": 0.001}, "seed": 0}
    new = {"train": {"lr": 0.001, "ema": 0.0, "test_normalization": "none"}, "seed": 1}
    assert _identity_view(old) == {**old} and _identity_view(new)["train"] == old["train"]
    assert _identity_view({"train": {"lr": 0.001, "ema": 0.5}})["train"] == {"lr": 0.001, "ema": 0.5}


def test_the_selection_table_sets_each_configuration_beside_the_oracle_rule(fixture_runs):
    from bench.report import selection
    from bench.report.leaderboard import render
    from bench.report.runs_frame import load_runs

    frame = load_runs(fixture_runs)
    text = render(frame, {}, [], fixture_runs)
    assert "### Selection rule against an oracle (an upper bound, not a result)" in text
    scored = selection.oracle_scores(frame[frame["test:f1_macro@tuned"].notna()], fixture_runs)
    assert scored[selection.THRESHOLDS].notna().all()  # from the saved test probabilities
    assert (scored[selection.THRESHOLDS] >= scored["test:f1_macro@tuned"] - 0.02).all()  # tuned on test: higher
    ranked = text.split("### Selection rule")[0]
    assert "thresholds on test" not in ranked  # never in the ranking or the effects before it


def test_every_config_id_resolves_to_its_run_folders_and_says_how_it_differs(runs):
    import re

    import pandas as pd

    from bench.report.runs_frame import config_labels

    frame = load_runs(runs)
    text = render(frame, runs_dir=runs)
    sections = [s for s in text.split("\n## ")[1:] if "### Main table" in s]
    assert len(sections) == 2
    for section in sections:
        tables, listing = section.split("<details>")
        listed = dict(re.findall(r"\| `([0-9a-f]{8})` +\| (.+?) +\|", listing))
        for group in set(re.findall(r"\| ([0-9a-f]{8})[ |]", tables)):
            folders = re.findall(r"`([0-9a-f]{16})` \(seed (\d+)\)", listed[group])
            assert folders and all((runs / run).is_dir() for run, _ in folders)
            assert sorted(frame[frame["group"] == group]["run"]) == sorted(run for run, _ in folders)
    made = pd.DataFrame({"group": ["a", "b", "c"], "settings": [
        '{"train.lr": "0.001", "train.flip": "true"}', '{"train.lr": "0.0001", "train.flip": "true"}',
        '{"train.lr": "0.001", "train.flip": "true", "train.budget": "plateau"}']})
    assert config_labels(made) == {"a": "", "b": "train.lr=0.0001", "c": "train.budget=plateau"}


def test_a_method_repeated_by_sections_is_stated_once_at_the_end():
    from bench.report.leaderboard import methods_once

    method, table = "How it is measured. " * 20, "| a | b |\n|---|---|\n| " + "x" * 400 + " |"
    texts, closing = methods_once([f"## one\n\n{method}\n\n{table}\n\nshort", f"## two\n\n{method}\n\n{table}"])
    assert closing.count(method) == 1 and "**Method 1.**" in closing and "## Methods" in closing
    assert all(method not in t and "method 1 under [Methods](#methods)" in t and table in t for t in texts)
    assert methods_once(["## one\n\n" + method]) == (["## one\n\n" + method], "")  # stated once already


def test_a_run_folder_reads_as_a_typed_record(runs):
    import json

    from bench.records import DamagedRun, RunRecord

    folder = sorted(p for p in runs.iterdir() if p.is_dir())[0]
    run = RunRecord.read(folder)
    record = json.loads((folder / "record.json").read_text())
    assert run.run_id == record["run_id"] and run.dataset.fingerprint == record["dataset"]["fingerprint"]
    assert run.split.counts == record["split"]["counts"] and run.seed == run.config["seed"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert run.score("val", "f1_macro@tuned") == metrics["val"]["f1_macro@tuned"]
    assert run.score("nope", "f1_macro@tuned") is None
    with pytest.raises(DamagedRun, match="missing"):
        RunRecord.read(runs / "no-such-run")


def test_the_answer_in_words_names_each_generators_best_and_worst_effect():
    from bench.report.effects import Effect
    from bench.report.leaderboard import answer_paragraph

    def effect(generator, strategy, size, test, low, high, val=(0.0, -0.01, 0.01), gap=(0.0, -0.01, 0.01)):
        return Effect((generator, strategy, "resnet18"), "g", size, 10, True, 3, {"val": val[0], "test": test,
                      "gap": gap[0]}, {"val": val[1:], "test": (low, high), "gap": gap[1:]})

    text = answer_paragraph([effect("oracle", "concat", 598, 0.074, 0.039, 0.109),
                             effect("oracle", "mix_rep", 239, 0.018, -0.05, 0.087, val=(0.05, 0.02, 0.08),
                                    gap=(0.03, 0.01, 0.05)),
                             effect("ddpm", "mix_rep", 2393, -0.118, -0.16, -0.075),
                             effect("oracle", "concat", 2393, 0.096, None, None, gap=(0.01, None, None))])  # 1 seed
    assert text.index("`oracle`") < text.index("`ddpm`")  # the strongest generator first
    assert "`oracle` is above the control in 1 and below it in 0 of its 3 configurations" in text
    assert "best +0.074 [0.039, 0.109] (concat, 598 train images, 10 epochs)" in text  # not the one without interval
    assert "1 with one paired seed, no interval yet" in text
    assert "`ddpm` is below the control in its one configuration: -0.118 [-0.160, -0.075]" in text
    assert "1 configuration looked better than the control on validation and did not hold on test" in text
    assert "the validation − test gap of 1 was wider than the control's and of 0 narrower" in text
    assert "of 3 with an interval, about 0.1 would be by chance alone" in text  # the one-seed effect has none


def test_the_answer_in_words_keeps_a_generators_degradations_apart_from_the_generator():
    from bench.report.effects import Effect
    from bench.report.leaderboard import answer_paragraph

    def effect(test, low, high, variant="", size=239):
        return Effect(("oracle", "concat", "resnet18"), "g", size, 100, True, 3, {"val": 0.0, "test": test},
                      {"val": (-0.01, 0.01), "test": (low, high)}, variant=variant, budget="plateau")

    broken = effect(-0.062, -0.096, -0.028, variant="label_noise=1.0")
    text = answer_paragraph([effect(0.061, -0.005, 0.127), effect(0.110, 0.038, 0.182, size=2393),
                             effect(0.084, 0.051, 0.117, variant="pixel_noise=False"), broken])
    assert "`oracle` at its default options is above the control in 1 and below it in 0 of its 2" in text
    assert "with options changed from them above the control in 1 and below it in 1 of its 2" in text
    assert "worst -0.062 [-0.096, -0.028] (label_noise=1.0, concat, 239 train images, 100 epochs, budget plateau)" \
        in text  # the broken set is named as what it is, not as the oracle
    assert broken.label == "oracle (label_noise=1.0)/concat/resnet18 at 239 train images, 100 epochs, budget plateau"
    assert broken.cells()[0] == "oracle (label_noise=1.0)"
    one = answer_paragraph([effect(0.037, -0.052, 0.126, variant="epochs=600")])
    assert "not told apart from the control in its one configuration: +0.037 [-0.052, 0.126]" in one
    alone = answer_paragraph([effect(0.131, None, None, size=2393)])
    assert "`oracle` is measured in one configuration with one paired seed, no interval yet: +0.131 —" in alone
