"""The Kaggle-layout reader on real HPA files and on damaged copies: one line naming file and row."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from bench.datasets.hpa_kaggle import HPAKaggle
from bench.errors import BenchError
from bench.kaggle_layout import read_image, read_labels_csv


def test_real_sample_loads_in_hpa_channel_order(shared_hpa):
    root = shared_hpa / "sample"
    data = HPAKaggle(HPAKaggle.Options(path=str(root), resolution=512)).load()
    assert len(data) == 4
    first = data.ids[0]
    for channel, color in enumerate(("red", "green", "blue", "yellow")):
        plane = np.asarray(Image.open(root / "train" / f"{first}_{color}.png").convert("L"))
        assert np.array_equal(data.take([0])[0, channel], plane)
    assert data.labels[data.ids.index("000a6c98-bb9b-11e8-b2b9-ac1f6b6435d0")].nonzero()[0].tolist() == [0, 1, 2, 7]


def test_downsizing_averages_areas(shared_hpa):
    full = read_image(shared_hpa / "sample" / "train", "837e738c-bba8-11e8-b2ba-ac1f6b6435d0", 512)
    small = read_image(shared_hpa / "sample" / "train", "837e738c-bba8-11e8-b2ba-ac1f6b6435d0", 128)
    assert small.shape == (4, 128, 128)
    assert abs(float(small.mean()) - float(full.mean())) < 1.0


@pytest.fixture
def copy(shared_hpa, tmp_path):
    shutil.copytree(shared_hpa / "sample", tmp_path / "hpa")
    return tmp_path / "hpa"


@pytest.mark.parametrize("csv_text,message", [
    ("\ufeffId,Target\na,1\n", "byte-order mark"),
    ("Id\na\n", "is not the expected ['Id', 'Target']"),
    ("Id,Target\na,1\na,2\n", "row 3: duplicate id 'a'"),
    ("Id,Target\na,28\n", "row 2: label '28' is not a class id 0..27"),
    ("Id,Target\na,\n", "row 2: empty Target"),
    ("Id,Target\na,1 x\n", "row 2: label 'x'"),
    ("Id,Target\n../etc,1\n", "row 2: id '../etc' is not a plain file-name stem"),
    ("Id,Target\nsub/a,1\n", "row 2: id 'sub/a' is not a plain file-name stem"),
    ("Id,Target\na,1,2\n", "row 2: expected 2 columns"),
    ("Id,Target\n", "no rows after the header"),
])
def test_bad_csv(tmp_path, csv_text, message):
    path = tmp_path / "train.csv"
    path.write_text(csv_text, encoding="utf-8")
    with pytest.raises(BenchError) as err:
        read_labels_csv(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def _load(root):
    return HPAKaggle(HPAKaggle.Options(path=str(root), resolution=64)).load()


def test_missing_channel_file(copy):
    victim = next((copy / "train").glob("*_yellow.png"))
    victim.unlink()
    with pytest.raises(BenchError, match=f"{victim.name}: missing channel file"):
        _load(copy)


def test_truncated_png(copy):
    victim = next((copy / "train").glob("*_green.png"))
    victim.write_bytes(victim.read_bytes()[:500])
    with pytest.raises(BenchError, match=f"{victim.name}: unreadable or truncated PNG"):
        _load(copy)


def test_wrong_mode(copy):
    victim = next((copy / "train").glob("*_red.png"))
    Image.new("RGB", (512, 512)).save(victim)
    with pytest.raises(BenchError, match="image mode 'RGB'; expected 8-bit grayscale 'L'"):
        _load(copy)


def test_not_square(copy):
    victim = next((copy / "train").glob("*_blue.png"))
    Image.new("L", (512, 300)).save(victim)
    with pytest.raises(BenchError, match="size 512x300; expected a square image"):
        _load(copy)


def test_missing_folder(tmp_path):
    with pytest.raises(BenchError, match="not a folder with train.csv"):
        _load(tmp_path / "nowhere")
