"""Do the leaderboard's intervals hold their nominal 95% level with 3 seeds? A simulation.

    python benchmarks/interval_coverage.py [--draws 1000] [--resamples 400] [--seed 5]

Each draw makes a fresh test set (per-class prevalence 0.40 ... 0.04, per-image difficulty shared by
every run, so the test images are a source of variance) and 3 seeds of a treated and a control
configuration (a seed shifts each class and adds per-image noise; the treated runs separate the
classes better). For three data shapes (test images, seed-shift sd) it prints, for each interval:
- the false-positive rate of the paired effect against the control with no true effect (nominal 5%),
- the coverage of a fixed effect (its expectation over seeds and test sets, by simulation),
- the coverage of one configuration's expected macro F1 (the main table's interval).
Intervals: `seeds+images` (the leaderboard's: t for the seed part, normal for the image part),
`t on both parts` (before this release), `t over seeds` (seed variance only) and the percentile
bootstrap of the seed means (the main table before this release). About a minute per shape.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats
from tabulate import tabulate

from bench.report.intervals import macro_f1_weighted, t_bounds

PREVALENCE = np.array([0.4, 0.25, 0.12, 0.06, 0.04])


def test_set(rng, images: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels of one draw of test images and each image's per-class difficulty (shared by every run)."""
    labels = (rng.random((images, len(PREVALENCE))) < PREVALENCE).astype(np.int8)
    return labels, rng.normal(0, 1.0, labels.shape)


def runs(rng, test: tuple, margin: float, effect: float, seed_sd: float, seeds: int = 3) -> tuple[list, list]:
    """0/1 predictions of `seeds` treated (margin + effect) and control (margin) runs on `test`: a seed shifts
    each class (sd `seed_sd`) and adds per-image noise."""
    labels, difficulty = test

    def run(m):
        score = ((2 * labels - 1) * m + difficulty + rng.normal(0, seed_sd, len(PREVALENCE))
                 + rng.normal(0, 0.8, labels.shape) - 0.8)
        return (score > 0).astype(np.int8)

    return [run(margin + effect) for _ in range(seeds)], [run(margin) for _ in range(seeds)]


def experiment(rng, effect: float, images: int, seed_sd: float, seeds: int = 3):
    test = test_set(rng, images)
    return (test[0], *runs(rng, test, 1.0, effect, seed_sd, seeds))


def parts(labels, treated, control, resamples: int):
    """Mean paired difference, its seed variance s^2/n and the image variance shared by the seeds (as in
    `intervals.seed_image_bounds`)."""
    n, images, one = len(treated), len(labels), np.ones((1, len(labels)))
    diffs = np.array([macro_f1_weighted(labels, t, one)[0] - macro_f1_weighted(labels, c, one)[0]
                      for t, c in zip(treated, control)])
    weights = np.random.default_rng(0).multinomial(images, np.full(images, 1 / images), size=resamples)
    boot = np.array([macro_f1_weighted(labels, t, weights) - macro_f1_weighted(labels, c, weights)
                     for t, c in zip(treated, control)])
    covariance = np.cov(boot)
    return diffs, diffs.var(ddof=1) / n, max(0.0, float(covariance.sum() - np.trace(covariance)) / (n * (n - 1)))


def intervals(diffs, seed_var, image_var) -> dict[str, tuple[float, float]]:
    t, z, mean = stats.t.ppf(0.975, len(diffs) - 1), stats.norm.ppf(0.975), diffs.mean()
    picks = np.random.default_rng(0).integers(0, len(diffs), size=(2000, len(diffs)))
    boot = diffs[picks].mean(axis=1)
    halves = {"seeds+images": np.sqrt(t * t * seed_var + z * z * image_var),
              "t on both parts": t * np.sqrt(seed_var + image_var)}
    out = {name: (mean - h, mean + h) for name, h in halves.items()}
    out["t over seeds"] = t_bounds(diffs)
    out["percentile bootstrap"] = tuple(np.percentile(boot, [2.5, 97.5]))
    return out


def shape(rng, images: int, seed_sd: float, draws: int, resamples: int) -> list[list]:
    one = np.ones((1, images))

    def expected(effect_only: bool) -> float:
        values = []
        for _ in range(2000):
            labels, treated, control = experiment(rng, 0.3, images, seed_sd)
            values.append(np.mean([macro_f1_weighted(labels, a, one)[0]
                                   - (macro_f1_weighted(labels, b, one)[0] if effect_only else 0)
                                   for a, b in zip(treated, control)]))
        return float(np.mean(values))

    effect, score = expected(True), expected(False)
    hits: dict[str, dict[str, list[bool]]] = {}
    for _ in range(draws):
        labels, treated, control = experiment(rng, 0.3, images, seed_sd)
        cases = {"false positive (no effect)": (parts(*experiment(rng, 0.0, images, seed_sd), resamples), 0.0, False),
                 "covers the effect": (parts(labels, treated, control, resamples), effect, True),
                 "covers the mean score": (parts(labels, treated, [np.zeros_like(t) for t in treated], resamples),
                                           score, True)}
        for case, (values, truth, covers) in cases.items():
            for name, (low, high) in intervals(*values).items():
                inside = low <= truth <= high
                hits.setdefault(name, {}).setdefault(case, []).append(inside if covers else not inside)
    return [[images, seed_sd, name, *(f"{100 * np.mean(v):.1f}%" for v in by_case.values())]
            for name, by_case in hits.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for images, seed_sd in ((300, 0.15), (100, 0.15), (300, 0.5)):
        rows += shape(np.random.default_rng(args.seed), images, seed_sd, args.draws, args.resamples)
    print(tabulate(rows, ["test images", "seed sd", "interval", "false positive (nominal 5%)",
                          "covers the effect (95%)", "covers the mean score (95%)"], tablefmt="github"))


if __name__ == "__main__":
    main()
