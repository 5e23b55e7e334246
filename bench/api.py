"""The plugin interfaces. A plugin subclasses one of these and is registered by an entry point.

Every plugin class carries a nested `Options` dataclass (its configuration, validated and hashed
as part of the run config) and a docstring whose first line is its one-line description.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import nn

from bench.hpa import NUM_CLASSES

Criterion = Callable[..., torch.Tensor]  # criterion(logits, targets, reduction="mean"|"none")


@dataclass
class NoOptions:
    """A plugin without options."""


class LabelledImages:
    """uint8 images (N, 4, S, S) in channel order red, green, blue, yellow, with (N, 28) multi-hot labels.

    `images` may be an in-memory array or a memory map; `subset` shares it and only keeps row numbers.
    """

    def __init__(self, ids: list[str], labels: np.ndarray, images: np.ndarray, fingerprint: str,
                 rows: np.ndarray | None = None, is_subset: bool = False):
        self.ids = list(ids)
        self.is_subset = is_subset  # the user asked for part of the data on purpose (split protocols check it)
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

    def subset(self, index: np.ndarray) -> "LabelledImages":
        index = np.asarray(index, dtype=np.int64)
        return LabelledImages([self.ids[i] for i in index], self.labels[index], self._images,
                              self.fingerprint, rows=self._rows[index], is_subset=self.is_subset)


def content_fingerprint(ids: list[str], labels: np.ndarray, images: np.ndarray) -> str:
    """SHA-256 over ids, labels and pixels: two datasets share it only if they hold the same data."""
    digest = hashlib.sha256()
    digest.update("\n".join(ids).encode())
    digest.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    digest.update(str(images.shape).encode())
    for start in range(0, len(images), 256):
        digest.update(np.ascontiguousarray(images[start:start + 256]).tobytes())
    return digest.hexdigest()


class Plugin:
    """Base of every plugin: holds its validated options."""

    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None):
        self.options = self.Options() if options is None else options


class Dataset(Plugin, ABC):
    """A source of labelled 4-channel images (`bench.datasets`)."""

    @abstractmethod
    def load(self) -> LabelledImages:
        """All labelled images of the dataset, with a content fingerprint."""


class Generator(Plugin, ABC):
    """Makes synthetic labelled images from the train role (`bench.generators`).

    Before `fit`, the pipeline sets `workdir` to a folder where a generator that trains keeps its
    per-epoch checkpoints, so a killed build resumes its training, and `fit` on a finished folder
    only loads the trained weights.
    """

    produces_images: ClassVar[bool] = True
    # options that only affect `sample`: sets differing only in them share one trained generator
    sampling_options: ClassVar[tuple[str, ...]] = ()
    workdir: Path | None = None

    def fit(self, train: LabelledImages, *, seed: int, device: torch.device) -> None:
        """Learn from the train role only (never val or test). Default: nothing to learn."""

    @abstractmethod
    def sample(self, labels: np.ndarray, *, resolution: int, seed: int, device: torch.device) -> np.ndarray:
        """uint8 images (N, 4, resolution, resolution), one for each multi-hot row of `labels`."""


class Classifier(Plugin, nn.Module):
    """A multi-label classifier (`bench.classifiers`): `forward(x) == head(features(x))`.

    Input: float (B, in_chans, S, S) in [0, 1]. Strategies work on `features` (B, D) when they mix
    representations, so both halves must be exposed.
    """

    def __init__(self, options: Any = None, *, num_classes: int = NUM_CLASSES, in_chans: int = 4):
        nn.Module.__init__(self)
        Plugin.__init__(self, options)
        self.num_classes = num_classes
        self.in_chans = in_chans

    @abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled representation (B, D)."""

    @abstractmethod
    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) from `features`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Strategy(Plugin, ABC):
    """How real and synthetic batches become one training loss (`bench.strategies`)."""

    needs_synthetic: ClassVar[bool] = False

    @property
    def pairing(self) -> str:
        """How synthetic images are drawn for a real batch: `random`, or `class-aware` (the i-th
        synthetic image shares a class with the i-th real one where the set has one)."""
        return getattr(self.options, "pairing", "random")

    def synthetic_batch_size(self, real_batch_size: int) -> int:
        """How many synthetic images to draw next to each real batch."""
        return 0

    @abstractmethod
    def loss(self, model: Classifier, criterion: Criterion, real_x: torch.Tensor, real_y: torch.Tensor,
             syn_x: torch.Tensor | None, syn_y: torch.Tensor | None, rng: torch.Generator) -> torch.Tensor:
        """Scalar training loss of one step; all randomness must come from `rng`."""


def describe(plugin_class: type) -> str:
    """The first line of a plugin's docstring."""
    doc = (plugin_class.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
