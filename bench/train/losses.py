"""Training losses, all `criterion(logits, targets, reduction="mean"|"none")` on (B, C) tensors.

`reduction="none"` returns one value per sample (the mean over classes), which per-sample
strategies (mix_loss per-sample) weight themselves.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from bench.api import Criterion


def _reduce(elementwise: torch.Tensor, reduction: str) -> torch.Tensor:
    return elementwise.mean() if reduction == "mean" else elementwise.mean(dim=1)


def bce(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return _reduce(F.binary_cross_entropy_with_logits(logits, targets, reduction="none"), reduction)


def focal(gamma: float) -> Criterion:
    """The paper's focal loss: per-element BCE x (1 - p_t)^gamma, no alpha (torchvision's, alpha=-1)."""
    def criterion(logits, targets, reduction="mean"):
        return _reduce(sigmoid_focal_loss(logits, targets, alpha=-1, gamma=gamma, reduction="none"), reduction)
    return criterion


def arcface(s: float, m: float) -> Criterion:
    """The paper's multi-label ArcFace loss on cosine logits: cos(theta + m) for positives, x s, BCE.

    As in its code: cos clamped to (-1 + 1e-7, 1 - 1e-7); where theta + m would pass pi the
    fallback cos - m sin(pi - m) is used. Soft targets (mixed labels) get the margin in proportion.
    """
    cos_m, sin_m, threshold, fallback = math.cos(m), math.sin(m), math.cos(math.pi - m), m * math.sin(math.pi - m)

    def criterion(cosine, targets, reduction="mean"):
        cosine = cosine.float().clamp(-1 + 1e-7, 1 - 1e-7)
        sine = torch.sqrt(1.0 - cosine ** 2)
        phi = torch.where(cosine > threshold, cosine * cos_m - sine * sin_m, cosine - fallback)
        logits = s * (targets * phi + (1.0 - targets) * cosine)
        return bce(logits, targets, reduction)
    return criterion


def make_criterion(name: str, *, focal_gamma: float = 2.0, arcface_s: float = 30.0,
                   arcface_m: float = 0.5) -> Criterion:
    if name == "focal":
        return focal(focal_gamma)
    if name == "arcface":
        return arcface(arcface_s, arcface_m)
    return bce
