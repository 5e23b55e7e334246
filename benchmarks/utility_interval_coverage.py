"""Does the generator-utility interval hold its 95% level with 3 seeds? A simulation.

    python benchmarks/utility_interval_coverage.py [--draws 600] [--resamples 400] [--seed 0]

Utility is the share of the oracle's gain over the `real` set that a set recovers, mean(F1(set) -
F1(real)) / mean(F1(oracle) - F1(real)) over seeds, with `intervals.ratio_bounds`' Fieller interval
(seed part Student t, image part normal from a paired bootstrap of the test images). Each draw makes
a fresh test set and 3 seeds of three configurations on it (`interval_coverage.test_set` and its
run model: a seed shifts each class, every run adds per-image noise): `real` at margin m, the oracle
at m + gain, the set at m + share x gain. The true utility is the ratio of the expected differences,
estimated once per case from many draws. For each case it prints how often the interval is defined
(the oracle's gain told apart from 0), and, among defined draws, how often it covers the true utility.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interval_coverage import PREVALENCE, test_set  # noqa: E402

from bench.report.intervals import macro_f1_weighted, ratio_bounds  # noqa: E402


def configurations(rng, test: tuple, margins: tuple[float, ...], seed_sd: float, seeds: int = 3) -> list[list]:
    """0/1 predictions of `seeds` runs of each configuration (a margin each) on the same test images."""
    labels, difficulty = test

    def run(margin):
        score = ((2 * labels - 1) * margin + difficulty + rng.normal(0, seed_sd, len(PREVALENCE))
                 + rng.normal(0, 0.8, labels.shape) - 0.8)
        return (score > 0).astype(np.int8)

    return [[run(m) for _ in range(seeds)] for m in margins]


def true_utility(rng, margins, images: int, seed_sd: float, draws: int = 400) -> float:
    """The ratio of the expected F1 differences, over seeds and test sets."""
    one = np.ones((1, images))
    totals = np.zeros(3)
    for _ in range(draws):
        test = test_set(rng, images)
        for k, runs in enumerate(configurations(rng, test, margins, seed_sd, seeds=1)):
            totals[k] += macro_f1_weighted(test[0], runs[0], one)[0]
    real, oracle, candidate = totals / draws
    return (candidate - real) / (oracle - real)


def case(rng, gain: float, share: float, images: int, seed_sd: float, draws: int, resamples: int) -> dict:
    margins = (1.0, 1.0 + gain, 1.0 + share * gain)
    truth = true_utility(rng, margins, images, seed_sd)
    defined = covered = 0
    for _ in range(draws):
        test = test_set(rng, images)
        real, oracle, candidate = configurations(rng, test, margins, seed_sd)
        low, high, _ = ratio_bounds(test[0], candidate, real, oracle, resamples=resamples, seed=int(rng.integers(1e9)))
        if low is not None:
            defined += 1
            covered += low <= truth <= high
    return {"oracle gain (margin)": gain, "share": share, "true utility": round(truth, 3), "draws": draws,
            "defined": f"{defined / draws:.1%}", "coverage when defined": f"{covered / max(defined, 1):.1%}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=600)
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = [case(rng, gain, share, args.images, 0.15, args.draws, args.resamples)
            for gain in (0.6, 0.3) for share in (0.0, 0.5, 1.0)]
    print(tabulate(rows, headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
