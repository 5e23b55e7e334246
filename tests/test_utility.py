"""Generator utility, the share of the oracle's gain over the `real` set that a set recovers: its Fieller
interval over seeds and test images holds its level in simulation, and is undefined where the oracle's own gain
is not told apart from 0."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import interval_coverage  # noqa: E402
from utility_interval_coverage import configurations, true_utility  # noqa: E402

from bench.report.intervals import macro_f1_weighted, ratio_bounds  # noqa: E402


def draw_test_set(rng, images):
    return interval_coverage.test_set(rng, images)


def test_the_utility_interval_holds_its_level_and_says_when_it_is_undefined():
    rng = np.random.default_rng(20261206)
    margins = (1.0, 1.6, 1.3)  # real, oracle, a set recovering half the oracle's gain
    truth = true_utility(rng, margins, 300, 0.15)
    assert 0.4 < truth < 0.6
    bounds = []
    for _ in range(200):
        test = draw_test_set(rng, 300)
        real, oracle, candidate = configurations(rng, test, margins, 0.15)
        bounds.append(ratio_bounds(test[0], candidate, real, oracle, resamples=300, seed=int(rng.integers(1e9))))
    defined = [(lo, hi) for lo, hi, _ in bounds if lo is not None]
    assert len(defined) >= 190
    assert np.mean([lo <= truth <= hi for lo, hi in defined]) >= 0.90
    assert np.mean([hi - lo for lo, hi in defined]) < 1.0  # informative, not merely wide
    test = draw_test_set(rng, 300)
    real, oracle, candidate = configurations(rng, test, (1.0, 1.0, 1.0), 0.15)  # an oracle that gains nothing
    undefined = [ratio_bounds(test[0], candidate, real, oracle, resamples=300)]
    assert undefined[0][:2] == (None, None) and "not told apart from 0" in undefined[0][2]


def test_the_point_estimate_lies_inside_and_one_seed_has_no_interval():
    rng = np.random.default_rng(3)
    test = draw_test_set(rng, 300)
    real, oracle, candidate = configurations(rng, test, (1.0, 1.8, 1.4), 0.1)
    one = np.ones((1, 300))
    f1 = {name: np.mean([macro_f1_weighted(test[0], p, one)[0] for p in runs])
          for name, runs in (("real", real), ("oracle", oracle), ("set", candidate))}
    estimate = (f1["set"] - f1["real"]) / (f1["oracle"] - f1["real"])
    low, high, note = ratio_bounds(test[0], candidate, real, oracle, resamples=300)
    assert low < estimate < high and note == ""
    assert ratio_bounds(test[0], candidate[:1], real[:1], oracle[:1])[:2] == (None, None)


def test_the_rank_correlation_intervals_hold_their_level_and_tell_a_better_measure_apart():
    from rank_interval_coverage import draw_sets, spearman_rows, truth
    from scipy import stats

    from bench.report.utility import rho_bounds, rho_difference_bounds

    rng = np.random.default_rng(11)
    sets = np.stack([draw_sets(rng, 8, 0.8, 0.3, 0.4) for _ in range(300)])
    rho = [spearman_rows(sets[..., i], sets[..., j]) for i, j in ((0, 2), (1, 2), (0, 1))]
    one = [rho_bounds(r, 8) for r in rho[0]]
    two = [rho_difference_bounds(a, b, ab, 8) for a, b, ab in zip(*rho)]
    assert np.mean([low <= truth(0.8) <= high for low, high in one]) >= 0.9
    assert np.mean([low <= truth(0.8) - truth(0.3) <= high for low, high in two]) >= 0.9
    low, high = rho_bounds(1.0, 6)  # six sets ranked perfectly: not certainty
    assert 0 < low < 0.9 and high < 1
    assert rho_bounds(0.5, 3) == (None, None)
    effect = np.arange(16.0)
    noise = rng.permutation(16).astype(float)
    rho_noise, rho_between = stats.spearmanr(noise, effect).statistic, stats.spearmanr(effect, noise).statistic
    low, high = rho_difference_bounds(1.0, rho_noise, rho_between, 16)
    assert low > 0  # a measure that ranks 16 sets perfectly is told apart from one that ranks them at random
