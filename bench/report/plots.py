"""Figures beside the leaderboard markdown (matplotlib, Agg, no timestamps: the same runs give the same bytes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.labels import NUM_CLASSES
from bench.evaluate.metrics import F1_TUNED

PNG = {"metadata": {"Software": None}, "dpi": 110}


def t_quantile(counts: pd.Series) -> pd.Series:
    """The two-sided 95% Student-t quantile for each sample size (NaN below 2: no band)."""
    from scipy import stats

    return counts.map(lambda n: stats.t.ppf(0.975, n - 1) if n >= 2 else np.nan)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def val_vs_test(section: pd.DataFrame, path: Path) -> bool:
    """Validation vs test macro F1 @tuned, one point per run, with the diagonal. False if no test role."""
    runs = section.dropna(subset=[f"test:{F1_TUNED}"])
    if runs.empty:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    markers = dict(zip(sorted(runs["strategy"].unique()), "osD^vP*X"))
    for (generator, strategy), part in runs.groupby(["generator", "strategy"], sort=True):
        ax.scatter(part[f"val:{F1_TUNED}"], part[f"test:{F1_TUNED}"], marker=markers[strategy],
                   label=f"{generator} / {strategy}", alpha=0.8)
    values = pd.concat([runs[f"val:{F1_TUNED}"], runs[f"test:{F1_TUNED}"]])
    low, high = values.min() - 0.02, values.max() + 0.02
    ax.plot([low, high], [low, high], color="grey", lw=1, ls="--", label="val = test")
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="validation macro F1 @tuned", ylabel="test macro F1 @tuned",
           title="below the diagonal: validation overstates test")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return True


def learning_curves(section: pd.DataFrame, path: Path) -> bool:
    """Test macro F1 @tuned against the number of real training images (split.train_fraction), one line per
    curve (the same settings at every size and the same optimizer budget: `leaderboard._curve`), mean over
    seeds with its 95% Student-t band (none with one seed). False with one train size."""
    runs = section.dropna(subset=[f"test:{F1_TUNED}"])
    if runs.empty or runs["train_images"].nunique() < 2:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    budgets = runs["budget"].nunique() > 1
    for (generator, strategy, classifier, budget, _), part in runs.groupby(
            ["generator", "strategy", "classifier", "budget", "curve"], sort=True):
        label = f"{generator} / {strategy} / {classifier}" + (f", budget {budget:g}" if budgets else "")
        stats = part.groupby("train_images")[f"test:{F1_TUNED}"].agg(["mean", "std", "count"])
        half = (t_quantile(stats["count"]) * stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
        control = {"color": "black", "linestyle": "--", "linewidth": 2} if generator == strategy == "none" else {}
        line = ax.plot(stats.index, stats["mean"], marker="o", label=label, **control)
        ax.fill_between(stats.index, stats["mean"] - half, stats["mean"] + half, color=line[0].get_color(),
                        alpha=0.15)
    ax.set(xscale="log", xlabel="real training images (nested stratified subsets of the train role)",
           ylabel="test macro F1 @tuned", title="learning curves (mean over seeds, 95% t band)")
    sizes = sorted(runs["train_images"].unique())
    ax.set_xticks(sizes, [str(n) for n in sizes], minor=False)
    ax.set_xticks([], minor=True)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return True


def per_class_effects(section: pd.DataFrame, runs_dir: Path, path: Path) -> bool:
    """Per-class change in test F1 against the control vs the class's training images, one colour per configuration."""
    from bench.report.per_class import effects  # noqa: PLC0415

    frame = effects(section, runs_dir)
    frame = frame[frame["test_positives"] > 0] if not frame.empty else frame
    if frame.empty:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for config, part in frame.groupby("config", sort=True):
        ax.scatter(part["train_positives"].clip(lower=0.8), part["delta"], label=config, alpha=0.75, s=18)
    ax.axhline(0, color="grey", lw=1, ls="--")
    ax.set(xscale="log", xlabel="training images of the class", ylabel="change in test F1 @tuned vs control",
           title="per-class effects (mean over paired seeds)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return True


def per_class_heatmap(section: pd.DataFrame, runs_dir: Path, path: Path) -> bool:
    """Test F1 @tuned per class (columns) and configuration (rows), mean over seeds."""
    rows, labels = [], []
    for (group, generator, strategy, classifier), runs in section.groupby(["group", "generator", "strategy",
                                                                           "classifier"], sort=True):
        tables = [pd.read_csv(Path(runs_dir) / run / "per_class.csv") for run in runs["run"]]
        scores = [t["test_f1@tuned"].to_numpy() for t in tables if "test_f1@tuned" in t]
        if scores:
            rows.append(np.mean(scores, axis=0))
            labels.append(f"{generator} / {strategy} / {classifier} ({group})")
    if not rows:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(rows) + 1.6))
    image = ax.imshow(np.array(rows), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(NUM_CLASSES), [str(c) for c in range(NUM_CLASSES)], fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("class id")
    fig.colorbar(image, ax=ax, label="test F1 @tuned", fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return True


def sample_grids(section: pd.DataFrame, synthetic_dir: Path, out_dir: Path, stem: str,
                 sets: list[dict] = ()) -> list[tuple[str, str]]:
    """Copy the sample grid (rows = classes) of every synthetic set the section's runs used or `sets` lists
    for it, found by its content fingerprint among the set folders; sets whose folder is gone are left out."""
    used = pd.concat([section[["generator", "synthetic_fp"]],
                      pd.DataFrame([{"generator": s["generator"], "synthetic_fp": s["synthetic_fp"]} for s in sets],
                                   columns=["generator", "synthetic_fp"])])
    used = used.dropna(subset=["synthetic_fp"]).drop_duplicates("synthetic_fp").sort_values(["generator",
                                                                                               "synthetic_fp"])
    if used.empty or not Path(synthetic_dir).is_dir():
        return []
    folders = {}
    for manifest in sorted(Path(synthetic_dir).glob("*/manifest.json")):
        try:
            folders[json.loads(manifest.read_text())["fingerprint"]] = manifest.parent
        except (OSError, ValueError, KeyError):
            continue  # a damaged set has no grid worth showing
    figures = []
    for _, row in used.iterrows():
        folder = folders.get(row["synthetic_fp"])
        if folder is None or not (folder / "grid.png").exists():
            continue
        name = f"{stem}-samples-{row['generator']}-{row['synthetic_fp'][:8]}.png"
        shutil.copyfile(folder / "grid.png", out_dir / name)
        figures.append((f"Samples of generator `{row['generator']}` (set `{folder.name}`; one row per class, "
                        f"as labelled)", name))
    return figures


def draw(section: pd.DataFrame, runs_dir: Path, out_dir: Path, stem: str,
         synthetic_dir: Path | None = None, sets: list[dict] = ()) -> list[tuple[str, str]]:
    """Write this section's figures; (caption, file name) of each one written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    for caption, name, plot in (("Validation vs test, one point per run", f"{stem}-val-vs-test.png",
                                 lambda p: val_vs_test(section, p)),
                                ("Per-class test F1 @tuned (mean over seeds)", f"{stem}-per-class.png",
                                 lambda p: per_class_heatmap(section, runs_dir, p)),
                                ("Per-class change in test F1 against the control, by the class's training "
                                 "images", f"{stem}-per-class-effects.png",
                                 lambda p: per_class_effects(section, runs_dir, p)),
                                ("Test macro F1 against the number of real training images",
                                 f"{stem}-learning-curves.png", lambda p: learning_curves(section, p))):
        if plot(out_dir / name):
            figures.append((caption, name))
    if not synthetic_dir:
        return figures
    first = section.iloc[0]
    mine = [s for s in sets if (s["dataset_fp"], s["split_fp"]) == (first["dataset_fp"], first["split_fp"])]
    if loss_curves(mine, out_dir / f"{stem}-generator-loss.png"):
        figures.append(("Generator training loss per epoch (each set's `loss.csv`)", f"{stem}-generator-loss.png"))
    return figures + sample_grids(section, synthetic_dir, out_dir, stem, mine)


def loss_curves(sets: list[dict], path: Path) -> bool:
    """One line per generator training found beside the section's sets (sets sharing a training draw it once)."""
    curves = {}
    for s in sorted(sets, key=lambda s: (s["generator"], s["synthetic_fp"])):
        loss = s["folder"] / "loss.csv"
        if loss.exists():
            frame = pd.read_csv(loss)
            curves.setdefault((s["generator"], tuple(frame["loss"].round(6))), frame)
    if not curves:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (generator, _), frame in curves.items():
        ax.plot(frame["epoch"], frame["loss"], label=generator)
    ax.set(xlabel="epoch", ylabel="training loss (each generator's own)", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return True
