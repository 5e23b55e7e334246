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
    return x
