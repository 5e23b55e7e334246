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


def save_class_rows(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], path: Path,
                    per_class: int = 6) -> None:
    """One row per class: up to `per_class` composites of images carrying that label, each row labelled with the
    class and how many images carry it; a grey tile where fewer images carry the class; the channels named."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(class_names)
    fig, axes = plt.subplots(n, per_class, figsize=(0.9 * per_class + 1.6, 0.9 * n), squeeze=False)
    for c, name in enumerate(class_names):
        chosen = np.flatnonzero(labels[:, c])[:per_class]
        for k, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            if k < len(chosen):
                ax.imshow(composite(np.asarray(images[chosen[k]])), interpolation="nearest")
            else:
                ax.set_facecolor("0.85")
            if k == 0:
                ax.set_ylabel(f"{c} {name} ({int(labels[:, c].sum())})", rotation=0, ha="right", va="center",
                              fontsize=6)
    legend = CHANNEL_LEGEND.replace(" (", "\n(") + "; grey tile: no further image of the class"
    fig.text(0.5, 0.001, legend, ha="center", va="bottom", fontsize=6)
    fig.tight_layout(pad=0.2, rect=(0, 0.9 / n / 2, 1, 1))
    with atomic_target(Path(path)) as tmp:
        fig.savefig(tmp, dpi=64, format="png")
    plt.close(fig)
