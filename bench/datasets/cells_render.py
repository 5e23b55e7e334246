"""Rendering `synthetic-cells` fields: one image from its random stream, many in parallel processes.

Image i depends only on its label row, its stream and the size, so a render gives the same bytes
whatever the number of processes (`tests/test_synthetic_cells.py` checks it).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from multiprocessing import get_all_start_methods, get_context

import numpy as np

from bench.datasets.cells_geometry import Canvas, make_cells
from bench.datasets.cells_patterns import PATTERNS, er_texture

EXPRESSION_PROBABILITY = 0.85
ACQUISITION_NOISE = 0.018  # standard deviation of the i.i.d. pixel noise every image carries (intensity 0..1)
PARALLEL_PIXELS = 2_000_000  # a render of fewer pixels (about 500 images at 64 px: seconds) stays in this process


@lru_cache(maxsize=8)
def _canvas(size: int) -> Canvas:
    return Canvas.of(size)


def render_field(labels: np.ndarray, size: int, stream: tuple[int, ...], acquisition_noise: bool = True
                 ) -> np.ndarray:
    """One uint8 image (4, size, size) showing the multi-hot `labels`, drawn from the random `stream`
    (`(seed, index)` for the dataset's own image `index`). The acquisition noise is drawn last, so the
    same stream without it is the same image without its pixel noise."""
    canvas = _canvas(size)
    structure_rng = np.random.default_rng([*stream, 0])
    pattern_rng = np.random.default_rng([*stream, 1])
    cells = make_cells(canvas, structure_rng)
    red, green, blue, yellow = (canvas.blank() for _ in range(4))
    for cell in cells:
        cytoplasm = canvas.blur(cell.cytoplasm.astype(float), 0.6)
        red += 0.8 * canvas.draw(np.concatenate(cell.filaments), 0.4, quantile=0.9) + 0.1 * cytoplasm
        red += 0.35 * canvas.draw(cell.mtoc[None], 0.7)
        texture = 0.55 + 0.45 * canvas.smooth_noise(structure_rng, 1.2)
        blue += canvas.blur(cell.nucleus.astype(float), 0.5) * texture * (1 - 0.45 * canvas.draw(cell.nucleoli, 1.1))
        yellow += er_texture(canvas, cell, structure_rng)
    for cls in np.flatnonzero(labels):
        expressed = pattern_rng.random(len(cells)) < EXPRESSION_PROBABILITY
        expressed[pattern_rng.integers(len(cells))] = True
        intensity = pattern_rng.uniform(0.5, 1.0)
        for cell, on in zip(cells, expressed):
            if on:
                layer = PATTERNS[cls](canvas, cell, cells, pattern_rng)
                green += intensity * layer / max(layer.max(), 1e-9)
    gains = structure_rng.uniform([0.6, 0.5, 0.6, 0.35], [1.0, 0.9, 1.0, 0.7])
    image = np.stack([red, green, blue, yellow]) * gains[:, None, None]
    image = np.stack([canvas.blur(channel, 0.35) for channel in image])
    image += 0.03
    if acquisition_noise:
        image += structure_rng.normal(0.0, ACQUISITION_NOISE, size=image.shape)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def _render_chunk(job: tuple) -> np.ndarray:
    rows, size, streams, acquisition_noise = job
    return np.stack([render_field(row, size, stream, acquisition_noise) for row, stream in zip(rows, streams)])


def render_workers(n_images: int, size: int) -> int:
    """Processes for a render: 1 below PARALLEL_PIXELS, else this process's share of the cores (its CPU affinity,
    capped by OMP_NUM_THREADS where a launcher set it); `BENCH_RENDER_WORKERS` overrides."""
    if "BENCH_RENDER_WORKERS" in os.environ:
        return max(1, int(os.environ["BENCH_RENDER_WORKERS"]))
    if n_images * size * size < PARALLEL_PIXELS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = int(os.environ.get("OMP_NUM_THREADS") or cores)
    return max(1, min(cores, share))


def render_many(rows: np.ndarray, size: int, streams: list[tuple[int, ...]], acquisition_noise: bool = True
                ) -> np.ndarray:
    """uint8 images (N, 4, size, size), image i from `rows[i]` and `streams[i]`; large renders in forked worker
    processes, as torch's DataLoader does on Linux (where `fork` is not offered, in this process). Forked, not
    spawned: a spawned worker would run the caller's `__main__` again (a script without a main guard, a notebook)."""
    workers = render_workers(len(rows), size) if "fork" in get_all_start_methods() else 1
    if workers == 1:
        return _render_chunk((rows, size, streams, acquisition_noise)) if len(rows) else \
            np.empty((0, 4, size, size), dtype=np.uint8)
    chunks = [c for c in np.array_split(np.arange(len(rows)), workers * 4) if len(c)]
    jobs = [(rows[c], size, [streams[i] for i in c], acquisition_noise) for c in chunks]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return np.concatenate(list(pool.map(_render_chunk, jobs)))
