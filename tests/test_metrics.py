"""Metrics over all 28 classes against scikit-learn, thresholds tuned on validation, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from bench.evaluate.metrics import THRESHOLD_GRID, evaluate, gaps, grid_f1, tune_thresholds


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    target = (rng.random((300, 28)) < 0.1).astype(int)
    target[:, 27] = 0  # a class absent from the split, like Rods & rings in a small val role
    probs = np.clip(0.35 * target + 0.65 * rng.random((300, 28)), 0, 1)
    return probs, target


def test_against_sklearn_with_an_absent_class(scored):
    probs, target = scored
    thresholds = tune_thresholds(probs, target)
    summary, per_class = evaluate(probs, target, thresholds)
    binary = (probs >= thresholds).astype(int)
    def sk_f1(predicted, average):
        return pytest.approx(f1_score(target, predicted, average=average, zero_division=0), abs=1e-6)

    assert summary["f1_macro@0.5"] == sk_f1(probs >= 0.5, "macro")
    assert summary["f1_macro@tuned"] == sk_f1(binary, "macro")
    assert summary["f1_micro@tuned"] == sk_f1(binary, "micro")
    ap = [average_precision_score(target[:, c], probs[:, c]) if target[:, c].any() else 0.0 for c in range(28)]
    assert summary["map_macro"] == pytest.approx(np.mean(ap), abs=1e-6)  # mean over all 28, absent = 0
    assert summary["absent_classes"] == [27]
    assert per_class["positives"][27] == 0 and per_class["f1@0.5"][27] == 0.0
    assert len(per_class["f1@tuned"]) == len(per_class["ap"]) == 28


def test_tuned_thresholds_never_lose_on_the_split_they_were_tuned_on(scored):
    probs, target = scored
    thresholds = tune_thresholds(probs, target)
    summary, per_class = evaluate(probs, target, thresholds)
    assert all(t >= h for t, h in zip(per_class["f1@tuned"], per_class["f1@0.5"]))
    assert summary["f1_macro@tuned"] > summary["f1_macro@0.5"]
    assert thresholds[27] == 0.5  # no positives: nothing to tune
    assert np.all((thresholds >= 0.05) & (thresholds <= 0.95))


@pytest.mark.parametrize("decimals", [1, 2, 6])  # 1 and 2: probabilities on the grid itself, so thresholds tie
def test_every_threshold_at_once_is_the_f1_of_each_threshold_alone(decimals):
    """grid_f1 (all thresholds in one pass) against scikit-learn's F1 at each threshold, ties included; the tuned
    threshold is a best one, the nearest 0.5 among equals."""
    rng = np.random.default_rng(decimals)
    target = (rng.random((120, 28)) < 0.15).astype(int)
    target[:, 3] = 0
    probs = np.round(np.clip(0.3 * target + 0.7 * rng.random((120, 28)), 0, 1), decimals)
    scores = grid_f1(probs, target)
    for k in range(0, len(THRESHOLD_GRID), 7):
        expected = f1_score(target, probs >= THRESHOLD_GRID[k], average=None, zero_division=0)
        np.testing.assert_allclose(scores[k], expected, atol=1e-12)
    tuned = tune_thresholds(probs, target)
    for c in range(28):
        best = np.flatnonzero(scores[:, c] == scores[:, c].max())
        assert tuned[c] == (0.5 if c == 3 else THRESHOLD_GRID[best[np.argmin(np.abs(THRESHOLD_GRID[best] - 0.5))]])


def test_gap_is_val_minus_test(scored):
    probs, target = scored
    th = np.full(28, 0.5)
    val, _ = evaluate(probs, target, th)
    test, _ = evaluate(probs[:150], target[:150], th)
    g = gaps(val, test)
    assert g["f1_macro@0.5"] == pytest.approx(val["f1_macro@0.5"] - test["f1_macro@0.5"], abs=1e-6)


def test_bootstrap_macro_f1_of_all_runs_at_once_is_scikit_learns_weighted_f1():
    """`macro_f1_runs` (one float32 product for every run and bootstrap row) equals scikit-learn's macro F1 with
    each row's multiplicities as sample weights, classes without positives or predictions scoring 0."""
    from bench.report.intervals import _image_resamples, macro_f1_runs, macro_f1_weighted

    rng = np.random.default_rng(5)
    labels = (rng.random((120, 6)) < 0.2).astype(np.int8)
    labels[:, 5] = 0  # a class with nothing to find
    runs = [(rng.random((120, 6)) < 0.25).astype(np.int8) for _ in range(3)]
    runs[2][:] = 0  # a run that predicts nothing
    weights = _image_resamples(120, 20, seed=1)
    found = macro_f1_runs(labels, runs, weights)
    expected = [[f1_score(labels, run, average="macro", sample_weight=row, zero_division=0) for run in runs]
                for row in weights]
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12)
    assert np.array_equal(found[:, 1], macro_f1_weighted(labels, runs[1], weights))
