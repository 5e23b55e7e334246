"""The 28 HPA localisation classes as spatial patterns of the green (protein) channel of one cell.

Each pattern is drawn relative to the cell's structures (nucleus, outline, MTOC, microtubules,
neighbours), so telling them apart needs the other channels, as with real HPA images. Some pairs
are close on purpose, as they are in the real data (nucleoli vs fibrillar centre, MTOC vs
centrosome, endosomes vs lysosomes vs cytoplasmic bodies).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.datasets.cells_geometry import Canvas, Cell, inside, points_in, segment

Pattern = Callable[[Canvas, Cell, list, np.random.Generator], np.ndarray]


def _soft(mask: np.ndarray, canvas: Canvas) -> np.ndarray:
    return canvas.blur(mask.astype(float), 0.6)


def nucleoplasm(cv, cell, cells, rng):
    holes = cv.draw(cell.nucleoli, 1.1)
    return _soft(cell.nucleus, cv) * (0.7 + 0.3 * cv.smooth_noise(rng, 1.5)) * (1 - 0.7 * holes)


def nuclear_membrane(cv, cell, cells, rng):
    return np.exp(-((cell.rho_nucleus - 1.0) / 0.1) ** 2) * cell.territory


def nucleoli(cv, cell, cells, rng):
    return cv.draw(cell.nucleoli, 1.1)


def fibrillar_center(cv, cell, cells, rng):
    dots = [c + rng.normal(0, 0.9 * cv.unit, size=(int(rng.integers(3, 6)), 2)) for c in cell.nucleoli]
    return cv.draw(np.concatenate(dots) if dots else np.zeros((0, 2)), 0.45)


def nuclear_speckles(cv, cell, cells, rng):
    spots = points_in(cell.nucleus & (cell.rho_nucleus < 0.85), int(rng.integers(8, 16)), rng)
    return cv.draw(spots, 0.7, rng.uniform(0.5, 1.0, len(spots))) + 0.15 * _soft(cell.nucleus, cv)


def nuclear_bodies(cv, cell, cells, rng):
    return cv.draw(points_in(cell.nucleus & (cell.rho_nucleus < 0.85), int(rng.integers(2, 6)), rng), 0.45)


def endoplasmic_reticulum(cv, cell, cells, rng):
    return er_texture(cv, cell, rng)


def er_texture(cv: Canvas, cell: Cell, rng: np.random.Generator) -> np.ndarray:
    """Reticular, perinuclear texture (also the yellow ER channel)."""
    band = cv.smooth_noise(rng, 0.8) - 0.6 * cv.smooth_noise(rng, 2.5)
    band = np.clip((band - band.mean()) / (band.std() + 1e-9) * 0.35 + 0.5, 0, 1)
    perinuclear = np.exp(-np.clip(cell.rho - 0.35, 0, None) * 1.6)
    rim = 0.4 * np.exp(-((cell.rho_nucleus - 1.05) / 0.1) ** 2)
    return (_soft(cell.cytoplasm, cv) * band * perinuclear + rim) * cell.territory


def golgi(cv, cell, cells, rng):
    side = np.arctan2(*(cell.mtoc - cell.nucleus_center))
    angles = side + rng.uniform(-0.7, 0.7, size=int(rng.integers(10, 20)))
    dist = cell.nucleus_radius * rng.uniform(1.2, 1.55, size=len(angles))
    pts = cell.nucleus_center + np.stack([np.sin(angles), np.cos(angles)], 1) * dist[:, None]
    return cv.draw(inside(pts, cell.territory), 0.7)


def peroxisomes(cv, cell, cells, rng):
    return cv.draw(points_in(cell.cytoplasm, int(rng.integers(25, 45)), rng), 0.4)


def endosomes(cv, cell, cells, rng):
    spots = points_in(cell.cytoplasm, int(rng.integers(10, 18)), rng)
    return cv.draw(spots, 0.6, rng.uniform(0.5, 1.0, len(spots)))


def lysosomes(cv, cell, cells, rng):
    near = np.exp(-np.clip(cell.rho - 0.3, 0, None) * 5)
    return cv.draw(points_in(cell.cytoplasm, int(rng.integers(8, 14)), rng, weights=near), 0.6)


def intermediate_filaments(cv, cell, cells, rng):
    pts = []
    for _ in range(int(rng.integers(6, 11))):
        r = rng.uniform(1.3 * cell.nucleus_radius, 0.85 * cell.radius)
        a0 = rng.uniform(0, 2 * np.pi)
        a = a0 + np.linspace(0, rng.uniform(1.5, 3.5), 60)
        rr = r * (1 + 0.06 * np.sin(3 * a + rng.uniform(0, 6)))
        pts.append(cell.nucleus_center + np.stack([np.sin(a), np.cos(a)], 1) * rr[:, None])
    return cv.draw(inside(np.concatenate(pts), cell.territory), 0.4)


def actin_filaments(cv, cell, cells, rng):
    theta = rng.uniform(0, np.pi)
    along, across = np.array([np.sin(theta), np.cos(theta)]), np.array([np.cos(theta), -np.sin(theta)])
    pts = [segment(cell.center + o * across - 1.2 * cell.radius * along,
                   cell.center + o * across + 1.2 * cell.radius * along, 0.4 * cv.unit)
           for o in np.linspace(-0.7, 0.7, int(rng.integers(5, 9))) * cell.radius]
    return cv.draw(inside(np.concatenate(pts), cell.territory & (cell.rho < 0.93)), 0.4)


def focal_adhesions(cv, cell, cells, rng):
    starts = points_in(cell.territory & (cell.rho > 0.8) & (cell.rho < 0.92), int(rng.integers(8, 15)), rng)
    dashes = []
    for p in starts:
        d = (p - cell.center) / (np.linalg.norm(p - cell.center) + 1e-9)
        dashes.append(segment(p - d * 1.2 * cv.unit, p + d * 1.2 * cv.unit, 0.4 * cv.unit))
    return cv.draw(np.concatenate(dashes) if dashes else np.zeros((0, 2)), 0.4)


def microtubules(cv, cell, cells, rng):
    return cv.draw(np.concatenate(cell.filaments), 0.4, quantile=0.9)


def microtubule_ends(cv, cell, cells, rng):
    return cv.draw(np.array([f[-1] for f in cell.filaments if len(f) > 3]), 0.45)


def _nearest_other(cell: Cell, cells: list) -> Cell | None:
    others = [c for c in cells if c is not cell]
    return min(others, key=lambda c: np.linalg.norm(c.center - cell.center)) if others else None


def cytokinetic_bridge(cv, cell, cells, rng):
    other = _nearest_other(cell, cells)
    if other is None:
        return cv.blank()
    line = segment(cell.center, other.center, 0.3 * cv.unit)
    iy, ix = np.clip(line.astype(int).T, 0, cv.size - 1)
    between = (cell.rho[iy, ix] > 0.75) & (other.rho[iy, ix] > 0.75)
    midbody = line[len(line) // 2][None]
    return cv.draw(np.concatenate([line[between], midbody, midbody]), 0.45)


def mitotic_spindle(cv, cell, cells, rng):
    theta = rng.uniform(0, np.pi)
    axis, plate = np.array([np.sin(theta), np.cos(theta)]), np.array([np.cos(theta), -np.sin(theta)])
    r = cell.nucleus_radius
    plate_points = cell.nucleus_center + np.linspace(-0.6, 0.6, 7)[:, None] * r * plate
    pts = [segment(cell.nucleus_center + s * 0.9 * r * axis, q, 0.3 * cv.unit) for s in (-1, 1) for q in plate_points]
    return cv.draw(np.concatenate(pts), 0.4)


def mtoc(cv, cell, cells, rng):
    return cv.draw(cell.mtoc[None], 0.9)


def centrosome(cv, cell, cells, rng):
    offset = rng.normal(0, 1, 2)
    offset = offset / (np.linalg.norm(offset) + 1e-9) * 0.9 * cv.unit
    return cv.draw(np.stack([cell.mtoc - offset, cell.mtoc + offset]), 0.4)


def lipid_droplets(cv, cell, cells, rng):
    centres = points_in(cell.cytoplasm, int(rng.integers(3, 8)), rng)
    a = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    ring = np.stack([np.sin(a), np.cos(a)], 1) * 1.3 * cv.unit
    return cv.draw((centres[:, None, :] + ring[None]).reshape(-1, 2), 0.35)


def plasma_membrane(cv, cell, cells, rng):
    return np.exp(-((cell.rho - 0.95) / 0.045) ** 2) * (cell.rho < 1.05) * (cell.rho <= cell.rho_others)


def cell_junctions(cv, cell, cells, rng):
    contact = np.exp(-((cell.rho_others - 1.0) / 0.12) ** 2)
    return plasma_membrane(cv, cell, cells, rng) * contact


def mitochondria(cv, cell, cells, rng):
    worms = []
    for start in points_in(cell.cytoplasm, int(rng.integers(12, 22)), rng):
        theta = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.5, 6))
        steps = 0.55 * cv.unit * np.stack([np.sin(theta), np.cos(theta)], 1)
        worms.append(start + np.cumsum(steps, axis=0))
    return cv.draw(inside(np.concatenate(worms), cell.territory) if worms else np.zeros((0, 2)), 0.4)


def aggresome(cv, cell, cells, rng):
    near = np.exp(-np.clip(cell.rho_nucleus - 1.2, 0, None) * 4)
    return cv.draw(points_in(cell.cytoplasm, 1, rng, weights=near), 1.6)


def cytosol(cv, cell, cells, rng):
    return _soft(cell.cytoplasm, cv) * (0.75 + 0.25 * cv.smooth_noise(rng, 2.0))


def cytoplasmic_bodies(cv, cell, cells, rng):
    return cv.draw(points_in(cell.cytoplasm, int(rng.integers(1, 4)), rng), 0.8)


def rods_and_rings(cv, cell, cells, rng):
    shapes = []
    for p in points_in(cell.cytoplasm, int(rng.integers(1, 4)), rng):
        d = rng.normal(0, 1, 2)
        d = d / (np.linalg.norm(d) + 1e-9) * 1.8 * cv.unit
        shapes.append(segment(p - d, p + d, 0.3 * cv.unit))
    a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    for p in points_in(cell.cytoplasm, int(rng.integers(1, 3)), rng):
        shapes.append(p + np.stack([np.sin(a), np.cos(a)], 1) * 0.9 * cv.unit)
    return cv.draw(np.concatenate(shapes) if shapes else np.zeros((0, 2)), 0.35)


# Index = Kaggle class id; see bench.api.CLASS_NAMES.
PATTERNS: tuple[Pattern, ...] = (
    nucleoplasm, nuclear_membrane, nucleoli, fibrillar_center, nuclear_speckles, nuclear_bodies,
    endoplasmic_reticulum, golgi, peroxisomes, endosomes, lysosomes, intermediate_filaments,
    actin_filaments, focal_adhesions, microtubules, microtubule_ends, cytokinetic_bridge,
    mitotic_spindle, mtoc, centrosome, lipid_droplets, plasma_membrane, cell_junctions,
    mitochondria, aggresome, cytosol, cytoplasmic_bodies, rods_and_rings,
)
