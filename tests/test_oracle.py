"""The `oracle` generator: fresh images of the embedded dataset's own process, never one of its images, and its
controlled degradations; refused in one line where the dataset cannot render."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import invoke

from bench import config
from bench.api import capabilities
from bench.data.images import LabelledImages
from bench.errors import BenchError
from bench.synthetic.sets import obtain, set_key

CPU = torch.device("cpu")


def dataset(n: int = 400, resolution: int = 32, seed: int = 0):
    return config.choice("dataset", "synthetic-cells", {"n_images": n, "resolution": resolution, "seed": seed})


def oracle(**options):
    return config.choice("generator", "oracle", options)


def sample(data_choice, labels: np.ndarray, seed: int = 0, **options) -> np.ndarray:
    generator = oracle(**options).create()
    data = data_choice.create().load()
    generator.check(data, data_choice.create())
    generator.fit(data, seed=0, device=CPU, dataset=data_choice.create())
    return generator.sample(labels, resolution=data.resolution, seed=seed, device=CPU)


def digests(images: np.ndarray) -> set[str]:
    return {hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images}


def test_no_oracle_image_is_an_image_of_the_dataset():
    """Every image of the dataset (train, validation and test roles alike) against every oracle image: none equal,
    for two sampling seeds, also without the pixel noise that alone could make images differ."""
    choice = dataset(n=200)
    data = choice.create().load()
    own = digests(data.take(np.arange(len(data))))
    fresh = {seed: sample(choice, data.labels, seed=seed) for seed in (0, 1)}
    for images in fresh.values():
        assert images.shape == (len(data), 4, 32, 32) and images.dtype == np.uint8
        assert not own & digests(images)
        assert len(digests(images)) == len(images)  # and no two fresh images alike
    clean = sample(choice, data.labels, pixel_noise=False)
    assert not own & digests(clean)
    # the noise-free oracle is the same field without its noise: same structures, noise-sized differences
    diff = clean.astype(int) - fresh[0].astype(int)
    assert 2.0 < np.abs(diff).mean() < 8.0 and np.abs(diff.mean()) < 0.5


def test_oracle_images_show_their_labels():
    """The green channel carries the classes: rendering the same rows again gives the same images (seeded), and
    other rows give other greens over the same structures."""
    choice = dataset(n=60)
    data = choice.create().load()
    a = sample(choice, data.labels[:20])
    assert np.array_equal(a, sample(choice, data.labels[:20]))
    assert not np.array_equal(a, sample(choice, data.labels[:20], seed=1))
    swapped = sample(choice, data.labels[:20][::-1])
    same_rows = (data.labels[:20] == data.labels[:20][::-1]).all(axis=1)
    differs = [not np.array_equal(a[i, 1], swapped[i, 1]) for i in np.flatnonzero(~same_rows)]
    assert all(differs)


def test_label_noise_renders_a_share_for_other_rows():
    choice = dataset(n=200)
    data = choice.create().load()
    labels = data.labels
    generator = oracle(label_noise=0.5).create()
    rows = generator._rendered_rows(labels, np.random.default_rng(0))
    changed = (rows != labels).any(axis=1)
    assert 0.35 < changed.mean() < 0.55  # half drawn, minus the draws of an identical label set
    everyone = oracle(label_noise=1.0).create()._rendered_rows(labels, np.random.default_rng(0))
    assert (everyone != labels).any(axis=1).all()
    clean = sample(choice, labels[:30])
    noisy = sample(choice, labels[:30], label_noise=1.0)
    assert not np.array_equal(clean[:, 1], noisy[:, 1])


@pytest.mark.parametrize("option,levels", [("noise", [0.02, 0.1]), ("blur", [0.5, 2.0]), ("through_px", [24, 8])])
def test_degradations_grow_with_their_strength(option, levels):
    """Distance from the undegraded oracle images grows with each degradation's strength; structures stay."""
    choice = dataset(n=40)
    labels = choice.create().load().labels[:16]
    base = sample(choice, labels).astype(float)
    distances = [np.abs(sample(choice, labels, **{option: level}).astype(float) - base).mean() for level in levels]
    assert 0 < distances[0] < distances[1], distances


def test_each_degradation_is_a_set_of_its_own():
    keys = set()
    for options in ({}, {"pixel_noise": False}, {"noise": 0.05}, {"blur": 1.0}, {"through_px": 16},
                    {"label_noise": 0.5}):
        cfg = config.build(overrides=("generator.name=oracle", "strategy=concat",
                                      *(f"generator.{k}={v}" for k, v in options.items())))
        keys.add(set_key(cfg, "data", "split"))
    assert len(keys) == 6


def test_capability_is_declared_by_the_dataset_not_named_by_the_core():
    assert "render" in capabilities(config.choice("dataset", "synthetic-cells").plugin)
    assert "render" not in capabilities(config.choice("dataset", "hpa-kaggle", {"path": "."}).plugin)


@pytest.mark.parametrize("args,message", [
    (["run", "--generator", "oracle", "--strategy", "concat", "--dataset", "hpa-kaggle", "dataset.path=."],
     "generator 'oracle' needs a dataset that can render new images"),
    (["run", "--generator", "oracle", "--strategy", "concat", "generator.blur=-1"], "generator.blur: must be"),
    (["run", "--generator", "oracle", "--strategy", "concat", "generator.label_noise=1.5"],
     "generator.label_noise: must be"),
    (["run", "--generator", "oracle", "--strategy", "concat", "generator.through_px=2"], "generator.through_px"),
    (["generate", "--generator", "oracle", "--dataset", "hpa-kaggle", "dataset.path=."], "does not offer it"),
])
def test_bad_oracle_requests_are_one_line_exit_2(tmp_path, args, message):
    result, written = invoke(args, tmp_path)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert written == []


def test_a_resolution_at_or_above_the_images_is_refused_before_anything_is_written(tmp_path):
    cfg = config.build(overrides=("generator.name=oracle", "strategy=concat", "generator.through_px=32",
                                  "dataset.resolution=32", "dataset.n_images=40"))
    data = cfg.dataset.create().load()
    with pytest.raises(BenchError, match="through_px=32 must be below the dataset's 32 px"):
        obtain(cfg, data, data.fingerprint, "split", tmp_path / "synthetic", CPU, print)
    assert not (tmp_path / "synthetic").exists()


def test_an_oracle_set_is_built_like_any_set(tmp_path):
    cfg = config.build(overrides=("generator.name=oracle", "strategy=concat", "dataset.n_images=60",
                                  "dataset.resolution=32", "synthetic.per_real=0.5"))
    data = cfg.dataset.create().load()
    train = data.subset(np.arange(40))
    built = obtain(cfg, train, data.fingerprint, "split", tmp_path, CPU, print)
    assert isinstance(built, LabelledImages) and len(built) == 20
    folder = next(p for p in Path(tmp_path).iterdir() if p.name.startswith("oracle-"))
    assert (folder / "manifest.json").exists() and (folder / "grid.png").exists()
    again = obtain(cfg, train, data.fingerprint, "split", tmp_path, CPU, print)
    assert again.fingerprint == built.fingerprint
