"""Config: dataclass defaults, YAML/TOML files, CLI overrides, one-line errors, stable hashes."""

from __future__ import annotations

import pytest

from bench import config
from bench.errors import BenchError


def test_defaults_are_the_embedded_no_synthetic_resnet18_run():
    cfg = config.build()
    d = cfg.to_dict()
    assert [d[k]["name"] for k in config.PLUGIN_SECTIONS] == ["synthetic-cells", "none", "none", "resnet18"]
    assert d["split"] == {"name": "stratified", "seed": 0, "val_fraction": 0.1, "test_fraction": 0.1,
                          "train_fraction": 1.0, "allow_empty_classes": False}
    assert d["seed"] == 0 and d["train"]["epochs"] >= 1


def test_paper_split_takes_its_own_seed_and_has_no_test_role():
    split = config.build(overrides=("split.name=paper",)).split
    assert (split.seed, split.val_fraction, split.test_fraction) == (42, 0.1, 0.0)
    with pytest.raises(BenchError, match="split.test_fraction: the paper split has no test role"):
        config.build(overrides=("split.name=paper", "split.test_fraction=0.1"))


@pytest.mark.parametrize("suffix,text", [
    (".yaml", "classifier: resnet34\ntrain:\n  epochs: 3\n  lr: 3.0e-4\ndataset:\n  n_images: 500\n"),
    (".toml", 'classifier = "resnet34"\n[train]\nepochs = 3\nlr = 3e-4\n[dataset]\nn_images = 500\n'),
])
def test_config_files(tmp_path, suffix, text):
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    cfg = config.build(path)
    assert cfg.classifier.name == "resnet34"
    assert (cfg.train.epochs, cfg.train.lr, cfg.dataset.options.n_images) == (3, 3e-4, 500)


def test_precedence_file_then_flags_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\ntrain: {epochs: 3}\n")
    cfg = config.build(path, {"seed": 2, "train.epochs": 4}, ("train.epochs=5",))
    assert (cfg.seed, cfg.train.epochs) == (2, 5)


def test_overrides_are_typed():
    cfg = config.build(overrides=("train.lr=1e-4", "train.flip=false", "classifier.pretrained=yes",
                                  "dataset.resolution=32", "train.loss=focal"))
    assert cfg.train.lr == 1e-4 and cfg.train.flip is False and cfg.classifier.options.pretrained is True
    assert cfg.dataset.options.resolution == 32 and cfg.train.loss == "focal"


@pytest.mark.parametrize("overrides,message", [
    (("train.epoch=3",), "unknown config key train.epoch (did you mean train.epochs?)"),
    (("trian.epochs=3",), "unknown config key trian (did you mean train?)"),
    (("classifier.pretrain=1",), "unknown config key classifier.pretrain (did you mean classifier.pretrained?)"),
    (("train.epochs=abc",), "train.epochs: expected int, got 'abc'"),
    (("train.loss=hinge",), "train.loss: expected one of bce, focal, arcface, got 'hinge'"),
    (("train.epochs=0",), "train.epochs: must be >= 1"),
    (("train.lr=-1",), "train.lr: must be > 0"),
    (("dataset.name=hpa-kaggle",), "dataset.path: required option is missing"),
    (("classifier.name=nope",), "unknown classifier 'nope'"),
    (("seed=-3",), "seed: expected a non-negative integer"),
    (("noequals",), "expected key=value"),
    (("train=3",), "train: expected a mapping of options"),
])
def test_bad_values_give_one_clear_line(overrides, message):
    with pytest.raises(BenchError) as err:
        config.build(overrides=overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name,text,message", [
    ("c.yaml", "train: [1, 2", "is not valid"),
    ("c.toml", "train = [", "is not valid"),
    ("c.yaml", "- 1\n- 2\n", "expected a mapping of sections"),
    ("c.json", "{}", "expected a .yaml, .yml or .toml file"),
])
def test_bad_config_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BenchError, match=message):
        config.build(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(BenchError, match="cannot read config .*missing.yaml"):
        config.build(tmp_path / "missing.yaml")


def test_hash_ignores_key_order_and_changes_with_any_value(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("seed: 1\ntrain: {epochs: 3, lr: 0.001}\n")
    b.write_text("train: {lr: 0.001, epochs: 3}\nseed: 1\n")
    assert config.build(a).hash() == config.build(b).hash()
    assert config.build(a).hash() != config.build(a, {"seed": 2}).hash()
    assert config.build(a).hash() != config.build(a, overrides=("train.lr=0.002",)).hash()


def test_runtime_options_are_recorded_but_not_hashed():
    base = ("dataset.name=hpa-kaggle", "dataset.resolution=128")
    a = config.build(overrides=base + ("dataset.path=/data/a", "dataset.workers=2"))
    b = config.build(overrides=base + ("dataset.path=/mnt/b", "dataset.workers=8", "dataset.cache_dir=/scratch"))
    assert a.hash() == b.hash() and a.group_hash() == b.group_hash()
    assert a.to_dict()["dataset"]["path"] == "/data/a"  # still recorded in config.json
    assert "path" not in a.to_dict(identity_only=True)["dataset"]
    c = config.build(overrides=("dataset.name=hpa-kaggle", "dataset.resolution=256", "dataset.path=/data/a"))
    assert c.hash() != a.hash()


def test_group_hash_ignores_only_the_seed():
    a, b = config.build(overrides=("seed=1",)), config.build(overrides=("seed=2",))
    assert a.hash() != b.hash() and a.group_hash() == b.group_hash()
    assert config.build(overrides=("train.lr=0.01",)).group_hash() != a.group_hash()


@pytest.mark.parametrize("override", ["split.seed=3", "split.val_fraction=0.2", "split.test_fraction=0.2"])
def test_shipped_protocol_fixes_seed_and_fractions(override):
    with pytest.raises(BenchError, match="is fixed by the shipped protocol hpa2018-v1"):
        config.build(overrides=("split.name=hpa2018-v1", override))
    split = config.build(overrides=("split.name=hpa2018-v1",)).split
    assert (split.seed, split.val_fraction, split.test_fraction) == (0, 0.1, 0.1)


def test_any_exception_of_an_options_dataclass_is_one_line():
    from dataclasses import dataclass

    @dataclass
    class Options:
        x: int = 1

        def __post_init__(self):
            if self.x > 1:
                raise ValueError("x must be small")

    with pytest.raises(BenchError, match=r"^generator: x must be small \(options given: x=2\)$"):
        config.to_dataclass(Options, {"x": "2"}, "generator")


def test_helpers_that_moved_to_bench_api_still_import_from_bench_config():
    import bench.api

    for name in ("require", "OptionError", "runtime_field"):
        with pytest.warns(DeprecationWarning, match=f"bench.config.{name} moved to bench.api.{name}"):
            assert getattr(config, name) is getattr(bench.api, name)
    with pytest.raises(AttributeError):
        config.no_such_name  # noqa: B018
