"""Drawing synthetic partners for a real batch: at random, or class-aware."""

from __future__ import annotations

import numpy as np
import torch


class SyntheticPool:
    """Indices of a synthetic set by class, to draw partners for real samples."""

    def __init__(self, labels: np.ndarray):
        self.size = len(labels)
        self.by_class = [np.flatnonzero(labels[:, c]) for c in range(labels.shape[1])]

    def draw(self, real_labels: np.ndarray, n: int, mode: str, g: torch.Generator) -> np.ndarray:
        """n synthetic indices; with `class-aware`, the i-th shares a random positive class of real sample i."""
        picks = torch.randint(0, self.size, (n,), generator=g).numpy()
        if mode != "class-aware":
            return picks
        coins = torch.rand(n, 2, generator=g).numpy()
        for i in range(n):
            classes = [c for c in np.flatnonzero(real_labels[i % len(real_labels)]) if len(self.by_class[c])]
            if classes:
                pool = self.by_class[classes[int(coins[i, 0] * len(classes))]]
                picks[i] = pool[int(coins[i, 1] * len(pool))]
        return picks
