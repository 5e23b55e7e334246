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


def macro_f1_weighted(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Macro F1 over all classes of 0/1 `predicted` against 0/1 `labels` (N, C), once per row of `weights`
    (R, N), each row the multiplicity of every image (a bootstrap resample); a class with nothing to find and
    nothing predicted scores 0, as in the run metrics."""
    labels, predicted = labels.astype(np.float64), predicted.astype(np.float64)
    classes = labels.shape[1]
    counts = np.asarray(weights, dtype=np.float64) @ np.hstack([labels * predicted, (1 - labels) * predicted,
                                                               labels * (1 - predicted)])  # one product
    tp, fp, fn = counts[:, :classes], counts[:, classes:2 * classes], counts[:, 2 * classes:]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0).mean(axis=1)


def seed_image_bounds(labels: np.ndarray, treated: list[np.ndarray], control: list[np.ndarray] | None = None,
                      resamples: int = 2000, seed: int = 0) -> tuple[float | None, float | None]:
    """95% interval of the mean paired macro F1 difference over seeds (treated[i] against control[i], 0/1
    predictions on the same test images; without `control`, of the mean macro F1 of `treated` itself) that
    accounts for both sources of variance.

    Var(mean difference) = s^2 / n (the per-seed differences: seed-to-seed variance) + the variance that
    the test images add and that every seed shares: from a paired bootstrap of the images (one resample
    for every run), the mean covariance between different seeds' bootstrapped differences (each seed's
    own bootstrap variance is left out: that part is seed noise, already in s^2). Each part gets the
    quantile of its own estimate: Student t with n - 1 degrees of freedom for the seed part (n values),
    the normal for the image part (a bootstrap of hundreds of images), half-width
    sqrt(t^2 s^2 / n + z^2 shared); so the interval is never narrower than the t-interval over seeds alone,
    and a large image part is not inflated by the t of 3 seeds. (None, None) with fewer than 2 seeds."""
    n, images = len(treated), len(labels)
    if n < 2:
        return None, None
    control = control if control is not None else [np.zeros_like(t) for t in treated]  # macro F1 of nothing: 0
    one = np.ones((1, images))
    diffs = np.array([macro_f1_weighted(labels, t, one)[0] - macro_f1_weighted(labels, c, one)[0]
                      for t, c in zip(treated, control)])
    weights = np.random.default_rng(seed).multinomial(images, np.full(images, 1 / images), size=resamples)
    weights = weights.astype(np.float64)  # once, not in every product
    boot = np.array([macro_f1_weighted(labels, t, weights) - (macro_f1_weighted(labels, c, weights) if c.any() else 0)
                     for t, c in zip(treated, control)])  # (n, resamples); predicting nothing scores 0
    covariance = np.cov(boot)
    shared = max(0.0, float(covariance.sum() - np.trace(covariance)) / (n * (n - 1)))
    half = np.sqrt(stats.t.ppf(0.975, n - 1) ** 2 * diffs.var(ddof=1) / n + stats.norm.ppf(0.975) ** 2 * shared)
    return float(diffs.mean() - half), float(diffs.mean() + half)


def fmt_bounds(bounds: tuple[float | None, float | None]) -> str:
    low, high = bounds
    return "—" if low is None else f"[{low:.3f}, {high:.3f}]"


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
