"""Figures beside the leaderboard markdown (matplotlib, Agg, no timestamps: the same runs give the same bytes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.labels import CLASS_NAMES, NUM_CLASSES
from bench.data.preview import CHANNEL_LEGEND
from bench.evaluate.metrics import F1_TUNED
from bench.files import atomic_target
from bench.report import fidelity_tables
from bench.report.runs_frame import budget_order, budget_text, config_labels

PNG = {"metadata": {"Software": None}, "dpi": 110}


def save_figure(fig, path: Path) -> None:
    """Save as PNG under a temporary name, then rename: a killed save leaves the previous figure, never a 0-byte one."""
    with atomic_target(Path(path)) as tmp:
        fig.savefig(tmp, format="png", **PNG)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def val_vs_test(section: pd.DataFrame, path: Path) -> bool:
    """Validation vs test macro F1 @tuned, one point per run, with the diagonal, marked by strategy: one colour
    per configuration, labelled with its settings (a ladder's rungs), or, with more configurations than
    colours, one per generator. False if no test role."""
    runs = section.dropna(subset=[f"test:{F1_TUNED}"])
    if runs.empty:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5 + 0.14 * min(runs["group"].nunique(), 20)))
    markers = dict(zip(sorted(runs["strategy"].unique()), "osD^vP*X"))
    palette = plt.get_cmap("tab20").colors
    if runs["group"].nunique() > len(palette):  # too many configurations to tell apart by colour
        colours = generator_colours(runs["generator"])
        series = [(f"{g} / {s}", colours[g], markers[s], part)
                  for (g, s), part in runs.groupby(["generator", "strategy"], sort=True)]
    else:
        labels = {group: _few(settings) for group, settings in config_labels(section).items()}  # as in the tables
        series = [(f"{g} / {s}" + (f" {labels[group]}" if labels[group] else ""), palette[k], markers[s], part)
                  for k, ((group, g, s), part) in enumerate(runs.groupby(["group", "generator", "strategy"],
                                                                          sort=True))]
    for label, colour, marker, part in series:
        ax.scatter(part[f"val:{F1_TUNED}"], part[f"test:{F1_TUNED}"], marker=marker, color=colour, label=label,
                   alpha=0.8)
    values = pd.concat([runs[f"val:{F1_TUNED}"], runs[f"test:{F1_TUNED}"]])
    low, high = values.min() - 0.02, values.max() + 0.02
    ax.plot([low, high], [low, high], color="grey", lw=1, ls="--", label="val = test")
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="validation macro F1 @tuned", ylabel="test macro F1 @tuned",
           title="below the diagonal: validation overstates test")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.12))
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def _consistency_note(runs: pd.DataFrame) -> str:
    """ ", label consistency a-b": the range of the runs' sets' label consistency (fidelity), "" without sets."""
    values = sorted({round(f["label_consistency"], 2) for f in runs["fidelity"].dropna()
                     if isinstance(f, dict) and f.get("label_consistency") is not None})
    if not values:
        return ""
    shown = f"{values[0]:.2f}" if len(values) == 1 else f"{values[0]:.2f}-{values[-1]:.2f}"
    return f", label consistency {shown}"


def _few(settings: str, shown: int = 2) -> str:
    """A configuration's differing settings, the first `shown` of them and how many more."""
    parts = settings.split()
    return " ".join(parts[:shown]) + (f" (+{len(parts) - shown} more)" if len(parts) > shown else "")


GENERATOR_COLOURS = {"none": "black", "real": "tab:gray", "ddpm": "tab:blue", "ddpm-unet": "tab:cyan", "edm": "tab:red",
                     "oracle": "tab:green", "latent": "tab:purple"}
STRATEGY_LINES = {"none": "--", "concat": "-", "mix_rep": "-.", "mix_loss": ":"}


def generator_colours(generators: pd.Series) -> dict[str, str]:
    """A fixed colour per known generator, the same in every figure; others take the spare ones in name order."""
    spare = iter(["tab:green", "tab:purple", "tab:olive", "tab:brown", "tab:pink"])
    return {g: GENERATOR_COLOURS.get(g) or next(spare, "tab:orange") for g in sorted(generators.unique())}


def learning_curves(section: pd.DataFrame, runs_dir: Path | None, path: Path) -> bool:
    """Test macro F1 @tuned against the number of real training images (split.train_fraction), one panel per
    optimizer budget that has two train sizes or more, one line per curve (the same settings at every size:
    `leaderboard._curve`; a curve at one size is left out): colour by generator, line by strategy; mean over
    seeds with the main table's 95% interval as its bar (over seeds and test images where the predictions are
    saved; none with one seed). False without a curve."""
    from bench.report.paired import PairedTest, config_bounds
    key = f"test:{F1_TUNED}"
    runs = section.dropna(subset=[key])
    if runs.empty or runs["train_images"].nunique() < 2:
        return False
    plt = _pyplot()
    budgets = [b for b in sorted(runs["budget"].unique(), key=budget_order)  # a curve needs two sizes
               if runs.loc[runs["budget"] == b, "train_images"].nunique() > 1]
    if not budgets:
        return False
    fig, axes = plt.subplots(1, len(budgets), figsize=(6.5 * len(budgets), 4.8), sharey=True, squeeze=False)
    paired, colours = PairedTest(runs_dir), generator_colours(runs["generator"])
    sizes = sorted(runs["train_images"].unique())
    for ax, budget in zip(axes[0], budgets):
        curves = [(key, part) for key, part in runs[runs["budget"] == budget].groupby(
            ["generator", "strategy", "classifier", "curve"], sort=True) if part["train_images"].nunique() > 1]
        labelled = set()
        for number, ((generator, strategy, classifier, _), part) in enumerate(curves):
            dodge = 1 + 0.025 * (number - (len(curves) - 1) / 2)  # side by side at each size, not on top
            at = {size: (runs_at[key].mean(), config_bounds(runs_at, key, paired)[0])
                  for size, runs_at in part.groupby("train_images")}
            x, mean = np.array(list(at)) * dodge, np.array([m for m, _ in at.values()])
            low = np.array([b[0] if b[0] is not None else m for m, b in at.values()])
            high = np.array([b[1] if b[1] is not None else m for m, b in at.values()])
            style = {"color": colours[generator], "linestyle": STRATEGY_LINES.get(strategy, "-"),
                     "linewidth": 2 if generator == strategy == "none" else 1.4}
            label = f"{generator} / {strategy} / {classifier}{_consistency_note(part)}"
            ax.errorbar(x, mean, yerr=[mean - low, high - mean], marker="o", capsize=3,
                        label=None if label in labelled else label, **style)
            labelled.add(label)
        ax.set(xscale="log", xlabel="real training images (nested stratified subsets of the train role)",
               title=f"budget: each size trained by the rule `{budget}`" if isinstance(budget, str) else
               f"optimizer budget: {budget:g} epoch{'s' if budget != 1 else ''} of the whole train role")
        ax.set_xticks(sizes, [str(n) for n in sizes], minor=False)
        ax.set_xticks([], minor=True)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test macro F1 @tuned (mean over seeds, 95% interval)")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def per_class_effects(section: pd.DataFrame, runs_dir: Path, path: Path) -> bool:
    """Per-class change in test F1 against the control vs the class's training images: one panel per train
    size and epochs, colour by generator and marker by strategy, as in the learning curves."""
    from bench.report.per_class import effects
    frame = effects(section, runs_dir)
    frame = frame[frame["test_positives"] > 0] if not frame.empty else frame
    if frame.empty:
        return False
    plt = _pyplot()
    panels = list(frame.groupby(["train_images", "epochs"], sort=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1.5, 4.5), sharey=True, squeeze=False)
    colours = generator_colours(frame["generator"])
    markers = dict(zip(sorted(frame["strategy"].unique()), "osD^vP*X"))
    for ax, ((size, epochs), panel) in zip(axes[0], panels):
        for (generator, strategy, classifier), part in panel.groupby(["generator", "strategy", "classifier"],
                                                                      sort=True):
            ax.scatter(part["train_positives"].clip(lower=0.8), part["delta"], color=colours[generator],
                       marker=markers[strategy], label=f"{generator} / {strategy} / {classifier}", alpha=0.75, s=20)
        ax.axhline(0, color="grey", lw=1, ls="--")
        ax.set(xscale="log", xlabel="training images of the class (0 drawn at 0.8)",
               title=f"{size} train images, {epochs} epochs")
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("Δ test F1 @tuned vs control (mean of seeds)")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def per_class_heatmap(section: pd.DataFrame, runs_dir: Path, path: Path) -> bool:
    """Test F1 @tuned per class (columns, named) and configuration (rows: by train images, then method; each
    labelled with its size and settings), mean over seeds."""
    settings = config_labels(section)
    rows, labels = [], []
    keys = ["train_images", "generator", "strategy", "classifier", "group"]
    for (size, generator, strategy, classifier, group), runs in section.groupby(keys, sort=True):
        tables = [pd.read_csv(Path(runs_dir) / run / "per_class.csv") for run in runs["run"]]
        scores = [t["test_f1@tuned"].to_numpy() for t in tables if "test_f1@tuned" in t]
        if scores:
            rows.append(np.mean(scores, axis=0))
            labels.append(f"{size} images · {generator} / {strategy} / {classifier} ({group}"
                          + (f" {settings[group]}" if settings[group] else "") + ")")
    if not rows:
        return False
    plt = _pyplot()
    height = 0.3 * len(rows) + 3
    fig, ax = plt.subplots(figsize=(12, height))
    image = ax.imshow(np.array(rows), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(NUM_CLASSES), [f"{c} {CLASS_NAMES[c]}" for c in range(NUM_CLASSES)], fontsize=6,
                  rotation=90)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    fig.colorbar(image, ax=ax, label="test F1 @tuned (mean over seeds)", fraction=0.03)
    fig.subplots_adjust(left=0.42, right=0.94, top=1 - 0.2 / height, bottom=2.2 / height)  # long row and class labels
    save_figure(fig, path)
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
        with atomic_target(out_dir / name) as tmp:
            shutil.copyfile(folder / "grid.png", tmp)
        figures.append((f"Samples of generator `{row['generator']}` (set `{folder.name}`; one row per class, "
                        f"as labelled; {CHANNEL_LEGEND}; an empty tile: the set has no further image of the "
                        f"class)", name))
    return figures


def fidelity_to_benefit(section: pd.DataFrame, runs_dir: Path | None, path: Path, sets: list[dict] = ()) -> bool:
    """Each set's test effect against the control (95% interval as bar) against its label consistency and its
    FID on the checked features (fidelity version 3), one row of panels per train size and budget; colour by generator,
    marker by strategy, the oracle's degradations labelled. False without such sets."""
    from bench.report.effects import effect_rows
    from bench.report.paired import PairedTest
    from bench.report.utility import fidelity_frame
    frame = fidelity_frame(section, effect_rows(section, PairedTest(runs_dir))[0], sets)
    if frame.empty:
        return False
    plt = _pyplot()
    sizes = sorted({(r.train_images, r.budget) for r in frame.itertuples()}, key=lambda s: (s[0], budget_order(s[1])))
    fig, axes = plt.subplots(len(sizes), 2, figsize=(11, 4.2 * len(sizes)), squeeze=False, sharey="row",
                             sharex="col")  # one scale per measure, so the sizes compare
    colours = generator_colours(frame["generator"])
    markers = {"concat": "o", "mix_rep": "s", "mix_loss": "^"}
    for row, (size, budget) in zip(axes, sizes):
        part = frame[(frame["train_images"] == size) & (frame["budget"] == budget)]
        for ax, (key, name, log) in zip(row, (("label_consistency", "label consistency", False),
                                               ("fid", "domain FID (checked features)", True))):
            for _, r in part.dropna(subset=[key]).iterrows():
                low, high = (r["low"], r["high"]) if r["low"] is not None and r["low"] == r["low"] else (None, None)
                yerr = None if low is None else [[r["effect"] - low], [high - r["effect"]]]
                ax.errorbar(r[key], r["effect"], yerr=yerr, marker=markers.get(r["strategy"], "D"), capsize=3,
                            color=colours[r["generator"]], linestyle="none")
                ax.annotate(r["changed"] or r["generator"], (r[key], r["effect"]), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set(xlabel=name, xscale="log" if log else "linear",
                   title=f"{size} real training images, budget {budget_text(budget)}")
        row[0].set_ylabel("Δ test macro F1 @tuned against the control (95%)")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="none", label=g) for g, c in colours.items()
               if g in set(frame["generator"])]
    handles += [plt.Line2D([], [], color="gray", marker=m, linestyle="none", label=s) for s, m in markers.items()
                if s in set(frame["strategy"])]
    axes[0][1].legend(handles=handles, fontsize=7)
    for ax in axes.flat:
        ax.label_outer()  # shared axes are labelled once, at the bottom and on the left
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def utility(section: pd.DataFrame, runs_dir: Path | None, path: Path) -> bool:
    """Each set's utility (the share of the oracle's gain over `real` it recovers) with its 95% interval, one panel
    per train size, one row per set and strategy; 0 (as good as real images) and 1 (as good as the oracle)
    marked. False where the section has no oracle and `real` set to place sets between."""
    from bench.report.paired import PairedTest
    from bench.report.utility import utilities
    found = utilities(section, PairedTest(runs_dir))
    if not found:
        return False
    plt = _pyplot()
    sizes = sorted({u.train_images for u in found})
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes) + 4.5, 0.45 * len(found) + 1.8), squeeze=False)
    colours = generator_colours(pd.Series([u.generator for u in found]))
    for ax, size in zip(axes[0], sizes):
        mine = [u for u in found if u.train_images == size]
        for y, u in enumerate(mine):
            if u.estimate is None:
                continue
            low, high = u.bounds
            xerr = None if low is None else [[u.estimate - low], [high - u.estimate]]
            ax.errorbar(u.estimate, y, xerr=xerr, marker="o", capsize=3, color=colours[u.generator],
                        linestyle="none")
            if low is None:
                ax.annotate(u.note or "no interval", (u.estimate, y), fontsize=6, xytext=(4, 4),
                            textcoords="offset points")
        ax.set_yticks(range(len(mine)), [f"{u.set_label} / {u.strategy}".replace("`", "") for u in mine], fontsize=7)
        for x, label in ((0, "real"), (1, "oracle")):
            ax.axvline(x, color="black", linewidth=0.8, linestyle="--" if x else "-")
            ax.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), fontsize=7, xytext=(2, -10),
                        textcoords="offset points")
        ax.set(xlabel="utility: share of the oracle's gain over real (95%)", title=f"{size} real training images")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


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
                                ("Test macro F1 against the number of real training images (bars: the main "
                                 "table's 95% intervals)", f"{stem}-learning-curves.png",
                                 lambda p: learning_curves(section, runs_dir, p)),
                                ("Fidelity to benefit: each set's test effect against the control by its label "
                                 "consistency and its FID (checked features)", f"{stem}-fidelity-to-benefit.png",
                                 lambda p: fidelity_to_benefit(section, runs_dir, p, sets)),
                                ("Generator utility: the share of the oracle's gain over `real` each set recovers",
                                 f"{stem}-utility.png", lambda p: utility(section, runs_dir, p))):
        if plot(out_dir / name):
            figures.append((caption, name))
    if not synthetic_dir:
        return figures
    mine = fidelity_tables.in_section(section, list(sets))
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
    save_figure(fig, path)
    plt.close(fig)
    return True
