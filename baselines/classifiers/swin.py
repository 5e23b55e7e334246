"""Swin-B (timm, patch 4, window 7) with a 4-channel patch embedding; inputs resized to 224 in the model."""

from __future__ import annotations

from baselines.classifiers.timm_model import TimmTransformer


class SwinB(TimmTransformer):
    """Swin-B (timm), 4-channel patch embedding, input resized to input_size (224) in the model."""

    arch, default_tag = "swin_base_patch4_window7_224", "ms_in22k_ft_in1k"
