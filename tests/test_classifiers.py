"""Every registered classifier: 4-channel input, forward == head(features), init modes, offline weights."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, bench_cli, stand_in_weights

from baselines.classifiers.heads import ArcFaceHead
from baselines.classifiers.resnet import ResNet18
from baselines.classifiers.timm_model import adapt_stem
from bench.errors import BenchError
from bench.train.losses import arcface


@pytest.fixture(scope="module")
def rgb_weights(tmp_path_factory):
    """A stand-in for the ImageNet file: timm's RGB ResNet-18 state dict as safetensors (offline here)."""
    return stand_in_weights(tmp_path_factory.mktemp("weights"), "resnet18", seed=1)


@pytest.mark.parametrize("init", ["random", "copy-red", "timm"])
def test_stem_init_modes(init, rgb_weights):
    path, rgb = rgb_weights
    model = ResNet18(ResNet18.Options(pretrained=True, init=init, weights=str(path)))
    stem = model.backbone.conv1.weight.detach()
    assert stem.shape == (64, 4, 7, 7)
    assert torch.equal(model.backbone.layer4[1].conv2.weight, rgb["layer4.1.conv2.weight"])  # the rest: pretrained
    if init == "copy-red":  # the paper's MixModel: RGB filters, then red's again for yellow
        assert torch.equal(stem[:, :3], rgb["conv1.weight"]) and torch.equal(stem[:, 3], rgb["conv1.weight"][:, 0])
    elif init == "timm":  # R, G, B, R scaled by 3/4
        expected = torch.cat([rgb["conv1.weight"], rgb["conv1.weight"][:, :1]], dim=1) * 0.75
        assert torch.allclose(stem, expected) and torch.allclose(stem, adapt_stem(rgb["conv1.weight"], "timm", 4))
    else:  # the paper's baselines: a new random stem
        assert not torch.allclose(stem[:, :3], rgb["conv1.weight"])


def test_stem_init_needs_pretrained():
    with pytest.raises(BenchError, match="classifier.init: copy-red and timm need pretrained=true"):
        from bench import config
        config.build(overrides=("classifier.init=copy-red",))


@pytest.mark.slow  # a real process: huggingface_hub reads HF_HUB_OFFLINE at import
def test_pretrained_offline_says_so(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = bench_cli("run", "--pretrained", "--runs-dir", str(tmp_path / "runs"), *TINY, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "no ImageNet weights for resnet18.tv_in1k" in lines[0] and "classifier.weights=PATH" in lines[0]


def test_missing_weights_file_is_one_line(tmp_path):
    result = bench_cli("run", "--dry-run", "classifier.pretrained=true", f"classifier.weights={tmp_path}/none.pt")
    assert result.returncode == 2 and result.stderr.startswith("bench: error: classifier.weights: no such file")


@pytest.mark.parametrize("dropout_in_eval", [False, True])
def test_arcface_eval_determinism(dropout_in_eval):
    torch.manual_seed(0)
    head = ArcFaceHead(64, 28, dropout_in_eval=dropout_in_eval)
    head(torch.randn(8, 64))  # one training step's worth of BatchNorm statistics
    head.eval()
    f = torch.randn(4, 64)
    first, second = head(f), head(f)
    assert first.abs().max() <= 1.0 + 1e-6  # cosines, unscaled as in the paper
    assert torch.equal(first, second) != dropout_in_eval  # the paper's quirk makes inference random


def test_arcface_loss_by_hand():
    cosine = torch.tensor([[0.6, -0.2, -0.99]])
    targets = torch.tensor([[1.0, 0.0, 1.0]])
    s, m = 30.0, 0.5
    theta = torch.acos(torch.tensor(0.6))
    positive = s * torch.cos(theta + m)
    fallback = s * (-0.99 - m * torch.sin(torch.tensor(torch.pi - m)))  # theta + m would pass pi
    logits = torch.stack([positive, torch.tensor(s * -0.2), fallback])[None]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert torch.allclose(arcface(s, m)(cosine, targets), expected)


def test_arcface_head_needs_arcface_loss():
    from bench import config

    with pytest.raises(BenchError, match="train.loss=arcface and classifier.head=arcface go together"):
        config.build(overrides=("classifier.head=arcface",))


# ------------------------------------------------------------------ `timm`: any architecture by name
@pytest.mark.slow
@pytest.mark.parametrize("arch", ["convnext_atto", "mobilenetv3_small_050", "resnet10t"])
def test_a_timm_architecture_not_wrapped_runs_on_the_embedded_dataset(arch, tmp_path):
    import json

    result = bench_cli("run", "--classifier", "timm", f"classifier.arch={arch}", "--runs-dir", str(tmp_path), *TINY,
                       "train.epochs=1")
    assert result.returncode == 0, result.stderr
    (config,) = [json.loads(p.read_text()) for p in tmp_path.glob("*/config.json")]
    assert config["classifier"]["name"] == "timm" and config["classifier"]["arch"] == arch


def test_timm_keeps_every_option_and_loads_a_weights_file(tmp_path):
    from baselines.classifiers.timm_any import AnyTimm

    path, rgb = stand_in_weights(tmp_path, "convnext_atto", seed=2)
    model = AnyTimm(AnyTimm.Options(arch="convnext_atto", pretrained=True, init="copy-red", weights=str(path),
                                    head="arcface"))
    stem = model.backbone.stem[0].weight.detach()
    assert torch.equal(stem[:, :3], rgb["stem.0.weight"]) and torch.equal(stem[:, 3], rgb["stem.0.weight"][:, 0])
    assert isinstance(model.classifier, ArcFaceHead)
    x = torch.rand(2, 4, 32, 32)
    assert model.eval()(x).shape == (2, 28)


def test_timm_with_an_input_size_runs_a_transformer_at_its_own_size():
    from baselines.classifiers.timm_any import AnyTimm

    model = AnyTimm(AnyTimm.Options(arch="vit_tiny_patch16_224", input_size=32)).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 4, 48, 48)).shape == (2, 28)


@pytest.mark.parametrize("arch,message", [
    ("convnext_tiniest", "classifier.arch: timm does not know this architecture (closest: convnext_tiny"),
    ("no_such_net_at_all", "classifier.arch: timm does not know this architecture (timm.list_models() lists them)"),
])
def test_an_architecture_timm_does_not_know_is_one_line_with_its_closest_names(arch, message):
    result = bench_cli("run", "--dry-run", "--classifier", "timm", f"classifier.arch={arch}")
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_the_named_classifiers_are_timm_with_their_architecture_fixed():
    from baselines.classifiers.timm_any import AnyTimm

    torch.manual_seed(0)
    named = ResNet18()
    torch.manual_seed(0)
    general = AnyTimm(AnyTimm.Options(arch="resnet18"))
    for a, b in zip(named.state_dict().values(), general.state_dict().values()):
        assert torch.equal(a, b)
