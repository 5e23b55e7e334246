"""`concat`: synthetic images appended to every real batch at a fixed ratio, one shared loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from bench.api import Strategy, option, require


class Concat(Strategy):
    """Append `ratio` synthetic images per real image to each batch; one forward pass, one loss."""

    needs_synthetic = True

    @dataclass
    class Options:
        ratio: float = option(0.5, "synthetic images per real image in a batch")
        pairing: Literal["random", "class-aware"] = option("random", "which synthetic images join a batch: random, or "
                                                           "ones sharing a class with the batch's real images")

        def __post_init__(self):
            require(self.ratio > 0, "ratio", "must be > 0")

    def loss(self, model, criterion, real_x, real_y, syn_x, syn_y, rng):
        return criterion(model(torch.cat([real_x, syn_x])), torch.cat([real_y, syn_y]))
