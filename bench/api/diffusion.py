"""A base for diffusion generators, on diffusers' split of model, noise scheduler and loop.

A subclass says what is specific to it:
- `new_model()`: the denoising network (an `nn.Module`);
- `noise_scheduler()`: the diffusers scheduler that defines the forward process (used in training);
- `training_items(train)` and `training_loss(model, scheduler, train, items, g, device)`: what an
  epoch shuffles (default: the image indices), and the loss of one batch of them (all randomness
  from `g`);
- `conditions(labels, seed)` and `denoise(model, conditions, g, device)`: what the network is
  conditioned on for each requested label row, and one batch of the reverse process, returning
  float images in [0, 1] at `options.resolution`.

The base runs the rest, the same for every generator: training epochs (`options.epochs`,
`options.batch_size`, `options.lr`) with progress (loss, rate, ETA), the loss of every epoch in
`loss_history`, a per-epoch checkpoint in `workdir` and resume from it, an
optional EMA of the weights used for sampling (`use_ema`), sampling in batches of
`options.sampling_batch_size`, and bicubic resizing to the dataset's resolution when the generator
samples at another.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.api import Generator, LabelledImages, Progress, load_checkpoint, option, require, save_checkpoint

PRECISIONS = ("fp32", "bf16")  # of a generator's training steps (fp16 would need a gradient scaler)


def training_precision(device: torch.device, options) -> torch.autocast:
    """The autocast context of one training step at `options.precision` (fp32: a no-op; options without the
    field, such as the paper's `ddpm`, train in fp32)."""
    bf16 = getattr(options, "precision", "fp32") == "bf16"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


@dataclass
class UNetDiffusionOptions:
    """Options of a class-conditional U-Net diffusion generator: its network, training, guidance and sampling.
    A generator's `Options` subclasses this, adds its own and changes a default with `redefault`."""

    width: int = option(64, "channels of the first U-Net level (deeper levels have 2x)")
    depth: int = option(3, "U-Net levels (the lowest has self-attention)")
    layers_per_block: int = option(1, "ResNet blocks per U-Net level")
    epochs: int = option(40, "training epochs over the train role")
    batch_size: int = option(64, "images per training step")
    lr: float = option(5e-4, "AdamW learning rate")
    ema_decay: float = option(0.999, "decay of the weights' exponential moving average used for sampling")
    p_uncond: float = option(0.1, "probability of training without labels (the unconditional branch of "
                             "classifier-free guidance)")
    guidance_scale: float = option(1.5, "classifier-free guidance at sampling; 1 = conditional only (one network "
                                   "pass per step)")
    sampling_steps: int = option(16, "denoising steps")
    sampling_batch_size: int = option(128, "images denoised together")
    balance: float = option(0.0, "repeat-factor sampling (LVIS): an image whose rarest class is in a share f of the "
                                 "train images is drawn max(1, sqrt(balance / f)) times an epoch on average, so rare "
                                 "classes are trained on more (and an epoch has more steps); 0 = each image once",
                            new=True)
    precision: str = option("fp32", "autocast precision of the training steps: fp32, or bf16 (GPUs, and CPUs with "
                                    "bf16 instructions: about 1.7x faster per step on this project's CPU, "
                                    "benchmarks/generator_precision.py; elsewhere slower); sampling stays fp32",
                            new=True)

    @classmethod
    def redefault(cls, name: str, default, note: str = ""):
        """The option `name` with another default (and its help with `note` added), for a subclass to re-declare."""
        help_text = next(f.metadata["help"] for f in fields(cls) if f.name == name)
        return option(default, f"{help_text}{'; ' + note if note else ''}")

    def __post_init__(self):
        for name in ("width", "depth", "layers_per_block", "epochs", "batch_size", "sampling_steps",
                     "sampling_batch_size"):
            require(getattr(self, name) >= 1, name, "must be >= 1")
        require(self.lr > 0, "lr", "must be > 0")
        require(0 <= self.p_uncond < 1, "p_uncond", "must be in [0, 1)")
        require(0 < self.ema_decay < 1, "ema_decay", "must be in (0, 1)")
        require(self.guidance_scale >= 0, "guidance_scale", "must be >= 0")
        require(0 <= self.balance <= 1, "balance", "must be in [0, 1] (a share of the train images; 0 = off)")
        require(self.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}")


class DiffusionGenerator(Generator):
    """Base of the diffusion generators: per-epoch checkpoints and resume, optional EMA, batched sampling."""

    checkpoint_name: ClassVar[str] = "diffusion.pt"  # file in the training folder
    use_ema: ClassVar[bool] = False
    ema_decay_option: ClassVar[str] = "ema_decay"
    epoch_seed_stride: ClassVar[int] = 1009  # epoch e of seed s draws from seed * stride + e

    model: nn.Module
    ema: Any = None
    loss_history: list  # {"epoch", "loss"} (mean training loss) of every epoch trained, resumed ones included

    # ---------------------------------------------------------------- what a subclass provides
    def new_model(self) -> nn.Module:
        raise NotImplementedError

    def noise_scheduler(self):
        raise NotImplementedError

    def training_items(self, train: LabelledImages) -> np.ndarray:
        """What an epoch shuffles and batches, one row per item (default: the image indices; with the `balance`
        option they must be image indices, whose labels set how often each is drawn)."""
        return np.arange(len(train))

    def training_loss(self, model: nn.Module, scheduler, train: LabelledImages, items: np.ndarray,
                      g: torch.Generator, device: torch.device) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def oriented_images(train: LabelledImages, index: np.ndarray, size: int, g: torch.Generator) -> torch.Tensor:
        """Training images in [-1, 1] at `size` px, each rotated by a random multiple of 90 degrees and randomly
        flipped (cells have no orientation); all randomness from `g`."""
        from torchvision.transforms.functional import resize

        x = torch.from_numpy(train.take(index)).float().div_(127.5).sub_(1.0)
        if x.shape[-1] != size:
            x = resize(x, [size, size], antialias=True)
        turns = torch.randint(0, 4, (len(x),), generator=g)
        x = torch.stack([torch.rot90(img, int(k), dims=(1, 2)) for img, k in zip(x, turns)])
        flip = torch.rand(len(x), generator=g) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(3), x)

    def prepare(self, train: LabelledImages, device: torch.device) -> None:
        """Called once before the first epoch this process trains (never when the training is finished, so a
        finished generator only loads): precompute what the epochs need, e.g. cached latents. Default: nothing."""

    def plan(self, n_train: int, n_images: int) -> str:
        o = self.options
        return (f"trains {o.epochs} epochs on {n_train} train-role images{self.drawing()} unless a finished training "
                f"with these options exists, then samples {n_images} images with {o.sampling_steps} denoising steps "
                f"each")

    def drawing(self) -> str:
        """How an epoch draws its images, for a plan: empty when each image is drawn once."""
        balance = getattr(self.options, "balance", 0)
        return f", drawing images of rare classes more often (balance {balance})," if balance else ""

    def conditions(self, labels: np.ndarray, seed: int) -> np.ndarray:
        """What each requested row conditions on (default: the multi-hot rows themselves)."""
        return np.asarray(labels)

    def denoise(self, model: nn.Module, conditions: np.ndarray, g: torch.Generator,
                device: torch.device) -> torch.Tensor:
        raise NotImplementedError

    # ---------------------------------------------------------------- the shared machinery
    def fit(self, train: LabelledImages, *, seed: int, device: torch.device, workdir: Path | None = None) -> None:
        torch.manual_seed(seed)
        o = self.options
        self.loss_history = []
        self.model = self.new_model().to(device)
        if self.use_ema:
            from diffusers.training_utils import EMAModel

            self.ema = EMAModel(self.model.parameters(), decay=getattr(o, self.ema_decay_option))
        optimizer = self.new_optimizer(self.model)
        scheduler = self.noise_scheduler()
        checkpoint = Path(workdir) / self.checkpoint_name if workdir else None
        start = self._resume(checkpoint, optimizer, device)
        if start:
            done = f"loaded its finished training ({o.epochs} epochs, " if start >= o.epochs else \
                f"resumed training after epoch {start} of {o.epochs} ("
            print(f"{type(self).__name__}: {done}{checkpoint})", file=sys.stderr, flush=True)
        if start >= o.epochs:
            return
        self.prepare(train, device)
        tracker = Progress(o.epochs, f"{type(self).__name__} training", "epoch", start=start)
        every = self.training_items(train)
        repeats = repeat_factors(train.labels[every], o.balance) if getattr(o, "balance", 0) else None
        for epoch in range(start + 1, o.epochs + 1):
            g = torch.Generator().manual_seed(seed * self.epoch_seed_stride + epoch)
            items = every
            if repeats is not None:  # this epoch's draws: each factor rounded up or down at random, its mean kept
                extra = torch.rand(len(repeats), generator=g).numpy() < repeats % 1
                items = np.repeat(every, np.floor(repeats).astype(int) + extra)
            order = torch.randperm(len(items), generator=g).numpy()
            self.model.train()
            total = 0.0
            for lo in range(0, len(order), o.batch_size):
                picks = order[lo:lo + o.batch_size]
                with training_precision(device, o):
                    loss = self.training_loss(self.model, scheduler, train, items[picks], g, device)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if self.ema is not None:
                    self.ema.step(self.model.parameters())
                total += loss.item() * len(picks)
            self.loss_history.append({"epoch": epoch, "loss": round(total / max(len(order), 1), 6)})
            self._save(checkpoint, optimizer, epoch)
            tracker.update(1, f"loss {self.loss_history[-1]['loss']:.4f}")
        tracker.close()

    def new_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=self.options.lr, foreach=True)

    def _resume(self, checkpoint: Path | None, optimizer, device) -> int:
        """Epochs already trained (0 without a checkpoint, or with a damaged one); the model, EMA and optimizer
        are restored."""
        state = load_checkpoint(checkpoint, device)
        if state is None:
            return 0
        self.model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.loss_history = list(state.get("loss_history", []))
        return int(state["epoch"])

    def _save(self, checkpoint: Path | None, optimizer, epoch: int) -> None:
        if checkpoint is None:
            return
        state = {"model": self.model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                 "loss_history": self.loss_history}
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        save_checkpoint(checkpoint, state)

    def sampling_model(self) -> nn.Module:
        """The network that samples: a copy holding the EMA weights when there are any, in eval mode."""
        if self.ema is None:
            return self.model.eval()
        model = copy.deepcopy(self.model).eval()
        self.ema.copy_to(model.parameters())
        return model

    @torch.inference_mode()
    def sample(self, labels, *, resolution, seed, device):
        model = self.sampling_model()
        conditions = self.conditions(labels, seed)
        g = torch.Generator().manual_seed(seed)
        size = self.options.sampling_batch_size
        out = []
        for lo in range(0, len(conditions), size):
            x = self.denoise(model, conditions[lo:lo + size], g, device)
            if x.shape[-1] != resolution:
                x = F.interpolate(x, size=(resolution, resolution), mode="bicubic", align_corners=False).clamp(0, 1)
            out.append((x * 255).round().to(torch.uint8).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 4, resolution, resolution), dtype=np.uint8)


def repeat_factors(labels: np.ndarray, threshold: float) -> np.ndarray:
    """Each image's repeat factor in repeat-factor sampling (Gupta et al. 2019, LVIS): a class in a share f of the
    images has r = max(1, sqrt(threshold / f)); an image takes the largest r of its classes (1 with none)."""
    labels = np.asarray(labels, dtype=bool)
    share = labels.mean(axis=0)
    per_class = np.maximum(1.0, np.sqrt(threshold / np.where(share > 0, share, np.inf)))
    return np.where(labels, per_class, 1.0).max(axis=1, initial=1.0)
