"""Multi-label metrics over all 28 classes (torchmetrics), per-class thresholds, val-vs-test gaps.

Conventions, the same in every record:
- macro averages are over all 28 classes; a class with no positives in a split gets F1 = 0 and
  AP = 0 (sklearn/Kaggle `zero_division=0`) and is listed in `absent_classes`, never dropped;
- `@0.5` uses a fixed threshold of 0.5 on sigmoid probabilities (the paper's rule);
- `@tuned` uses per-class thresholds chosen on the validation role only (grid 0.05..0.95), so
  validation `@tuned` is optimistic by construction and test `@tuned` is the honest number.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torchmetrics.functional.classification import multilabel_average_precision, multilabel_f1_score

from bench.data.labels import NUM_CLASSES


def metric_key(score: str, average: str, threshold: str | None = None) -> str:
    """The one spelling of a metric's name in records, tables and plots: `f1_macro@tuned`, `map_macro`."""
    return f"{score}_{average}" + (f"@{threshold}" if threshold else "")


F1_HALF = metric_key("f1", "macro", "0.5")  # fixed threshold 0.5 (the paper's rule)
F1_TUNED = metric_key("f1", "macro", "tuned")  # per-class thresholds tuned on validation
F1_MICRO_TUNED = metric_key("f1", "micro", "tuned")
MAP = metric_key("map", "macro")  # threshold-free
LABELS = {F1_HALF: "macro F1 @0.5", F1_TUNED: "macro F1 @tuned", F1_MICRO_TUNED: "micro F1 @tuned", MAP: "macro mAP"}
SUMMARY_KEYS = tuple(LABELS)

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
SELECTION_EPOCH = {"best": "epoch with the best validation macro F1 @0.5", "last": "last epoch",
                   "min_val_loss": "epoch with the lowest validation loss"}
SELECTION_RULE = f"{SELECTION_EPOCH['best']}; per-class thresholds tuned on validation; test never used for selection"


def selection_rule(select: str) -> str:
    """How a run's model and thresholds were chosen (train.select), stated in its metrics and the leaderboard."""
    return f"{SELECTION_EPOCH[select]}; per-class thresholds tuned on validation; test never used for selection"


def _f1(probs: torch.Tensor, target: torch.Tensor, thresholds: np.ndarray, average: str | None) -> torch.Tensor:
    binary = (probs >= torch.tensor(thresholds, dtype=probs.dtype)).to(probs.dtype)  # a copy: may be read-only
    return multilabel_f1_score(binary, target, num_labels=NUM_CLASSES, threshold=0.5, average=average,
                               zero_division=0)


def grid_f1(probs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each class's F1 at each threshold of THRESHOLD_GRID, (thresholds, classes): 2 TP / (predicted + actual
    positives), 0 where both are 0, all thresholds at once (the F1 of `_f1`, per class)."""
    truth = np.asarray(target) > 0
    predicted = np.asarray(probs, dtype=np.float64)[None] >= THRESHOLD_GRID[:, None, None]
    hits = np.einsum("knc,nc->kc", predicted, truth, dtype=np.int64)
    total = predicted.sum(axis=1) + truth.sum(axis=0)
    return np.divide(2 * hits, total, out=np.zeros(hits.shape), where=total > 0)


def tune_thresholds(probs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-class threshold maximising that class's F1; ties go to the value nearest 0.5; 0.5 if no positives."""
    scores = grid_f1(probs, target)
    best = np.full(NUM_CLASSES, 0.5)
    for c in np.flatnonzero(target.sum(axis=0) > 0):
        top = np.flatnonzero(scores[:, c] >= scores[:, c].max() - 1e-12)
        best[c] = THRESHOLD_GRID[top[np.argmin(np.abs(THRESHOLD_GRID[top] - 0.5))]]
    return best


def _clean(value: float) -> float:
    value = float(value)
    return 0.0 if value == 0 else round(value, 6)


def evaluate(probs: np.ndarray, target: np.ndarray, thresholds: np.ndarray) -> tuple[dict, dict]:
    """(summary, per-class lists) for one split."""
    p, t = torch.as_tensor(probs, dtype=torch.float64), torch.as_tensor(target, dtype=torch.long)
    half = np.full(NUM_CLASSES, 0.5)
    f1_half, f1_tuned = _f1(p, t, half, None), _f1(p, t, thresholds, None)
    with warnings.catch_warnings():  # "no positive samples": those classes are reported in absent_classes
        warnings.simplefilter("ignore", UserWarning)
        ap = multilabel_average_precision(p, t, num_labels=NUM_CLASSES, average=None)
    positives = target.sum(axis=0).astype(int)
    summary = {
        F1_HALF: _clean(f1_half.mean()),
        F1_TUNED: _clean(f1_tuned.mean()),
        F1_MICRO_TUNED: _clean(_f1(p, t, thresholds, "micro")),
        MAP: _clean(torch.nan_to_num(ap, nan=0.0).mean()),
        "n_images": int(len(target)),
        "absent_classes": [int(c) for c in np.flatnonzero(positives == 0)],
    }
    per_class = {
        "positives": positives.tolist(),
        "f1@0.5": [_clean(v) for v in f1_half],
        "f1@tuned": [_clean(v) for v in f1_tuned],
        "ap": [_clean(v) for v in torch.nan_to_num(ap, nan=0.0)],
    }
    return summary, per_class


def no_skill_f1(target: np.ndarray) -> float:
    """Macro F1 of a classifier that learned nothing: every class predicted for every image (per class the best
    constant rule under F1, 2p / (1 + p) at prevalence p; 0 for a class without positives)."""
    summary, _ = evaluate(np.ones(target.shape), target, np.full(NUM_CLASSES, 0.5))
    return summary[F1_TUNED]


def gaps(val: dict, test: dict) -> dict:
    """Validation minus test for every summary metric."""
    return {key: _clean(val[key] - test[key]) for key in SUMMARY_KEYS}


ORACLE = "oracle_test_f1"  # a history row's test macro F1 @ thresholds tuned on test (train.oracle_selection)
ORACLE_RULE = ("oracle: the epoch and the per-class thresholds chosen on test, an upper bound on what any selection "
               "rule could reach, never a result")


def oracle_selection(test_probs: np.ndarray, test_labels: np.ndarray, history: list[dict]) -> dict:
    """What choosing on test would reach: thresholds tuned on test at the selected epoch (always), and the best
    epoch with thresholds tuned on test (where the history scored test every epoch)."""
    thresholds = tune_thresholds(test_probs, test_labels)
    score = evaluate(test_probs, test_labels, thresholds)[0][F1_TUNED]
    out = {"rule": ORACLE_RULE, f"thresholds_on_test_{F1_TUNED}": score}
    scored = [row for row in history if ORACLE in row]
    if scored:
        best = max(scored, key=lambda row: row[ORACLE])
        out.update(epoch=best["epoch"], **{f"epoch_and_thresholds_on_test_{F1_TUNED}": best[ORACLE]})
    return out
