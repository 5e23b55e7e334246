"""Set sample grids: one row per class, drawn as one mosaic; large images shown at screen size."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.data.labels import CLASS_NAMES
from bench.data.preview import _tile, composite, save_class_rows


def test_a_large_image_is_shown_as_block_means():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(4, 512, 512), dtype=np.uint8)
    shown = _tile(image, 64)
    assert shown.shape == (64, 64, 3)
    np.testing.assert_allclose(shown[0, 0], composite(image)[:8, :8].mean(axis=(0, 1)), rtol=1e-6)
    assert _tile(image[:, :32, :32], 64).shape == (32, 32, 3)  # small images are drawn as they are


def test_each_class_row_holds_its_images_then_grey_tiles(tmp_path):
    images = np.zeros((3, 4, 32, 32), dtype=np.uint8)
    images[:, 0] = 255  # red: not grey, not white
    labels = np.zeros((3, len(CLASS_NAMES)), dtype=int)
    labels[:, 0] = 1  # class 0: three images; class 1: one; every other class: none
    labels[0, 1] = 1
    save_class_rows(images, labels, CLASS_NAMES, tmp_path / "grid.png", per_class=4)
    pixels = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB")).astype(int)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60)
    grey = (np.abs(pixels - 217) <= 2).all(axis=-1)
    rows_with_red = np.flatnonzero(red.any(axis=1))
    assert red.sum() > 0 and grey.sum() > red.sum()  # 4 images drawn; 28 x 4 - 4 tiles grey
    assert rows_with_red.max() - rows_with_red.min() < pixels.shape[0] / 10  # only the first two class rows
