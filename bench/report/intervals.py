"""Numbers with their uncertainty, one way everywhere: mean ± sample std over seeds, the Student-t interval of
a mean (or a mean paired difference) over seeds, and, on test, where the runs' predictions are saved, the
same interval widened by the variance that comes from the test images."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def fmt(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    if len(values) == 1:
        return f"{values.iloc[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def t_bounds(differences) -> tuple[float | None, float | None]:
    """95% Student-t interval of the mean paired difference over seeds (n - 1 degrees of freedom): exact for
    normal seed-to-seed noise, so with 3 seeds it is wide, as it must be; (None, None) with fewer than 2."""
    values = np.asarray(pd.Series(differences).dropna(), dtype=float)
    if len(values) < 2:
        return None, None
    mean, sem = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    if sem == 0:
        return float(mean), float(mean)
    low, high = stats.t.interval(0.95, df=len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """mean(a) - mean(b) of two independent samples (2 values at least each), the variance of that
    difference (s_a^2/n_a + s_b^2/n_b) and its Welch-Satterthwaite degrees of freedom (n_a + n_b - 2 when
    both samples are constant: any quantile times a zero variance is 0)."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb > 0 else len(a) + len(b) - 2
    return a.mean() - b.mean(), va + vb, df


def welch_bounds(first, second) -> tuple[float | None, float | None]:
    """95% Welch interval of mean(first) - mean(second), two independent sets of values (unequal variances,
    Welch-Satterthwaite degrees of freedom); (None, None) with fewer than 2 values in either."""
    a, b = (np.asarray(pd.Series(v, dtype=float).dropna()) for v in (first, second))
    if min(len(a), len(b)) < 2:
        return None, None
    change, variance, df = _welch(a, b)
    if variance == 0:
        return float(change), float(change)
    half = stats.t.ppf(0.975, df) * np.sqrt(variance)
    return float(change - half), float(change + half)


