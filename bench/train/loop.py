"""The one training loop: any classifier x any strategy, batches augmented on the training device,
best epoch by validation macro F1 @0.5, a checkpoint every epoch and resume from it.

All randomness of epoch e (shuffling, augmentation, synthetic pairing, the strategy's draws)
comes from a generator seeded by (run seed, e), so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench.api import Classifier, Criterion, LabelledImages, Strategy, load_checkpoint, save_checkpoint
from bench.config import TrainConfig
from bench.evaluate.metrics import F1_HALF, F1_TUNED, ORACLE, evaluate, tune_thresholds
from bench.evaluate.predict import autocast, predict_logits, to_device
from bench.files import remove_checked
from bench.progress import duration
from bench.train import losses
from bench.train.augment import augment
from bench.train.distributed import SINGLE, World
from bench.train.pairing import SyntheticPool
from bench.train.schedules import EpochSchedule


def epoch_generator(seed: int, epoch: int, stream: int = 0, rank: int = 0) -> torch.Generator:
    """The random stream `stream` of epoch `epoch` (of process `rank` in a multi-process run)."""
    entropy = [seed, epoch, stream] if rank == 0 else [seed, epoch, stream, rank]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def make_criterion(cfg: TrainConfig) -> Criterion:
    return losses.make_criterion(cfg.loss, focal_gamma=cfg.focal_gamma, arcface_s=cfg.arcface_s,
                                 arcface_m=cfg.arcface_m)


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """Iterate over `items` computed `depth` ahead in a background thread (batch reading overlaps compute)."""
    out: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce():
        try:
            for item in items:
                out.put(item)
        except BaseException as exc:  # re-raised in the consumer
            out.put(exc)
        out.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while (item := out.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def batches(n: int, batch_size: int, g: torch.Generator, processes: int = 1) -> list[np.ndarray]:
    """A shuffled epoch of index batches; a last batch too small to give every process two images
    (BatchNorm cannot train on one) is merged into the one before."""
    order = torch.randperm(n, generator=g).numpy()
    chunks = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) < 2 * processes:
        chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
    return chunks


@dataclass
class TrainState:
    """Everything needed to resume: saved as a checkpoint after every epoch but the last."""

    epoch: int = 0  # epochs completed
    best_epoch: int = 0  # the selected epoch (train.select)
    best_state: dict | None = None  # its weights
    history: list = field(default_factory=list)
    stale: int = 0  # epochs since the best validation macro F1 @0.5 (early stopping)
    best_f1: float = -1.0  # the best validation macro F1 @0.5 so far
    best_val_loss: float = math.inf  # the lowest validation loss so far

    @classmethod
    def from_saved(cls, saved: dict) -> TrainState:
        """The state a checkpoint holds; one written when a single `best_score` held a loss or an F1 gets its
        lowest validation loss from its history."""
        saved = dict(saved)
        if "best_score" in saved:
            del saved["best_score"]
            saved["best_val_loss"] = min((row["val_loss"] for row in saved.get("history", [])), default=math.inf)
        return cls(**saved)


def rotation_seed(cfg: TrainConfig, seed: int, epoch: int) -> int | None:
    """The seed of the validation images' rotations at an epoch (0: the final scoring) under train.val_rotation,
    else None (validation images as they are)."""
    if not cfg.val_rotation:
        return None
    return int(np.random.SeedSequence([seed, 0x9071, epoch]).generate_state(1, dtype=np.uint32)[0])


def make_ema(model: torch.nn.Module, cfg: TrainConfig):
    """timm's ModelEmaV3 of the classifier's weights when train.ema is set, else None."""
    if not cfg.ema:
        return None
    from timm.utils import ModelEmaV3
    return ModelEmaV3(model, decay=cfg.ema)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig):
    """The optimizer (multi-tensor `foreach` form on every device: on a CPU 1.5x faster per step than torch's
    default there, and bit-identical to it) and its epoch schedule."""
    common = dict(lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), momentum=0.9, **common)
    elif cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), **common)
    else:
        opt = torch.optim.AdamW(model.parameters(), **common)
    return opt, EpochSchedule(opt, cfg)


class StrategyStep(torch.nn.Module):
    """A training step's loss as one module, so DistributedDataParallel sees the whole forward
    (backbones, heads and mixing) whatever the strategy calls on the classifier."""

    def __init__(self, model: Classifier, strategy: Strategy, criterion: Criterion):
        super().__init__()
        self.model, self.strategy, self.criterion = model, strategy, criterion

    def forward(self, x, y, syn_x, syn_y, g):
        return self.strategy.loss(self.model, self.criterion, x, y, syn_x, syn_y, g)


class Trainer:
    def __init__(self, model: Classifier, strategy: Strategy, cfg: TrainConfig, seed: int, device: torch.device,
                 checkpoint: Path | None, say: Callable[[str], None], world: World = SINGLE,
                 on_epoch: Callable[[dict], None] | None = None):
        self.model, self.strategy, self.cfg, self.seed, self.device = model, strategy, cfg, seed, device
        self.checkpoint, self.say, self.world = checkpoint, say, world
        self.on_epoch = on_epoch or (lambda row: None)  # each epoch's history row (experiment trackers)
        self.criterion = make_criterion(cfg)
        self.optimizer, self.scheduler = make_optimizer(model, cfg)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
        self.ema = make_ema(model, cfg)
        self.state = TrainState()

    @property
    def evaluated(self) -> torch.nn.Module:
        """The weights that are validated, selected and kept: the EMA's when there is one."""
        return self.model if self.ema is None else self.ema.module

    def _save(self) -> None:
        """Checkpoint the finished epoch. The selected weights are stored once: when this epoch is the selected
        one they are the evaluated weights the checkpoint holds anyway (`best_is_current`)."""
        if self.checkpoint is None or not self.world.is_main:  # no file: a side computation (CAS), redone
            return
        current = self.state.best_epoch == self.state.epoch
        state = {**vars(self.state), "best_state": None} if current else vars(self.state)
        payload = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict(), "state": state, "scaler": self.scaler.state_dict(),
                   "best_is_current": current}
        if self.ema is not None:
            payload["ema"] = self.ema.module.state_dict()
        save_checkpoint(self.checkpoint, payload)

    def _finished(self) -> bool:
        """Whether training stops here: the last epoch, or `train.patience` stale epochs."""
        s = self.state
        return s.epoch >= self.cfg.epochs or bool(self.cfg.patience and s.stale >= self.cfg.patience)

    def try_resume(self) -> bool:
        """Restore the last checkpoint; False (and from epoch 1) without one, or with a damaged one."""
        payload = load_checkpoint(self.checkpoint, self.device, self.say if self.world.is_main else lambda line: None)
        if payload is None:
            return False
        initial = copy.deepcopy(self.model.state_dict())  # to undo a partial load of a checkpoint that does not fit
        try:
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
            self.scaler.load_state_dict(payload.get("scaler", {}))
            if self.ema is not None:
                self.ema.module.load_state_dict(payload["ema"])
            self.state = TrainState.from_saved(payload["state"])
            if payload.get("best_is_current"):
                self.state.best_state = copy.deepcopy(self.evaluated.state_dict())
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:  # another version's or another model's
            self.say(f"checkpoint {self.checkpoint} does not fit this run ({type(exc).__name__}); it is removed and "
                     f"training starts again from epoch 1")
            if self.world.is_main:
                remove_checked(self.checkpoint)
            self.model.load_state_dict(initial)
            self.optimizer, self.scheduler = make_optimizer(self.model, self.cfg)
            self.ema = make_ema(self.model, self.cfg)
            self.state = TrainState()
            return False
        self.say(f"resumed from {self.checkpoint} after epoch {self.state.epoch}")
        return True

    def _augment(self, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        x = augment(batch, g, self.cfg)
        return x.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else x

    def _epoch_batches(self, train: LabelledImages, synthetic: LabelledImages | None, epoch: int):
        """(real indices, synthetic indices or None) of every step of an epoch, drawn up front.

        Shuffling uses the epoch's main stream; synthetic pairing its own stream, so the batches can be
        read ahead in a thread without changing any random draw. In a multi-process run every process
        shuffles alike, takes its share of each batch, and pairs and augments from streams of its own.
        """
        rank, size = self.world.rank, self.world.size
        g = epoch_generator(self.seed, epoch)
        plan = [(idx[rank::size], None) for idx in batches(len(train), self.cfg.batch_size, g, size)]
        g = g if rank == 0 else epoch_generator(self.seed, epoch, stream=2, rank=rank)
        if synthetic is not None and self.strategy.synthetic_batch_size(self.cfg.batch_size):
            pool, g_pair = SyntheticPool(synthetic.labels), epoch_generator(self.seed, epoch, stream=1, rank=rank)
            plan = [(idx, pool.draw(train.labels[idx], self.strategy.synthetic_batch_size(len(idx)),
                                    self.strategy.pairing, g_pair)) for idx, _ in plan]
        return g, plan

    def _read(self, train: LabelledImages, synthetic: LabelledImages | None, plan) -> Iterator:
        for idx, sidx in plan:
            real = (to_device(train.take(idx), self.device), torch.from_numpy(train.labels[idx]))
            syn = None if sidx is None else (to_device(synthetic.take(sidx), self.device),
                                             torch.from_numpy(synthetic.labels[sidx]))
            yield real, syn

    def _train_epoch(self, step: torch.nn.Module, train: LabelledImages, synthetic: LabelledImages | None,
                     epoch: int) -> float:
        self.model.train()
        g, plan = self._epoch_batches(train, synthetic, epoch)
        total, count = 0.0, 0
        steps = prefetched(self._read(train, synthetic, plan))
        for (x, y), syn in tqdm(steps, total=len(plan), desc=f"epoch {epoch}", unit="batch", leave=False,
                                disable=None):
            x, y = self._augment(x, g), y.to(self.device).float()
            syn_x = syn_y = None
            if syn is not None:
                syn_x, syn_y = self._augment(syn[0], g), syn[1].to(self.device).float()
            with autocast(self.device, self.cfg.precision):
                loss = step(x, y, syn_x, syn_y, g)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
            self._step(loss)
            total, count = total + loss.item() * len(x), count + len(x)
        total, count = self.world.total(total, count)
        return total / max(count, 1)

    def _step(self, loss: torch.Tensor) -> None:
        """Backward (scaled under fp16), optional gradient clipping, the optimizer's step, the EMA's update."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)

    def _validate(self, val: LabelledImages, epoch: int) -> tuple[float, float]:
        """(macro F1 @0.5, loss) on the validation role, of the evaluated weights."""
        logits = predict_logits(self.evaluated, val, self.cfg.eval_batch_size, self.device, self.cfg.precision,
                                rotate_seed=rotation_seed(self.cfg, self.seed, epoch))
        targets = torch.from_numpy(val.labels).float()
        score = evaluate(torch.sigmoid(logits).numpy().astype(np.float64), val.labels,
                         np.full(val.labels.shape[1], 0.5))[0][F1_HALF]
        return score, float(self.criterion(logits, targets)) if len(val) else float("nan")

    def _is_selected(self, score: float, val_loss: float) -> bool:
        """Whether this epoch's weights become the run's model (train.select)."""
        s = self.state
        if self.cfg.select == "last":
            return True
        if self.cfg.select == "min_val_loss":
            return s.best_epoch == 0 or val_loss < s.best_val_loss
        return score > s.best_f1

    def _oracle(self, test: LabelledImages) -> float:
        """Test macro F1 with thresholds tuned on test, of the evaluated weights (the oracle selection rule's
        score of this epoch; never used to select)."""
        logits = predict_logits(self.evaluated, test, self.cfg.eval_batch_size, self.device, self.cfg.precision)
        probs = torch.sigmoid(logits).numpy().astype(np.float64)
        return evaluate(probs, test.labels, tune_thresholds(probs, test.labels))[0][F1_TUNED]

    def fit(self, train: LabelledImages, val: LabelledImages, synthetic: LabelledImages | None,
            test: LabelledImages | None = None) -> TrainState:
        """Train to the last epoch (or early stop); with `test`, each epoch's history row also holds the oracle
        rule's test score (`oracle_test_f1`), which selects nothing."""
        s = self.state
        if self.cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        step = self.world.wrap(StrategyStep(self.model, self.strategy, self.criterion))
        began, first = time.perf_counter(), s.epoch
        while not self._finished():
            epoch = s.epoch + 1
            lr = self.optimizer.param_groups[0]["lr"]
            loss = self._train_epoch(step, train, synthetic, epoch)
            self.world.share_buffers(self.model)
            score, val_loss = map(self.world.from_main, self._validate(val, epoch))
            self.scheduler.after_epoch(epoch, score)
            selected = self._is_selected(score, val_loss)
            if selected:
                s.best_epoch, s.best_state = epoch, copy.deepcopy(self.evaluated.state_dict())
            s.stale = 0 if score > s.best_f1 else s.stale + 1
            s.best_f1 = max(s.best_f1, score)
            s.best_val_loss = min(s.best_val_loss, val_loss)
            s.epoch = epoch
            s.history.append({"epoch": epoch, "lr": lr, "train_loss": round(loss, 6), "val_loss": round(val_loss, 6),
                              f"val_{F1_HALF}": score})
            if test is not None and len(test):
                s.history[-1][ORACLE] = round(float(self.world.from_main(self._oracle(test))), 6)
            per_epoch = (time.perf_counter() - began) / (epoch - first)
            self.say(f"epoch {epoch}/{self.cfg.epochs}  lr {lr:.2e}  train loss {loss:.4f}  val loss {val_loss:.4f}  "
                     f"val macro F1@0.5 {score:.4f}{'  *' if selected else ''}  "
                     f"({per_epoch:.0f} s/epoch, ETA {duration(per_epoch * (self.cfg.epochs - epoch))})")
            if not self._finished():  # after the last epoch the run is scored at once: a kill then redoes one epoch
                self._save()
            self.on_epoch(s.history[-1])
        self.model.load_state_dict(s.best_state)
        return s
