"""Mixing strategies against hand computations on a fixed batch; lambda draws; class-aware pairing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.classifiers.resnet import ResNet18
from baselines.strategies.mix_loss import MixLoss
from baselines.strategies.mix_rep import MixRep
from baselines.strategies.mixing import MixOptions, draw_lambda
from bench.train.losses import bce
from bench.train.pairing import SyntheticPool


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    model = ResNet18().eval()  # eval: features do not depend on what else is in the batch
    real_x, syn_x = torch.rand(6, 4, 32, 32), torch.rand(6, 4, 32, 32)
    real_y = (torch.rand(6, 28) < 0.3).float()
    syn_y = F.one_hot(torch.arange(6) % 28, 28).float()
    return model, real_x, real_y, syn_x, syn_y


def lambdas(options: MixOptions, n: int, seed: int) -> torch.Tensor:
    return draw_lambda(options, n, torch.Generator().manual_seed(seed), "cpu")[:, 0]


@pytest.mark.parametrize("joint", [True, False])
def test_mix_loss_batch_form_by_hand(batch, joint):
    model, real_x, real_y, syn_x, syn_y = batch
    strategy = MixLoss(MixLoss.Options(form="batch", joint_forward=joint))
    got = strategy.loss(model, bce, real_x, real_y, syn_x, syn_y, torch.Generator().manual_seed(3))
    lam = lambdas(strategy.options, 6, 3)
    l_real = F.binary_cross_entropy_with_logits(model(real_x), real_y)  # scalar over B x 28, as in the paper
    l_syn = F.binary_cross_entropy_with_logits(model(syn_x), syn_y)
    expected = torch.mean(lam * l_real + (1 - lam) * l_syn)  # the paper's code: mean_i[lam_i L_real + ...]
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got, lam.mean() * l_real + (1 - lam.mean()) * l_syn, atol=1e-6)


def test_mix_loss_per_sample_form_by_hand(batch):
    model, real_x, real_y, syn_x, syn_y = batch
    strategy = MixLoss(MixLoss.Options(form="per-sample"))
    got = strategy.loss(model, bce, real_x, real_y, syn_x, syn_y, torch.Generator().manual_seed(3))
    lam = lambdas(strategy.options, 6, 3)
    terms = []
    for i in range(6):
        l_r = F.binary_cross_entropy_with_logits(model(real_x[i:i + 1]), real_y[i:i + 1])
        l_g = F.binary_cross_entropy_with_logits(model(syn_x[i:i + 1]), syn_y[i:i + 1])
        terms.append(lam[i] * l_r + (1 - lam[i]) * l_g)
    assert torch.allclose(got, torch.stack(terms).mean(), atol=1e-6)
    batch_form = MixLoss(MixLoss.Options(form="batch")).loss(model, bce, real_x, real_y, syn_x, syn_y,
                                                             torch.Generator().manual_seed(3))
    assert not torch.allclose(got, batch_form)  # the two forms really differ


def test_mix_rep_by_hand(batch):
    model, real_x, real_y, syn_x, syn_y = batch
    strategy = MixRep()
    got = strategy.loss(model, bce, real_x, real_y, syn_x, syn_y, torch.Generator().manual_seed(5))
    lam = lambdas(strategy.options, 6, 5)[:, None]
    mixed = lam * model.features(real_x) + (1 - lam) * model.features(syn_x)
    expected = F.binary_cross_entropy_with_logits(model.head(mixed), lam * real_y + (1 - lam) * syn_y)
    assert torch.allclose(got, expected, atol=1e-6)


def test_partial_ratio_leaves_the_rest_of_the_batch_real(batch):
    model, real_x, real_y, syn_x, syn_y = batch
    strategy = MixRep(MixRep.Options(ratio=0.5))
    assert strategy.synthetic_batch_size(6) == 3
    got = strategy.loss(model, bce, real_x, real_y, syn_x[:3], syn_y[:3], torch.Generator().manual_seed(5))
    lam = lambdas(strategy.options, 3, 5)[:, None]
    fr = model.features(real_x)
    mixed = torch.cat([lam * fr[:3] + (1 - lam) * model.features(syn_x[:3]), fr[3:]])
    targets = torch.cat([lam * real_y[:3] + (1 - lam) * syn_y[:3], real_y[3:]])
    assert torch.allclose(got, F.binary_cross_entropy_with_logits(model.head(mixed), targets), atol=1e-6)


def test_lambda_distributions():
    beta = lambdas(MixOptions(), 20000, 0)
    assert ((beta < 0.1) | (beta > 0.9)).float().mean() > 0.5  # Beta(0.3, 0.3) is U-shaped
    assert abs(float(beta.mean()) - 0.5) < 0.02
    assert torch.equal(lambdas(MixOptions(lam="fixed", lam_value=0.7), 4, 0), torch.full((4,), 0.7))
    uniform = lambdas(MixOptions(lam="uniform"), 20000, 0)
    assert abs(float(uniform.std()) - (1 / 12) ** 0.5) < 0.01
    assert torch.equal(lambdas(MixOptions(), 8, 1), lambdas(MixOptions(), 8, 1))  # all from the run's generator


def test_class_aware_pairing_shares_a_class():
    rng = np.random.default_rng(0)
    synthetic = np.eye(28, dtype=np.uint8)[rng.integers(0, 27, 500)]  # no image of class 27
    real = (rng.random((64, 28)) < 0.1).astype(np.uint8)
    real[0] = 0
    real[0, 27] = 1  # its only class has no synthetic image: a random partner
    pool = SyntheticPool(synthetic)
    picks = pool.draw(real, 64, "class-aware", torch.Generator().manual_seed(0))
    for i in range(1, 64):
        if real[i].any():
            assert (synthetic[picks[i]] & real[i]).any()
    random_picks = pool.draw(real, 64, "random", torch.Generator().manual_seed(0))
    shared = np.mean([(synthetic[random_picks[i]] & real[i]).any() for i in range(64)])
    assert shared < 0.5


@pytest.mark.parametrize("train", [{"precision": "bf16"}, {"channels_last": True}])
def test_mixed_precision_and_channels_last_train(train):
    from bench.api import LabelledImages, content_fingerprint
    from bench.config import TrainConfig
    from bench.train.loop import Trainer

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 4, 32, 32), dtype=np.uint8)
    labels = (rng.random((24, 28)) < 0.2).astype(np.uint8)
    ids = [f"x{i}" for i in range(24)]
    data = LabelledImages(ids, labels, images, content_fingerprint(ids, labels, images))
    torch.manual_seed(0)
    model = ResNet18()
    trainer = Trainer(model, MixRep(), TrainConfig(epochs=1, batch_size=8, **train), 0, torch.device("cpu"), None,
                      lambda line: None)
    state = trainer.fit(data, data, data)
    assert state.epoch == 1 and np.isfinite(state.history[0]["train_loss"])
