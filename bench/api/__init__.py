"""Everything a plugin author needs, and the only part of `bench` a plugin imports.

A plugin subclasses one of `Dataset`, `Generator`, `Classifier`, `Strategy` and is registered by an
entry point (`bench.datasets`, `bench.generators`, `bench.classifiers`, `bench.strategies`). Its
class carries a nested `Options` dataclass (its configuration: validated when a run is configured,
hashed into the run id) and a docstring whose first line is its one-line description.

Each option is declared with `option(default, "help text")` (`bench options KIND NAME` prints the
help with the type, default and allowed values). Options validate themselves in `__post_init__` with
`require(condition, field, message)`; any exception raised there reaches the user as one line naming
the option, never a traceback. A field made with `option(..., runtime=True)` (or `runtime_field(...)`)
says where or how to run (a path, a worker count): it is recorded but not hashed.
`bench.api.diffusion` holds a base class for diffusion generators.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from bench.api.checkpoints import load_checkpoint, save_checkpoint
from bench.data.cache import cached_arrays
from bench.data.image_folder import check_image_folder, read_image_folder, source_signature
from bench.data.images import LabelledImages, content_fingerprint
from bench.data.kaggle_folder import check_kaggle_folder, load_kaggle_folder
from bench.data.labels import CHANNELS, CLASS_NAMES, NUM_CLASSES
from bench.errors import BenchError
from bench.files import atomic_target
from bench.options import NoOptions, OptionError, option, require, runtime_field
from bench.progress import Progress

__all__ = [
    "BenchError", "CHANNELS", "CLASS_NAMES", "Classifier", "Criterion", "Dataset", "Generator", "LabelledImages",
    "NUM_CLASSES", "NoOptions", "OptionError", "Plugin", "Progress", "Strategy", "atomic_target", "cached_arrays",
    "capabilities", "check_image_folder", "check_kaggle_folder", "content_fingerprint", "describe",
    "load_checkpoint", "load_kaggle_folder", "option", "read_image_folder", "require", "runtime_field",
    "save_checkpoint", "source_signature"
]

Criterion = Callable[..., torch.Tensor]
"""`criterion(logits, targets, reduction="mean")`: a scalar; `reduction="none"`: one loss per sample, (B,)."""


class Plugin:
    """Base of every plugin: holds its validated options (an instance of its `Options` dataclass)."""

    Options: ClassVar[type] = NoOptions
    # options that make the plugin quick for a smoke check and the contract tests (few steps, one
    # epoch, small inputs), e.g. {"epochs": 1}; `bench.api` users need not set it
    quick_options: ClassVar[dict] = {}

    def __init__(self, options: Any = None):
        self.options = self.Options() if options is None else options


class Dataset(Plugin, ABC):
    """A source of labelled 4-channel images (`bench.datasets`).

    Optional capability: a dataset whose images come from a known process (a renderer, a simulator)
    overrides `render`; the `oracle` generator then draws fresh images of the true distribution from it
    (`capabilities(cls)` lists what a dataset class offers). A dataset of recorded images has none.
    """

    @abstractmethod
    def load(self) -> LabelledImages:
        """All labelled images of the dataset: uint8 (N, 4, S, S), red/green/blue/yellow, with a content fingerprint
        (`content_fingerprint(ids, labels, images)`, or `load_kaggle_folder` for data in the Kaggle layout)."""

    def check(self) -> None:
        """Refuse (raise `BenchError`) what `load` would refuse that can be seen at once, without reading the
        images (a missing folder or file), so a dry run and a run say it before any work. Default: accept."""

    def render(self, labels: np.ndarray, *, seed: int, acquisition_noise: bool = True) -> np.ndarray:
        """Capability `render`: new uint8 images (N, 4, S, S) of the dataset's own process at its resolution, one
        for each multi-hot row of `labels`, depending only on the rows, their positions and `seed`, and drawn from
        random streams the dataset's own images never use (so no dataset image can reappear).
        `acquisition_noise=False`: the same images without the pixel noise of acquisition, where the process
        has such noise."""
        raise NotImplementedError(f"{type(self).__name__} cannot render new images")


def capabilities(dataset_class: type) -> frozenset[str]:
    """The optional capabilities a dataset class implements (today: `render`)."""
    return frozenset(name for name in ("render",) if getattr(dataset_class, name) is not getattr(Dataset, name))


class Generator(Plugin, ABC):
    """Makes synthetic labelled images from the train role (`bench.generators`).

    `fit` gets `workdir`, a folder kept for this generator's training (keyed by its options, the data
    and the split): a generator that trains keeps per-epoch checkpoints there, so a killed build
    resumes, and `fit` on a finished folder only loads the trained weights. `sample` is called in chunks
    of 256 label rows (`bench.synthetic.sets.SAMPLING_CHUNK`), each with a seed of its own drawn from
    `synthetic.seed` and the chunk's position, and each finished chunk is kept on disk, so an
    interrupted build samples only what is missing; its images must depend only on its arguments.
    """

    produces_images: ClassVar[bool] = True
    # options that only affect `sample`: sets differing only in them share one trained generator
    sampling_options: ClassVar[tuple[str, ...]] = ()
    # dataset capabilities it needs (see `Dataset`): a run pairing it with a dataset without them is refused
    # when its config is resolved, in one line, before anything is loaded or written
    needs_dataset: ClassVar[tuple[str, ...]] = ()

    # a generator trained in stages (an autoencoder, then a model of its latents): each stage's name and the
    # options it depends on, in training order. Each stage gets a training folder keyed by its options and those
    # of the stages before it, and a lock of its own, so a new setting of a later stage reuses a finished earlier
    # stage; the harness calls `fit_stage` for each stage `stages_needed` names, in order, instead of `fit`
    stages: ClassVar[dict[str, tuple[str, ...]]] = {}

    def stages_needed(self) -> tuple[str, ...]:
        """The stages a set with these options needs (default: every stage)."""
        return tuple(self.stages)

    def fit_stage(self, stage: str, train: LabelledImages, *, seed: int, device: torch.device, workdir: Path) -> None:
        """Train one stage (resuming from, or loading a finished stage in, `workdir`)."""
        raise NotImplementedError(f"{type(self).__name__} declares stages but does not train them")

    def plan(self, n_train: int, n_images: int) -> str | None:
        """What building a set of `n_images` will do, said before it starts; None: the harness says it from the
        common options (`epochs`, `sampling_steps`)."""
        return None

    def check(self, train: LabelledImages, dataset: Dataset) -> None:
        """Refuse (raise `BenchError`) what cannot be built from this data before anything is trained or written,
        e.g. a size that does not divide the images. Default: accept."""

    def source(self) -> str | None:
        """For images made elsewhere: a fingerprint of the files they are read from, part of the set's key, so a
        set is reused while they are unchanged and built again when they change. Default None (it makes them)."""
        return None

    def existing(self, resolution: int) -> tuple[np.ndarray, np.ndarray] | None:
        """For images made elsewhere: (labels (N, 28), uint8 images (N, 4, S, S)), the whole set as it is (the
        synthetic config's count and label choice do not apply; `sample` is never called). Default None."""
        return None

    def fit(self, train: LabelledImages, *, seed: int, device: torch.device, workdir: Path | None = None) -> None:
        """Learn from the train role only (never val or test). Default: nothing to learn. A generator whose
        `needs_dataset` is not empty is also given `dataset=` (the dataset plugin) when its `fit` accepts it."""

    @abstractmethod
    def sample(self, labels: np.ndarray, *, resolution: int, seed: int, device: torch.device) -> np.ndarray:
        """uint8 images (N, 4, resolution, resolution), one for each multi-hot row of `labels` (N, 28)."""


class Classifier(Plugin, nn.Module):
    """A multi-label classifier (`bench.classifiers`): `forward(x) == head(features(x))`.

    Input: float (B, in_chans, S, S) in [0, 1] (uint8 / 255, no mean/std). Strategies work on
    `features` (B, D) when they mix representations, so both halves must be exposed.
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
    """How real and synthetic batches become one training loss (`bench.strategies`).

    A strategy with `needs_synthetic = True` runs only with a generator that makes images, and the
    loop draws `synthetic_batch_size(real_batch_size)` synthetic images beside each real batch
    (augmented like the real ones: float in [0, 1] on the training device, multi-hot float labels).
    Under torchrun, `real_batch_size` is this process's share of the batch.
    """

    needs_synthetic: ClassVar[bool] = False

    @property
    def pairing(self) -> str:
        """How synthetic images are drawn for a real batch: `random` (the default; an option `pairing`
        overrides it), or `class-aware` (the i-th synthetic image shares a class with the i-th real one)."""
        return getattr(self.options, "pairing", "random")

    def synthetic_batch_size(self, real_batch_size: int) -> int:
        """Synthetic images drawn beside a real batch: 0 without synthetic data, else `ratio` (an option,
        default 1) per real image, at least one."""
        if not self.needs_synthetic:
            return 0
        return max(1, round(getattr(self.options, "ratio", 1.0) * real_batch_size))

    @abstractmethod
    def loss(self, model: Classifier, criterion: Criterion, real_x: torch.Tensor, real_y: torch.Tensor,
             syn_x: torch.Tensor | None, syn_y: torch.Tensor | None, rng: torch.Generator) -> torch.Tensor:
        """Scalar training loss of one step. All randomness must come from `rng` (a CPU torch.Generator
        seeded by the run seed and the epoch); move draws to `real_x.device` yourself."""


def describe(plugin_class: type) -> str:
    """The first line of a plugin's docstring."""
    doc = (plugin_class.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
