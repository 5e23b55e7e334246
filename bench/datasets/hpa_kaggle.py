"""`hpa-kaggle`: labelled images in the Kaggle HPA 2018 layout at a path you give.

Reads `train.csv` and `train/<Id>_{red,green,blue,yellow}.png`, stacked red, green, blue, yellow,
area-resized to `resolution`. Works on the Kaggle download and on `bench data export` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.api import Dataset, LabelledImages, content_fingerprint
from bench.config import require
from bench.errors import BenchError
from bench.kaggle_layout import read_image, read_labels_csv


class HPAKaggle(Dataset):
    """Labelled images in the Kaggle HPA 2018 layout (train.csv + train/<Id>_<color>.png) at `path`."""

    @dataclass
    class Options:
        path: str
        resolution: int = 512

        def __post_init__(self):
            require(16 <= self.resolution <= 4096, "resolution", "must be in 16..4096")

    def load(self) -> LabelledImages:
        root = Path(self.options.path).expanduser()
        if not root.is_dir():
            raise BenchError(f"dataset.path {root}: not a folder with train.csv and train/")
        ids, labels = read_labels_csv(root / "train.csv")
        size = self.options.resolution
        images = np.empty((len(ids), 4, size, size), dtype=np.uint8)
        for i, image_id in enumerate(tqdm(ids, desc="decode PNGs", unit="img", leave=False, disable=None)):
            images[i] = read_image(root / "train", image_id, size)
        return LabelledImages(ids, labels, images, content_fingerprint(ids, labels, images))
