"""`hpa-kaggle`: labelled images in the Kaggle HPA 2018 layout at a path you give.

Reads `train.csv` and `train/<Id>_{red,green,blue,yellow}.png`, stacked red, green, blue, yellow,
area-resized to `resolution`. The first use decodes every image once into a memory-mapped cache
(`bench data prepare` does the same ahead of time, in parallel); later runs read the cache.
Works on the Kaggle download and on `bench data export` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from bench.api import Dataset, LabelledImages, load_kaggle_folder, require, runtime_field


class HPAKaggle(Dataset):
    """Labelled images in the Kaggle HPA 2018 layout (train.csv + train/<Id>_<color>.png) at `path`."""

    @dataclass
    class Options:
        path: str = runtime_field()
        resolution: int = 512
        subset: bool = False  # use only the ids whose files are present (changes the fingerprints)
        skip_bad: bool = False  # skip unreadable images, list them, and change the fingerprint
        workers: int = runtime_field(default=0)  # decoding processes; 0 = one per CPU core
        cache_dir: Optional[str] = runtime_field(default=None)  # default: $BENCH_CACHE_DIR or ~/.cache

        def __post_init__(self):
            require(16 <= self.resolution <= 4096, "resolution", "must be in 16..4096")
            require(self.workers >= 0, "workers", "must be >= 0")

    def load(self) -> LabelledImages:
        o = self.options
        return load_kaggle_folder(o.path, resolution=o.resolution, subset=o.subset, skip_bad=o.skip_bad,
                                  workers=o.workers, cache_dir=o.cache_dir)
