"""`synthetic-cells`: the embedded default dataset, procedurally rendered, no download needed.

Each image is a field of 2-4 cells in HPA channel order: red microtubules radiating from the
MTOC, green protein of interest, blue nucleus, yellow ER. The green channel draws the image's
classes as spatial patterns relative to those structures (bench/datasets/cells_patterns.py); each
class is expressed by each cell with probability 0.85, at a random intensity, over noise.
Label sets are drawn from the joint label distribution of the real Kaggle train.csv
(bench/datasets/hpa_label_sets.csv), so class frequencies, labels per image and co-occurrences
match HPA, and the rare classes are as rare as they really are.

Image i depends only on (seed, i, resolution): the structures come from one random stream and the
green patterns from another, so red/blue/yellow do not depend on the labels.

`render` (the `bench.api.Dataset` capability the `oracle` generator uses) draws fresh images of the
same process from streams that carry the tag `FRESH_STREAM` and so never meet a stream of the
dataset's own images: no image of any seed's dataset can reappear among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from bench.api import NUM_CLASSES, Dataset, LabelledImages, cached_arrays, content_fingerprint, option, require
from bench.datasets.cells_render import render_many

RENDER_VERSION = 1  # bump whenever the rendered pixels change (tests pin a fingerprint)
FRESH_STREAM = 0x0AC1E  # the tag of every fresh image's random streams (the dataset's own have none)


LABEL_SETS = "hpa_label_sets.csv"  # written by tools/make_label_stats.py from the real train.csv


@cache
def label_set_distribution() -> tuple[np.ndarray, np.ndarray]:
    """(distinct label sets as multi-hot rows, probability of each) from the Kaggle label-set counts."""
    text = resources.files(__package__).joinpath(LABEL_SETS).read_text(encoding="utf-8")
    sets, counts = [], []
    for line in text.splitlines()[2:]:  # a '# source_sha256' line, then the header count,labels
        count, labels = line.split(",")
        row = np.zeros(NUM_CLASSES, dtype=np.uint8)
        row[[int(t) for t in labels.split()]] = 1
        sets.append(row)
        counts.append(int(count))
    counts = np.array(counts, dtype=np.float64)
    return np.stack(sets), counts / counts.sum()


def sample_labels(n: int, seed: int) -> np.ndarray:
    sets, p = label_set_distribution()
    rng = np.random.default_rng([seed, 0xA11])
    return sets[rng.choice(len(sets), size=n, p=p)]


def render_dataset(n_images: int, resolution: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    labels = sample_labels(n_images, seed)
    images = render_many(labels, resolution, [(seed, i) for i in range(n_images)])
    ids = [f"synth-{seed}-{i:05d}" for i in range(n_images)]
    return ids, labels, images


class SyntheticCells(Dataset):
    """Embedded procedural 4-channel cell fields; 28 HPA classes as green patterns, real label statistics."""

    @dataclass
    class Options:
        n_images: int = option(3000, "images rendered (deterministic from the seed)")
        resolution: int = option(64, "image side in pixels")
        seed: int = option(0, "rendering seed (a different seed is a different dataset)")

        def __post_init__(self):
            require(self.n_images >= 10, "n_images", "must be >= 10")
            require(16 <= self.resolution <= 1024, "resolution", "must be in 16..1024")
            require(self.seed >= 0, "seed", "must be >= 0")

    def load(self) -> LabelledImages:
        o = self.options
        key = f"synthetic-cells-v{RENDER_VERSION}-n{o.n_images}-r{o.resolution}-s{o.seed}"
        ids, labels, images = cached_arrays(key, lambda: render_dataset(o.n_images, o.resolution, o.seed))
        return LabelledImages(ids, labels, images, content_fingerprint(ids, labels, images))

    def render(self, labels: np.ndarray, *, seed: int, acquisition_noise: bool = True) -> np.ndarray:
        """Fresh fields for the label rows, from streams tagged `FRESH_STREAM` (never one of a dataset image)."""
        o = self.options
        streams = [(o.seed, FRESH_STREAM, seed, i) for i in range(len(labels))]
        return render_many(np.asarray(labels), o.resolution, streams, acquisition_noise)
