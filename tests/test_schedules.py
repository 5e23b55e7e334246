"""Learning-rate schedules: the paper's step decay, Adam45, the MixModel warm-up + plateau (and its bug)."""

from __future__ import annotations

import pytest
import torch

from bench.config import TrainConfig
from bench.train.schedules import EpochSchedule

pytestmark = pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)`")


def lrs(cfg: TrainConfig, scores) -> list[float]:
    """The lr each epoch ran at, given the validation score after each epoch."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    schedule = EpochSchedule(optimizer, cfg)
    out = []
    for epoch, score in enumerate(scores, start=1):
        out.append(optimizer.param_groups[0]["lr"])
        schedule.after_epoch(epoch, score)
    return out


def test_step_decay_is_the_papers():
    got = lrs(TrainConfig(epochs=30, lr=1e-3, schedule="step"), [0.5] * 30)
    assert got[:15] == pytest.approx([1e-3] * 15) and got[15:] == pytest.approx([1e-4] * 15)


def test_multistage_is_adam45():
    got = lrs(TrainConfig(epochs=45, lr=3e-4, schedule="multistage"), [0.5] * 45)
    expected = [3e-4] * 25 + [1.5e-4] * 5 + [7.5e-5] * 5 + [3e-5] * 5 + [1e-5] * 5
    assert got == pytest.approx(expected)


def test_paper_warmup_is_set_after_each_epoch():
    cfg = TrainConfig(epochs=12, lr=1e-4, schedule="warmup-plateau", paper_warmup=True)
    got = lrs(cfg, [0.1 * i for i in range(12)])
    assert got[0] == pytest.approx(1e-4)  # epoch 1 at the full lr
    assert got[1:11] == pytest.approx([1e-5 * k for k in range(1, 11)])  # epochs 2..11: 1e-5 .. 1e-4


def test_fixed_warmup_ramps_up_to_the_lr():
    got = lrs(TrainConfig(epochs=12, lr=1e-4, schedule="warmup-plateau", warmup_epochs=4), [0.1] * 6)
    assert got[:5] == pytest.approx([2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4])


@pytest.mark.parametrize("mode,halved", [("min", True), ("max", False)])
def test_plateau_mode_min_is_the_papers_bug(mode, halved):
    rising = [0.1 + 0.01 * i for i in range(20)]  # F1 improves every epoch
    cfg = TrainConfig(epochs=20, lr=1e-4, schedule="warmup-plateau", warmup_epochs=2, plateau_mode=mode)
    got = lrs(cfg, rising)
    assert (got[-1] < 1e-4) == halved  # mode=min halves the lr although F1 keeps rising


def test_schedule_state_resumes():
    cfg = TrainConfig(epochs=20, lr=1e-4, schedule="warmup-plateau", warmup_epochs=2, plateau_mode="min")
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    schedule = EpochSchedule(optimizer, cfg)
    for epoch in range(1, 7):
        schedule.after_epoch(epoch, 0.1 * epoch)
    resumed_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    resumed_opt.load_state_dict(optimizer.state_dict())
    resumed = EpochSchedule(resumed_opt, cfg)
    resumed.load_state_dict(schedule.state_dict())
    for epoch in range(7, 12):
        schedule.after_epoch(epoch, 0.1 * epoch)
        resumed.after_epoch(epoch, 0.1 * epoch)
        assert resumed_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
