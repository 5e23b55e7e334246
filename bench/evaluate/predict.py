"""Predictions of a classifier on labelled images: eval mode, batched, optional bf16/fp16 autocast.

Also the one conversion of stored images into classifier inputs (uint8 -> float in [0, 1] on the
device), shared by training and evaluation.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from bench.api import BenchError, Classifier, LabelledImages


def to_device(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, 4, S, S) numpy -> uint8 tensor on the device (a quarter of the float traffic)."""
    tensor = torch.from_numpy(np.ascontiguousarray(batch))
    if device.type == "cuda":
        tensor = tensor.pin_memory()  # page-locked: the copy overlaps the previous step's compute
    return tensor.to(device, non_blocking=True)


def to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, 4, S, S) -> float in [0, 1] on the device (the paper's /255, no mean/std)."""
    return to_device(batch, device).float().div_(255.0)


# The paper's transformer test pipelines (docs/paper.md, quirk 12): albumentations `Resize` to the
# model's input size, then `Normalize` with these per-channel (R, G, B, Y) mean and std on [0, 1] values.
TEST_NORMALIZATION = {
    "imagenet": ((0.485, 0.456, 0.406, 0.485), (0.229, 0.224, 0.225, 0.229)),  # A.Normalize() defaults (ViT)
    "half": ((0.5,) * 4, (0.5,) * 4),  # Swin's mean 0.5 / std 0.5
}


def paper_test_inputs(x: torch.Tensor, normalization: str, size: int | None) -> torch.Tensor:
    """[0, 1] inputs as the paper's transformer test pipelines made them: resized (bilinear) to `size`
    outside the model when given, then normalised per channel; unchanged for `none`."""
    if normalization == "none":
        return x
    if size and x.shape[-2:] != (size, size):
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean, std = (torch.tensor(v[: x.shape[1]], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
                 for v in TEST_NORMALIZATION[normalization])
    return (x - mean) / std


def autocast(device: torch.device, precision: str):
    """bf16 or fp16 autocast on the device when asked for, else a no-op context."""
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=precision in ("bf16", "fp16"))


def predict_logits(model: Classifier, data: LabelledImages, batch_size: int, device: torch.device,
                   precision: str = "fp32", *, no_eval: bool = False, rotate_seed: int | None = None,
                   normalization: str = "none") -> torch.Tensor:
    """Logits (N, C) as float32 on the CPU, the model in eval mode.

    Three of the paper's quirks, off by default: `no_eval` scores as its MixModel submissions did, without
    `model.eval()`: a copy of the model in training mode, one image at a time, so BatchNorm normalises
    each image by its own statistics (the model itself is left untouched); `rotate_seed` rotates each
    image by a random multiple of 90 degrees, as the paper's dataset class did to validation images
    (unseeded there; drawn from this seed here); `normalization` feeds inputs as its transformer test
    pipelines did (`paper_test_inputs`)."""
    size = getattr(getattr(model, "options", None), "input_size", None)
    if no_eval:
        model, batch_size = copy.deepcopy(model).train(), 1
    else:
        model.eval()
    g = None if rotate_seed is None else torch.Generator().manual_seed(rotate_seed)
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            x = to_input(data.take(np.arange(i, min(i + batch_size, len(data)))), device)
            if g is not None:
                turns = torch.randint(0, 4, (len(x),), generator=g)
                x = torch.stack([torch.rot90(image, int(k), dims=(1, 2)) for image, k in zip(x, turns)])
            x = paper_test_inputs(x, normalization, size)
            with autocast(device, precision):
                try:
                    out.append(model(x).float().cpu())
                except ValueError as exc:  # BatchNorm in training mode over a single value per channel
                    if not no_eval:
                        raise
                    raise BenchError(f"train.no_eval_inference: one image at a time in training mode reaches a "
                                     f"BatchNorm with a 1x1 feature map ({exc}); use larger images (64 px and up "
                                     f"for a ResNet; the paper's were 512 px)") from None
    return torch.cat(out) if out else torch.zeros((0, model.num_classes))


def predict(model: Classifier, data: LabelledImages, batch_size: int, device: torch.device,
            precision: str = "fp32", *, no_eval: bool = False, rotate_seed: int | None = None,
            normalization: str = "none") -> np.ndarray:
    """Sigmoid probabilities (N, C); see `predict_logits` for the paper's quirks."""
    logits = predict_logits(model, data, batch_size, device, precision, no_eval=no_eval, rotate_seed=rotate_seed,
                            normalization=normalization)
    return torch.sigmoid(logits).numpy().astype(np.float64)
