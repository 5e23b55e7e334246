"""Paired test effects from the runs' saved predictions: the seed-and-image interval
(`intervals.seed_image_bounds`) of treated runs against control runs, one pair per seed; the interval of a
change of such an effect between two settings (`intervals.change_bounds`); and the interval of one
configuration's mean (`config_bounds`)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.labels import CLASS_NAMES
from bench.evaluate.metrics import F1_TUNED
from bench.report.intervals import change_bounds, ratio_bounds, seed_image_bounds, t_bounds


def is_control(runs: pd.DataFrame) -> pd.Series:
    """Which rows are no-synthetic control runs (generator and strategy `none`)."""
    return (runs["generator"] == "none") & (runs["strategy"] == "none")


def control_of(section: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The control runs `runs` are compared with: same control key (classifier, data and training settings)."""
    return section[is_control(section) & (section["control_key"] == runs["control_key"].iloc[0])]


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


def _stamp(run_dir: Path) -> tuple | None:
    """Which version of a run's predictions file this is (path, mtime, size); None when it is missing."""
    try:
        stat = (run_dir / "predictions_test.csv").stat()
    except OSError:
        return None
    return str(run_dir.resolve()), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=1024)
def _cached_predictions(stamp: tuple) -> pd.DataFrame | None:
    return load_test_predictions(Path(stamp[0]))


@functools.lru_cache(maxsize=4096)
def _cached_interval(kind: str, *groups: tuple) -> tuple[float | None, float | None] | None:
    """`kind` "mean" (groups: treated[, control]) or "change" (treated1, control1, treated2, control2) over
    the stamped runs; None when a run's predictions are missing or on other test images. Cached by the files'
    stamps, so the tables and the figures of one render bootstrap each group once."""
    runs = [[_cached_predictions(stamp) if stamp else None for stamp in group] for group in groups]
    flat = [r for group in runs for r in group]
    if any(r is None or not r.index.equals(flat[0].index) for r in flat):
        return None
    labels = flat[0]["y"].to_numpy()
    predicted = [[r["p"].to_numpy() for r in group] for group in runs]
    if kind == "change":
        return change_bounds(labels, (predicted[0], predicted[1]), (predicted[2], predicted[3]))
    if kind == "ratio":
        return ratio_bounds(labels, *predicted)
    return seed_image_bounds(labels, predicted[0], predicted[1] if len(predicted) > 1 else None)


class PairedTest:
    """Seed-and-image intervals from the runs' saved test predictions in `runs_dir` (None: no predictions, no
    such intervals). Each predictions file is read once and each interval bootstrapped once per process,
    however many tables and figures ask (a control run serves every configuration of its section)."""

    def __init__(self, runs_dir: Path | None):
        self.runs_dir = runs_dir

    def _stamps(self, runs: list[str]) -> tuple:
        return tuple(_stamp(self.runs_dir / run) for run in runs)

    def bounds(self, treated: list[str], control: list[str] | None = None) -> tuple[float, float] | None:
        """(low, high) of the seed-and-image interval of the mean paired difference of treated[i] against
        control[i] (without `control`: of the mean test macro F1 of `treated`), or None with fewer than 2
        runs, without a runs folder, or when a run's predictions are missing or on other images."""
        if self.runs_dir is None or len(treated) < 2:
            return None
        groups = [self._stamps(treated), *([self._stamps(control)] if control else [])]
        return _cached_interval("mean", *groups)

    def change(self, first: list[tuple[str, str]], second: list[tuple[str, str]]) -> tuple[float, float] | None:
        """(low, high) of `intervals.change_bounds`: the paired effect of the (treated, control) run pairs
        `first` minus that of `second` (a small and a large train size, say), or None as for `bounds`."""
        if self.runs_dir is None or min(len(first), len(second)) < 2:
            return None
        groups = [self._stamps([pair[i] for pair in pairs]) for pairs in (first, second) for i in (0, 1)]
        return _cached_interval("change", *groups)


    def ratio(self, treated: list[str], reference: list[str], ceiling: list[str]) -> tuple:
        """(low, high, note) of `intervals.ratio_bounds`: the share of the ceiling's gain over the reference that
        `treated` recovers (runs paired by seed); (None, None, why) where it cannot be computed."""
        if self.runs_dir is None:
            return None, None, "no saved test predictions"
        if len(treated) < 2:
            return None, None, "fewer than 2 paired seeds"
        found = _cached_interval("ratio", *(self._stamps(runs) for runs in (treated, reference, ceiling)))
        return found if found is not None else (None, None, "a run's test predictions are missing")


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
