"""Per-class effects against the no-synthetic control: where, by class frequency, does a configuration
help or hurt? (Rare classes are where generative augmentation is said to help.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.data.labels import CLASS_NAMES
from bench.report.paired import control_of, is_control

RAREST = 10  # classes in the table of the rarest


def _per_class(runs_dir: Path, runs: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """per_class.csv of each run, by seed."""
    return {int(seed): pd.read_csv(Path(runs_dir) / run / "per_class.csv")
            for seed, run in zip(runs["seed"], runs["run"])}


def effects(section: pd.DataFrame, runs_dir: Path) -> pd.DataFrame:
    """One row per (configuration, class): train positives and the mean over paired seeds of the change in
    test F1 @tuned against the control with the same classifier and training settings. Empty when the
    runs predate `train_positives` in per_class.csv or have no test role."""
    rows = []
    sizes = section["train_images"].nunique() > 1
    for (group, generator, strategy, classifier), runs in section[~is_control(section)].groupby(
            ["group", "generator", "strategy", "classifier"], sort=True):
        control = control_of(section, runs)
        mine, theirs = _per_class(runs_dir, runs), _per_class(runs_dir, control)
        seeds = sorted(set(mine) & set(theirs))
        if not seeds or "train_positives" not in mine[seeds[0]] or "test_f1@tuned" not in mine[seeds[0]]:
            continue
        delta = np.mean([mine[s]["test_f1@tuned"].to_numpy() - theirs[s]["test_f1@tuned"].to_numpy()
                         for s in seeds], axis=0)
        table, size = mine[seeds[0]], int(runs["train_images"].iloc[0])
        epochs = int(runs["epochs"].iloc[0]) if "epochs" in runs else 0
        label = f"{generator} / {strategy} / {classifier} ({group})" + (
            f" at {size} images, {epochs} epochs" if sizes else "")
        for c in range(len(table)):
            rows.append({"config": label, "generator": generator, "strategy": strategy, "classifier": classifier,
                         "epochs": epochs, "class": c, "train_images": size,
                         "train_positives": int(table["train_positives"][c]),
                         "test_positives": int(table["test_positives"][c]), "delta": float(delta[c]),
                         "seeds": len(seeds)})
    return pd.DataFrame(rows)


def rarest_table(frame: pd.DataFrame) -> str | None:
    """Configurations (rows) x the rarest classes with test positives (columns): mean change in test F1, and
    its mean over those classes; the first two rows count each class's training and test images. With several
    train sizes, classes are ranked (and their training images counted) at the largest."""
    if frame.empty:
        return None
    scored = frame[frame["test_positives"] > 0]
    largest = scored[scored["train_images"] == scored["train_images"].max()]
    classes = list(largest.drop_duplicates("class").sort_values(["train_positives", "class"])["class"].head(RAREST))
    counts = largest.drop_duplicates("class").set_index("class")
    several = scored["train_images"].nunique() > 1
    at = f" (at {int(largest['train_images'].iloc[0])})" if several else ""
    rows = [[f"*training images of the class{at}*", *(int(counts.loc[c, "train_positives"]) for c in classes), ""],
            ["*test images of the class*", *(int(counts.loc[c, "test_positives"]) for c in classes), ""]]
    order = scored.drop_duplicates("config").sort_values(["train_images", "config"])["config"]
    for config in order:
        delta = scored[scored["config"] == config].set_index("class")["delta"]
        mine = [delta.get(c) for c in classes]
        known = [d for d in mine if d is not None]
        rows.append([config, *(f"{d:+.3f}" if d is not None else "—" for d in mine),
                     f"{np.mean(known):+.3f}" if known else "—"])
    headers = ["configuration", *(f"{c} {CLASS_NAMES[c]}" for c in classes), "mean over these classes"]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def empty_classes(frame: pd.DataFrame) -> list[str]:
    """One line per train size at which some classes have no training image (their F1 is 0 there)."""
    if frame.empty:
        return []
    out = []
    for size, part in frame.groupby("train_images", sort=True):
        empty = sorted(part.loc[part["train_positives"] == 0, "class"].unique())
        if empty:
            out.append(f"At {size} train images, classes with no training image (F1 0 in every macro average "
                       f"there): {', '.join(f'{c} {CLASS_NAMES[c]}' for c in empty)}.")
    return out


def render(section: pd.DataFrame, runs_dir: Path | None) -> list[str]:
    frame = effects(section, runs_dir) if runs_dir is not None else pd.DataFrame()
    table = rarest_table(frame)
    if table is None:
        return []
    return ["### Per-class effects on the rarest classes", "",
            f"Change in test F1 @tuned against the no-synthetic control (mean over paired seeds), one row per "
            f"configuration, for the {RAREST} classes with the fewest training images that have test positives "
            f"(ranked at the largest train size). With a handful of test "
            f"positives a class's F1 moves in large steps, so read these as where to look, not as effects; the "
            f"figure plots every class against its training frequency.", "", table, "",
            *(line for note in empty_classes(frame) for line in (note, ""))]
