"""Predictions of a classifier on labelled images: eval mode, batched, optional bf16/fp16 autocast.

Also the one conversion of stored images into classifier inputs (uint8 -> float in [0, 1] on the
device), shared by training and evaluation.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.api import Classifier, LabelledImages


def to_device(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, 4, S, S) numpy -> uint8 tensor on the device (a quarter of the float traffic)."""
    tensor = torch.from_numpy(np.ascontiguousarray(batch))
    if device.type == "cuda":
        tensor = tensor.pin_memory()  # page-locked: the copy overlaps the previous step's compute
    return tensor.to(device, non_blocking=True)


def to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, 4, S, S) -> float in [0, 1] on the device (the paper's /255, no mean/std)."""
    return to_device(batch, device).float().div_(255.0)


def autocast(device: torch.device, precision: str):
    """bf16 or fp16 autocast on the device when asked for, else a no-op context."""
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=precision in ("bf16", "fp16"))


@torch.inference_mode()
def predict_logits(model: Classifier, data: LabelledImages, batch_size: int, device: torch.device,
                   precision: str = "fp32") -> torch.Tensor:
    """Logits (N, C) as float32 on the CPU, model in eval mode."""
    model.eval()
    out = []
    for i in range(0, len(data), batch_size):
        with autocast(device, precision):
            out.append(model(to_input(data.take(np.arange(i, min(i + batch_size, len(data)))), device)).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, model.num_classes))


def predict(model: Classifier, data: LabelledImages, batch_size: int, device: torch.device,
            precision: str = "fp32") -> np.ndarray:
    """Sigmoid probabilities (N, C), model in eval mode."""
    return torch.sigmoid(predict_logits(model, data, batch_size, device, precision)).numpy().astype(np.float64)
