"""The plugin registry and the contract of every registered plugin, parametrised like timm's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench import config, registry
from bench.api import LabelledImages, content_fingerprint
from bench.data.labels import NUM_CLASSES
from bench.errors import BenchError
from bench.synthetic.sets import fit_arguments, obtain
from bench.train import losses

BUILTINS = {
    "dataset": {"synthetic-cells", "hpa-kaggle"},
    "generator": {"none", "real", "ddpm", "ddpm-unet", "edm"},
    "classifier": {"resnet18", "resnet34", "resnet50"},
    "strategy": {"none", "concat"},
}


@pytest.mark.parametrize("kind", sorted(BUILTINS))
def test_builtins_are_registered_through_entry_points(kind):
    infos = {info.name: info for info in registry.discover(kind)}
    assert BUILTINS[kind] <= set(infos)
    for name in BUILTINS[kind]:
        assert infos[name].error is None
        assert infos[name].distribution == "synthloc-bench"
        assert infos[name].description


@pytest.mark.parametrize("kind", sorted(BUILTINS))
def test_unknown_name_lists_valid_ones(kind):
    with pytest.raises(BenchError) as err:
        registry.get(kind, "no-such-plugin")
    message = str(err.value)
    assert f"unknown {kind} 'no-such-plugin'" in message
    assert all(name in message for name in BUILTINS[kind])


def test_close_name_gets_a_suggestion():
    with pytest.raises(BenchError, match="did you mean 'resnet18'"):
        registry.get("classifier", "resnet19")


def _tiny_images(n=6, size=32, seed=0) -> LabelledImages:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 4, size, size), dtype=np.uint8)
    labels = (rng.random((n, NUM_CLASSES)) < 0.2).astype(np.uint8)
    ids = [f"x{i}" for i in range(n)]
    return LabelledImages(ids, labels, images, content_fingerprint(ids, labels, images))


def working(kind: str) -> list[str]:
    """The plugins of a kind that load: a broken third-party plugin is no contract case (see test_plugin_package)."""
    return [info.name for info in registry.discover(kind) if info.error is None]


def quick(kind: str, name: str, **options):
    """The plugin with its `quick_options` (few steps, one epoch, small inputs)."""
    return config.choice(kind, name, {**registry.get(kind, name).quick_options, **options}).create()


def _made_elsewhere(train: LabelledImages, folder: Path) -> Path:
    """The images of `train` as a folder of .npy files with labels.csv, as a user's own generator would leave."""
    from bench.data.kaggle import write_labels_csv

    folder.mkdir(parents=True)
    for image_id, image in zip(train.ids, train.take(np.arange(len(train)))):
        np.save(folder / f"{image_id}.npy", image)
    write_labels_csv(folder / "labels.csv", train.ids, train.labels)
    return folder


@pytest.mark.parametrize("name", working("classifier"))
def test_classifier_contract(name):
    torch.manual_seed(0)
    model = quick("classifier", name).eval()
    x = torch.rand(2, 4, 32, 32)
    with torch.no_grad():
        features = model.features(x)
        logits = model.head(features)
        assert features.ndim == 2 and features.shape[0] == 2
        assert logits.shape == (2, NUM_CLASSES)
        torch.testing.assert_close(model(x), logits)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 4


@pytest.mark.parametrize("name", working("strategy"))
def test_strategy_contract(name):
    torch.manual_seed(0)
    strategy = quick("strategy", name)
    model = quick("classifier", "resnet18")
    criterion = losses.bce
    real_x, real_y = torch.rand(4, 4, 32, 32), (torch.rand(4, NUM_CLASSES) < 0.2).float()
    n_syn = strategy.synthetic_batch_size(4)
    assert (n_syn > 0) == strategy.needs_synthetic
    syn_x = torch.rand(n_syn, 4, 32, 32) if n_syn else None
    syn_y = (torch.rand(n_syn, NUM_CLASSES) < 0.2).float() if n_syn else None
    loss = strategy.loss(model, criterion, real_x, real_y, syn_x, syn_y, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", working("generator"))
def test_generator_contract(name, tmp_path):
    import dataclasses

    train = _tiny_images()
    fields = {f.name for f in dataclasses.fields(registry.get("generator", name).Options)}
    if "path" in fields:  # images made elsewhere: a folder of them, served as they are
        generator = quick("generator", name, path=str(_made_elsewhere(train, tmp_path / "made")))
        generator.check(train, None)
        labels, images = generator.existing(32)
        assert np.array_equal(labels, train.labels) and np.array_equal(images, train.take(np.arange(len(train))))
        assert generator.source() == generator.source()  # a fingerprint of the files, stable while they are
        return
    generator = quick("generator", name)
    if not generator.produces_images:  # a control: the pipeline makes no synthetic set for it
        cfg = config.build(overrides=(f"generator.name={name}",))
        assert obtain(cfg, train, "d", "s", Path("unused"), torch.device("cpu"), print) is None
        return
    # a generator that needs a dataset capability (the oracle renders) gets the embedded dataset at 32 px
    dataset = config.choice("dataset", "synthetic-cells", {"resolution": 32}).create()
    generator.check(train, dataset)
    if generator.stages:  # trained stage by stage, each in a folder of its own
        for stage in generator.stages_needed():
            generator.fit_stage(stage, train, seed=0, device=torch.device("cpu"), workdir=tmp_path / stage)
    else:
        generator.fit(train, seed=0, device=torch.device("cpu"), **fit_arguments(generator, workdir=tmp_path,
                                                                                  dataset=dataset))
    out = generator.sample(train.labels[:3], resolution=32, seed=0, device=torch.device("cpu"))
    assert out.dtype == np.uint8 and out.shape == (3, 4, 32, 32)
    again = generator.sample(train.labels[:3], resolution=32, seed=0, device=torch.device("cpu"))
    assert np.array_equal(out, again)  # sampling depends on its seed alone


def test_synthetic_cells_dataset_contract():
    cls = registry.get("dataset", "synthetic-cells")
    data = cls(cls.Options(n_images=12, resolution=32)).load()
    assert len(data) == 12 and data.resolution == 32
    assert data.labels.shape == (12, NUM_CLASSES) and data.labels.sum(axis=1).min() >= 1
    assert data.take([0, 5]).shape == (2, 4, 32, 32) and data.take([0]).dtype == np.uint8
    assert len(data.fingerprint) == 64


def test_hpa_kaggle_dataset_contract(shared_hpa):
    cls = registry.get("dataset", "hpa-kaggle")
    data = cls(cls.Options(path=str(shared_hpa / "sample"), resolution=64)).load()
    assert len(data) == 4 and data.take([0, 1, 2, 3]).shape == (4, 4, 64, 64)


def test_real_control_returns_train_images_with_the_requested_labels():
    from generators.real import RealImages

    train = _tiny_images(n=30)
    generator = RealImages()
    generator.fit(train, seed=0, device=torch.device("cpu"))
    wanted = train.labels[[3, 7, 7]]
    out = generator.sample(wanted, resolution=32, seed=0, device=torch.device("cpu"))
    pool = train.take(np.arange(30))
    for image, row in zip(out, wanted):
        matches = [i for i in range(30) if np.array_equal(pool[i], image)]
        assert matches and any(np.array_equal(train.labels[i], row) for i in matches)
    again = generator.sample(wanted, resolution=32, seed=0, device=torch.device("cpu"))
    assert np.array_equal(out, again)
