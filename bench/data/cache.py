"""A user-level cache for derived arrays (rendered datasets), under $BENCH_CACHE_DIR or ~/.cache.

Entries are plain .npy files (never pickles), each with its SHA-256 beside it (`bench.files.save_checked`),
checked on every read: a damaged entry is said in one line and computed again. The cache is an
optimisation only: an unwritable or full cache folder just means recomputing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.files import DiskFull, atomic_target, cache_dir, damage, free_bytes, save_checked, save_npy, size

ARRAYS = ("labels.npy", "images.npy")
OLDER = "written before checksums"  # an entry of an earlier version: computed again, once


def _read(folder: Path):
    """(ids, labels, images) of a complete, intact entry; None when there is none; a string saying what is wrong."""
    try:
        ids = json.loads((folder / "ids.json").read_text())
    except (OSError, ValueError):
        return None
    if not all((folder / f"{name}.sha256").exists() for name in ARRAYS):
        return OLDER
    for name in ARRAYS:
        problem = damage(folder / name)
        if problem:
            return f"{name}: {problem}"
    try:
        labels = np.load(folder / "labels.npy", allow_pickle=False)
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        return f"unreadable: {type(exc).__name__}"
    return (ids, labels, images) if len(ids) == len(labels) == len(images) else "lengths differ"


def cached_arrays(key: str, compute: Callable[[], tuple[list[str], np.ndarray, np.ndarray]]):
    """(ids, labels, images) from the cache entry `key`, computing and storing it when missing or damaged."""
    folder = cache_dir() / key
    found = _read(folder)
    if isinstance(found, tuple):
        return found
    if found == OLDER:
        print(f"dataset cache {folder} was written before its arrays had checksums: computing it again, once",
              file=sys.stderr, flush=True)
    elif found is not None:
        print(f"dataset cache {folder} is damaged ({found}); computing it again", file=sys.stderr, flush=True)
    if found is not None:
        (folder / "ids.json").unlink(missing_ok=True)
    ids, labels, images = compute()
    try:
        free = free_bytes(cache_dir())
        if free < images.nbytes + labels.nbytes + (8 << 20):
            print(f"dataset cache: {size(images.nbytes)} needed, {size(free)} free in {cache_dir()}; not cached (the "
                  f"next run computes it again)", file=sys.stderr, flush=True)
            return ids, labels, images
        for name, array in zip(ARRAYS, (labels, images)):
            save_checked(folder / name, lambda tmp, array=array: save_npy(tmp, array))
        with atomic_target(folder / "ids.json") as tmp:  # written last: its presence marks a complete entry
            tmp.write_text(json.dumps(ids))
    except (OSError, DiskFull):
        pass
    return ids, labels, images
