"""Pictures of images: HPA-style composites and one-image-per-class grids (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bench.records import atomic_target


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
