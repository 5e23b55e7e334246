"""How much of the validation-vs-test gap the selection rule accounts for: each configuration's test score
under its own rule (epoch and thresholds chosen on validation) beside an oracle rule that chooses them on
test (DomainBed's test-domain selection). The oracle is an upper bound, shown in this table only, never
in a ranking: the thresholds part for every run with saved test probabilities, the epoch part for runs
trained with `train.oracle_selection=true` (which score test after every epoch)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.config import METHOD_PARTS
from bench.data.labels import NUM_CLASSES, parse_target
from bench.errors import BenchError
from bench.evaluate.metrics import F1_TUNED, evaluate, tune_thresholds

THRESHOLDS, EPOCH = "oracle:thresholds", "oracle:epoch_and_thresholds"


@functools.lru_cache(maxsize=4096)
def _thresholds_on_test(path: str, stamp: tuple) -> float | None:
    """Test macro F1 with thresholds tuned on test, from a run's saved test probabilities (p0..p27)."""
    try:
        table = pd.read_csv(path, dtype={"Target": str}, keep_default_na=False)
        probs = table[[f"p{c}" for c in range(NUM_CLASSES)]].to_numpy(dtype=np.float64)
    except (OSError, ValueError, KeyError):
        return None
    try:
        labels = np.stack([parse_target(t, where=path) for t in table["Target"]])
    except BenchError:
        return None
    return evaluate(probs, labels, tune_thresholds(probs, labels))[0][F1_TUNED]


def oracle_scores(runs: pd.DataFrame, runs_dir: Path | None) -> pd.DataFrame:
    """The runs with the oracle columns filled from their saved predictions where the record lacks them."""
    runs = runs.copy()
    for i, row in runs.iterrows():
        if pd.isna(row.get(THRESHOLDS)) and runs_dir is not None:
            path = Path(runs_dir) / row["run"] / "predictions_test.csv"
            if path.is_file():
                stat = path.stat()
                runs.at[i, THRESHOLDS] = _thresholds_on_test(str(path), (stat.st_mtime_ns, stat.st_size))
    return runs


def _share(part: float, gap: float) -> str:
    """part / gap as a percentage, where the gap is large enough to divide by (0.01 macro F1)."""
    return "—" if pd.isna(part) or pd.isna(gap) or gap < 0.01 else f"{100 * part / gap:.0f}%"


def rows(section: pd.DataFrame, runs_dir: Path | None) -> tuple[list[str], list[list[str]]]:
    scored = oracle_scores(section[section[f"test:{F1_TUNED}"].notna()], runs_dir)
    out = []
    for (group, *names), runs in scored.groupby(["group", *METHOD_PARTS], sort=True):
        val, test = runs[f"val:{F1_TUNED}"].mean(), runs[f"test:{F1_TUNED}"].mean()
        thresholds, epoch = runs[THRESHOLDS].astype(float).mean(), runs[EPOCH].astype(float).mean()
        gap = val - test
        out.append([*names, group, int(runs["train_images"].iloc[0]), len(runs), f"{val:.3f}", f"{test:.3f}",
                    f"{gap:+.3f}", "—" if pd.isna(thresholds) else f"{thresholds:.3f}",
                    _share(thresholds - test, gap), "—" if pd.isna(epoch) else f"{epoch:.3f}",
                    _share(epoch - test, gap)])
    headers = [*METHOD_PARTS, "config", "train images", "seeds", "val @tuned", "test @tuned (its rule)", "gap",
               "test, thresholds on test", "share of the gap", "test, epoch + thresholds on test", "share of the gap"]
    return headers, sorted(out, key=lambda r: (r[4], r[0], r[1], r[2], r[3]))


def render(section: pd.DataFrame, runs_dir: Path | None) -> list[str]:
    headers, table = rows(section, runs_dir)
    if not table:
        return []
    return ["### Selection rule against an oracle (an upper bound, not a result)", "",
            "Each configuration's test macro F1 @tuned under its own rule (the epoch and the per-class thresholds"
            " chosen on validation) beside what choosing them on test reaches (means over seeds). The share is "
            "how much of the validation − test gap that choice accounts for (shown where the gap is at least "
            "0.01); the rest is what the validation images themselves overstate. Thresholds fitted on test "
            "overstate test as validation-fitted ones overstate validation, so a share can pass 100%. Thresholds "
            "on test: from each run's saved test probabilities; epoch and thresholds on test: from runs trained "
            "with `train.oracle_selection=true`, which score test after every epoch (never to select). No oracle "
            "number enters a ranking or an effect.",
            "", tabulate(table, headers, tablefmt="github", disable_numparse=True), ""]
