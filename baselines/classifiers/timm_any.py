"""`timm`: any architecture timm creates with `in_chans=4`, by name: `--classifier timm classifier.arch=convnext_atto`.

Every option of the named classifiers is kept (stem initialisation, pretrained weights from the
Hugging Face cache or a file, linear or ArcFace head, dropout). The named ones (`resnet18`, ...,
`swin_b`) are this with their architecture, pretrained tag and pooling fixed, under their own names,
so their run ids are unchanged.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from baselines.classifiers.timm_model import TimmClassifier, TimmOptions
from bench.api import BenchError, option, require


def _refusal(arch: str) -> str:
    """Why timm cannot create `arch`, with its closest names; "" when timm knows it."""
    import timm  # seconds to import: only when a `timm` classifier is configured

    if timm.is_model(arch):
        return ""
    close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.75)
    hint = f"closest: {', '.join(close)}" if close else "timm.list_models() lists them"
    return f"timm does not know this architecture ({hint})"


@dataclass
class AnyTimmOptions(TimmOptions):
    arch: str = option("resnet18", "a timm architecture (timm.list_models()), created with in_chans=4")
    input_size: int = option(0, "resize inputs to this many px inside the model; 0: as they come (set it for "
                                "architectures with a fixed input size: ViT, Swin)")

    def __post_init__(self):
        super().__post_init__()
        require(self.input_size == 0 or self.input_size >= 16, "input_size", "must be 0 (off) or >= 16")
        refusal = _refusal(self.arch)
        require(not refusal, "arch", refusal)


class AnyTimm(TimmClassifier):
    """Any timm architecture by name (classifier.arch), 4-channel stem (random|copy-red|timm), linear/ArcFace head."""

    Options = AnyTimmOptions

    def __init__(self, options=None, *, num_classes: int = 28, in_chans: int = 4):
        options = options or self.Options()
        self.arch = options.arch
        extra = {"img_size": options.input_size} if options.input_size else {}
        try:
            super().__init__(options, num_classes=num_classes, in_chans=in_chans, **extra)
        except TypeError as exc:
            raise BenchError(f"classifier.arch={options.arch}: timm cannot create it with in_chans={in_chans}"
                             f"{' and img_size' if extra else ''} ({exc}); choose another architecture"
                             f"{' or leave classifier.input_size=0' if extra else ''}") from None

    @property
    def model_name(self) -> str:
        return f"{self.arch}.{self.options.tag}" if self.options.tag else self.arch

    def features(self, x: torch.Tensor) -> torch.Tensor:
        size = self.options.input_size
        if size and x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return self.backbone(x)
