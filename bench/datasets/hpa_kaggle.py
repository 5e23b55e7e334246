"""`hpa-kaggle`: labelled images in the Kaggle HPA 2018 layout at a path you give.

Reads `train.csv` and `train/<Id>_{red,green,blue,yellow}.png`, stacked red, green, blue, yellow,
area-resized to `resolution`. The first use decodes every image once into a memory-mapped cache
(`bench data prepare` does the same ahead of time, in parallel); later runs read the cache.
Works on the Kaggle download and on `bench data export` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from bench.api import Dataset, LabelledImages, check_kaggle_folder, load_kaggle_folder, option, require


class HPAKaggle(Dataset):
    """Labelled images in the Kaggle HPA 2018 layout (train.csv + train/<Id>_<color>.png) at `path`."""

    @dataclass
    class Options:
        path: str = option(help="the Kaggle folder: train.csv and train/<Id>_<colour>.png", runtime=True)
        resolution: int = option(512, "side in pixels the images are resized to when cached (512: Kaggle's own size, "
                                 "no resizing)")
        subset: bool = option(False, "use only the ids whose files are present (changes the fingerprints)")
        skip_bad: bool = option(False, "skip unreadable images, list them, and change the fingerprint")
        workers: int = option(0, "PNG decoding processes when caching; 0 = one per CPU core", runtime=True)
        cache_dir: Optional[str] = option(None, "where decoded images are cached (default: $BENCH_CACHE_DIR or "
                                                "~/.cache/synthloc-bench)", runtime=True)

        def __post_init__(self):
            require(16 <= self.resolution <= 4096, "resolution", "must be in 16..4096")
            require(self.workers >= 0, "workers", "must be >= 0")

    def check(self) -> None:
        check_kaggle_folder(self.options.path)

    def load(self) -> LabelledImages:
        o = self.options
        return load_kaggle_folder(o.path, resolution=o.resolution, subset=o.subset, skip_bad=o.skip_bad,
                                  workers=o.workers, cache_dir=o.cache_dir)
