"""`ddpm`: the paper's "simplified class-conditional DDPM", reproduced exactly (docs/paper.md, "The generator").

- Network: a 28 x 64 class embedding broadcast over H x W and concatenated to the 4 image channels,
  Conv3x3 68->64, ReLU, Conv3x3 64->64, ReLU, Conv3x3 64->4; the timestep is accepted and ignored
  (80,260 parameters). It is not a U-Net and cannot know how much noise it is removing.
- Data: every training image with k labels becomes k (image, single label) pairs; images resized to
  32 x 32 (torchvision Resize, bilinear, antialiased), values in [0, 1], random 90-degree rotations.
- Diffusion: diffusers' DDPMScheduler defaults (T=1000, linear betas 1e-4..0.02, fixed_small,
  clip_sample, epsilon prediction); MSE on the noise; Adam lr 1e-4, 30 epochs, batch 64.
- Sampling: the full ancestral loop (1000 steps), clamped to [0, 1], then bicubic upsampling to the
  dataset's resolution (the paper went 32 -> 512).

It is conditioned on one class, the task is multi-label: asked for a multi-hot row, it conditions on
one of the row's classes (drawn with the sampling seed) and the image keeps the requested row. With
`synthetic.labels=uniform` (one-hot, equal counts) that is exactly the paper's synthetic set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.api import NUM_CLASSES, LabelledImages, option, require
from bench.api.diffusion import DiffusionGenerator


class SimplifiedDDPMNet(nn.Module):
    """The paper's three-convolution noise predictor; `t` is accepted and ignored, as in its code."""

    def __init__(self, num_classes: int = NUM_CLASSES, channels: int = 4, base: int = 64):
        super().__init__()
        self.class_embedding = nn.Embedding(num_classes, base)
        self.net = nn.Sequential(
            nn.Conv2d(channels + base, base, 3, padding=1), nn.ReLU(),
            nn.Conv2d(base, base, 3, padding=1), nn.ReLU(),
            nn.Conv2d(base, channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, class_label: torch.Tensor) -> torch.Tensor:
        emb = self.class_embedding(class_label)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, emb], dim=1))


def single_label_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image index, class) for every positive label: the paper's expansion of multi-label data."""
    rows, classes = np.nonzero(labels)
    return rows.astype(np.int64), classes.astype(np.int64)


class PaperDDPM(DiffusionGenerator):
    """The paper's simplified DDPM: 3 convs, timestep ignored, single-label, 32 px, 1000-step sampling."""

    sampling_options = ("sampling_steps", "sampling_batch_size")
    checkpoint_name = "ddpm.pt"
    quick_options = {"epochs": 1, "sampling_steps": 4}
    epoch_seed_stride = 1009

    @dataclass
    class Options:
        epochs: int = option(30, "training epochs over the (image, single label) pairs (the paper: 30)")
        batch_size: int = option(64, "pairs per training step (the paper: 64)")
        lr: float = option(1e-4, "Adam learning rate (the paper: 1e-4)")
        resolution: int = option(32, "generation resolution; samples are upsampled bicubically to the dataset's")
        sampling_steps: int = option(1000, "the paper's full ancestral loop; fewer only for quick checks")
        sampling_batch_size: int = option(256, "images denoised together")

        def __post_init__(self):
            for name in ("epochs", "batch_size", "resolution", "sampling_steps", "sampling_batch_size"):
                require(getattr(self, name) >= 1, name, "must be >= 1")
            require(self.sampling_steps <= 1000, "sampling_steps", "must be <= 1000 (the trained T)")
            require(self.lr > 0, "lr", "must be > 0")

    def __init__(self, options=None):
        super().__init__(options)
        self.scheduler = self.noise_scheduler()
        self.model = self.new_model()

    def new_model(self) -> nn.Module:
        return SimplifiedDDPMNet()

    def noise_scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler(num_train_timesteps=1000)

    def training_items(self, train: LabelledImages) -> np.ndarray:
        """(image row, class) pairs: every image once per positive label, as the paper expanded them."""
        return np.stack(single_label_pairs(train.labels), axis=1)

    def training_loss(self, model, scheduler, train, items, g, device):
        from torchvision.transforms.functional import resize

        rows, classes = items[:, 0], items[:, 1]
        x0 = torch.from_numpy(train.take(rows)).to(device).float().div_(255.0)
        size = self.options.resolution
        x0 = resize(x0, [size, size], antialias=True) if x0.shape[-1] != size else x0
        turns = torch.randint(0, 4, (len(items),), generator=g)
        x0 = torch.stack([torch.rot90(img, int(k), dims=(1, 2)) for img, k in zip(x0, turns)])
        noise = torch.randn(x0.shape, generator=g).to(device)
        t = torch.randint(0, 1000, (len(items),), generator=g).to(device)
        pred = model(scheduler.add_noise(x0, noise, t), t, torch.from_numpy(classes).to(device))
        return F.mse_loss(pred, noise)

    def conditions(self, labels, seed):
        """One of each row's classes, drawn with the sampling seed (the network knows one class)."""
        rng = np.random.default_rng([seed, 0xDD])
        return np.array([rng.choice(np.flatnonzero(row)) for row in labels], dtype=np.int64)

    def denoise(self, model, conditions, g, device):
        self.scheduler.set_timesteps(self.options.sampling_steps)
        c = torch.from_numpy(conditions).to(device)
        size = self.options.resolution
        x = torch.randn((len(c), 4, size, size), generator=g).to(device)
        for t in self.scheduler.timesteps:
            x = self.scheduler.step(model(x, t, c), t, x, generator=g).prev_sample
        return x.clamp(0, 1)
