"""`real`: a control that hands out real training images in place of synthetic ones.

Running a mixing strategy with `real` instead of a diffusion generator separates the effect of the
mixing itself from the effect of the synthetic content.
"""

from __future__ import annotations

import numpy as np

from bench.api import Generator, LabelledImages


class RealImages(Generator):
    """Real train-role images with the requested label sets (the control for synthetic content)."""

    def plan(self, n_train, n_images):
        return f"draws {n_images} of the {n_train} real train-role images with the requested label sets (no training)"

    def fit(self, train: LabelledImages, *, seed, device, workdir=None) -> None:
        self.train = train
        self.by_labels: dict[bytes, np.ndarray] = {}
        keys = [row.tobytes() for row in train.labels]
        for key in set(keys):
            self.by_labels[key] = np.flatnonzero([k == key for k in keys])

    def _candidates(self, row: np.ndarray) -> np.ndarray:
        """Images with exactly this label set, else with its first class, else any image."""
        same = self.by_labels.get(np.asarray(row, dtype=np.uint8).tobytes())
        if same is not None:
            return same
        first = np.flatnonzero(self.train.labels[:, int(np.argmax(row))])
        return first if len(first) else np.arange(len(self.train))

    def picks(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The index of one train image for each requested row (`_candidates`), drawn from `rng`."""
        return np.array([rng.choice(self._candidates(row)) for row in labels], dtype=np.int64)

    def sample(self, labels, *, resolution, seed, device):
        images = self.train.take(self.picks(labels, np.random.default_rng([seed, 0x2EA1])))
        if images.shape[-1] != resolution:
            raise ValueError(f"real images are {images.shape[-1]}px, {resolution}px requested")
        return images
