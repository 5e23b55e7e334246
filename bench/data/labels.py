"""Facts of the Human Protein Atlas Kaggle 2018 task shared by every dataset: classes and channels."""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError

# Index = Kaggle label id (the paper's code builds its label map from the sorted ids, so they agree).
CLASS_NAMES: tuple[str, ...] = (
    "Nucleoplasm", "Nuclear membrane", "Nucleoli", "Nucleoli fibrillar center",
    "Nuclear speckles", "Nuclear bodies", "Endoplasmic reticulum", "Golgi apparatus",
    "Peroxisomes", "Endosomes", "Lysosomes", "Intermediate filaments", "Actin filaments",
    "Focal adhesion sites", "Microtubules", "Microtubule ends", "Cytokinetic bridge",
    "Mitotic spindle", "Microtubule organizing center", "Centrosome", "Lipid droplets",
    "Plasma membrane", "Cell junctions", "Mitochondria", "Aggresome", "Cytosol",
    "Cytoplasmic bodies", "Rods & rings",
)
NUM_CLASSES = len(CLASS_NAMES)

# Channel order of every image tensor: microtubules, protein of interest, nucleus, ER.
CHANNELS: tuple[str, ...] = ("red", "green", "blue", "yellow")


def parse_target(text: object, *, where: str) -> np.ndarray:
    """Parse a Kaggle `Target` cell ("16 0") into a multi-hot uint8 vector, or raise one clear line."""
    if not isinstance(text, str) or not text.strip():
        raise BenchError(f"{where}: empty Target; expected space-separated class ids 0..{NUM_CLASSES - 1}")
    vector = np.zeros(NUM_CLASSES, dtype=np.uint8)
    for token in text.split():
        if not (token.isascii() and token.isdigit()) or int(token) >= NUM_CLASSES:
            raise BenchError(f"{where}: label {token!r} is not a class id 0..{NUM_CLASSES - 1}")
        vector[int(token)] = 1
    return vector


def format_target(vector: np.ndarray) -> str:
    """Inverse of parse_target: multi-hot vector -> "0 16"."""
    return " ".join(str(i) for i in np.flatnonzero(vector))
