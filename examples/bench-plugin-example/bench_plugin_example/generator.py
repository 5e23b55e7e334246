"""A generator that learns each channel's mean image and paints one bright blob per label."""

from dataclasses import dataclass

import numpy as np

from bench.api import Generator, option


class ToyBlobs(Generator):
    """Mean training image plus one green blob per label at a class-specific place."""

    @dataclass
    class Options:
        blob_radius: float = option(0.08, "blob radius as a fraction of the image side")

    def fit(self, train, *, seed, device, workdir=None):  # workdir: a folder kept for checkpoints
        sample = train.take(np.arange(min(len(train), 256)))
        self.mean = sample.mean(axis=0)

    def sample(self, labels, *, resolution, seed, device):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:resolution, 0:resolution] / resolution
        out = np.repeat(self.mean[None], len(labels), axis=0)
        for i, row in enumerate(labels):
            for c in np.flatnonzero(row):
                cy, cx = 0.2 + 0.6 * (c // 6) / 4, 0.2 + 0.6 * (c % 6) / 5
                blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * self.options.blob_radius ** 2))
                out[i, 1] += 200 * blob
        out += rng.normal(0, 5, size=out.shape)
        return np.clip(out, 0, 255).astype(np.uint8)
