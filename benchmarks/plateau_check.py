"""Has each train size's control reached its validation plateau? The budget criterion of the data-size grid.

    python benchmarks/plateau_check.py RUNS_DIR [RUNS_DIR ...] [--tolerance 0.01]

Criterion: a control (generator and strategy `none`) trained E epochs at a train size is at its
plateau when the same control trained 2E epochs (same everything else, the cosine schedule
stretched over twice the epochs) scores at most `--tolerance` higher in validation macro F1 at
its selected epoch with thresholds tuned on validation (the validation side of the reported test
score), mean over the seeds each has. Validation only: test never chooses a budget. (Macro F1
@0.5, the score that selects the epoch, keeps rising with longer training on its own: the
probabilities grow more confident and cross 0.5 more often without ranking images better; mAP and
@tuned do not.) For every train size it prints each budget's seeds, selected epochs, validation
and test scores, and the verdict for each (E, 2E) pair it finds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.report.runs_frame import _identity_view


def settings(config: dict) -> str:
    """A control's settings without its seed, train size and epochs (and options recorded at their defaults
    by a later version), so that budgets of one control can be paired."""
    view = _identity_view(config)
    view = {k: v for k, v in view.items() if k not in ("seed", "run_id", "group", "fidelity")}
    view["train"] = {k: v for k, v in view["train"].items() if k != "epochs"}
    view["split"] = {k: v for k, v in view["split"].items() if k != "train_fraction"}
    return json.dumps(view, sort_keys=True)


def controls(folders: list[Path]) -> pd.DataFrame:
    rows = []
    for folder in folders:
        for done in sorted(Path(folder).glob("*/done")):
            run = done.parent
            config = json.loads((run / "config.json").read_text())
            if config["generator"]["name"] != "none" or config["strategy"]["name"] != "none":
                continue
            record = json.loads((run / "record.json").read_text())
            metrics = json.loads((run / "metrics.json").read_text())
            rows.append({"train images": record["split"]["counts"]["train"], "epochs": config["train"]["epochs"],
                         "seed": config["seed"], "run": run.name[:8], "selected epoch": metrics["best_epoch"],
                         "val F1@0.5": max(h["val_f1_macro@0.5"] for h in metrics["history"]),
                         "val F1@tuned": metrics["val"]["f1_macro@tuned"], "val mAP": metrics["val"]["map_macro"],
                         "test F1@tuned": metrics["test"]["f1_macro@tuned"], "test mAP": metrics["test"]["map_macro"],
                         "settings": settings(config)})
    return pd.DataFrame(rows)


def verdicts(frame: pd.DataFrame, tolerance: float) -> list[str]:
    lines = []
    means = frame.groupby(["settings", "train images", "epochs"])["val F1@tuned"].agg(["mean", "count"])
    for (settings, size, epochs), row in means.iterrows():
        doubled = (settings, size, 2 * epochs)
        if doubled not in means.index:
            continue
        gain = means.loc[doubled, "mean"] - row["mean"]
        lines.append(f"{size} train images: {epochs} -> {2 * epochs} epochs raises validation macro F1 @tuned by "
                     f"{gain:+.3f} ({row['count']} vs {means.loc[doubled, 'count']} seeds): "
                     + ("at its plateau" if gain <= tolerance else "NOT at its plateau")
                     + f" (tolerance {tolerance})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dirs", nargs="+", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    frame = controls(args.runs_dirs)
    if frame.empty:
        raise SystemExit("no finished control runs found")
    shown = frame.drop(columns=["settings"]).sort_values(["train images", "epochs", "seed"])
    print(tabulate(shown, headers="keys", tablefmt="github", showindex=False, floatfmt=".3f"))
    print("\n".join(verdicts(frame, args.tolerance)) or "no (E, 2E) pair of budgets at one train size")


if __name__ == "__main__":
    main()
