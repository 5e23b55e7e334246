"""Geometry of a synthetic fluorescence field: cells, nuclei, organelle anchors, and drawing primitives.

Everything is drawn in pixel coordinates of an S x S canvas, with lengths in units `unit = S / 64`,
so the same seed gives the same field at any resolution (finer at larger S).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter


@dataclass
class Canvas:
    size: int
    yy: np.ndarray
    xx: np.ndarray

    @property
    def unit(self) -> float:
        return self.size / 64.0

    @classmethod
    def of(cls, size: int) -> Canvas:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
        return cls(size, yy + 0.5, xx + 0.5)

    def blank(self) -> np.ndarray:
        return np.zeros((self.size, self.size))

    def draw(self, points: np.ndarray, sigma: float, weights: np.ndarray | None = None,
             quantile: float | None = None) -> np.ndarray:
        """Gaussian spots of width `sigma` (in units) at `points` (n, 2) as (y, x), scaled to a peak of 1.

        With `quantile`, that quantile of the drawn pixels maps to 1 (clipped above), so many lines
        meeting in one point (microtubules at the MTOC) do not dim the rest.
        """
        canvas = self.blank()
        if len(points) == 0:
            return canvas
        points = np.asarray(points, dtype=np.float64)
        weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
        y, x = points[:, 0] - 0.5, points[:, 1] - 0.5  # bilinear splat onto pixel centres
        y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
        fy, fx = y - y0, x - x0
        for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
            yi, xi = y0 + dy, x0 + dx
            ok = (yi >= 0) & (yi < self.size) & (xi >= 0) & (xi < self.size)
            np.add.at(canvas, (yi[ok], xi[ok]), (weights * w)[ok])
        canvas = gaussian_filter(canvas, sigma * self.unit, mode="constant")
        if quantile is not None and canvas.max() > 0:
            scale = np.quantile(canvas[canvas > 0.05 * canvas.max()], quantile)
            return np.clip(canvas / scale, 0, 1)
        peak = canvas.max()
        return canvas / peak if peak > 0 else canvas

    def smooth_noise(self, rng: np.random.Generator, sigma: float) -> np.ndarray:
        """Smooth random texture in [0, 1] with correlation length `sigma` units."""
        noise = gaussian_filter(rng.standard_normal((self.size, self.size)), sigma * self.unit, mode="wrap")
        lo, hi = noise.min(), noise.max()
        return (noise - lo) / (hi - lo + 1e-12)

    def blur(self, image: np.ndarray, sigma: float) -> np.ndarray:
        return gaussian_filter(image, sigma * self.unit, mode="nearest")


def ellipse_rho(canvas: Canvas, center, radius: float, aspect: float, angle: float,
                harmonics: tuple[float, float, float, float] = (0, 0, 0, 0)) -> np.ndarray:
    """Normalised radial distance to an (optionally wobbly) ellipse: < 1 inside, 1 on the outline."""
    dy, dx = canvas.yy - center[0], canvas.xx - center[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / (radius * aspect)
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / (radius / aspect)
    phi = np.arctan2(v, u)
    h2, p2, h3, p3 = harmonics
    return np.hypot(u, v) / (1 + h2 * np.sin(2 * phi + p2) + h3 * np.sin(3 * phi + p3))


def points_in(mask: np.ndarray, n: int, rng: np.random.Generator, weights: np.ndarray | None = None) -> np.ndarray:
    """n random points (y, x) inside a boolean mask, optionally weighted per pixel."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0 or n <= 0:
        return np.zeros((0, 2))
    p = None
    if weights is not None:
        w = weights[ys, xs]
        p = w / w.sum() if w.sum() > 0 else None
    pick = rng.choice(len(ys), size=n, p=p)
    return np.stack([ys[pick], xs[pick]], axis=1) + rng.uniform(0.0, 1.0, size=(n, 2))


def segment(start, end, step: float) -> np.ndarray:
    """Points every `step` pixels from start to end, (n, 2)."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    n = max(2, int(np.ceil(np.linalg.norm(end - start) / max(step, 1e-6))) + 1)
    t = np.linspace(0, 1, n)[:, None]
    return start + t * (end - start)


def inside(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The points that fall on True pixels of the mask."""
    if len(points) == 0:
        return points
    iy, ix = np.floor(points[:, 0]).astype(int), np.floor(points[:, 1]).astype(int)
    size = mask.shape[0]
    ok = (iy >= 0) & (iy < size) & (ix >= 0) & (ix < size)
    ok[ok] = mask[iy[ok], ix[ok]]
    return points[ok]


