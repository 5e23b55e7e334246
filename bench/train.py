"""The one training loop: any classifier x any strategy, batches augmented on the training device,
best epoch by validation macro F1 @0.5, a checkpoint every epoch and resume from it.

All randomness of epoch e (shuffling, augmentation, synthetic pairing, the strategy's draws)
comes from a generator seeded by (run seed, e), so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align, sigmoid_focal_loss
from tqdm import tqdm

from bench.api import Classifier, LabelledImages, Strategy
from bench.config import TrainConfig
from bench.metrics import evaluate
from bench.records import atomic_target


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def make_criterion(cfg: TrainConfig) -> Callable[..., torch.Tensor]:
    if cfg.loss == "focal":
        return lambda logits, y, reduction="mean": sigmoid_focal_loss(logits, y, alpha=-1, gamma=cfg.focal_gamma,
                                                                      reduction=reduction)
    return lambda logits, y, reduction="mean": F.binary_cross_entropy_with_logits(logits, y, reduction=reduction)


def to_device(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, 4, S, S) numpy -> uint8 tensor on the device (a quarter of the float traffic)."""
    return torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)


def to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, 4, S, S) -> float in [0, 1] on the device (the paper's /255, no mean/std)."""
    return to_device(batch, device).float().div_(255.0)


def random_resized_crop(x: torch.Tensor, g: torch.Generator, scale=(0.8, 1.0), ratio=(0.9, 1.1)) -> torch.Tensor:
    """A different random crop per sample, resized back to the input size (bilinear), in one op.

    The paper's RandomResizedCrop(512, scale=(0.8, 1.0), ratio=(0.9, 1.1)), done on the whole batch
    on the device with torchvision's roi_align instead of per sample in Python.
    """
    n, _, height, width = x.shape
    area = torch.empty(n).uniform_(scale[0], scale[1], generator=g) * height * width
    aspect = torch.exp(torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=g))
    w = torch.sqrt(area * aspect).clamp(max=width)
    h = torch.sqrt(area / aspect).clamp(max=height)
    x0, y0 = torch.rand(n, generator=g) * (width - w), torch.rand(n, generator=g) * (height - h)
    boxes = torch.stack([torch.arange(n, dtype=torch.float32), x0, y0, x0 + w, y0 + h], dim=1)
    return roi_align(x, boxes.to(x.device, x.dtype), output_size=(height, width), spatial_scale=1.0,
                     sampling_ratio=1, aligned=True)


def augment(x: torch.Tensor, g: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """uint8 batch on the device -> augmented float batch in [0, 1], per sample, whole batch at once.

    Rotations and flips run on the uint8 tensor (exact, 4x less memory traffic), then /255, then the
    random resized crop.
    """
    if cfg.rotate90:
        turns = torch.randint(0, 4, (len(x),), generator=g).to(x.device)
        rotated = x.clone()
        for k in (1, 2, 3):
            rows = turns == k
            if rows.any():
                rotated[rows] = torch.rot90(x[rows], k, dims=(2, 3))
        x = rotated
    if cfg.flip:
        flip = (torch.rand(len(x), generator=g) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    x = x.float().div_(255.0)
    if cfg.random_resized_crop:
        x = random_resized_crop(x, g)
    return x


def batches(n: int, batch_size: int, g: torch.Generator) -> list[np.ndarray]:
    """A shuffled epoch of index batches; a last batch of one (BatchNorm cannot train on it) is merged."""
    order = torch.randperm(n, generator=g).numpy()
    chunks = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) < 2:
        chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
    return chunks


@torch.inference_mode()
def predict(model: Classifier, data: LabelledImages, batch_size: int, device: torch.device) -> np.ndarray:
    """Sigmoid probabilities (N, C), model in eval mode."""
    model.eval()
    out = [torch.sigmoid(model(to_input(data.take(np.arange(i, min(i + batch_size, len(data)))), device)).float()).cpu()
           for i in range(0, len(data), batch_size)]
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, model.num_classes))


@dataclass
class TrainState:
    """Everything needed to resume: saved as a checkpoint after every epoch."""

    epoch: int = 0  # epochs completed
    best_epoch: int = 0
    best_score: float = -1.0
    best_state: dict | None = None
    history: list = field(default_factory=list)
    stale: int = 0  # epochs since the best


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig):
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)
    return opt, sched


