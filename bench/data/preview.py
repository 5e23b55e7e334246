"""Pictures of images: HPA-style composites and one-image-per-class grids (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.files import atomic_target

CHANNEL_LEGEND = ("red: microtubules, green: the protein, blue: nucleus, yellow: endoplasmic reticulum "
                  "(drawn as half red + half green)")


def composite(image: np.ndarray) -> np.ndarray:
    """uint8 (4, S, S) red/green/blue/yellow -> float RGB (S, S, 3); yellow shows as red + green."""
    r, g, b, y = image.astype(np.float32) / 255.0
    return np.clip(np.stack([r + 0.5 * y, g + 0.5 * y, b], axis=-1), 0, 1)


def save_class_grid(images: Sequence[np.ndarray], titles: Sequence[str], path: Path, columns: int = 7) -> None:
    """A grid of composites above their green channel, one column per image, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(1.6 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (image, title) in enumerate(zip(images, titles)):
        r, c = divmod(k, columns)
        axes[2 * r, c].imshow(composite(image), interpolation="nearest")
        axes[2 * r, c].set_title(title, fontsize=7)
        axes[2 * r + 1, c].imshow(image[1], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    fig.tight_layout(pad=0.3)
    with atomic_target(Path(path)) as tmp:
        fig.savefig(tmp, dpi=64, format="png")
    plt.close(fig)


def _tile(image: np.ndarray, size: int) -> np.ndarray:
    """An image's composite at most `size` px a side (block means: a 512 px image shows as 64 px, as on screen)."""
    rgb = composite(np.asarray(image))
    step = -(-rgb.shape[0] // size)
    if step > 1:
        side = rgb.shape[0] // step * step
        rgb = rgb[:side, :side].reshape(side // step, step, side // step, step, 3).mean(axis=(1, 3))
    return rgb


def save_class_rows(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], path: Path,
                    per_class: int = 6, tile: int = 64) -> None:
    """One row per class: up to `per_class` composites of images carrying that label, each row labelled with the
    class and how many images carry it; a grey tile where fewer images carry the class; the channels named.
    Drawn as one mosaic (one image in one axes: a figure of 168 axes took seconds per set)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, gap = len(class_names), 2
    side = len(_tile(images[0], tile)) if len(images) else tile  # every image of a set has one resolution
    mosaic = np.ones((n * (side + gap), per_class * (side + gap), 3))
    for c in range(n):
        chosen = np.flatnonzero(labels[:, c])[:per_class]
        for k in range(per_class):
            cell = _tile(images[chosen[k]], side) if k < len(chosen) else np.full((side, side, 3), 0.85)
            top, left = c * (side + gap), k * (side + gap)
            mosaic[top:top + len(cell), left:left + len(cell)] = cell
    fig, ax = plt.subplots(figsize=(0.9 * per_class + 1.6, 0.9 * n))
    ax.imshow(mosaic[:-gap, :-gap], interpolation="nearest", aspect="auto")  # the figure keeps tiles square
    ax.set_xticks([])
    ax.set_yticks([c * (side + gap) + side / 2 for c in range(n)],
                  [f"{c} {name} ({int(labels[:, c].sum())})" for c, name in enumerate(class_names)], fontsize=6)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    legend = CHANNEL_LEGEND.replace(" (", "\n(") + "; grey tile: no further image of the class"
    fig.text(0.5, 0.001, legend, ha="center", va="bottom", fontsize=6)
    fig.tight_layout(pad=0.2, rect=(0, 0.9 / n / 2, 1, 1))
    with atomic_target(Path(path)) as tmp:
        fig.savefig(tmp, dpi=64, format="png")
    plt.close(fig)
