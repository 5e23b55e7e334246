"""Labelled images, the one data type every step of the pipeline passes on, and their fingerprint."""

from __future__ import annotations

import hashlib

import numpy as np

from bench.data.labels import NUM_CLASSES


class LabelledImages:
    """uint8 images (N, 4, S, S) in channel order red, green, blue, yellow, with (N, 28) multi-hot labels.

    `images` may be an in-memory array or a memory map; `subset` shares it and only keeps row numbers.
    """

    def __init__(self, ids: list[str], labels: np.ndarray, images: np.ndarray, fingerprint: str,
                 rows: np.ndarray | None = None, is_subset: bool = False, skipped: list[dict] | None = None):
        self.ids = list(ids)
        self.is_subset = is_subset  # the user asked for part of the data on purpose (split protocols check it)
        self.skipped = list(skipped or [])  # {"id", "error"} of source images left out as unreadable
        self.labels = np.asarray(labels, dtype=np.uint8)
        self._images = images
        self._rows = np.arange(len(self.ids)) if rows is None else np.asarray(rows)
        self.fingerprint = fingerprint
        if self.labels.shape != (len(self.ids), NUM_CLASSES):
            raise ValueError(f"labels must be ({len(self.ids)}, {NUM_CLASSES}), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def resolution(self) -> int:
        return int(self._images.shape[-1])

    def take(self, index: np.ndarray | list[int]) -> np.ndarray:
        """Images at positions `index` of this set, as a uint8 array (n, 4, S, S)."""
        return np.asarray(self._images[self._rows[np.asarray(index, dtype=np.int64)]])

    def subset(self, index: np.ndarray) -> LabelledImages:
        index = np.asarray(index, dtype=np.int64)
        return LabelledImages([self.ids[i] for i in index], self.labels[index], self._images,
                              self.fingerprint, rows=self._rows[index], is_subset=self.is_subset,
                              skipped=self.skipped)


def content_fingerprint(ids: list[str], labels: np.ndarray, images: np.ndarray) -> str:
    """SHA-256 over ids, labels and pixels: two datasets share it only if they hold the same data."""
    digest = hashlib.sha256()
    digest.update("\n".join(ids).encode())
    digest.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    digest.update(str(images.shape).encode())
    for start in range(0, len(images), 256):
        digest.update(np.ascontiguousarray(images[start:start + 256]).tobytes())
    return digest.hexdigest()
