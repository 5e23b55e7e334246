"""ResNet-18/34/50 (timm) with a 4-channel stem; the paper's torchvision ImageNet weights (`tv_in1k`)."""

from __future__ import annotations

from baselines.classifiers.timm_model import TimmClassifier


class ResNet18(TimmClassifier):
    """ResNet-18 (timm), 4-channel stem (random|copy-red|timm), linear or ArcFace head."""

    arch, default_tag, pool = "resnet18", "tv_in1k", "catavgmax"


class ResNet34(TimmClassifier):
    """ResNet-34 (timm), 4-channel stem (random|copy-red|timm), linear or ArcFace head."""

    arch, default_tag, pool = "resnet34", "tv_in1k", "catavgmax"


class ResNet50(TimmClassifier):
    """ResNet-50 (timm), 4-channel stem (random|copy-red|timm), linear or ArcFace head."""

    arch, default_tag, pool = "resnet50", "tv_in1k", "catavgmax"
