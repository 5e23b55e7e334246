"""Labelled images made elsewhere, read from a folder, in one of two layouts:

- the Kaggle layout: `train.csv` (Id,Target) and `train/<Id>_{red,green,blue,yellow}.png`;
- one 4-channel file per image, `<Id>.png` / `.tif` / `.tiff` (RGBA: red, green, blue, and yellow in
  the alpha channel) or `<Id>.npy` (uint8, (4, S, S) or (S, S, 4)), with `labels.csv` (Id,Target).

Every problem is one BenchError naming the file or the CSV row and what to do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.data.kaggle import read_image, read_labels_csv, scan
from bench.data.labels import CHANNELS
from bench.errors import BenchError

FORMATS = (".png", ".tif", ".tiff", ".npy")
KAGGLE_CSV, FILES_CSV = "train.csv", "labels.csv"


def is_kaggle_layout(root: Path) -> bool:
    return (root / KAGGLE_CSV).is_file() and (root / "train").is_dir()


def labels_path(root: Path, labels: str = "") -> Path:
    """The Id,Target CSV: `labels` when given, else train.csv (Kaggle layout) or labels.csv."""
    if labels:
        return Path(labels).expanduser()
    return root / (KAGGLE_CSV if is_kaggle_layout(root) else FILES_CSV)


def _image_files(root: Path, csv: Path) -> dict[str, str]:
    """id -> file name of a one-file-per-image folder; anything else in the folder (but the CSV) is refused."""
    found: dict[str, str] = {}
    for name in sorted(scan(root)):
        path = root / name
        if path == csv or name.startswith("."):
            continue
        stem, suffix = Path(name).stem, Path(name).suffix.lower()
        if suffix not in FORMATS:
            raise BenchError(f"{path}: not an image file of this layout ({', '.join(FORMATS)}); move it out of the "
                             f"folder")
        if stem in found:
            raise BenchError(f"{path}: a second file for id {stem!r} (beside {found[stem]}); keep one")
        found[stem] = name
    return found


def _files_of(root: Path, csv: Path) -> tuple[Path, dict[str, list[str]]]:
    """(folder of the image files, id -> its file names), for either layout."""
    if is_kaggle_layout(root):
        folder = root / "train"
        by_id: dict[str, list[str]] = {}
        for name in sorted(scan(folder)):
            stem, _, channel = Path(name).stem.rpartition("_")
            if Path(name).suffix != ".png" or channel not in CHANNELS:
                raise BenchError(f"{folder / name}: not <Id>_<red|green|blue|yellow>.png; move it out of the folder")
            by_id.setdefault(stem, []).append(name)
        return folder, by_id
    return root, {image_id: [name] for image_id, name in _image_files(root, csv).items()}


def check_image_folder(path: str | Path, labels: str = "") -> tuple[list[str], np.ndarray]:
    """(ids, labels) after checking, without decoding images, that every CSV row has its image files and every
    image file its CSV row."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise BenchError(f"generator.path {root}: not a folder; expected the Kaggle layout or one 4-channel file per "
                         f"image with {FILES_CSV}")
    csv = labels_path(root, labels)
    if not csv.is_file():
        raise BenchError(f"{csv}: no labels CSV (Id,Target); write one, or name it with generator.labels")
    ids, rows = read_labels_csv(csv)
    folder, files = _files_of(root, csv)
    kaggle = is_kaggle_layout(root)
    for number, image_id in enumerate(ids, start=2):
        have = files.get(image_id, [])
        if not have or (kaggle and len(have) < len(CHANNELS)):
            wanted = f"{image_id}_<color>.png (all four)" if kaggle else f"{image_id}.<png|tif|tiff|npy>"
            raise BenchError(f"{csv} row {number}: no image for id {image_id!r} in {folder} (expected {wanted}); "
                             f"add it or remove the row")
    listed = set(ids)
    for image_id, names in files.items():
        if image_id not in listed:
            raise BenchError(f"{folder / names[0]}: id {image_id!r} has no row in {csv}; add its labels or move the "
                             f"file out of the folder")
    return ids, rows


def source_signature(path: str | Path, labels: str = "") -> str:
    """Changes whenever the CSV or an image file is replaced (names, sizes, modification times, like git's index)."""
    root = Path(path).expanduser()
    csv = labels_path(root, labels)
    digest = hashlib.sha256(csv.read_bytes() if csv.is_file() else b"")
    folder = root / "train" if is_kaggle_layout(root) else root
    for name, stamp in sorted(scan(folder).items()):
        digest.update(f"{name}:{stamp}\n".encode())
    return digest.hexdigest()


def _resized(planes: np.ndarray, resolution: int, where: Path, resize: bool) -> np.ndarray:
    side = planes.shape[-1]
    if planes.shape[-2] != side:
        raise BenchError(f"{where}: size {planes.shape[-1]}x{planes.shape[-2]}; expected a square image")
    if side == resolution:
        return planes
    if not resize:
        raise BenchError(f"{where}: {side} px, the dataset's images are {resolution} px; pass generator.resize=true "
                         f"to resize (area down, bicubic up)")
    method = Image.Resampling.BOX if side > resolution else Image.Resampling.BICUBIC
    return np.stack([np.asarray(Image.fromarray(p).resize((resolution, resolution), method)) for p in planes])


def _read_file(path: Path, resolution: int, resize: bool) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BenchError(f"{path}: not a readable .npy array ({exc})") from None
        if array.ndim == 3 and array.shape[-1] == 4 and array.shape[0] != 4:
            array = np.moveaxis(array, -1, 0)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[0] != 4:
            raise BenchError(f"{path}: {array.dtype} {array.shape}; expected uint8 (4, S, S) or (S, S, 4): red, "
                             f"green, blue, yellow")
        return _resized(np.ascontiguousarray(array), resolution, path, resize)
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode != "RGBA":
                raise BenchError(f"{path}: image mode {img.mode!r} ({len(img.getbands())} channels); expected 4 "
                                 f"channels, RGBA (red, green, blue, yellow as alpha)")
            planes = np.moveaxis(np.asarray(img, dtype=np.uint8), -1, 0)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BenchError(f"{path}: unreadable or truncated image ({exc})") from None
    return _resized(planes, resolution, path, resize)


def read_image_folder(path: str | Path, labels: str, resolution: int, resize: bool) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N, 28), uint8 images (N, 4, S, S)) of every CSV row, in CSV order, at `resolution` px."""
    root = Path(path).expanduser()
    ids, rows = check_image_folder(root, labels)
    folder, files = _files_of(root, labels_path(root, labels))
    images = np.zeros((len(ids), 4, resolution, resolution), dtype=np.uint8)
    for i, image_id in enumerate(ids):
        if is_kaggle_layout(root):
            planes = read_image(folder, image_id, max(resolution, _side(folder / f"{image_id}_red.png")))
            images[i] = _resized(planes, resolution, folder / f"{image_id}_red.png", resize)
        else:
            images[i] = _read_file(folder / files[image_id][0], resolution, resize)
    return rows, images


def _side(path: Path) -> int:
    try:
        with Image.open(path) as img:
            return img.width
    except (UnidentifiedImageError, OSError) as exc:
        raise BenchError(f"{path}: unreadable image ({exc})") from None
