"""ViT-B/16 (timm) with a 4-channel patch embedding; inputs resized to 224 inside the model, as in the paper."""

from __future__ import annotations

from baselines.classifiers.timm_model import TimmTransformer


class ViTB16(TimmTransformer):
    """ViT-B/16 (timm), 4-channel patch embedding, input resized to input_size (224) in the model."""

    arch, default_tag = "vit_base_patch16_224", "augreg_in1k"
