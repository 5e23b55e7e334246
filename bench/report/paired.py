"""Paired test effects from the runs' saved predictions: the seed-and-image interval
(`intervals.seed_image_bounds`) of treated runs against control runs, one pair per seed, and the interval
of one configuration's mean (`config_bounds`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.labels import CLASS_NAMES
from bench.evaluate.metrics import F1_TUNED
from bench.report.intervals import seed_image_bounds, t_bounds


def load_test_predictions(run_dir: Path) -> pd.DataFrame | None:
    """A run's 0/1 test labels and predictions at its tuned thresholds, one row per image id, columns
    (`y`, class) and (`p`, class); None when the run saved none."""
    path = run_dir / "predictions_test.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, usecols=["Id", "Target", "Predicted"], dtype=str, keep_default_na=False)
    out = {}
    for prefix, column in (("y", "Target"), ("p", "Predicted")):
        hot = np.zeros((len(table), len(CLASS_NAMES)), dtype=np.int8)
        for i, classes in enumerate(table[column]):
            hot[i, [int(c) for c in classes.split()]] = 1
        out.update({(prefix, c): hot[:, c] for c in range(len(CLASS_NAMES))})
    return pd.DataFrame(out, index=table["Id"]).sort_index()


class PairedTest:
    """Reads each run's predictions once, however many comparisons share it (a control run serves every
    configuration of its section; a ladder's FROM every rung)."""

    def __init__(self, runs_dir: Path | None):
        self.runs_dir, self.loaded = runs_dir, {}

    def predictions(self, run: str) -> pd.DataFrame | None:
        if run not in self.loaded:
            self.loaded[run] = load_test_predictions(self.runs_dir / run)
        return self.loaded[run]

    def bounds(self, treated: list[str], control: list[str] | None = None) -> tuple[float, float] | None:
        """(low, high) of the seed-and-image interval of the mean paired difference of treated[i] against
        control[i] (without `control`: of the mean test macro F1 of `treated`), or None with fewer than 2
        runs, without a runs folder, or when a run's predictions are missing or on other images."""
        if self.runs_dir is None or len(treated) < 2:
            return None
        runs = [self.predictions(run) for run in [*treated, *(control or [])]]
        if any(r is None or not r.index.equals(runs[0].index) for r in runs):
            return None
        labels, predicted = runs[0]["y"].to_numpy(), [r["p"].to_numpy() for r in runs]
        return seed_image_bounds(labels, predicted[:len(treated)], predicted[len(treated):] if control else None)


def config_bounds(runs: pd.DataFrame, key: str, paired: PairedTest) -> tuple[tuple, str]:
    """The 95% interval of one configuration's mean `key` over its seeds, and what it covers: over seeds and
    test images ("seeds+images") for test macro F1 where the runs' predictions are saved, else a t-interval
    over seeds ("seeds"); (None, None) with one seed."""
    scored = runs.dropna(subset=[key])
    if key == f"test:{F1_TUNED}":
        bounds = paired.bounds(list(scored["run"]))
        if bounds:
            return bounds, "seeds+images"
    return t_bounds(scored[key]), "seeds"
