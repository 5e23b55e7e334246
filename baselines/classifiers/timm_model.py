"""A timm backbone with a 4-channel stem, an explicit stem init mode and a linear or ArcFace head.

Stem init (`init`), for the first convolution only; with `pretrained=true` every other layer has
ImageNet weights:
- `random`: a new randomly initialised 4-channel stem (the paper's ResNet, ViT baselines);
- `copy-red`: the pretrained RGB filters, plus the red filter again for yellow (the paper's MixModel);
- `timm`: timm's adaptation, R, G, B, R scaled by 3/4 (the paper's Swin).
Weights come from `weights` (a .safetensors/.pth/.bin state dict of the RGB model) or timm's usual
source (the Hugging Face cache, or the hub when online); offline without them: one clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Optional

import torch
import torch.nn.functional as F

from baselines.classifiers.heads import make_head
from bench.api import BenchError, Classifier, option, require


@dataclass
class TimmOptions:
    pretrained: bool = option(False, "ImageNet weights for everything but the stem (see init)")
    init: Literal["random", "copy-red", "timm"] = option("random", "how the 4-channel stem is initialised")
    weights: Optional[str] = option(None, "a local weights file instead of the Hugging Face cache/hub")
    tag: Optional[str] = option(None, "timm pretrained tag (none: the model's default)")
    head: Literal["linear", "arcface"] = option("linear", "classification head: linear, or ArcFace (needs "
                                                "train.loss=arcface)")
    head_dropout_in_eval: bool = option(False, "the paper's ArcFace quirk: dropout stays on at inference")
    drop_rate: float = option(0.0, "dropout before a linear head")

    def __post_init__(self):
        require(0.0 <= self.drop_rate < 1.0, "drop_rate", "must be in [0, 1)")
        require(self.init == "random" or self.pretrained, "init", "copy-red and timm need pretrained=true")
        require(self.weights is None or self.pretrained, "weights", "a weights file needs pretrained=true")
        require(self.weights is None or Path(self.weights).is_file(), "weights", "no such file")


def adapt_stem(weight: torch.Tensor, mode: str, in_chans: int) -> torch.Tensor:
    """An RGB stem's weight (O, 3, k, k) -> (O, in_chans, k, k)."""
    from timm.models import adapt_input_conv

    if mode == "timm":
        return adapt_input_conv(in_chans, weight)
    repeats = [weight[:, :1]] * (in_chans - 3)  # copy-red: yellow (and any extra channel) gets red's filter
    return torch.cat([weight, *repeats], dim=1)


class TimmClassifier(Classifier):
    """Base of the timm classifiers; subclasses set `arch`, `default_tag` and `pool`."""

    arch: ClassVar[str] = ""
    default_tag: ClassVar[str] = ""
    pool: ClassVar[str] = "avg"  # "catavgmax" (2x features) for the ArcFace head of CNNs
    Options = TimmOptions

    def __init__(self, options=None, *, num_classes: int = 28, in_chans: int = 4, **model_kwargs):
        super().__init__(options, num_classes=num_classes, in_chans=in_chans)
        import timm  # (seconds to import: when a model is built, not when its options are read)

        o = self.options
        catavgmax = o.head == "arcface" and self.pool == "catavgmax"
        if catavgmax:
            model_kwargs["global_pool"] = "catavgmax"
        self.backbone = timm.create_model(self.arch, pretrained=False, in_chans=in_chans, num_classes=0,
                                          **model_kwargs)
        if o.pretrained:
            self._load_pretrained(model_kwargs)
        # what the backbone outputs with num_classes=0 (timm's head_hidden_size: after a pre-logits layer where the
        # architecture has one, as MobileNetV3's conv_head, and after a pooling that widens, as catavgmax)
        width = getattr(self.backbone, "head_hidden_size", None) or \
            self.backbone.num_features * (2 if catavgmax else 1)
        self.classifier = make_head(o.head, width, num_classes, o.drop_rate, o.head_dropout_in_eval)

    @property
    def model_name(self) -> str:
        return f"{self.arch}.{self.options.tag or self.default_tag}"

    def _rgb_state_dict(self, model_kwargs: dict) -> dict:
        import timm
        overlay = {"file": self.options.weights} if self.options.weights else None
        try:
            rgb = timm.create_model(self.model_name, pretrained=True, in_chans=3, num_classes=0,
                                    pretrained_cfg_overlay=overlay, **model_kwargs)
        except Exception as exc:  # hub, network, cache and file failures all mean "no weights"
            where = f"file {self.options.weights}" if self.options.weights else "the Hugging Face cache (offline?)"
            reason = " ".join(str(exc).split())[:160]
            raise BenchError(f"classifier.pretrained=true: no ImageNet weights for {self.model_name} in {where}; "
                             f"pass classifier.weights=PATH ({type(exc).__name__}: {reason})") from None
        return rgb.state_dict()

    def _load_pretrained(self, model_kwargs: dict) -> None:
        state = self._rgb_state_dict(model_kwargs)
        stem = self.backbone.pretrained_cfg["first_conv"] + ".weight"
        if self.options.init == "random":
            state[stem] = self.backbone.state_dict()[stem]
        else:
            state[stem] = adapt_stem(state[stem], self.options.init, self.in_chans)
        self.backbone.load_state_dict(state)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features)


@dataclass
class TransformerOptions(TimmOptions):
    input_size: int = option(224, "inputs are resized (bilinear) to this inside the model, as in the paper")

    def __post_init__(self):
        super().__post_init__()
        require(self.input_size >= 16, "input_size", "must be >= 16")


class TimmTransformer(TimmClassifier):
    """A timm vision transformer that resizes its input to `input_size` inside the model."""

    Options = TransformerOptions
    quick_options = {"input_size": 32}

    def __init__(self, options=None, *, num_classes: int = 28, in_chans: int = 4):
        options = options or self.Options()
        super().__init__(options, num_classes=num_classes, in_chans=in_chans, img_size=options.input_size)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        size = self.options.input_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return self.backbone(x)
