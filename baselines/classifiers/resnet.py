"""ResNet-18/34/50 (timm) with a 4-channel stem and a linear multi-label head.

`pretrained=false` (default) initialises everything randomly. `pretrained=true` loads timm's
ImageNet weights (from the Hugging Face cache, or the hub when online) and adapts the RGB stem to
4 channels the timm way (R, G, B, R scaled by 3/4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import timm
import torch
from torch import nn

from bench.api import Classifier
from bench.config import require
from bench.errors import BenchError


@dataclass
class ResNetOptions:
    pretrained: bool = False
    drop_rate: float = 0.0  # dropout before the head (timm's drop_rate)

    def __post_init__(self):
        require(0.0 <= self.drop_rate < 1.0, "drop_rate", "must be in [0, 1)")


def create_backbone(arch: str, options: ResNetOptions, in_chans: int) -> nn.Module:
    try:
        return timm.create_model(arch, pretrained=options.pretrained, in_chans=in_chans, num_classes=0,
                                 drop_rate=options.drop_rate)
    except Exception as exc:  # noqa: BLE001 - hub/network/cache failures all mean "no weights here"
        if not options.pretrained:
            raise
        reason = " ".join(str(exc).split())[:200]
        raise BenchError(f"classifier.pretrained=true: no ImageNet weights for {arch} available "
                         f"(offline and not in the Hugging Face cache?): {type(exc).__name__}: {reason}") from None


class TimmResNet(Classifier):
    """A timm ResNet with 4 input channels and a linear head."""

    arch: ClassVar[str] = ""
    Options = ResNetOptions

    def __init__(self, options=None, *, num_classes: int = 28, in_chans: int = 4):
        super().__init__(options, num_classes=num_classes, in_chans=in_chans)
        self.backbone = create_backbone(self.arch, self.options, in_chans)
        self.fc = nn.Linear(self.backbone.num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)


class ResNet18(TimmResNet):
    """ResNet-18 (timm), 4-channel stem, linear head; random init unless pretrained=true."""

    arch = "resnet18"


class ResNet34(TimmResNet):
    """ResNet-34 (timm), 4-channel stem, linear head; random init unless pretrained=true."""

    arch = "resnet34"


class ResNet50(TimmResNet):
    """ResNet-50 (timm), 4-channel stem, linear head; random init unless pretrained=true."""

    arch = "resnet50"
