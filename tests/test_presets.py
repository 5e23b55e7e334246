"""Every preset resolves, is listed, and runs on the embedded dataset (small sizes, a local weights file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bench_cli, stand_in_weights

from bench import config, registry
from bench.config import presets

PRESETS = sorted(presets.available())


def test_presets_command_lists_every_preset():
    result = bench_cli("presets")
    assert result.returncode == 0, result.stderr
    for name, description in presets.available().items():
        assert name in result.stdout and description
    assert {"controlled", "paper/resnet18-bce", "paper/resnet34-bce", "paper/resnet18-focal",
            "paper/resnet34-arcface", "paper/vit-b16", "paper/swin-b", "paper/mixloss-resnet34",
            "paper/mixrep-resnet18"} <= set(PRESETS)


def test_preset_is_below_file_flags_and_overrides(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("train: {lr: 0.5}\n")
    cfg = config.build(file, {"train.epochs": 3}, ("train.batch_size=8",), preset="paper/resnet18-bce")
    assert (cfg.train.lr, cfg.train.epochs, cfg.train.batch_size, cfg.train.schedule) == (0.5, 3, 8, "step")
    assert cfg.classifier.name == "resnet18" and cfg.classifier.options.pretrained is True


def test_paper_quirks_are_explicit_flags():
    mix = config.build(preset="paper/mixloss-resnet34")
    assert mix.strategy.options.form == "batch" and mix.train.plateau_mode == "min" and mix.train.paper_warmup
    assert mix.classifier.options.init == "copy-red" and mix.train.select == "last"
    assert mix.synthetic.labels == "uniform" and mix.generator.name == "ddpm"
    arc = config.build(preset="paper/resnet34-arcface")
    assert arc.classifier.options.head_dropout_in_eval and arc.train.loss == "arcface"
    controlled = [config.build(preset="controlled", flags={"classifier.name": c}) for c in ("resnet18", "vit_b16")]
    assert controlled[0].train == controlled[1].train


def test_unknown_preset_is_one_line():
    result = bench_cli("run", "--preset", "paper/resnet18", "--dry-run")
    assert result.returncode == 2
    assert result.stderr.startswith("bench: error: unknown preset 'paper/resnet18' (did you mean paper/resnet18-bce?)")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("imagenet-stand-in")


@pytest.mark.slow  # a run per preset: ViT-B and Swin-B have 86M-88M parameters, the MixModels train a DDPM first
@pytest.mark.parametrize("name", PRESETS)
def test_preset_runs_on_the_embedded_dataset(name, tmp_path, weights_dir):
    cfg = config.build(preset=name)
    small = ["dataset.n_images=120", "dataset.resolution=32", "train.epochs=2", "train.eval_batch_size=64",
             "fidelity.epochs=1", "fidelity.cas=false"]
    if cfg.classifier.options.pretrained:
        arch = registry.get("classifier", cfg.classifier.name).arch
        small.append(f"classifier.weights={stand_in_weights(weights_dir, arch)[0]}")
    if hasattr(cfg.classifier.options, "input_size"):
        small.append("classifier.input_size=32")  # the 224 px the paper resized to is minutes per step here
        small.append("train.batch_size=48")  # 2 steps an epoch: each AdamW step over 86-88M parameters costs ~1 s here
    if cfg.generator.name == "ddpm":
        small += ["generator.epochs=1", "generator.sampling_steps=10"]
    result = bench_cli("run", "--preset", name, "--runs-dir", str(tmp_path / "runs"), "--synthetic-dir",
                       str(tmp_path / "synthetic"), *small)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = next((tmp_path / "runs").glob("*/done")).parent if cfg.generator.name == "none" else _main_run(tmp_path)
    recorded = json.loads((run_dir / "config.json").read_text())
    assert recorded["train"]["schedule"] == cfg.train.schedule and recorded["classifier"]["name"] == cfg.classifier.name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and len(metrics["history"]) == 2
    assert metrics["selection"].startswith({"best": "epoch with the best", "last": "last epoch",
                                            "min_val_loss": "epoch with the lowest"}[cfg.train.select])


def _main_run(tmp_path: Path) -> Path:
    """The preset's run folder, not the reference run the fidelity metrics trained."""
    runs = [d.parent for d in (tmp_path / "runs").glob("*/done")]
    return next(r for r in runs if json.loads((r / "config.json").read_text())["generator"]["name"] != "none")
