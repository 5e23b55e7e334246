"""What the mixing strategies share: their options and the lambda draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from bench.api import option, require


@dataclass
class MixOptions:
    ratio: float = option(1.0, "synthetic images per real image in a batch (the paper: 1)")
    pairing: Literal["random", "class-aware"] = option("random", "which synthetic image each real one is mixed with: "
                                                       "random (the paper) or one sharing a class")
    lam: Literal["beta", "uniform", "fixed"] = option("beta", "how lambda, the real share of each mix, is drawn: "
                                                      "Beta(alpha, alpha), uniform on [0, 1], or fixed")
    alpha: float = option(0.3, "lam=beta: lambda ~ Beta(alpha, alpha) (the paper: 0.3)")
    lam_value: float = option(0.5, "lam=fixed: the value of lambda")
    joint_forward: bool = option(True, "real and synthetic through the backbone in one pass (the paper: two)")

    def __post_init__(self):
        require(0 < self.ratio <= 1, "ratio", "must be in (0, 1]: every synthetic image has a real partner")
        require(self.alpha > 0, "alpha", "must be > 0")
        require(0 <= self.lam_value <= 1, "lam_value", "must be in [0, 1]")


def draw_lambda(options: MixOptions, n: int, rng: torch.Generator, device) -> torch.Tensor:
    """(n, 1) real-share coefficients, from the run's generator."""
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=rng))
    numbers = np.random.default_rng(seed)
    if options.lam == "beta":
        lam = numbers.beta(options.alpha, options.alpha, n)
    elif options.lam == "uniform":
        lam = numbers.uniform(0.0, 1.0, n)
    else:
        lam = np.full(n, options.lam_value)
    return torch.as_tensor(lam, dtype=torch.float32, device=device)[:, None]


def backbone_features(model, real_x: torch.Tensor, syn_x: torch.Tensor, joint: bool):
    """Pooled features of the real and synthetic images, in one backbone pass or two."""
    if joint:
        features = model.features(torch.cat([real_x, syn_x]))
        return features[:len(real_x)], features[len(real_x):]
    return model.features(real_x), model.features(syn_x)
