"""The paper's logged numbers beside the leaderboard, read from the `reported:` sections of the `paper/*` presets.

Reported, not reproduced: Kaggle HPA 2018 train, the paper's unstratified 10% validation split
(3,108 images), one unseeded run each (docs/paper.md, "Numbers the authors' notebooks logged").
"""

from __future__ import annotations

from tabulate import tabulate

from bench.config import presets


def markdown() -> str:
    rows = [[name, r["model"], f"{r['best_val_f1_macro']:.4f}", r["epoch"], r["how"]]
            for name, r in sorted(presets.reported().items(), key=lambda item: item[1]["row"])]
    table = tabulate(rows, ["preset", "model", "best val macro F1", "epoch", "how"], tablefmt="github",
                     disable_numparse=True)
    return "\n".join([
        "## Reported by the paper (not reproduced here)", "",
        "Validation macro F1 logged in Lin & Cao's notebooks on the real Kaggle HPA 2018 data, their unstratified "
        "10% split, one unseeded run each; no test numbers or Kaggle scores were published. Not comparable with "
        "the embedded dataset's rows above; `--preset` reproduces each configuration.", "", table, ""])
