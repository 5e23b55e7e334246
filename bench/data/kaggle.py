"""The Kaggle HPA 2018 file layout, read and written: `train.csv` (Id,Target) and
`train/<Id>_{red,green,blue,yellow}.png` (8-bit grayscale). Real and embedded data share it.

Every problem with a file is one BenchError naming the file (and row) and what was expected.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.data.labels import CHANNELS, format_target, parse_target
from bench.errors import BenchError
from bench.files import atomic_target, write_text


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
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BenchError(f"{path} row {number}: byte {line[exc.start]:#04x} at column {exc.start + 1} is not "
                             f"UTF-8; save the file as UTF-8") from None
    try:
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    except csv.Error as exc:
        raise BenchError(f"{path}: not a readable CSV ({exc})") from None
    if not rows or [c.strip() for c in rows[0]] != ["Id", "Target"]:
        raise BenchError(f"{path}: header {rows[0] if rows else []} is not the expected ['Id', 'Target']")
    while len(rows) > 1 and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # blank lines at the end of the file (an editor's trailing newline) carry no row
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


def scan(folder: Path) -> dict[str, tuple[int, int]]:
    """name -> (size, mtime_ns) of the files in a folder (one directory read, like git's index)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name: (e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.is_file()}
    except OSError:
        return {}


def first_missing_files(listing: dict, ids: list[str]) -> list[str | None]:
    """For each id, the name of its first missing channel file, or None when all four exist."""
    return [next((f"{i}_{c}.png" for c in CHANNELS if f"{i}_{c}.png" not in listing), None) for i in ids]


def files_signature(listing: dict, ids: list[str]) -> str:
    """Changes whenever a channel file of these ids is replaced, so a stale cache is never read."""
    digest = hashlib.sha256()
    for i in ids:
        for c in CHANNELS:
            digest.update(f"{i}_{c}.png:{listing[f'{i}_{c}.png']}\n".encode())
    return digest.hexdigest()


def read_channel(path: Path, resolution: int) -> tuple[np.ndarray, int]:
    """One 8-bit grayscale PNG as uint8 (resolution, resolution), area-resized, and its original side."""
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise BenchError(f"{path}: a {img.format} file, not a PNG; the Kaggle layout holds lossless PNGs "
                                 f"(convert it, or remove the id from train.csv)")
            img.load()
            if img.mode != "L":
                raise BenchError(f"{path}: image mode {img.mode!r}; expected 8-bit grayscale 'L'")
            if img.width != img.height:
                raise BenchError(f"{path}: size {img.width}x{img.height}; expected a square image")
            if img.width < resolution:
                raise BenchError(f"{path}: size {img.width}x{img.height} is smaller than the requested "
                                 f"{resolution}px; choose a smaller dataset.resolution")
            side = img.width
            if side != resolution:
                img = img.resize((resolution, resolution), Image.Resampling.BOX)
            return np.asarray(img, dtype=np.uint8), side
    except FileNotFoundError:
        raise BenchError(f"{path}: missing channel file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BenchError(f"{path}: unreadable or truncated PNG ({exc})") from None


def read_image(folder: Path, image_id: str, resolution: int) -> np.ndarray:
    """uint8 (4, S, S) in channel order red, green, blue, yellow; the four files must share one size."""
    planes, sides = zip(*(read_channel(Path(folder) / f"{image_id}_{c}.png", resolution) for c in CHANNELS))
    if len(set(sides)) > 1:
        odd = next(c for c, side in zip(CHANNELS, sides) if side != sides[0])
        raise BenchError(f"{Path(folder) / f'{image_id}_{odd}.png'}: size {sides[CHANNELS.index(odd)]}px differs "
                         f"from the {sides[0]}px of {image_id}_{CHANNELS[0]}.png")
    return np.stack(planes)


def write_layout(root: Path, ids: list[str], labels: np.ndarray, images) -> None:
    """Write `root/train.csv` and `root/train/<Id>_<color>.png`; train.csv last, so it marks completeness."""
    root = Path(root)
    (root / "train").mkdir(parents=True, exist_ok=True)
    for i, image_id in enumerate(ids):
        image = np.asarray(images[i])
        for channel, plane in zip(CHANNELS, image):
            with atomic_target(root / "train" / f"{check_id(image_id, 'id')}_{channel}.png") as tmp:
                Image.fromarray(plane, mode="L").save(tmp, format="PNG")
    write_labels_csv(root / "train.csv", ids, labels)


def write_labels_csv(path: Path, ids: list[str], labels: np.ndarray) -> None:
    """`Id,Target` with space-separated class ids, as Kaggle's train.csv; read back by read_labels_csv."""
    write_text(path, "Id,Target\n" + "".join(f"{i},{format_target(row)}\n" for i, row in zip(ids, labels)))