def macro_f1_weighted(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Macro F1 over all classes of 0/1 `predicted` against 0/1 `labels` (N, C), once per row of `weights`
    (R, N), each row the multiplicity of every image (a bootstrap resample); a class with nothing to find and
    nothing predicted scores 0, as in the run metrics."""
    return macro_f1_runs(labels, [predicted], weights)[:, 0]


def macro_f1_runs(labels: np.ndarray, runs: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """`macro_f1_weighted` of every run at once, (R, len(runs)), from one product: the weighted counts of true
    positives per run and of predictions and positives (fp = predicted - tp, fn = positives - tp). The counts
    are sums of small integers below 2**24 (at most the number of images), so float32 holds them exactly in
    any order of summation and every value is what float64 sums would give."""
    if len(labels) >= 2 ** 24:
        raise ValueError(f"{len(labels)} images: weighted counts would not be exact in float32")
    truth = labels.astype(np.float32)
    classes = truth.shape[1]
    columns = [truth * p for p in runs] + [p.astype(np.float32) for p in runs] + [truth]
    counts = (np.asarray(weights, dtype=np.float32) @ np.hstack(columns)).astype(np.float64)
    counts = counts.reshape(len(counts), 2 * len(runs) + 1, classes)
    tp, predicted, positives = counts[:, :len(runs)], counts[:, len(runs):-1], counts[:, -1:]
    denominator = predicted + positives  # = 2 tp + fp + fn, exactly (integers)
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0).mean(axis=2)


def _scores(labels: np.ndarray, runs: list[np.ndarray], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each run's macro F1 on the test images as they are, (runs,), and under each bootstrap row, (runs, R)."""
    both = macro_f1_runs(labels, runs, np.vstack([np.ones((1, len(labels))), weights]))
    return both[0], np.ascontiguousarray(both[1:].T)  # row-major, one run a row: np.cov sums each in order


def _image_resamples(images: int, resamples: int, seed: int) -> np.ndarray:
    """Bootstrap multiplicities of the test images, (resamples, images): one paired resample for every run."""
    picks = np.random.default_rng(seed).integers(0, images, size=(resamples, images))  # counts ~ multinomial
    picks += np.arange(resamples)[:, None] * images  # one bincount for all rows (rng.multinomial is 10x slower)
    return np.bincount(picks.ravel(), minlength=resamples * images).reshape(resamples, images).astype(np.float64)


def _paired_differences(labels: np.ndarray, treated: list[np.ndarray], control: list[np.ndarray] | None,
                        weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per seed, macro F1 of treated[i] minus control[i] (without `control`: minus 0, the score of predicting
    nothing): on the test images as they are, (n,), and under each bootstrap row of `weights`, (n, R)."""
    control = control if control is not None else [np.zeros_like(t) for t in treated]
    scores, boot = _scores(labels, [*treated, *control], weights)
    n = len(treated)
    return scores[:n] - scores[n:], boot[:n] - boot[n:]


def _shared(covariance: np.ndarray) -> float:
    """The mean covariance between different runs' bootstrapped differences: the image variance every seed
    shares (each run's own variance is left out: its excess over this is seed noise, already in s^2)."""
    n = len(covariance)
    return float(covariance.sum() - np.trace(covariance)) / (n * (n - 1))


def seed_image_bounds(labels: np.ndarray, treated: list[np.ndarray], control: list[np.ndarray] | None = None,
                      resamples: int = 2000, seed: int = 0) -> tuple[float | None, float | None]:
    """95% interval of the mean paired macro F1 difference over seeds (treated[i] against control[i], 0/1
    predictions on the same test images; without `control`, of the mean macro F1 of `treated` itself) that
    accounts for both sources of variance.

    Var(mean difference) = s^2 / n (the per-seed differences: seed-to-seed variance) + the variance that
    the test images add and that every seed shares: from a paired bootstrap of the images (one resample
    for every run), the mean covariance between different seeds' bootstrapped differences (`_shared`).
    Each part gets the quantile of its own estimate: Student t with n - 1 degrees of freedom for the seed
    part (n values), the normal for the image part (a bootstrap of hundreds of images), half-width
    sqrt(t^2 s^2 / n + z^2 shared); so the interval is never narrower than the t-interval over seeds alone,
    and a large image part is not inflated by the t of 3 seeds. (None, None) with fewer than 2 seeds."""
    n = len(treated)
    if n < 2:
        return None, None
    diffs, boot = _paired_differences(labels, treated, control, _image_resamples(len(labels), resamples, seed))
    shared = max(0.0, _shared(np.cov(boot)))
    half = np.sqrt(stats.t.ppf(0.975, n - 1) ** 2 * diffs.var(ddof=1) / n + stats.norm.ppf(0.975) ** 2 * shared)
    return float(diffs.mean() - half), float(diffs.mean() + half)


def change_bounds(labels: np.ndarray, first: tuple[list, list], second: tuple[list, list], resamples: int = 2000,
                  seed: int = 0) -> tuple[float | None, float | None]:
    """95% interval of the change of a paired effect between two settings scored on the same test images
    (the effect at a small train size minus the effect at a large one): `first` and `second` are (treated,
    control) lists of 0/1 predictions, paired by seed within a setting, independent runs between them.

    As `seed_image_bounds`, for the difference of two means: the seed part is Welch's (s1^2/n1 + s2^2/n2,
    Student t with the Welch-Satterthwaite degrees of freedom); the image part comes from one paired bootstrap
    of the images for all runs of both settings, shared1 + shared2 - 2 cov12 (cov12: the mean covariance
    between a run of one setting and a run of the other, so an effect that rises and falls with the same test
    images at both sizes does not count as a change), normal quantile. (None, None) with fewer than 2 seeds
    in either setting."""
    n1, n2 = len(first[0]), len(second[0])
    if min(n1, n2) < 2:
        return None, None
    weights = _image_resamples(len(labels), resamples, seed)
    (d1, b1), (d2, b2) = (_paired_differences(labels, *pair, weights) for pair in (first, second))
    covariance = np.cov(np.vstack([b1, b2]))
    image = _shared(covariance[:n1, :n1]) + _shared(covariance[n1:, n1:]) - 2 * covariance[:n1, n1:].mean()
    change, seeds, df = _welch(d1, d2)
    half = np.sqrt(stats.t.ppf(0.975, df) ** 2 * seeds + stats.norm.ppf(0.975) ** 2 * max(0.0, image))
    return float(change - half), float(change + half)


def fmt_bounds(bounds: tuple[float | None, float | None], digits: int = 3) -> str:
    low, high = bounds
    return "—" if low is None or low != low else f"[{low:.{digits}f}, {high:.{digits}f}]"  # None or NaN: none


def beyond_zero(bounds: tuple[float | None, float | None]) -> int:
    """+1 where the interval, as the tables write it (3 decimals), lies above 0; -1 where below; else 0."""
    low, high = bounds
    if low is None:
        return 0
    return 1 if float(f"{low:.3f}") > 0 else -1 if float(f"{high:.3f}") < 0 else 0


EFFECT_INTERVAL = ("a 95% Student-t interval of the mean paired difference over seeds (n - 1 degrees of "
                   "freedom; it holds its level with 3 seeds, where a percentile bootstrap of 3 differences, "
                   "about [min, max], excluded 0 in 25% of simulated no-effect cases)")

SEED_IMAGE_INTERVAL = ("a 95% interval over seeds and test images: the variance of the mean over seeds plus the "
                       "variance the test images add to every seed alike (the covariance between seeds of a "
                       "paired bootstrap of the test images, 2,000 resamples), Student t with n - 1 degrees of "
                       "freedom for the seed part and the normal quantile for the image part; in simulations with "
                       "3 seeds (1,000 draws each, 100 or 300 test images) it excluded 0 in 2.9-4.5% of no-effect "
                       "cases and covered a fixed effect in 94.5-96.7% of draws")

MEAN_INTERVAL = ("the 95% interval of the mean over seeds and test images (as for the effects below, against a "
                 "prediction of nothing; it covered a configuration's expected score in 96.1-97.5% of "
                 "simulated draws with 3 seeds, where the percentile bootstrap of 3 seed means this table used "
                 "before covered it in 49-63%)")

MEAN_INTERVAL_SEEDS = ("a 95% Student-t interval of the mean over seeds (seed variance only: this role's "
                       "predictions are not saved, so the images' share is not included)")

CHANGE_INTERVAL = ("a 95% interval over seeds and test images of the difference of the two effects (Welch's seed "
                   "part: the runs at different sizes are independent; the image part from one paired bootstrap of "
                   "the shared test images for every run of both sizes, 2,000 resamples, so an effect that rises and "
                   "falls with the same images at both sizes is not counted as a change); in simulations with 3 "
                   "seeds per size (`benchmarks/change_interval_coverage.py`, 2 x 600 draws per case, 300 test "
                   "images) it excluded 0 in 2.3-3.5% of draws where the effect did not change and covered the "
                   "true change in 96.2-98.0%")

CHANGE_INTERVAL_SEEDS = ("a 95% Welch interval over seeds of the difference of the two mean paired differences "
                         "(seed variance only: the runs' test predictions are not all saved)")


def ratio_bounds(labels: np.ndarray, treated: list[np.ndarray], reference: list[np.ndarray], ceiling: list[np.ndarray],
                 resamples: int = 2000, seed: int = 0) -> tuple[float | None, float | None, str]:
    """The share of the ceiling's gain that `treated` recovers, U = mean(F1(treated) - F1(reference)) /
    mean(F1(ceiling) - F1(reference)) over seeds (runs paired by seed, 0/1 predictions on the same test
    images), with a 95% Fieller interval: the values u for which the paired difference a - u b is not told
    apart from 0 by `seed_image_bounds`' rule (Student t with n - 1 degrees of freedom for the seed part,
    normal for the image part shared by the seeds, from one paired bootstrap of the images). Both parts are
    quadratic in u, so the set is found exactly. It is a bounded interval only where the ceiling's own gain
    is told apart from 0 (at the same level); otherwise (None, None, why). Returns (low, high, note)."""
    n = len(treated)
    if n < 2 or len(reference) != n or len(ceiling) != n:
        return None, None, "fewer than 2 seeds of each configuration"
    weights = _image_resamples(len(labels), resamples, seed)
    scores, boot = _scores(labels, [*treated, *reference, *ceiling], weights)
    score = {name: (scores[k * n:(k + 1) * n], boot[k * n:(k + 1) * n]) for k, name in enumerate("trc")}
    a, boot_a = score["t"][0] - score["r"][0], score["t"][1] - score["r"][1]
    b, boot_b = score["c"][0] - score["r"][0], score["c"][1] - score["r"][1]
    seeds = np.cov(np.vstack([a, b])) / n  # [[Saa, Sab], [Sab, Sbb]] / n
    images = np.cov(np.vstack([boot_a, boot_b]))
    shared = {key: _shared_between(images[rows, cols]) for key, (rows, cols) in
              {"aa": (slice(0, n), slice(0, n)), "ab": (slice(0, n), slice(n, None)),
               "bb": (slice(n, None), slice(n, None))}.items()}
    t2, z2 = stats.t.ppf(0.975, n - 1) ** 2, stats.norm.ppf(0.975) ** 2
    quad = b.mean() ** 2 - t2 * seeds[1, 1] - z2 * max(0.0, shared["bb"])
    lin = -2 * a.mean() * b.mean() + 2 * t2 * seeds[0, 1] + 2 * z2 * shared["ab"]
    const = a.mean() ** 2 - t2 * seeds[0, 0] - z2 * max(0.0, shared["aa"])
    discriminant = lin ** 2 - 4 * quad * const
    if quad <= 0 or discriminant < 0:
        return None, None, "the ceiling's gain over the reference is not told apart from 0"
    roots = sorted((-lin + sign * np.sqrt(discriminant)) / (2 * quad) for sign in (-1, 1))
    return float(roots[0]), float(roots[1]), ""


def _shared_between(block: np.ndarray) -> float:
    """The mean covariance between different seeds' bootstrapped values in a block of the covariance matrix
    (rows: one quantity's runs, columns: another's, in the same seed order); the diagonal (same seed) is left
    out, as in `_shared`."""
    n = len(block)
    return float(block.sum() - np.trace(block)) / (n * (n - 1))
