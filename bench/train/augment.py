"""Training augmentation on the training device, per sample, whole batch at once, from the epoch's generator."""

from __future__ import annotations

import math

import torch
from torchvision.ops import roi_align

from bench.config import TrainConfig


def random_resized_crop(x: torch.Tensor, g: torch.Generator, scale=(0.8, 1.0), ratio=(0.9, 1.1)) -> torch.Tensor:
    """A different random crop per sample, resized back to the input size (bilinear), in one op.

    The paper's RandomResizedCrop(512, scale=(0.8, 1.0), ratio=(0.9, 1.1)), done on the whole batch
    on the device with torchvision's roi_align instead of per sample in Python.
    """
    n, _, height, width = x.shape
    area = torch.empty(n).uniform_(scale[0], scale[1], generator=g) * height * width
    aspect = torch.exp(torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=g))
    w = torch.sqrt(area * aspect).clamp(max=width)
    h = torch.sqrt(area / aspect).clamp(max=height)
    x0, y0 = torch.rand(n, generator=g) * (width - w), torch.rand(n, generator=g) * (height - h)
    boxes = torch.stack([torch.arange(n, dtype=torch.float32), x0, y0, x0 + w, y0 + h], dim=1)
    return roi_align(x, boxes.to(x.device, x.dtype), output_size=(height, width), spatial_scale=1.0,
                     sampling_ratio=1, aligned=True)


def augment(x: torch.Tensor, g: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """uint8 batch on the device -> augmented float batch in [0, 1], per sample, whole batch at once.

    Rotations and flips run on the uint8 tensor (exact, 4x less memory traffic), then /255, then the
    random resized crop.
    """
    if cfg.rotate90:
        turns = torch.randint(0, 4, (len(x),), generator=g).to(x.device)
        rotated = x.clone()
        for k in (1, 2, 3):
            rows = turns == k
            if rows.any():
                rotated[rows] = torch.rot90(x[rows], k, dims=(2, 3))
        x = rotated
    if cfg.flip:
        flip = (torch.rand(len(x), generator=g) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    x = x.float().div_(255.0)
    if cfg.random_resized_crop:
        x = random_resized_crop(x, g)
    if cfg.blur_augment:
        sigma = torch.rand(len(x), generator=g) * cfg.blur_augment
        sigma[torch.rand(len(x), generator=g) < 0.5] = 0.0
        x = blur_each(x, sigma.to(x.device))
    if cfg.noise_augment:
        sigma = (torch.rand(len(x), generator=g) * cfg.noise_augment).to(x.device)
        x = (x + sigma[:, None, None, None] * torch.randn(x.shape, generator=g).to(x.device)).clamp_(0, 1)
    return x


def blur_each(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A separable Gaussian blur of each image (N, C, S, S) with its own standard deviation (N,) in px (0: as is),
    reflecting at the borders, in two grouped convolutions."""
    radius = max(1, int(4 * float(sigma.max()) + 0.5))
    radius = min(radius, x.shape[-1] - 1)
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigma.to(x.dtype).clamp(min=1e-3)[:, None]
    kernel = torch.exp(-0.5 * (t[None, :] / s) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (N, K); sigma 1e-3 is the identity
    n, c, h, w = x.shape
    kernel = kernel.repeat_interleave(c, dim=0)  # one per (image, channel)
    flat = torch.nn.functional.pad(x.reshape(1, n * c, h, w), (radius,) * 4, mode="reflect")
    flat = torch.nn.functional.conv2d(flat, kernel[:, None, None, :], groups=n * c)
    flat = torch.nn.functional.conv2d(flat, kernel[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)
