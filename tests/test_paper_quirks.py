"""The paper's remaining quirks as flags: scoring without model.eval(), rotated validation images, and the
transformers' test-time resize and normalisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, bench_cli, folders

from bench import config
from bench.datasets.synthetic_cells import SyntheticCells
from bench.evaluate.predict import paper_test_inputs, predict


def _trained_model():
    torch.manual_seed(0)
    model = config.build().classifier.create()
    model.train()
    with torch.no_grad():  # give BatchNorm running statistics unlike any single image's
        for _ in range(3):
            model(torch.rand(8, 4, 64, 64) * 0.5)
    return model.eval()


def test_no_eval_scores_each_image_with_its_own_batchnorm_statistics_and_leaves_the_model_alone():
    data = SyntheticCells(SyntheticCells.Options(n_images=12, resolution=64)).load()
    model = _trained_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cpu = torch.device("cpu")
    normal, buggy = predict(model, data, 4, cpu), predict(model, data, 4, cpu, no_eval=True)
    assert not np.allclose(normal, buggy)
    alone = predict(model, data.subset(np.array([5])), 1, cpu, no_eval=True)[0]
    assert np.allclose(buggy[5], alone)  # one image at a time: its score does not depend on the others
    assert not model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_validation_rotation_is_drawn_from_the_seed():
    data = SyntheticCells(SyntheticCells.Options(n_images=12, resolution=32)).load()
    model, cpu = _trained_model(), torch.device("cpu")
    a, b = (predict(model, data, 4, cpu, rotate_seed=7) for _ in range(2))
    assert np.array_equal(a, b) and not np.allclose(a, predict(model, data, 4, cpu))


@pytest.mark.slow
def test_the_no_eval_flag_changes_test_scores_and_keeps_validation(tmp_path):
    for extra in ((), ("train.no_eval_inference=true",)):  # 64 px: the last feature map is 2x2, as BatchNorm needs
        result = bench_cli("run", *TINY, "dataset.resolution=64", *extra, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    plain, buggy = sorted(folders(tmp_path / "runs"), key=lambda r: "no_eval_inference" in (r / "config.json")
                          .read_text() and json.loads((r / "config.json").read_text())["train"]["no_eval_inference"])
    m_plain, m_buggy = (json.loads((r / "metrics.json").read_text()) for r in (plain, buggy))
    assert m_plain["val"] == m_buggy["val"]  # same training, validation in eval mode
    assert m_plain["test"] != m_buggy["test"]


def test_no_eval_where_batchnorm_sees_one_value_is_one_line(tmp_path):
    result = bench_cli("run", *TINY, "--generator", "real", "--strategy", "concat", "train.no_eval_inference=true",
                       cwd=tmp_path)  # 32 px: a 1x1 map
    assert result.returncode == 2 and "use larger images" in result.stderr and "Traceback" not in result.stderr
    assert "epoch 1/" not in result.stdout and not (tmp_path / "synthetic").exists()  # before the set and training
    assert not (tmp_path / "runs").exists() or not folders(tmp_path / "runs")


def test_transformer_test_inputs_are_resized_and_normalised_as_the_papers_pipelines_did():
    x = torch.rand(2, 4, 32, 32)
    assert paper_test_inputs(x, "none", 224) is x
    half = paper_test_inputs(x, "half", None)
    assert torch.allclose(half, 2 * x - 1)  # Swin: mean 0.5, std 0.5 -> [-1, 1]
    imagenet = paper_test_inputs(x, "imagenet", 48)
    assert imagenet.shape == (2, 4, 48, 48)  # resized outside the model, to its input size
    resized = torch.nn.functional.interpolate(x, size=(48, 48), mode="bilinear", align_corners=False)
    assert torch.allclose(imagenet[:, 1], (resized[:, 1] - 0.456) / 0.224)  # green: ImageNet's G statistics
    assert torch.allclose(imagenet[:, 3], (resized[:, 3] - 0.485) / 0.229)  # yellow takes red's


@pytest.mark.slow  # two ViT-B/16 runs
def test_the_transformer_quirk_changes_test_scores_and_keeps_validation(tmp_path):
    small = ("dataset.n_images=96", "dataset.resolution=32", "train.epochs=1", "classifier.name=vit_b16",
             "classifier.input_size=32")
    for extra in ((), ("train.test_normalization=half",)):
        result = bench_cli("run", *small, *extra, "--runs-dir", str(tmp_path / "runs"))
        assert result.returncode == 0, result.stderr
    plain, quirky = sorted(folders(tmp_path / "runs"), key=lambda r: "test_normalization" in
                           (r / "config.json").read_text())
    m_plain, m_quirky = (json.loads((r / "metrics.json").read_text()) for r in (plain, quirky))
    assert m_plain["val"] == m_quirky["val"]  # trained and validated alike; only test inputs differ
    assert m_plain["test"] != m_quirky["test"]


def test_the_paper_presets_carry_the_quirks():
    mix = config.build(preset="paper/mixrep-resnet18")
    assert mix.train.no_eval_inference and mix.train.val_rotation
    baseline = config.build(preset="paper/resnet18-bce")
    assert baseline.train.val_rotation and not baseline.train.no_eval_inference  # its submission called eval()
    assert not config.build(preset="controlled").train.val_rotation
    assert config.build(preset="paper/vit-b16").train.test_normalization == "imagenet"
    assert config.build(preset="paper/swin-b").train.test_normalization == "half"
    assert config.build(preset="paper/resnet18-bce").train.test_normalization == "none"