@dataclass
class Cell:
    """One cell: outline and nucleus fields plus the anchors organelle patterns are drawn from."""

    center: np.ndarray
    radius: float
    rho: np.ndarray  # cell outline field
    nucleus_center: np.ndarray
    nucleus_radius: float
    rho_nucleus: np.ndarray
    territory: np.ndarray = None  # pixels owned by this cell (set once all cells exist)
    rho_others: np.ndarray = None  # min outline field of the other cells (contacts where ~1)
    mtoc: np.ndarray = None
    nucleoli: np.ndarray = None
    filaments: list = field(default_factory=list)  # microtubules, each (n, 2) from the MTOC outward

    @property
    def nucleus(self) -> np.ndarray:
        return self.territory & (self.rho_nucleus < 1.0)

    @property
    def cytoplasm(self) -> np.ndarray:
        return self.territory & (self.rho_nucleus > 1.12) & (self.rho < 0.96)


def _place_centers(canvas: Canvas, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """2-4 cell centres and radii, close enough that neighbours touch (cell junctions need contacts)."""
    u = canvas.unit
    n = int(rng.integers(2, 5))
    centers, radii = [], []
    for _ in range(200):
        if len(centers) == n:
            break
        r = rng.uniform(11.5, 15.0) * u
        c = rng.uniform(0.18 * canvas.size, 0.82 * canvas.size, size=2)
        gaps = [np.linalg.norm(c - o) / (r + ro) for o, ro in zip(centers, radii)]
        if all(g > 0.78 for g in gaps) and (not gaps or min(gaps) < 1.25):
            centers.append(c)
            radii.append(r)
    return np.array(centers), np.array(radii)


def make_cells(canvas: Canvas, rng: np.random.Generator) -> list[Cell]:
    u = canvas.unit
    centers, radii = _place_centers(canvas, rng)
    cells = []
    for c, r in zip(centers, radii):
        harmonics = (rng.uniform(0.03, 0.12), rng.uniform(0, 2 * np.pi),
                     rng.uniform(0.02, 0.08), rng.uniform(0, 2 * np.pi))
        rho = ellipse_rho(canvas, c, r, rng.uniform(0.85, 1.2), rng.uniform(0, np.pi), harmonics)
        nr = r * rng.uniform(0.40, 0.50)
        nc = c + rng.uniform(-0.15, 0.15, size=2) * r
        rho_n = ellipse_rho(canvas, nc, nr, rng.uniform(0.85, 1.15), rng.uniform(0, np.pi))
        cells.append(Cell(c, r, rho, nc, nr, rho_n))
    stack = np.stack([cell.rho for cell in cells])
    owner = np.argmin(stack, axis=0)
    for i, cell in enumerate(cells):
        cell.territory = (owner == i) & (cell.rho < 1.0)
        others = np.delete(stack, i, axis=0)
        cell.rho_others = others.min(axis=0) if len(others) else np.full_like(cell.rho, 9.0)
        _add_anchors(canvas, cell, rng, u)
    return cells


def _add_anchors(canvas: Canvas, cell: Cell, rng: np.random.Generator, u: float) -> None:
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    cell.mtoc = cell.nucleus_center + direction * cell.nucleus_radius * 1.35
    cell.nucleoli = points_in(cell.nucleus & (cell.rho_nucleus < 0.6), int(rng.integers(2, 5)), rng)
    cell.filaments = _radial_filaments(canvas, cell, int(rng.integers(14, 21)), rng, u)


def _radial_filaments(canvas: Canvas, cell: Cell, n: int, rng: np.random.Generator, u: float) -> list[np.ndarray]:
    """Slightly curving microtubules from the MTOC, each cut where it first leaves the cell body."""
    steps = int(4 * cell.radius / (0.5 * u))
    theta = rng.uniform(0, 2 * np.pi, size=(n, 1)) + np.cumsum(rng.normal(0, 0.06, size=(n, steps)), axis=1)
    path = cell.mtoc + np.cumsum(0.5 * u * np.stack([np.sin(theta), np.cos(theta)], axis=-1), axis=1)
    iy, ix = np.floor(path[..., 0]).astype(int), np.floor(path[..., 1]).astype(int)
    ok = (iy >= 0) & (iy < canvas.size) & (ix >= 0) & (ix < canvas.size)
    iy, ix = np.clip(iy, 0, canvas.size - 1), np.clip(ix, 0, canvas.size - 1)
    ok &= cell.territory[iy, ix] & (cell.rho[iy, ix] <= 0.95)
    length = np.where(ok.all(axis=1), steps, np.argmin(ok, axis=1))
    return [np.concatenate([cell.mtoc[None], path[f, :length[f]]]) for f in range(n)]
