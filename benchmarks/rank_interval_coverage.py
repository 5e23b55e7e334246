"""Do the rank-correlation intervals of the fidelity-to-benefit table hold their 95% level? A simulation.

    python benchmarks/rank_interval_coverage.py [--draws 2000] [--resamples 1000] [--seed 0]

The table ranks a few synthetic sets (6-20) by a fidelity measure and by their test effect and reports
Spearman's rho with a 95% interval, and the difference between two measures' rho on the same sets. Each
draw here makes n sets whose (measure A, measure B, effect) are trivariate normal with Pearson
correlations (a, b, ab); Spearman's rho of a bivariate normal is (6 / pi) asin(r / 2), so the truth is
known. For each case it prints how often each method's interval covers the true rho (one measure) and the
true difference rho(A) - rho(B) (two measures on the same sets):

- `bootstrap`: 95% percentile bootstrap over the sets (resampled with replacement);
- `fisher-bw`: Fisher's z with Bonett and Wright's standard error for Spearman's rho,
  sqrt((1 + rho^2 / 2) / (n - 3)) (Bonett & Wright 2000, Psychometrika 65: 23-28); for the difference,
  Zou's interval for two correlations that share a variable, built from the two Fisher-BW intervals and
  the correlation between the two estimates (Zou 2007, Psychological Methods 12: 399-413).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.report.utility import rho_bounds, rho_difference_bounds  # noqa: E402


def truth(r: float) -> float:
    """Spearman's rho of a bivariate normal with Pearson correlation r."""
    return 6 / np.pi * np.arcsin(r / 2)


def draw_sets(rng, n: int, a: float, b: float, ab: float) -> np.ndarray:
    """n sets' (measure A, measure B, effect), trivariate normal."""
    cov = np.array([[1, ab, a], [ab, 1, b], [a, b, 1]])
    return rng.multivariate_normal(np.zeros(3), cov, size=n)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for the ties a bootstrap makes); nan where one is constant."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    denominator = np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / denominator


def bootstrap_bounds(sets: np.ndarray, rng, resamples: int) -> tuple[tuple, tuple]:
    picks = rng.integers(0, len(sets), size=(resamples, len(sets)))
    boot_a = spearman_rows(sets[picks, 0], sets[picks, 2])
    boot_b = spearman_rows(sets[picks, 1], sets[picks, 2])
    one = tuple(np.nanpercentile(boot_a, [2.5, 97.5]))
    two = tuple(np.nanpercentile(boot_a - boot_b, [2.5, 97.5]))
    return one, two


def case(rng, n: int, a: float, b: float, ab: float, draws: int, resamples: int) -> list:
    true_one, true_two = truth(a), truth(a) - truth(b)
    hits = {"bootstrap": [0, 0], "fisher-bw": [0, 0]}
    for _ in range(draws):
        sets = draw_sets(rng, n, a, b, ab)
        rho_a = stats.spearmanr(sets[:, 0], sets[:, 2]).statistic
        rho_b = stats.spearmanr(sets[:, 1], sets[:, 2]).statistic
        rho_ab = stats.spearmanr(sets[:, 0], sets[:, 1]).statistic
        found = {"bootstrap": bootstrap_bounds(sets, rng, resamples),
                 "fisher-bw": (rho_bounds(rho_a, n), rho_difference_bounds(rho_a, rho_b, rho_ab, n))}
        for method, (one, two) in found.items():
            hits[method][0] += one[0] <= true_one <= one[1]
            hits[method][1] += two[0] <= true_two <= two[1]
    return [n, f"{truth(a):+.2f}", f"{true_two:+.2f}",
            *(f"{100 * h / draws:.1f}%" for method in hits for h in hits[method])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = [(n, a, b, ab) for n in (6, 10, 16) for a, b, ab in ((0.0, 0.0, 0.0), (0.5, 0.2, 0.5), (0.8, 0.4, 0.5),
                                                                  (0.9, 0.9, 0.9))]
    rows = [case(rng, *c, args.draws, args.resamples) for c in cases]
    print(f"{args.draws} draws a case, {args.resamples} bootstrap resamples; nominal 95%")
    print(tabulate(rows, ["sets", "rho(A)", "rho(A) - rho(B)", "bootstrap: rho", "bootstrap: difference",
                          "fisher-bw: rho", "fisher-bw (Zou): difference"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
