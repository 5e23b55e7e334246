"""`none`: the no-synthetic control; it makes no images."""

from __future__ import annotations

from bench.api import Generator


class NoSynthetic(Generator):
    """No synthetic images (the control every other generator is compared with)."""

    produces_images = False

    def sample(self, labels, *, resolution, seed, device):
        raise RuntimeError("the 'none' generator makes no images")
