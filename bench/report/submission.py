"""Kaggle submissions from a finished run, and Kaggle's scores stored back into its record.

The submission uses the run's selected weights in eval mode (unless the run carries the paper's
MixModel bug as a flag, `train.no_eval_inference`: BatchNorm in training mode, one image at a time),
the run's per-class thresholds tuned on validation, and the argmax class when no class passes its
threshold (as the paper did). Ids and their order come from `sample_submission.csv` and are checked
again on the written file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.data import image_cache
from bench.data.cache import cache_dir
from bench.data.images import LabelledImages
from bench.data.kaggle import check_id, files_signature, first_missing_files, scan
from bench.data.labels import NUM_CLASSES
from bench.errors import BenchError
from bench.evaluate.predict import predict
from bench.files import write_json, write_text
from bench.records import load_classifier, read_json


def read_sample_ids(path: Path) -> list[str]:
    """The ids of a Kaggle `sample_submission.csv` (header Id,Predicted), in order."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not rows or [c.strip() for c in rows[0]] != ["Id", "Predicted"]:
        raise BenchError(f"{path}: header {rows[0] if rows else []} is not the expected ['Id', 'Predicted']")
    ids = [check_id(row[0] if row else "", f"{path} row {n}") for n, row in enumerate(rows[1:], start=2)]
    if len(set(ids)) != len(ids):
        raise BenchError(f"{path}: duplicate ids")
    return ids


def check_submission(submission: Path, sample: Path) -> None:
    """The submission has exactly the sample's ids in the sample's order, and valid labels."""
    expected = read_sample_ids(sample)
    frame = pd.read_csv(submission, dtype=str, keep_default_na=False)
    if list(frame.columns) != ["Id", "Predicted"]:
        raise BenchError(f"{submission}: columns {list(frame.columns)}; expected ['Id', 'Predicted']")
    if frame["Id"].tolist() != expected:
        missing = len(set(expected) - set(frame["Id"]))
        raise BenchError(f"{submission}: ids differ from {sample} ({missing} missing; set or order differs)")
    for n, labels in enumerate(frame["Predicted"], start=2):
        tokens = labels.split()
        if not tokens or not all(t.isascii() and t.isdigit() and int(t) < NUM_CLASSES for t in tokens):
            raise BenchError(f"{submission} row {n}: Predicted {labels!r} is not class ids 0..{NUM_CLASSES - 1}")


def binarize(probs: np.ndarray, thresholds: np.ndarray) -> list[str]:
    """Classes at or above their thresholds; the most probable class when none is."""
    out = []
    for row in probs:
        chosen = np.flatnonzero(row >= thresholds)
        out.append(" ".join(map(str, chosen)) if len(chosen) else str(int(np.argmax(row))))
    return out


def write_submission(folder: Path, data: Path, out: Path, device: torch.device, workers: int = 0) -> Path:
    record = read_json(folder, "record.json")
    resolution = record["dataset"]["resolution"]
    thresholds = pd.read_csv(folder / "per_class.csv")["threshold"].to_numpy(dtype=np.float64)
    sample = Path(data) / "sample_submission.csv"
    ids = read_sample_ids(sample)
    labels = np.zeros((len(ids), NUM_CLASSES), dtype=np.uint8)
    source = Path(data) / "test"
    listing = scan(source)
    missing = [name for name in first_missing_files(listing, ids) if name]
    if missing:
        raise BenchError(f"{source / missing[0]}: missing channel file ({len(missing)} of the {len(ids)} test ids "
                         f"in {sample.name} lack files); a submission needs every test image")
    signature = files_signature(listing, ids)
    cached = image_cache.build(cache_dir() / "kaggle-test" / f"test-{signature[:16]}" / f"r{resolution}", source, ids,
                               labels, resolution, signature=signature, skip_bad=False, workers=workers)
    images = LabelledImages(cached.ids, cached.labels, cached.images, cached.fingerprint, rows=cached.rows)
    train = read_json(folder, "config.json")["train"]  # the paper's bugs, where the run had them
    probs = predict(load_classifier(folder, device), images, 64, device,
                    no_eval=bool(train.get("no_eval_inference", False)),
                    normalization=train.get("test_normalization", "none"))
    frame = pd.DataFrame({"Id": ids, "Predicted": binarize(probs, thresholds)})
    write_text(out, frame.to_csv(index=False))
    check_submission(out, sample)
    return out


def record_kaggle(folder: Path, public: float | None, private: float | None) -> dict:
    for name, value in (("public", public), ("private", private)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise BenchError(f"--{name} {value}: a Kaggle macro F1 score is between 0 and 1")
    if public is None and private is None:
        raise BenchError("give --public and/or --private")
    path = folder / "kaggle.json"
    try:
        scores = json.loads(path.read_text()) if path.exists() else {}
    except (UnicodeDecodeError, ValueError):
        raise BenchError(f"{path} is damaged (not valid JSON); delete it and record both scores again with "
                         f"--public and --private") from None
    scores.update({k: v for k, v in (("public", public), ("private", private)) if v is not None})
    write_json(path, scores)
    return scores
