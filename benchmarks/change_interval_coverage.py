"""Does the interval on a change of effect between two train sizes hold its 95% level? A simulation.

    python benchmarks/change_interval_coverage.py [--draws 600] [--resamples 400] [--seed 0]

Each draw makes a fresh test set (per-class prevalence 0.40 ... 0.04, per-image difficulty shared by every
run, so the test images are a source of variance) and, at each of two train sizes, `--seeds` treated and
control runs scored on it (a size sets how well the control separates the classes, `margin`; the treated
runs add `effect`; a seed shifts each class and adds per-image noise; runs at different sizes are
independent). For each case it prints the true change of the paired effect (small size minus large, its
expectation by simulation), how often the leaderboard's interval (`intervals.change_bounds`) covers it,
how often it excludes 0 (the false-positive rate where the change is 0, the power elsewhere) and its mean
width. A few seconds per case with one thread.
"""

from __future__ import annotations

import argparse

import numpy as np
from interval_coverage import runs, test_set  # the same simulated world, beside this script
from tabulate import tabulate

from bench.report.intervals import change_bounds, macro_f1_weighted

CASES = {  # name: ((margin, effect) at the small size, at the large size, seed sd)
    "same effect at both sizes (no change)": ((1.0, 0.3), (1.0, 0.3), 0.15),
    "no effect at either size (no change)": ((0.6, 0.0), (1.4, 0.0), 0.15),
    "larger effect at the small size": ((0.6, 0.4), (1.4, 0.1), 0.15),
    "the same, larger seed noise": ((0.6, 0.4), (1.4, 0.1), 0.4),
}


def curve(rng, small: tuple, large: tuple, seed_sd: float, seeds: int, images: int = 300):
    """Labels, and (treated, control) predictions at the small and at the large size, on one test set (the
    simulated world of `interval_coverage.py`)."""
    test = test_set(rng, images)
    return test[0], runs(rng, test, *small, seed_sd, seeds), runs(rng, test, *large, seed_sd, seeds)


def change(labels, first, second) -> float:
    one = np.ones((1, len(labels)))

    def effect(treated, control):
        return np.mean([macro_f1_weighted(labels, t, one)[0] - macro_f1_weighted(labels, c, one)[0]
                        for t, c in zip(treated, control)])

    return effect(*first) - effect(*second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=600)
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng, rows = np.random.default_rng(args.seed), []
    for name, (small, large, seed_sd) in CASES.items():
        truth = np.mean([change(*curve(rng, small, large, seed_sd, args.seeds)) for _ in range(1500)])
        draws = [change_bounds(*curve(rng, small, large, seed_sd, args.seeds), resamples=args.resamples)
                 for _ in range(args.draws)]
        rows.append([name, f"{truth:+.4f}", f"{100 * np.mean([lo <= truth <= hi for lo, hi in draws]):.1f}%",
                     f"{100 * np.mean([not lo <= 0 <= hi for lo, hi in draws]):.1f}%",
                     f"{np.mean([hi - lo for lo, hi in draws]):.3f}"])
    print(f"{args.seeds} seeds per size, {args.draws} draws per case, 300 test images, {args.resamples} resamples")
    print(tabulate(rows, ["case", "true change", "covers it (95%)", "excludes 0", "mean width"], tablefmt="github"))


if __name__ == "__main__":
    main()
