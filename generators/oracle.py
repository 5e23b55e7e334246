"""`oracle`: fresh images of the dataset's own process, the best any generator could do; and its degradations.

On a dataset that can render new images (the embedded `synthetic-cells`), each requested label row
gets a new, independent, correctly labelled image of the true distribution, from random streams
that no image of the dataset uses. It bounds from above what a generator's images can add. Its
options degrade it one controlled way at a time, each a set of its own (applied in this order):
`pixel_noise=false` leaves out the renderer's own acquisition noise; `label_noise` records a share
of images under another label row than the one they were rendered for; `through_px` reduces
images to N px and back; `blur` is a Gaussian blur; `noise` adds i.i.d. Gaussian pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.api import BenchError, Generator, option, require


class Oracle(Generator):
    """Fresh images rendered by the dataset's own process (an upper bound), with optional controlled degradations."""

    needs_dataset = ("render",)

    @dataclass
    class Options:
        pixel_noise: bool = option(True, "the renderer's own acquisition noise (false: the same images without it)")
        label_noise: float = option(0.0, "share of images rendered for another of the requested label rows than "
                                          "the one recorded (0..1)")
        through_px: int = option(0, "reduce to this many px (antialiased) and enlarge back bicubically; 0 = off")
        blur: float = option(0.0, "Gaussian blur, standard deviation in px (0..16); 0 = off")
        noise: float = option(0.0, "additive i.i.d. Gaussian pixel noise, standard deviation in intensity units "
                                   "(images in 0..1; 0..1); 0 = off")

        def __post_init__(self):
            require(0 <= self.label_noise <= 1, "label_noise", "must be a share in [0, 1]")
            require(self.through_px == 0 or self.through_px >= 4, "through_px", "must be 0 (off) or at least 4 px")
            require(0 <= self.blur <= 16, "blur", "must be a standard deviation in [0, 16] px")
            require(0 <= self.noise <= 1, "noise", "must be a standard deviation in [0, 1]")

    def check(self, train, dataset) -> None:
        size = train.resolution
        if self.options.through_px >= size:
            raise BenchError(f"generator oracle: through_px={self.options.through_px} must be below the dataset's "
                             f"{size} px (it reduces images to that size and back)")

    def plan(self, n_train, n_images):
        o = self.options
        changes = [f"{k}={getattr(o, k)}" for k in ("pixel_noise", "label_noise", "through_px", "blur", "noise")
                   if getattr(o, k) != getattr(self.Options(), k)]
        return (f"renders {n_images} fresh images of the dataset's own process for train label rows (no training)"
                + (f", degraded: {', '.join(changes)}" if changes else ""))

    def fit(self, train, *, seed, device, workdir=None, dataset=None) -> None:
        if dataset is None:
            raise BenchError("generator oracle needs the dataset plugin (a dataset that can render new images)")
        self.dataset = dataset

    def sample(self, labels, *, resolution, seed, device):
        o = self.options
        rng = np.random.default_rng([seed, 0x0AC1E])
        rendered = self._rendered_rows(np.asarray(labels), rng)
        images = self.dataset.render(rendered, seed=seed, acquisition_noise=o.pixel_noise)
        if images.shape[-1] != resolution:
            raise BenchError(f"generator oracle: the dataset renders {images.shape[-1]} px, {resolution} px requested")
        if not (o.through_px or o.blur or o.noise):
            return images
        return self._degraded(images, rng)

    def _rendered_rows(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The rows images are rendered for: the requested ones, except a `label_noise` share, each rendered for
        another requested row with a different label set (or, where every row is the same, a random single class)."""
        rows = labels.copy()
        for i in np.flatnonzero(rng.random(len(labels)) < self.options.label_noise):
            others = np.flatnonzero((labels != labels[i]).any(axis=1))
            if len(others):
                rows[i] = labels[rng.choice(others)]
            else:
                rows[i] = 0
                rows[i, rng.choice(np.flatnonzero(labels[i] == 0))] = 1
        return rows

    def _degraded(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        o = self.options
        x = torch.from_numpy(images).double() / 255.0
        size = x.shape[-1]
        if o.through_px:
            small = F.interpolate(x, size=(o.through_px, o.through_px), mode="bilinear", antialias=True,
                                  align_corners=False)
            x = F.interpolate(small, size=(size, size), mode="bicubic", align_corners=False)
        if o.blur:
            x = gaussian_blur(x, o.blur)
        if o.noise:
            x = x + torch.from_numpy(rng.normal(0.0, o.noise, size=x.shape))
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, S, S), reflecting at the borders, truncated at 4 sigma."""
    radius = max(1, int(4 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    pad = min(radius, x.shape[-1] - 1)
    if pad < radius:  # a kernel wider than the image: reflect as far as it goes, then replicate
        x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        x = F.pad(x, (radius - pad,) * 4, mode="replicate")
    else:
        x = F.pad(x, (radius,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
