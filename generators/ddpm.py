"""`ddpm`: the paper's "simplified class-conditional DDPM", reproduced exactly (paper-extraction §3.2).

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
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.api import Generator, LabelledImages
from bench.config import require
from bench.hpa import NUM_CLASSES
from bench.records import atomic_target


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


class PaperDDPM(Generator):
    """The paper's simplified DDPM: 3 convs, timestep ignored, single-label, 32 px, 1000-step sampling."""

    sampling_options = ("sampling_steps", "sampling_batch_size")

    @dataclass
    class Options:
        epochs: int = 30
        batch_size: int = 64
        lr: float = 1e-4
        resolution: int = 32  # generation resolution; samples are upsampled bicubically to the dataset's
        sampling_steps: int = 1000  # the paper's full ancestral loop; fewer only for quick checks
        sampling_batch_size: int = 256

        def __post_init__(self):
            for name in ("epochs", "batch_size", "resolution", "sampling_steps", "sampling_batch_size"):
                require(getattr(self, name) >= 1, name, "must be >= 1")
            require(self.sampling_steps <= 1000, "sampling_steps", "must be <= 1000 (the trained T)")
            require(self.lr > 0, "lr", "must be > 0")

    def __init__(self, options=None):
        super().__init__(options)
        from diffusers import DDPMScheduler

        self.scheduler = DDPMScheduler(num_train_timesteps=1000)
        self.model = SimplifiedDDPMNet()

    def _training_images(self, train: LabelledImages, index: np.ndarray, device) -> torch.Tensor:
        from torchvision.transforms.functional import resize

        x = torch.from_numpy(train.take(index)).to(device).float().div_(255.0)
        size = self.options.resolution
        return resize(x, [size, size], antialias=True) if x.shape[-1] != size else x

    def fit(self, train: LabelledImages, *, seed: int, device: torch.device) -> None:
        torch.manual_seed(seed)
        self.model = SimplifiedDDPMNet().to(device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.options.lr)
        start = self._resume(self.workdir, optimizer, device)
        rows, classes = single_label_pairs(train.labels)
        for epoch in range(start + 1, self.options.epochs + 1):
            g = torch.Generator().manual_seed(seed * 1009 + epoch)
            order = torch.randperm(len(rows), generator=g).numpy()
            self.model.train()
            for lo in range(0, len(order), self.options.batch_size):
                pick = order[lo:lo + self.options.batch_size]
                x0 = self._training_images(train, rows[pick], device)
                turns = torch.randint(0, 4, (len(pick),), generator=g)
                x0 = torch.stack([torch.rot90(img, int(k), dims=(1, 2)) for img, k in zip(x0, turns)])
                noise = torch.randn(x0.shape, generator=g).to(device)
                t = torch.randint(0, 1000, (len(pick),), generator=g).to(device)
                pred = self.model(self.scheduler.add_noise(x0, noise, t), t, torch.from_numpy(classes[pick]).to(device))
                loss = F.mse_loss(pred, noise)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            self._checkpoint(self.workdir, optimizer, epoch)

    def _resume(self, workdir: Path | None, optimizer, device) -> int:
        path = workdir / "ddpm.pt" if workdir else None
        if path is None or not path.exists():
            return 0
        state = torch.load(path, map_location=device, weights_only=True)
        self.model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return int(state["epoch"])

    def _checkpoint(self, workdir: Path | None, optimizer, epoch: int) -> None:
        if workdir is None:
            return
        with atomic_target(Path(workdir) / "ddpm.pt") as tmp:
            torch.save({"model": self.model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, tmp)

    @torch.inference_mode()
    def sample(self, labels, *, resolution, seed, device):
        rng = np.random.default_rng([seed, 0xDD])
        classes = np.array([rng.choice(np.flatnonzero(row)) for row in labels], dtype=np.int64)
        self.model.eval()
        self.scheduler.set_timesteps(self.options.sampling_steps)
        out = []
        g = torch.Generator().manual_seed(seed)
        size = self.options.resolution
        for lo in range(0, len(classes), self.options.sampling_batch_size):
            c = torch.from_numpy(classes[lo:lo + self.options.sampling_batch_size]).to(device)
            x = torch.randn((len(c), 4, size, size), generator=g).to(device)
            for t in self.scheduler.timesteps:
                x = self.scheduler.step(self.model(x, t, c), t, x, generator=g).prev_sample
            x = x.clamp(0, 1)
            if size != resolution:
                x = F.interpolate(x, size=(resolution, resolution), mode="bicubic", align_corners=False).clamp(0, 1)
            out.append((x * 255).round().to(torch.uint8).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 4, resolution, resolution), dtype=np.uint8)
