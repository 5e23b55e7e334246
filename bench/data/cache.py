"""A user-level cache for derived arrays (rendered datasets), under $BENCH_CACHE_DIR or ~/.cache.

Entries are plain .npy files (never pickles), written to temporary names and renamed. The cache is
an optimisation only: an unwritable cache folder just means recomputing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.files import atomic_target, cache_dir


def _save(path: Path, array: np.ndarray) -> None:
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def cached_arrays(key: str, compute: Callable[[], tuple[list[str], np.ndarray, np.ndarray]]):
    """(ids, labels, images) from the cache entry `key`, computing and storing it when missing."""
    folder = cache_dir() / key
    try:
        ids = json.loads((folder / "ids.json").read_text())
        labels = np.load(folder / "labels.npy", allow_pickle=False)
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
        if len(ids) == len(labels) == len(images):
            return ids, labels, images
    except (OSError, ValueError):
        pass
    ids, labels, images = compute()
    try:
        _save(folder / "images.npy", images)
        _save(folder / "labels.npy", labels)
        with atomic_target(folder / "ids.json") as tmp:  # written last: its presence marks a complete entry
            tmp.write_text(json.dumps(ids))
    except OSError:
        pass
    return ids, labels, images
