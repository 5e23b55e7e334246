"""The Kaggle HPA 2018 file layout, read and written: `train.csv` (Id,Target) and
`train/<Id>_{red,green,blue,yellow}.png` (8-bit grayscale). Real and embedded data share it.

Every problem with a file is one BenchError naming the file (and row) and what was expected.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.errors import BenchError
from bench.hpa import CHANNELS, format_target, parse_target
from bench.records import atomic_target, write_text


def check_id(image_id: str, where: str) -> str:
    if not image_id or "/" in image_id or "\\" in image_id or ".." in image_id or image_id.strip() != image_id:
        raise BenchError(f"{where}: id {image_id!r} is not a plain file-name stem")
    return image_id


def read_labels_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """(ids, (N, 28) multi-hot labels) from a Kaggle `train.csv`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BenchError(f"{path}: starts with a UTF-8 byte-order mark; expected a plain 'Id,Target' header")
    try:
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BenchError(f"{path}: not a readable UTF-8 CSV ({exc})") from None
    if not rows or [c.strip() for c in rows[0]] != ["Id", "Target"]:
        raise BenchError(f"{path}: header {rows[0] if rows else []} is not the expected ['Id', 'Target']")
    ids, labels, seen = [], [], set()
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path} row {number}"
        if len(row) != 2:
            raise BenchError(f"{where}: expected 2 columns Id,Target, got {len(row)}")
        image_id = check_id(row[0], where)
        if image_id in seen:
            raise BenchError(f"{where}: duplicate id {image_id!r}")
        seen.add(image_id)
        ids.append(image_id)
        labels.append(parse_target(row[1], where=where))
    if not ids:
        raise BenchError(f"{path}: no rows after the header")
    return ids, np.stack(labels)


def read_channel(path: Path, resolution: int) -> np.ndarray:
    """One 8-bit grayscale PNG as uint8 (resolution, resolution); area-resized if it is larger."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode != "L":
                raise BenchError(f"{path}: image mode {img.mode!r}; expected 8-bit grayscale 'L'")
            if img.width != img.height:
                raise BenchError(f"{path}: size {img.width}x{img.height}; expected a square image")
            if img.width != resolution:
                img = img.resize((resolution, resolution), Image.Resampling.BOX)
            return np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise BenchError(f"{path}: missing channel file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise BenchError(f"{path}: unreadable or truncated PNG ({exc})") from None


def read_image(folder: Path, image_id: str, resolution: int) -> np.ndarray:
    """uint8 (4, S, S) in channel order red, green, blue, yellow."""
    return np.stack([read_channel(Path(folder) / f"{image_id}_{c}.png", resolution) for c in CHANNELS])


def write_layout(root: Path, ids: list[str], labels: np.ndarray, images) -> None:
    """Write `root/train.csv` and `root/train/<Id>_<color>.png`; train.csv last, so it marks completeness."""
    root = Path(root)
    (root / "train").mkdir(parents=True, exist_ok=True)
    for i, image_id in enumerate(ids):
        image = np.asarray(images[i])
        for channel, plane in zip(CHANNELS, image):
            with atomic_target(root / "train" / f"{check_id(image_id, 'id')}_{channel}.png") as tmp:
                Image.fromarray(plane, mode="L").save(tmp, format="PNG")
    write_text(root / "train.csv", "Id,Target\n" + "".join(
        f"{image_id},{format_target(row)}\n" for image_id, row in zip(ids, labels)))
