"""Decode a Kaggle-layout image folder once into a uint8 memory map (N, 4, S, S): resumable, verified.

Layout of a cache folder:
- `images.u8`     raw uint8 array, row i = image i of `ids`, channels red, green, blue, yellow;
- `progress.json` rows written so far and the SHA-256 of every finished chunk (updated atomically
                  after each chunk is flushed, so a killed build continues where it stopped and
                  ends byte-identical to an uninterrupted one);
- `manifest.json` written last, after every chunk was re-read and checked: its presence marks a
                  complete cache. It holds the ids, the content fingerprint, the bad images and the
                  size and modification time of `images.u8` when it was checked; a file changed since
                  is checked again chunk by chunk, and damaged chunks are decoded again (said in one line).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench import identity as keys
from bench.data.images import content_fingerprint
from bench.data.kaggle import read_image
from bench.errors import BenchError
from bench.files import write_json

CHUNK = 64


@dataclass
class CachedImages:
    ids: list[str]
    labels: np.ndarray
    images: np.ndarray  # read-only memmap over every row, bad ones included (zeros)
    rows: np.ndarray  # rows of the good images, in `ids` order
    fingerprint: str
    bad: list[dict]


class RowView:
    """Rows of an array seen as one array, read a block at a time (for hashing a memmap)."""

    def __init__(self, array: np.ndarray, rows: np.ndarray):
        self.array, self.rows = array, rows
        self.shape = (len(rows), *array.shape[1:])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, block: slice) -> np.ndarray:
        return self.array[self.rows[block]]


def _decode(job: tuple[str, str, int]) -> tuple[np.ndarray | None, str | None]:
    folder, image_id, resolution = job
    try:
        return read_image(Path(folder), image_id, resolution), None
    except BenchError as exc:
        return None, str(exc)


def _check_disk(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise BenchError(f"image cache needs {needed / 2**30:.1f} GiB at {folder}, only {free / 2**30:.1f} GiB free; "
                         f"choose a smaller resolution or another dataset.cache_dir")


def _new_progress(key: str) -> dict:
    return {"key": key, "done": 0, "chunks": [], "bad": []}


def _progress(folder: Path, expected_key: str) -> dict:
    try:
        progress = json.loads((folder / "progress.json").read_text())
        if progress.get("key") == expected_key:
            return progress
    except (OSError, ValueError):
        pass
    return _new_progress(expected_key)


def _good_rows(n: int, bad: list[dict]) -> np.ndarray:
    """Rows of the images that decoded (all but the skipped bad ones)."""
    bad_rows = {b["row"] for b in bad}
    return np.array([i for i in range(n) if i not in bad_rows], dtype=np.int64)


def _first_damaged(path: Path, shape: tuple, chunks: list[str], start: int = 0) -> int | None:
    """The first chunk from `start` on whose bytes differ from its recorded SHA-256 (None when all match)."""
    images = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
    for k, digest in enumerate(chunks[start:], start):
        if hashlib.sha256(images[k * CHUNK:(k + 1) * CHUNK].tobytes()).hexdigest() != digest:
            return k
    return None


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _rewind(folder: Path, progress: dict, chunk: int) -> None:
    """Forget chunk `chunk` and every one after it: they are decoded again."""
    row = chunk * CHUNK
    print(f"image cache {folder / 'images.u8'} is damaged from row {row} on (its bytes do not match their "
          f"SHA-256); decoding rows {row}.. again", file=sys.stderr, flush=True)
    progress.update(done=row, chunks=progress["chunks"][:chunk], bad=[b for b in progress["bad"] if b["row"] < row])
    write_json(folder / "progress.json", progress)


def build(folder: Path, source: Path, ids: list[str], labels: np.ndarray, resolution: int, *,
          signature: str, skip_bad: bool, workers: int, skip_hint: str | None = None) -> CachedImages:
    """The complete cache of `ids` at `folder`, decoding whatever is still missing.

    `signature` identifies the source files' versions: any change to them invalidates the cache.
    A bad image stops the build (`skip_hint` says how to skip bad images, in the caller's terms) and
    removes the preallocated array: fixing the file or skipping it changes the key, so it could not
    be resumed. An interrupted build (a kill) keeps it and resumes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    key = keys.digest([str(source), ids, resolution, skip_bad, signature])
    manifest = folder / "manifest.json"
    shape = (len(ids), 4, resolution, resolution)
    path = folder / "images.u8"
    if manifest.exists():
        meta = json.loads(manifest.read_text())
        if meta.get("key") == key and path.exists() and meta.get("stamp") == _stamp(path):
            return _open(folder, ids, labels, shape, meta)
        manifest.unlink()  # another cache's, or its file changed since it was checked: checked again below
    needed = int(np.prod(shape))
    fresh = not path.exists() or path.stat().st_size != needed
    if fresh:
        _check_disk(folder, needed)
    images = np.memmap(path, dtype=np.uint8, mode="w+" if fresh else "r+", shape=shape)
    progress = _new_progress(key) if fresh else _progress(folder, key)
    damaged = None if fresh else _first_damaged(path, shape, progress["chunks"])
    if damaged is not None:
        _rewind(folder, progress, damaged)
    checked = len(progress["chunks"])  # the chunks read back above; those decoded now are read back below
    try:
        _fill(images, progress, folder, source, ids, resolution, skip_bad, workers, skip_hint)
    except BenchError:
        del images
        for name in ("images.u8", "progress.json"):
            (folder / name).unlink(missing_ok=True)
        raise
    del images
    damaged = _first_damaged(path, shape, progress["chunks"], checked)
    if damaged is not None:
        raise BenchError(f"image cache {path}: rows {damaged * CHUNK}.. changed while it was being written (another "
                         f"process?); run the same command again to decode them again")
    images = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
    rows = _good_rows(len(ids), progress["bad"])
    fingerprint = content_fingerprint([ids[i] for i in rows], labels[rows], RowView(images, rows))
    meta = {"key": key, "source": str(source), "resolution": resolution, "n": len(ids),
            "fingerprint": fingerprint, "bad": progress["bad"], "stamp": _stamp(path)}
    write_json(manifest, meta)
    return _open(folder, ids, labels, shape, meta)


def _fill(images, progress, folder, source, ids, resolution, skip_bad, workers, skip_hint) -> None:
    start = progress["done"]
    if start >= len(ids):
        return
    jobs = [(str(source), image_id, resolution) for image_id in ids]
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(ids), initial=start, desc=f"decode {resolution}px", unit="img", disable=None)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for lo in range(start, len(ids), CHUNK):
            hi = min(lo + CHUNK, len(ids))
            decoded = pool.map(_decode, jobs[lo:hi]) if pool else map(_decode, jobs[lo:hi])
            for row, (image, error) in zip(range(lo, hi), decoded):
                if error is not None:
                    if not skip_bad:
                        raise BenchError(f"{error}" + (f" ({skip_hint})" if skip_hint else ""))
                    progress["bad"].append({"row": row, "id": ids[row], "error": error})
                    image = 0
                images[row] = image
            images.flush()
            progress["chunks"].append(hashlib.sha256(images[lo:hi].tobytes()).hexdigest())
            progress["done"] = hi
            write_json(folder / "progress.json", progress)
            bar.update(hi - lo)
    finally:
        bar.close()
        if pool:
            pool.shutdown(cancel_futures=True)


def _open(folder: Path, ids, labels, shape, meta: dict) -> CachedImages:
    images = np.memmap(folder / "images.u8", dtype=np.uint8, mode="r", shape=shape)
    rows = _good_rows(len(ids), meta["bad"])
    return CachedImages([ids[i] for i in rows], labels[rows], images, rows, meta["fingerprint"], meta["bad"])
