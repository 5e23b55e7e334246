"""`none`: train on real images only (the no-synthetic control)."""

from __future__ import annotations

from bench.api import Strategy


class RealOnly(Strategy):
    """Real images only: the plain supervised loss on each real batch."""

    def loss(self, model, criterion, real_x, real_y, syn_x, syn_y, rng):
        return criterion(model(real_x), real_y)
