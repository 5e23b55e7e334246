"""`ddpm-unet`: a label-conditioned diffusers U-Net with classifier-free guidance, EMA and DDIM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.datasets.synthetic_cells import SyntheticCells
from generators.ddpm_unet import DDPMUNet, LabelConditionedUNet

CPU = torch.device("cpu")
TINY = dict(resolution=16, width=8, depth=3, epochs=2, batch_size=16, sampling_steps=4)


@pytest.fixture(scope="module")
def data():
    return SyntheticCells(SyntheticCells.Options(n_images=40, resolution=32)).load()


def test_the_network_is_time_and_multi_hot_conditioned():
    torch.manual_seed(0)
    net = LabelConditionedUNet(16, 8, 3, 1).eval()
    x = torch.randn(2, 4, 16, 16)
    a, b = torch.zeros(2, 28), torch.zeros(2, 28)
    a[:, [0, 25]] = 1
    b[:, 23] = 1
    t = torch.tensor([10, 10])
    with torch.no_grad():
        assert net(x, t, a).shape == (2, 4, 16, 16)
        assert not torch.allclose(net(x, t, a), net(x, t, b))  # the labels matter (all of them)
        assert not torch.allclose(net(x, t, a), net(x, torch.tensor([900, 900]), a))  # so does the timestep


def test_training_resumes_to_the_same_weights_and_sampling_is_seeded(data, tmp_path):
    whole = DDPMUNet(DDPMUNet.Options(**TINY))
    whole.fit(data, seed=0, device=CPU, workdir=tmp_path / "whole")
    first = DDPMUNet(DDPMUNet.Options(**{**TINY, "epochs": 1}))
    first.fit(data, seed=0, device=CPU, workdir=tmp_path / "resumed")  # "killed" after epoch 1
    resumed = DDPMUNet(DDPMUNet.Options(**TINY))
    resumed.fit(data, seed=0, device=CPU, workdir=tmp_path / "resumed")
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    one = whole.sample(data.labels[:3], resolution=32, seed=4, device=CPU)
    two = whole.sample(data.labels[:3], resolution=32, seed=4, device=CPU)
    assert one.shape == (3, 4, 32, 32) and one.dtype == np.uint8 and np.array_equal(one, two)


@pytest.mark.parametrize("sampler", ["ddim", "dpm-solver"])
def test_both_samplers(data, sampler):
    gen = DDPMUNet(DDPMUNet.Options(**{**TINY, "epochs": 1, "sampler": sampler}))
    gen.fit(data, seed=0, device=CPU)
    assert gen.sample(data.labels[:2], resolution=16, seed=0, device=CPU).shape == (2, 4, 16, 16)


def test_rebalanced_labels_favour_rare_classes():
    from bench.synthetic.sets import rebalancing_weights

    labels = np.zeros((100, 28), dtype=np.uint8)
    labels[:90, 0] = 1
    labels[90:, 27] = 1
    p = rebalancing_weights(labels)
    assert p[90:].sum() == pytest.approx(0.5)  # 10 rare images now weigh as much as 90 common ones
