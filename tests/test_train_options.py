"""Training options users expect: gradient clipping, an EMA of the weights, fp16 (GPU only), MPS in `auto`."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY, bench_cli, folders

from bench import config
from bench.runs import preflight


def test_new_options_change_the_run_id_only_when_set():
    base = config.build()
    assert config.build(overrides=("train.grad_clip=0", "train.ema=0")).hash() == base.hash()  # defaults: old ids
    ids = {config.build(overrides=(o,)).hash() for o in ("train.grad_clip=1.0", "train.ema=0.99",
                                                         "train.precision=fp16")}
    assert len(ids) == 3 and base.hash() not in ids


def test_ema_weights_are_what_is_kept_and_clipping_trains(tmp_path):
    result = bench_cli("run", *TINY, "train.ema=0.9", "train.grad_clip=0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = folders(tmp_path / "runs")[0]
    assert json.loads((run / "config.json").read_text())["train"]["ema"] == 0.9
    from timm.utils import ModelEmaV3

    from bench.train.loop import Trainer

    cfg = config.build(overrides=(*TINY, "train.ema=0.9", "train.grad_clip=0.5"))
    model = cfg.classifier.create()
    trainer = Trainer(model, cfg.strategy.create(), cfg.train, 0, torch.device("cpu"), None, lambda s: None)
    assert isinstance(trainer.ema, ModelEmaV3) and trainer.evaluated is trainer.ema.module
    before = [p.detach().clone() for p in trainer.ema.module.parameters()]
    x, y = torch.rand(4, 4, 32, 32), torch.zeros(4, 28)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
    trainer._step(loss)
    after = list(trainer.ema.module.parameters())
    live = list(model.parameters())
    moved = [not torch.equal(a, b) for a, b in zip(before, after)]
    assert any(moved)  # the average follows the weights...
    assert any(not torch.equal(a, b) for a, b in zip(after, live))  # ...without being them
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert grads.norm() <= 0.5 + 1e-4  # clipped to train.grad_clip


def test_fp16_on_a_cpu_is_one_line_exit_2(tmp_path):
    result = bench_cli("run", *TINY, "train.precision=fp16", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 2 and "train.precision=fp16 needs a CUDA GPU" in result.stderr
    assert not (tmp_path / "runs").exists() or not folders(tmp_path / "runs")


def test_auto_picks_mps_when_there_is_no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(preflight, "mps_available", lambda: True)
    assert preflight.pick_device("auto").type == "mps"
    monkeypatch.setattr(preflight, "mps_available", lambda: False)
    assert preflight.pick_device("auto").type == "cpu"
    with pytest.raises(preflight.BenchError, match="MPS is not available"):
        preflight.pick_device("mps")
