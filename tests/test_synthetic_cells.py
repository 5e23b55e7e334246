"""The embedded dataset: real label statistics, determinism, class patterns, the Kaggle layout."""

from __future__ import annotations

import collections
import hashlib

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from bench.data.kaggle import write_layout
from bench.data.labels import NUM_CLASSES
from bench.datasets.cells_render import render_field
from bench.datasets.hpa_kaggle import HPAKaggle
from bench.datasets.synthetic_cells import SyntheticCells, label_set_distribution, sample_labels

# Pinned output of the renderer: if this changes, the pixels changed; bump RENDER_VERSION
# (so stale caches are not reused) and update the value.
GOLDEN_FINGERPRINT_N20_R32_S0 = "2c515b142ed97caee3cd7550ffc92721ad1aa5b51bc223f38d0afa35ffd46501"


LABEL_SETS = REPO / "bench" / "datasets" / "hpa_label_sets.csv"
LABEL_SETS_SHA256 = "3fb45befae149bf3ccf32864c09758b06e229e92ef96161cf98f658484222731"


def test_label_set_file_is_the_one_the_tool_writes_from_the_real_train_csv(shared_hpa):
    import importlib.util

    path = shared_hpa / "train.csv"
    assert hashlib.sha256(LABEL_SETS.read_bytes()).hexdigest() == LABEL_SETS_SHA256
    source = hashlib.sha256(path.read_bytes()).hexdigest()
    assert LABEL_SETS.read_text().splitlines()[0] == f"# source_sha256: {source}"
    spec = importlib.util.spec_from_file_location("make_label_stats", REPO / "tools" / "make_label_stats.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.label_set_csv(path) == LABEL_SETS.read_text()


def test_label_statistics_match_the_real_train_csv(shared_hpa):
    path = shared_hpa / "train.csv"
    targets = pd.read_csv(path)["Target"].str.split()
    real_classes = collections.Counter(int(t) for row in targets for t in row)
    real_sizes = collections.Counter(len(row) for row in targets)
    sets, p = label_set_distribution()
    counts = np.rint(p * len(targets)).astype(int)
    assert counts.sum() == len(targets) == 31072
    assert dict(enumerate((sets * counts[:, None]).sum(axis=0))) == {c: real_classes[c] for c in range(NUM_CLASSES)}
    sizes = collections.Counter()
    for row, n in zip(sets, counts):
        sizes[int(row.sum())] += int(n)
    assert dict(sizes) == dict(real_sizes)


def test_sampled_labels_follow_the_real_frequencies():
    labels = sample_labels(20000, seed=0)
    sets, p = label_set_distribution()
    expected = (sets * p[:, None]).sum(axis=0)
    observed = labels.mean(axis=0)
    assert np.abs(observed - expected).max() < 0.01  # Nucleoplasm ~0.41, Cytosol ~0.26, ...
    assert labels.sum(axis=1).min() >= 1


def test_same_seed_same_bytes_other_seed_other_bytes():
    def load(seed):
        return SyntheticCells(SyntheticCells.Options(n_images=20, resolution=32, seed=seed)).load()

    a, b, c = load(0), load(0), load(1)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert np.array_equal(a.take(np.arange(20)), b.take(np.arange(20)))
    if GOLDEN_FINGERPRINT_N20_R32_S0:
        assert a.fingerprint == GOLDEN_FINGERPRINT_N20_R32_S0


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_any_resolution(resolution):
    image = render_field(np.eye(NUM_CLASSES, dtype=np.uint8)[0], resolution, (0, 0))
    assert image.shape == (4, resolution, resolution) and image.dtype == np.uint8
    assert 5 < image.mean() < 120


def test_labels_change_only_the_green_channel():
    labels = np.eye(NUM_CLASSES, dtype=np.uint8)
    a = render_field(labels[0], 64, (3, 7))
    b = render_field(labels[23], 64, (3, 7))
    assert np.array_equal(a[[0, 2, 3]], b[[0, 2, 3]])  # red, blue, yellow: structures only
    assert not np.array_equal(a[1], b[1])


def test_every_class_draws_a_distinct_green_pattern():
    greens = np.stack([render_field(row, 64, (5, 1))[1].astype(float)
                       for row in np.eye(NUM_CLASSES, dtype=np.uint8)])
    background = render_field(np.zeros(NUM_CLASSES, dtype=np.uint8), 64, (5, 1))[1].astype(float)
    peak = np.abs(greens - background).max(axis=(1, 2))  # grey levels; small organelles are small but bright
    assert peak.min() > 40, f"class {peak.argmin()} barely changes the green channel"
    distance = np.abs(greens[:, None] - greens[None]).sum(axis=(2, 3))
    off_diagonal = distance[~np.eye(NUM_CLASSES, dtype=bool)]
    assert off_diagonal.min() > 300


def test_nuclear_classes_stay_in_the_nucleus_and_membrane_on_the_outline():
    rows = np.eye(NUM_CLASSES, dtype=np.uint8)
    image = render_field(rows[0], 128, (2, 4))  # nucleoplasm
    nucleus = image[2] > np.percentile(image[2], 85)
    green = image[1].astype(float)
    assert green[nucleus].mean() > 3 * green[~nucleus].mean()
    cytosol = render_field(rows[25], 128, (2, 4))[1].astype(float)
    assert cytosol[~nucleus].mean() > cytosol[nucleus].mean()


def test_kaggle_layout_round_trip_gives_the_same_data(tmp_path):
    data = SyntheticCells(SyntheticCells.Options(n_images=12, resolution=32)).load()
    write_layout(tmp_path, data.ids, data.labels, data.take(np.arange(12)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train", "train.csv"]
    assert len(list((tmp_path / "train").glob("*.png"))) == 48
    loaded = HPAKaggle(HPAKaggle.Options(path=str(tmp_path), resolution=32)).load()
    assert loaded.ids == data.ids
    assert np.array_equal(loaded.labels, data.labels)
    assert np.array_equal(loaded.take(np.arange(12)), data.take(np.arange(12)))
    assert loaded.fingerprint == data.fingerprint


def test_a_parallel_render_gives_the_same_bytes(monkeypatch):
    """Large renders use worker processes; the images do not depend on how many (dataset and fresh renders)."""
    from bench.datasets.synthetic_cells import render_dataset

    monkeypatch.setenv("BENCH_RENDER_WORKERS", "1")
    serial = render_dataset(24, 32, 5)[2]
    fresh = SyntheticCells(SyntheticCells.Options(n_images=24, resolution=32)).render(
        sample_labels(24, 1), seed=2)
    monkeypatch.setenv("BENCH_RENDER_WORKERS", "3")
    assert np.array_equal(render_dataset(24, 32, 5)[2], serial)
    assert np.array_equal(SyntheticCells(SyntheticCells.Options(n_images=24, resolution=32)).render(
        sample_labels(24, 1), seed=2), fresh)
