"""The two-stage `latent` generator: each stage's training folder is keyed by its own options (a new diffusion
setting reuses a finished autoencoder), its reconstructions need the first stage only, a killed stage resumes,
and sizes it cannot divide are refused before anything is written."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from bench import config
from bench.errors import BenchError
from bench.synthetic.sets import obtain, stage_folder

CPU = torch.device("cpu")
QUICK = ("generator.name=latent", "strategy=concat", "dataset.n_images=80", "dataset.resolution=32",
         "synthetic.per_real=0.25", "generator.ae_epochs=1", "generator.epochs=1", "generator.width=16",
         "generator.ae_width=16", "generator.sampling_steps=2", "generator.ae_crop=16")


def cfg(*extra: str):
    return config.build(overrides=(*QUICK, *extra))


def train_role(c):
    data = c.dataset.create().load()
    return data, data.subset(np.arange(60))


def test_each_stage_is_keyed_by_its_own_options():
    base = {stage: stage_folder("s", cfg(), stage, "d", "p") for stage in ("autoencoder", "diffusion")}
    other_diffusion = cfg("generator.epochs=2")
    assert stage_folder("s", other_diffusion, "autoencoder", "d", "p") == base["autoencoder"]  # reused
    assert stage_folder("s", other_diffusion, "diffusion", "d", "p") != base["diffusion"]
    other_ae = cfg("generator.ae_epochs=2")  # the diffusion stage learns the autoencoder's latents: both change
    assert all(stage_folder("s", other_ae, stage, "d", "p") != base[stage] for stage in base)
    balanced = cfg("generator.balance=0.1")  # how the diffusion stage draws its images: that stage only
    assert stage_folder("s", balanced, "autoencoder", "d", "p") == base["autoencoder"]
    assert stage_folder("s", balanced, "diffusion", "d", "p") != base["diffusion"]
    sampling = cfg("generator.guidance_scale=3", "generator.residual_noise=true")
    assert all(stage_folder("s", sampling, stage, "d", "p") == base[stage] for stage in base)
    assert all(stage_folder("s", cfg("generator.precision=fp32"), stage, "d", "p") == base[stage] for stage in base)
    bf16 = cfg("generator.precision=bf16")  # another arithmetic trains other weights: every stage is its own
    assert all(stage_folder("s", bf16, stage, "d", "p") != base[stage] for stage in base)


def test_bf16_training_steps_learn_and_sample_finite_images(tmp_path):
    c = cfg("generator.precision=bf16", "generator.ae_epochs=2")
    _, train = train_role(c)
    generator = c.generator.create()
    generator.fit_stage("autoencoder", train, seed=0, device=CPU, workdir=tmp_path / "ae")
    assert all(p.dtype == torch.float32 for p in generator.autoencoder.parameters())  # weights stay fp32
    generator.fit_stage("diffusion", train, seed=0, device=CPU, workdir=tmp_path / "diffusion")
    losses = [row["loss"] for row in generator.loss_history]
    assert losses and all(np.isfinite(losses))
    images = generator.sample(train.labels[:4], resolution=32, seed=0, device=CPU)
    assert np.asarray(images).shape[0] == 4 and np.isfinite(np.asarray(images, dtype=float)).all()


def test_an_unknown_training_precision_is_refused_in_one_line():
    with pytest.raises(BenchError, match="precision.*must be one of fp32, bf16"):
        cfg("generator.precision=fp16")


@pytest.mark.slow
def test_reconstructions_need_the_autoencoder_only_and_a_new_diffusion_setting_reuses_it(tmp_path, capsys):
    recon = cfg("generator.reconstruct=true")
    data, train = train_role(recon)
    made = obtain(recon, train, data.fingerprint, "split", tmp_path, CPU, print)
    assert len(made) == 15 and made.take(np.arange(15)).dtype == np.uint8
    trained = sorted(p.name.split("-")[1] for p in (tmp_path / ".train").iterdir())
    assert trained == ["autoencoder"]
    out = capsys.readouterr().out
    assert "stage autoencoder trains 1 epochs" in out and "reconstructs 15 train images" in out
    sampled = obtain(cfg(), train, data.fingerprint, "split", tmp_path, CPU, print)
    assert len(sampled) == 15
    out = capsys.readouterr().out
    assert "autoencoder checkpoints found" in out and "stage diffusion trains 1 epochs" in out
    assert sorted(p.name.split("-")[1] for p in (tmp_path / ".train").iterdir()) == ["autoencoder", "diffusion"]


def test_a_killed_autoencoder_resumes_to_the_same_weights(tmp_path):
    c = cfg("generator.ae_epochs=2")
    _, train = train_role(c)
    whole = c.generator.create()
    whole.fit_stage("autoencoder", train, seed=0, device=CPU, workdir=tmp_path / "whole")
    first = config.build(overrides=(*QUICK, "generator.ae_epochs=1")).generator.create()
    first.fit_stage("autoencoder", train, seed=0, device=CPU, workdir=tmp_path / "split")
    resumed = c.generator.create()  # the same folder, now asked for 2 epochs: trains the second one only
    resumed.fit_stage("autoencoder", train, seed=0, device=CPU, workdir=tmp_path / "split")
    for a, b in zip(whole.autoencoder.state_dict().values(), resumed.autoencoder.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("extra,message", [
    (("generator.ae_levels=5", "dataset.resolution=40"), "40 px is not divisible by the autoencoder's "
                                                          "2**(ae_levels-1) = 16"),
    (("generator.ae_crop=18",), "ae_crop=18 must be at most the dataset's 32 px and divisible by 4"),
    (("generator.depth=5",), "8 x 8 latent is not divisible by patch x 2**(depth-1) = 16"),
])
def test_sizes_it_cannot_divide_are_refused_before_anything_is_written(tmp_path, extra, message):
    c = cfg(*extra)
    data, train = train_role(c)
    with pytest.raises(BenchError, match=re.escape(message)):
        obtain(c, train, data.fingerprint, "split", tmp_path / "synthetic", CPU, print)
    assert not (tmp_path / "synthetic").exists()
