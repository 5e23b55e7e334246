"""The leaderboard's generator-utility and fidelity-to-benefit tables and figure, from run rows and real saved
test predictions: utility recomputed by hand, undefined where the oracle gains nothing, the figure drawn."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import interval_coverage  # noqa: E402
from utility_interval_coverage import configurations  # noqa: E402

from bench.data.labels import NUM_CLASSES, format_target  # noqa: E402
from bench.report import fidelity_tables, utility  # noqa: E402
from bench.report.effects import effect_rows  # noqa: E402
from bench.report.intervals import macro_f1_weighted  # noqa: E402
from bench.report.paired import PairedTest  # noqa: E402
from bench.report.plots import fidelity_to_benefit  # noqa: E402
from bench.report.plots import utility as utility_figure  # noqa: E402

MARGINS = {("none", ""): 1.0, ("real", ""): 1.0, ("oracle", ""): 1.8, ("oracle", "blur=2.0"): 1.2,
           ("oracle", "noise=0.2"): 1.1, ("latent", ""): 1.4}


def write_predictions(folder: Path, labels: np.ndarray, predicted: np.ndarray) -> None:
    pad = lambda m: np.pad(m, ((0, 0), (0, NUM_CLASSES - m.shape[1])))  # noqa: E731
    folder.mkdir(parents=True)
    pd.DataFrame({"Id": [f"i{k:04d}" for k in range(len(labels))],
                  "Target": [format_target(r) for r in pad(labels)],
                  "Predicted": [format_target(r) for r in pad(predicted)]}).to_csv(folder / "predictions_test.csv",
                                                                                   index=False)


def section(tmp_path: Path, margins: dict) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    labels, difficulty = interval_coverage.test_set(rng, 300)
    rows, one = [], np.ones((1, 300))
    for (generator, changed), margin in margins.items():
        strategy = "none" if generator == "none" else "concat"
        runs = configurations(rng, (labels, difficulty), (margin,), 0.1)[0]
        for seed, predicted in enumerate(runs):
            run = f"{generator}{changed}-{seed}"
            write_predictions(tmp_path / run, labels, predicted)
            f1 = float(macro_f1_weighted(labels, predicted, one)[0] * 5 / NUM_CLASSES)  # 5 of 28 classes used
            fidelity = None if generator in ("none",) else {
                "version": 3, "label_consistency": 0.1 + 0.2 * margin, "fid": 100 / margin, "precision": 0.5,
                "recall": 0.5, "coverage": 0.4, "cas_f1_macro@tuned": 0.05 + 0.1 * margin, "n_images": 239,
                "kid": 0.01, "density": 0.9, "val": {"fid": 110 / margin, "kid": 0.01}}
            rows.append({"run": run, "group": f"g-{generator}{changed}", "generator": generator, "strategy": strategy,
                         "classifier": "resnet18", "seed": seed, "control_key": "k", "synthetic_settings": "s",
                         "synthetic_seed": 0,
                         "train_images": 239, "epochs": 100, "budget": "plateau",
                         "val:f1_macro@tuned": f1, "test:f1_macro@tuned": f1,
                         "generator_changed": changed, "synthetic_fp": None if fidelity is None else
                         f"fp-{generator}{changed}", "set_label": f"{generator} `abc`"
                         + (f" ({changed})" if changed else ""), "fidelity": fidelity})
    return pd.DataFrame(rows)


def test_utility_is_the_share_of_the_oracles_gain_with_its_interval(tmp_path):
    frame = section(tmp_path, MARGINS)
    found = {(u.generator, u.set_label): u for u in utility.utilities(frame, PairedTest(tmp_path))}
    assert set(found) == {("latent", "latent `abc`"), ("oracle", "oracle `abc` (blur=2.0)"),
                          ("oracle", "oracle `abc` (noise=0.2)")}
    by = frame.groupby("group")["test:f1_macro@tuned"].mean()
    expected = (by["g-latent"] - by["g-real"]) / (by["g-oracle"] - by["g-real"])
    latent = found[("latent", "latent `abc`")]
    assert latent.estimate == pytest.approx(expected) and 0 < latent.estimate < 1 and latent.seeds == 3
    assert latent.bounds[0] < latent.estimate < latent.bounds[1]
    blurred = found[("oracle", "oracle `abc` (blur=2.0)")]
    assert blurred.estimate < latent.estimate  # a blurred oracle recovers less than the sharper generator
    lines = "\n".join(utility.render(frame, effect_rows(frame, PairedTest(tmp_path))[0], PairedTest(tmp_path)))
    assert "### Generator utility" in lines and "### Fidelity to benefit" in lines
    assert "Which measure predicts the benefit" in lines and "| label consistency |" in lines
    table = [row for row in utility.rank_correlations(utility.fidelity_frame(
        frame, effect_rows(frame, PairedTest(tmp_path))[0]))]
    assert [row[7] for row in table][0] == "best" and all(row[4] == "4" for row in table)  # `real` left out
    assert {row[3] for row in table} == {"label consistency", "FID", "CAS"}  # constant measures rank nothing
    rhos = [float(row[5]) for row in table]
    assert rhos == sorted(rhos, reverse=True)  # best first
    assert all(row[8].startswith("[") for row in table[1:])  # each shortfall has its interval


def test_utility_is_undefined_where_the_oracle_gains_nothing(tmp_path):
    frame = section(tmp_path, {**MARGINS, ("oracle", ""): 1.0})
    (latent,) = [u for u in utility.utilities(frame, PairedTest(tmp_path)) if u.generator == "latent"]
    assert latent.bounds == (None, None) and "not told apart from 0" in latent.note
    assert "not told apart from 0" in " ".join(latent.cells())


def test_a_set_of_another_synthetic_seed_is_placed_between_the_ends_of_its_own_seed_where_they_exist(tmp_path):
    frame = section(tmp_path, MARGINS)
    later = frame["generator"] == "latent"
    frame.loc[later, "synthetic_seed"] = 1  # a second training of the generator, under synthetic.seed=1
    (latent,) = [u for u in utility.utilities(frame, PairedTest(tmp_path)) if u.generator == "latent"]
    assert latent.seeds == 3 and latent.ends_seeds == (0, 0)
    assert latent.cells()[0] == "latent `abc` (ends: synthetic.seed=0)"
    by = frame.groupby("group")["test:f1_macro@tuned"].mean()
    assert latent.estimate == pytest.approx((by["g-latent"] - by["g-real"]) / (by["g-oracle"] - by["g-real"]))
    # `real` run again at the set's seed (here: the set's own runs relabelled) is the end it is placed on
    again = frame[frame["group"] == "g-latent"].assign(generator="real", group="g-real-1", set_label="real `def`")
    (latent,) = [u for u in utility.utilities(pd.concat([frame, again]), PairedTest(tmp_path))
                 if u.generator == "latent"]
    assert latent.ends_seeds == (0, 1) and latent.estimate == pytest.approx(0.0)
    assert latent.cells()[0] == "latent `abc` (ends: `oracle` at synthetic.seed=0, `real` at 1)"
    other = frame.assign(synthetic_settings=np.where(later, "other", "s"))  # other synthetic settings: no ends
    assert not [u for u in utility.utilities(other, PairedTest(tmp_path)) if u.generator == "latent"]


def test_the_fidelity_to_benefit_and_utility_figures_are_drawn(tmp_path):
    frame = section(tmp_path / "runs", MARGINS)
    assert fidelity_to_benefit(frame, tmp_path / "runs", tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 10_000
    assert not fidelity_to_benefit(frame.assign(fidelity=None), tmp_path / "runs", tmp_path / "none.png")
    assert utility_figure(frame, tmp_path / "runs", tmp_path / "utility.png")
    assert not utility_figure(frame[frame["generator"] != "oracle"], tmp_path / "runs", tmp_path / "none.png")


def test_sets_measured_by_different_reference_trainings_are_said_to_be(tmp_path):
    frame = section(tmp_path, MARGINS)
    effects = effect_rows(frame, PairedTest(tmp_path))[0]
    one = {"reference_run": "94d33a96", "reference_val_f1_macro@tuned": 0.451}
    other = {"reference_run": "94d33a96", "reference_val_f1_macro@tuned": 0.431, "reference_weights": "c5e1c2d3"}
    same = frame.assign(fidelity=[f and {**f, **one, **({"reference_weights": "a0b1"} if g == "latent" else {})}
                                  for f, g in zip(frame["fidelity"], frame["generator"])])
    assert "trainings of the reference" not in "\n".join(utility.render(same, effects, PairedTest(tmp_path)))
    # (a record with the weights digest and one from before it was kept, of one training: one training)
    mixed = same.assign(fidelity=[f and {**f, **(other if g == "latent" else one)}
                                  for f, g in zip(same["fidelity"], same["generator"])])
    note = "\n".join(utility.render(mixed, effects, PairedTest(tmp_path)))
    assert "measured by 2 trainings of the reference classifier" in note
    assert "(`94d33a96` with validation macro F1 @tuned 0.451: 4 sets; " in note  # the oracles and `real`
    assert "`94d33a96` with validation macro F1 @tuned 0.431: 1 set)" in note


def test_a_set_measured_by_two_reference_trainings_reads_one_fidelity_per_training_everywhere(tmp_path):
    frame = section(tmp_path, MARGINS)
    effects = effect_rows(frame, PairedTest(tmp_path))[0]
    first = {"reference_run": "94d33a96", "reference_val_f1_macro@tuned": 0.451}
    again = {"reference_run": "94d33a96", "reference_val_f1_macro@tuned": 0.431, "reference_weights": "c5e1c2d3",
             "label_consistency": 0.777, "cas_f1_macro@tuned": None}  # re-measured without CAS by a later run
    frame = frame.assign(fidelity=[f and {**f, **(again if g == "latent" and seed > 0 else first)}
                                   for f, g, seed in zip(frame["fidelity"], frame["generator"], frame["seed"])])
    latent = utility.fidelity_frame(frame, effects).set_index("generator").loc["latent"]
    assert latent["label_consistency"] == pytest.approx(0.1 + 0.2 * 1.4)  # the training that measured most sets
    assert latent["cas_f1_macro@tuned"] == pytest.approx(0.05 + 0.1 * 1.4)
    tables = "\n".join(fidelity_tables.render(frame))
    main, again_block = tables.split("#### The same, measured by another training of the reference (1 set)")
    assert "0.451" in main and "0.431" not in main and "0.380" in main and "0.777" not in main
    assert "0.431" in again_block and "`c5e1c2d3`" in again_block and "0.777" in again_block
    assert tables.count("### Synthetic sets") == 1  # one heading; the second training's tables under it
    # every set measured again by the later training (set folders): its features now measure the most sets
    folders = [{"dataset_fp": "d", "split_fp": "s", "generator": g, "synthetic_fp": fp, "set_label": label,
                "fidelity": {**f, **again, "label_consistency": 0.5}}
               for g, fp, label, f in frame[frame["fidelity"].notna()].drop_duplicates("group")[
                   ["generator", "synthetic_fp", "set_label", "fidelity"]].itertuples(index=False)]
    read = utility.fidelity_frame(frame.assign(dataset_fp="d", split_fp="s"), effects, folders)
    assert set(read["reference"]) == {"`94d33a96` with validation macro F1 @tuned 0.431"}
    assert set(read["label_consistency"]) == {0.5}  # the folder's record before a run's copy of the same training
    assert read["cas_f1_macro@tuned"].notna().all()  # CAS does not use the reference: taken from another record


def test_a_set_made_on_a_train_subset_shows_in_its_section():
    frame = pd.DataFrame({"dataset_fp": ["d", "d"], "split_fp": ["protocol", "protocol"],
                          "split_subset_fp": ["protocol", "a tenth"]})
    sets = [{"dataset_fp": "d", "split_fp": fp, "name": fp} for fp in ("protocol", "a tenth", "another split")]
    assert [s["name"] for s in fidelity_tables.in_section(frame, sets)] == ["protocol", "a tenth"]
    assert fidelity_tables.in_section(frame.drop(columns="split_subset_fp"), sets) == sets[:1]  # older frames