class Trainer:
    def __init__(self, model: Classifier, strategy: Strategy, cfg: TrainConfig, seed: int, device: torch.device,
                 checkpoint: Path | None, log: Callable[[str], None]):
        self.model, self.strategy, self.cfg, self.seed, self.device = model, strategy, cfg, seed, device
        self.checkpoint, self.log = checkpoint, log
        self.criterion = make_criterion(cfg)
        self.optimizer, self.scheduler = make_optimizer(model, cfg)
        self.state = TrainState()

    def _save(self) -> None:
        if self.checkpoint is None:  # a short side computation (CAS) that is simply redone
            return
        payload = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict(), "state": vars(self.state)}
        with atomic_target(self.checkpoint) as tmp:
            torch.save(payload, tmp)

    def try_resume(self) -> bool:
        if self.checkpoint is None or not self.checkpoint.exists():
            return False
        initial = copy.deepcopy(self.model.state_dict())  # to undo a partial load of a damaged checkpoint
        try:
            payload = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
            self.state = TrainState(**payload["state"])
        except Exception as exc:  # noqa: BLE001 - any damage means: start this run again from scratch
            self.log(f"checkpoint {self.checkpoint} is unreadable ({type(exc).__name__}); starting from epoch 1")
            self.checkpoint.unlink()
            self.model.load_state_dict(initial)
            self.optimizer, self.scheduler = make_optimizer(self.model, self.cfg)
            self.state = TrainState()
            return False
        self.log(f"resumed from {self.checkpoint} after epoch {self.state.epoch}")
        return True

    def _train_epoch(self, train: LabelledImages, synthetic: LabelledImages | None, epoch: int) -> float:
        self.model.train()
        g = epoch_generator(self.seed, epoch)
        n_syn = self.strategy.synthetic_batch_size(self.cfg.batch_size) if synthetic is not None else 0
        total, count = 0.0, 0
        for idx in tqdm(batches(len(train), self.cfg.batch_size, g), desc=f"epoch {epoch}", unit="batch",
                        leave=False, disable=None):
            x = augment(to_device(train.take(idx), self.device), g, self.cfg)
            y = torch.from_numpy(train.labels[idx]).to(self.device).float()
            syn_x = syn_y = None
            if n_syn:
                sidx = torch.randint(0, len(synthetic), (n_syn,), generator=g).numpy()
                syn_x = augment(to_device(synthetic.take(sidx), self.device), g, self.cfg)
                syn_y = torch.from_numpy(synthetic.labels[sidx]).to(self.device).float()
            loss = self.strategy.loss(self.model, self.criterion, x, y, syn_x, syn_y, g)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        self.scheduler.step()
        return total / max(count, 1)

    def fit(self, train: LabelledImages, val: LabelledImages, synthetic: LabelledImages | None) -> TrainState:
        s = self.state
        while s.epoch < self.cfg.epochs and not (self.cfg.patience and s.stale >= self.cfg.patience):
            epoch = s.epoch + 1
            lr = self.optimizer.param_groups[0]["lr"]
            loss = self._train_epoch(train, synthetic, epoch)
            probs = predict(self.model, val, self.cfg.eval_batch_size, self.device)
            score = evaluate(probs, val.labels, np.full(val.labels.shape[1], 0.5))[0]["f1_macro@0.5"]
            improved = score > s.best_score or self.cfg.select == "last"
            if improved:
                s.best_epoch, s.best_score, s.stale = epoch, score, 0
                s.best_state = copy.deepcopy(self.model.state_dict())
            else:
                s.stale += 1
            s.epoch = epoch
            s.history.append({"epoch": epoch, "lr": lr, "train_loss": round(loss, 6), "val_f1_macro@0.5": score})
            self.log(f"epoch {epoch}/{self.cfg.epochs}  lr {lr:.2e}  train loss {loss:.4f}  "
                     f"val macro F1@0.5 {score:.4f}{'  *' if improved else ''}")
            self._save()
        self.model.load_state_dict(s.best_state)
        return s
