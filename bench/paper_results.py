"""The paper's logged numbers (Lin & Cao 2025, from its notebooks; paper-extraction.md section 7.2).

Reported, not reproduced: Kaggle HPA 2018 train, the paper's unstratified 10% validation split
(3,108 images), one unseeded run each. They are shown beside the leaderboard for reference only.
"""

from __future__ import annotations

# (preset, model, best validation macro F1, at epoch, rule)
LOGGED = (
    ("paper/resnet18-bce", "ResNet18, BCE", 0.6482, 27, "@0.5; its saved model is the last epoch (0.6396)"),
    ("paper/resnet34-bce", "ResNet34, BCE", 0.6334, 18, "@0.5; interrupted in epoch 23"),
    ("paper/resnet18-focal", "ResNet18, focal", 0.6398, 20, "@0.5; last epoch 0.6327"),
    ("paper/resnet34-arcface", "ResNet34, ArcFace", 0.4305, 27, "@0.5 with dropout on at inference"),
    ("paper/vit-b16", "ViT-B/16, focal", 0.4209, 10, "per-class thresholds tuned on the same validation set"),
    ("paper/swin-b", "Swin-B, focal", 0.6469, 9, "per-class thresholds tuned on the same validation set"),
    ("paper/mixloss-resnet34", "MixModel Mix Loss, ResNet34", 0.3187, 14, "@0.5; early stop at 19, last kept"),
    ("paper/mixrep-resnet18", "MixModel Mix Representation, ResNet18", 0.3393, 12, "@0.5; early stop at 17"),
)


def markdown() -> str:
    from tabulate import tabulate

    rows = [[preset, model, f"{f1:.4f}", epoch, rule] for preset, model, f1, epoch, rule in LOGGED]
    table = tabulate(rows, ["preset", "model", "best val macro F1", "epoch", "how"], tablefmt="github",
                     disable_numparse=True)
    return "\n".join([
        "## Reported by the paper (not reproduced here)", "",
        "Validation macro F1 logged in Lin & Cao's notebooks on the real Kaggle HPA 2018 data, their unstratified "
        "10% split, one unseeded run each; no test numbers or Kaggle scores were published. Not comparable with "
        "the embedded dataset's rows above; `--preset` reproduces each configuration.", "", table, ""])
