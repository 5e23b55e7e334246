"""`hpa-kaggle`: labelled images in the Kaggle HPA 2018 layout at a path you give.

Reads `train.csv` and `train/<Id>_{red,green,blue,yellow}.png`, stacked red, green, blue, yellow,
area-resized to `resolution`. The first use decodes every image once into a memory-mapped cache
(`bench data prepare` does the same ahead of time, in parallel); later runs read the cache.
Works on the Kaggle download and on `bench data export` output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench import image_cache
from bench.api import Dataset, LabelledImages
from bench.cache import cache_dir
from bench.config import require, runtime_field
from bench.errors import BenchError
from bench.kaggle_layout import files_signature, first_missing_files, read_labels_csv, scan


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

    def cache_folder(self, csv_bytes: bytes) -> Path:
        o = self.options
        key = hashlib.sha256(str(Path(o.path).expanduser().resolve()).encode() + csv_bytes).hexdigest()[:16]
        base = Path(o.cache_dir).expanduser() if o.cache_dir else cache_dir() / "hpa-kaggle"
        return base / f"{Path(o.path).name}-{key}" / f"r{o.resolution}"

    def labelled_ids(self, root: Path, listing: dict):
        ids, labels = read_labels_csv(root / "train.csv")
        missing = first_missing_files(listing, ids)
        lacking = [name for name in missing if name]
        if lacking:
            if not self.options.subset:
                raise BenchError(f"{root / 'train' / lacking[0]}: missing channel file ({len(lacking)} of the "
                                 f"{len(ids)} ids in train.csv lack files); to use the {len(ids) - len(lacking)} "
                                 f"complete ones pass dataset.subset=true")
            keep = [k for k, name in enumerate(missing) if name is None]
            if not keep:
                raise BenchError(f"{root / 'train'}: none of the {len(ids)} ids in train.csv has all four "
                                 f"channel files")
            ids, labels = [ids[k] for k in keep], labels[keep]
        return ids, labels

    def load(self) -> LabelledImages:
        root = Path(self.options.path).expanduser()
        if not root.is_dir():
            raise BenchError(f"dataset.path {root}: not a folder with train.csv and train/")
        listing = scan(root / "train")
        ids, labels = self.labelled_ids(root, listing)
        folder = self.cache_folder((root / "train.csv").read_bytes())
        try:
            cached = image_cache.build(folder, root / "train", ids, labels, self.options.resolution,
                                       signature=files_signature(listing, ids),
                                       skip_bad=self.options.skip_bad, workers=self.options.workers)
        except OSError as exc:
            raise BenchError(f"image cache {folder}: {exc.strerror or exc}") from None
        for bad in cached.bad:
            print(f"skipped bad image {bad['id']}: {bad['error']}")
        return LabelledImages(cached.ids, cached.labels, cached.images, cached.fingerprint, rows=cached.rows,
                              is_subset=self.options.subset or bool(cached.bad))
