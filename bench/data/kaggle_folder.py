"""A Kaggle-layout folder (`train.csv` + `train/<Id>_<color>.png`) as labelled images, through the verified cache.

The first load decodes every image once into a memory-mapped cache (`bench data prepare` does the
same ahead of time, in parallel); later loads read the cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bench.data import image_cache
from bench.data.cache import cache_dir
from bench.data.images import LabelledImages
from bench.data.kaggle import files_signature, first_missing_files, read_labels_csv, scan
from bench.errors import BenchError


def _cache_folder(path: Path, resolution: int, csv_bytes: bytes, root: str | None) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode() + csv_bytes).hexdigest()[:16]
    base = Path(root).expanduser() if root else cache_dir() / "hpa-kaggle"
    return base / f"{path.name}-{key}" / f"r{resolution}"


def _labelled_ids(root: Path, listing: dict, subset: bool):
    ids, labels = read_labels_csv(root / "train.csv")
    missing = first_missing_files(listing, ids)
    lacking = [name for name in missing if name]
    if lacking:
        if not subset:
            raise BenchError(f"{root / 'train' / lacking[0]}: missing channel file ({len(lacking)} of the "
                             f"{len(ids)} ids in train.csv lack files); to use the {len(ids) - len(lacking)} "
                             f"complete ones pass dataset.subset=true")
        keep = [k for k, name in enumerate(missing) if name is None]
        if not keep:
            raise BenchError(f"{root / 'train'}: none of the {len(ids)} ids in train.csv has all four "
                             f"channel files")
        ids, labels = [ids[k] for k in keep], labels[keep]
    return ids, labels


def check_kaggle_folder(path: str | Path) -> Path:
    """The folder, or a one-line error if it is not in the Kaggle layout (looks at the folder, not the images)."""
    root = Path(path).expanduser()
    layout = f"the Kaggle layout: {root / 'train.csv'} (Id,Target) and {root / 'train'}/<Id>_<color>.png"
    if not root.is_dir():
        raise BenchError(f"dataset.path {root}: not a folder; expected {layout}")
    if not (root / "train.csv").is_file():
        raise BenchError(f"dataset.path {root}: no train.csv; expected {layout}")
    if not (root / "train").is_dir():
        raise BenchError(f"{root / 'train'}: missing folder; expected {layout}")
    if not os.access(root / "train", os.R_OK | os.X_OK):
        raise BenchError(f"{root / 'train'}: not readable (permissions); let this user read it")
    return root


def load_kaggle_folder(path: str | Path, *, resolution: int, subset: bool = False, skip_bad: bool = False,
                       workers: int = 0, cache_dir: str | None = None,
                       skip_hint: str = "pass dataset.skip_bad=true to skip bad images") -> LabelledImages:
    """Every labelled image of a Kaggle-layout folder at `resolution` px (area-resized), cached and verified.

    `subset`: use only the ids whose four files are present; `skip_bad`: skip unreadable images (both
    change the fingerprint); `workers`: decoding processes (0 = one per core).
    """
    root = check_kaggle_folder(path)
    listing = scan(root / "train")
    ids, labels = _labelled_ids(root, listing, subset)
    folder = _cache_folder(root, resolution, (root / "train.csv").read_bytes(), cache_dir)
    try:
        cached = image_cache.build(folder, root / "train", ids, labels, resolution,
                                   signature=files_signature(listing, ids), skip_bad=skip_bad, workers=workers,
                                   skip_hint=skip_hint)
    except OSError as exc:
        raise BenchError(f"image cache {folder}: {exc.strerror or exc}") from None
    for bad in cached.bad:
        print(f"skipped bad image {bad['id']}: {bad['error']}")
    return LabelledImages(cached.ids, cached.labels, cached.images, cached.fingerprint, rows=cached.rows,
                          is_subset=subset or bool(cached.bad),
                          skipped=[{"id": bad["id"], "error": bad["error"]} for bad in cached.bad])
