"""The paper's simplified DDPM, checked against the extraction of its code and against diffusers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.datasets.synthetic_cells import SyntheticCells
from generators.ddpm import PaperDDPM, SimplifiedDDPMNet, single_label_pairs

CPU = torch.device("cpu")


def tiny_data(n=40):
    return SyntheticCells(SyntheticCells.Options(n_images=n, resolution=64)).load()


def test_architecture_is_the_papers():
    net = SimplifiedDDPMNet()
    assert sum(p.numel() for p in net.parameters()) == 80_260  # 39,232 + 36,928 + 2,308 + 1,792
    convs = [m for m in net.net if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (68, 64, (3, 3)), (64, 64, (3, 3)), (64, 4, (3, 3))]
    assert net.class_embedding.weight.shape == (28, 64)


def test_the_timestep_is_ignored():
    net = SimplifiedDDPMNet()
    x, c = torch.randn(2, 4, 32, 32), torch.tensor([3, 27])
    torch.testing.assert_close(net(x, torch.tensor([0, 0]), c), net(x, torch.tensor([999, 10]), c))


def test_scheduler_is_diffusers_ddpm_defaults():
    config = PaperDDPM().scheduler.config
    assert (config.num_train_timesteps, config.beta_start, config.beta_end, config.beta_schedule) == (
        1000, 0.0001, 0.02, "linear")
    assert (config.variance_type, config.clip_sample, config.prediction_type) == ("fixed_small", True, "epsilon")
    defaults = PaperDDPM.Options()
    assert (defaults.epochs, defaults.batch_size, defaults.lr, defaults.resolution, defaults.sampling_steps) == (
        30, 64, 1e-4, 32, 1000)


def test_single_label_expansion():
    labels = np.zeros((3, 28), dtype=np.uint8)
    labels[0, [0, 25]] = 1
    labels[1, 5] = 1
    labels[2, [7, 1, 2, 0]] = 1
    rows, classes = single_label_pairs(labels)
    assert len(rows) == 7 and sorted(zip(rows.tolist(), classes.tolist())) == [
        (0, 0), (0, 25), (1, 5), (2, 0), (2, 1), (2, 2), (2, 7)]


def test_fit_resumes_from_its_checkpoint_to_the_same_weights(tmp_path):
    data = tiny_data()
    whole = PaperDDPM(PaperDDPM.Options(epochs=2))
    whole.fit(data, seed=0, device=CPU, workdir=tmp_path / "whole")
    first = PaperDDPM(PaperDDPM.Options(epochs=1))
    first.fit(data, seed=0, device=CPU, workdir=tmp_path / "split")  # "killed" after epoch 1
    second = PaperDDPM(PaperDDPM.Options(epochs=2))
    second.fit(data, seed=0, device=CPU, workdir=tmp_path / "split")
    for a, b in zip(whole.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def test_samples_are_seeded_clamped_and_upsampled():
    data = tiny_data()
    gen = PaperDDPM(PaperDDPM.Options(epochs=1, sampling_steps=10))
    gen.fit(data, seed=0, device=CPU)
    a = gen.sample(data.labels[:5], resolution=64, seed=1, device=CPU)
    b = gen.sample(data.labels[:5], resolution=64, seed=1, device=CPU)
    assert a.shape == (5, 4, 64, 64) and a.dtype == np.uint8 and np.array_equal(a, b)


@pytest.mark.slow  # end to end: generator training, sampling, fidelity, the run
def test_bench_run_with_the_papers_ddpm_and_concat(tmp_path):
    from conftest import TINY, bench_cli, folders

    result = bench_cli("run", "--generator", "ddpm", "--strategy", "concat", "generator.epochs=1",
                       "generator.sampling_steps=10", "synthetic.labels=uniform", *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import json

    runs = {json.loads((r / "config.json").read_text())["generator"]["name"]: r for r in folders(tmp_path / "runs")}
    run = runs["ddpm"]  # beside it: the fidelity reference run (generator none)
    assert (run / "done").exists()
    synthetic = folders(tmp_path / "synthetic")[0]
    assert synthetic.name.startswith("ddpm-") and list((tmp_path / "synthetic" / ".train").glob("ddpm-*/ddpm.pt"))
    assert {"images.npy", "labels.csv", "grid.png", "manifest.json"} <= {p.name for p in synthetic.iterdir()}
    record = (run / "record.json").read_text()
    assert '"synthetic": {' in record and '"n_images": ' in record
