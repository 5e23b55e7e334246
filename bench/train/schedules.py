"""Learning-rate schedules, stepped once after every epoch with that epoch's validation score.

- `constant`, `cosine` (to 0 over the run);
- `step`: the paper's baselines, lr x gamma^floor((epoch - 1) / step_epochs) (1e-3, then 1e-4 from epoch 16);
- `multistage`: bestfitting's Adam45 (HPA 2018 winner), lr x 1, 1/2, 1/4, 1/10, 1/30 after
  epochs 25, 30, 35, 40 (3e-4, 1.5e-4, 7.5e-5, 3e-5, 1e-5 at lr 3e-4);
- `warmup-plateau`: linear warm-up over `warmup_epochs`, then ReduceLROnPlateau(factor 0.5,
  patience 2) on validation macro F1 (mode max). The paper's MixModel quirks are flags:
  `plateau_mode=min` (its bug: F1 treated as a loss) and `paper_warmup=true` (warm-up set after
  each epoch: epoch 1 at lr, epochs 2..W+1 at lr x 1/W .. lr).
"""

from __future__ import annotations

import math

import torch

ADAM45 = ((25, 1.0), (30, 0.5), (35, 0.25), (40, 0.1))


def adam45_factor(epoch: int) -> float:
    for last, factor in ADAM45:
        if epoch <= last:
            return factor
    return 1.0 / 30


class EpochSchedule:
    """One object per run: `after_epoch(epoch, score)` sets the lr of the next epoch; resumable."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg):
        self.optimizer, self.cfg = optimizer, cfg
        self.base_lr = cfg.lr
        self.plateau = None
        kind = cfg.schedule
        if kind == "warmup-plateau":
            self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=cfg.plateau_mode, factor=0.5, patience=2)
            self._set_lr(self.base_lr if cfg.paper_warmup else self.base_lr / cfg.warmup_epochs)
            self.scheduler = None
            return
        factor = {
            "constant": lambda k: 1.0,
            "cosine": lambda k: 0.5 * (1 + math.cos(math.pi * k / cfg.epochs)),
            "step": lambda k: cfg.step_gamma ** (k // cfg.step_epochs),
            "multistage": lambda k: adam45_factor(k + 1),
        }[kind]
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def after_epoch(self, epoch: int, score: float) -> None:
        """Called after epoch `epoch` (1-based) with its validation macro F1 @0.5."""
        if self.scheduler is not None:
            self.scheduler.step()
            return
        warmup = self.cfg.warmup_epochs
        if self.cfg.paper_warmup and epoch <= warmup:
            self._set_lr(self.base_lr * epoch / warmup)
        elif not self.cfg.paper_warmup and epoch < warmup:
            self._set_lr(self.base_lr * (epoch + 1) / warmup)
        else:
            self.plateau.step(score)

    def state_dict(self) -> dict:
        return (self.scheduler or self.plateau).state_dict()

    def load_state_dict(self, state: dict) -> None:
        (self.scheduler or self.plateau).load_state_dict(state)
