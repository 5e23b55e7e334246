"""`edm`: EDM-preconditioned pixel diffusion at the dataset's resolution on folded patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY, bench_cli

from bench.api import BenchError
from bench.api.diffusion import repeat_factors
from bench.config import choice
from bench.datasets.synthetic_cells import SyntheticCells
from generators.edm import EDM, PatchUNet

CPU = torch.device("cpu")
SMALL = dict(width=16, depth=2, patch=2, epochs=2, batch_size=16, sampling_steps=3)


@pytest.fixture(scope="module")
def data():
    return SyntheticCells(SyntheticCells.Options(n_images=40, resolution=32)).load()


def test_the_network_folds_patches_and_is_noise_and_label_conditioned():
    torch.manual_seed(0)
    net = PatchUNet(32, 4, 16, 2, 1).eval()
    assert net.unet.config.in_channels == 64 and net.unet.config.sample_size == 8  # 32 px as 8 x 8 x (4 x 4 x 4)
    x = torch.randn(2, 4, 32, 32)
    a, b = torch.zeros(2, 28), torch.zeros(2, 28)
    a[:, [0, 25]] = 1
    b[:, 23] = 1
    sigma = torch.tensor([0.3, 0.3])
    with torch.no_grad():
        assert net(x, sigma, a).shape == (2, 4, 32, 32)
        assert not torch.allclose(net(x, sigma, a), net(x, sigma, b))  # the labels matter
        assert not torch.allclose(net(x, sigma, a), net(x, torch.tensor([-1.0, -1.0]), a))  # so does the noise


def test_it_models_the_datasets_resolution_and_resumes_to_the_same_weights(data, tmp_path):
    whole = EDM(EDM.Options(**SMALL))
    whole.fit(data, seed=0, device=CPU, workdir=tmp_path / "whole")
    assert whole.size == 32 and len(whole.loss_history) == 2
    first = EDM(EDM.Options(**{**SMALL, "epochs": 1}))
    first.fit(data, seed=0, device=CPU, workdir=tmp_path / "resumed")  # "killed" after epoch 1
    resumed = EDM(EDM.Options(**SMALL))
    resumed.fit(data, seed=0, device=CPU, workdir=tmp_path / "resumed")
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.loss_history == whole.loss_history
    one = whole.sample(data.labels[:3], resolution=32, seed=4, device=CPU)
    two = whole.sample(data.labels[:3], resolution=32, seed=4, device=CPU)
    assert one.shape == (3, 4, 32, 32) and one.dtype == np.uint8 and np.array_equal(one, two)


def test_guidance_changes_samples_and_scale_one_is_one_pass(data):
    gen = EDM(EDM.Options(**{**SMALL, "epochs": 1}))
    gen.fit(data, seed=0, device=CPU)
    calls = []
    hook = gen.model.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    for scale in (1.0, 3.0):
        gen.options.guidance_scale = scale
        gen.sample(data.labels[:2], resolution=32, seed=0, device=CPU)
    hook.remove()
    assert calls == [2] * 3 + [4] * 3  # 3 steps; guided: both branches in one batch


@pytest.mark.parametrize("options, message", [
    ({"resolution": 30}, "divisible by patch x 2**(depth-1) = 16"),
    ({"width": 12}, "multiple of 8"),
    ({"p_uncond": 1.0}, "must be in [0, 1)"),
    ({"balance": 1.5}, "must be in [0, 1] (a share of the train images; 0 = off)"),
])
def test_bad_options_are_one_line(options, message):
    with pytest.raises(BenchError) as error:
        choice("generator", "edm", options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_dataset_resolution_it_cannot_fold_is_one_line_exit_2(tmp_path):
    result = bench_cli("generate", "--generator", "edm", *TINY, "dataset.resolution=24", "generator.epochs=1",
                       cwd=tmp_path)
    assert result.returncode == 2
    assert "not divisible by patch x 2**(depth-1) = 16" in result.stderr and "Traceback" not in result.stderr


def test_a_finished_training_is_loaded_not_resumed_and_prepares_nothing(data, tmp_path, capsys):
    calls = []

    class Counted(EDM):
        def prepare(self, train, device):
            calls.append(len(train))

    Counted(EDM.Options(**SMALL)).fit(data, seed=0, device=CPU, workdir=tmp_path)
    assert calls == [len(data)]  # once, before the first epoch
    capsys.readouterr()
    Counted(EDM.Options(**SMALL)).fit(data, seed=0, device=CPU, workdir=tmp_path)
    err = capsys.readouterr().err
    assert f"Counted: loaded its finished training (2 epochs, {tmp_path}" in err and "resumed" not in err
    assert calls == [len(data)]  # a finished training only loads


def test_a_shorter_training_is_resumed_and_says_from_which_epoch_and_file(data, tmp_path, capsys):
    EDM(EDM.Options(**{**SMALL, "epochs": 1})).fit(data, seed=0, device=CPU, workdir=tmp_path)
    capsys.readouterr()
    gen = EDM(EDM.Options(**SMALL))
    gen.fit(data, seed=0, device=CPU, workdir=tmp_path)
    checkpoint = tmp_path / EDM.checkpoint_name
    assert f"EDM: resumed training after epoch 1 of 2 ({checkpoint})" in capsys.readouterr().err
    assert [row["epoch"] for row in gen.loss_history] == [1, 2]  # the first restored with the checkpoint


def test_repeat_factors_are_lvis_rule():
    labels = np.zeros((10, 28), dtype=np.uint8)
    labels[:, 0] = 1  # in every image
    labels[0, 5] = 1  # in a tenth of them
    labels[1:3, 7] = 1  # in a fifth
    factors = repeat_factors(labels, 0.4)
    assert np.allclose(factors, [2.0, 2 ** 0.5, 2 ** 0.5] + [1.0] * 7)  # max(1, sqrt(0.4 / f)) of the rarest class
    assert np.allclose(repeat_factors(np.zeros((3, 28)), 0.4), 1.0)  # no class: drawn once


@pytest.mark.parametrize("balance", [0.0, 0.5])
def test_balance_draws_images_of_rare_classes_more_often_and_off_draws_each_once(data, balance):
    drawn = []

    class Recorded(EDM):
        def training_loss(self, model, scheduler, train, items, g, device):
            drawn.extend(items.tolist())
            return super().training_loss(model, scheduler, train, items, g, device)

    gen = Recorded(EDM.Options(**{**SMALL, "epochs": 1, "balance": balance}))
    assert ("rare classes more often (balance 0.5)" in gen.plan(40, 10)) == bool(balance)  # said before it trains
    gen.fit(data, seed=0, device=CPU)
    counts = np.bincount(drawn, minlength=len(data))
    factors = repeat_factors(data.labels, balance) if balance else np.ones(len(data))
    assert (counts >= np.floor(factors)).all() and (counts <= np.ceil(factors)).all()  # rounded up or down
    assert (counts == 1).all() if not balance else counts.max() >= 2
