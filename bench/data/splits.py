"""Fixed split protocols: a manifest of (id, role) with a SHA-256 fingerprint.

- `stratified` (default): multilabel-stratified train/val/test (iterative stratification,
  Sechidis et al. 2011, via the iterative-stratification package), 80/10/10, fixed seed 0.
- `paper`: the paper's code exactly: `train_test_split(sorted(ids), test_size=0.1,
  random_state=42)`, unstratified, train/val only (its "test" was Kaggle's hidden set).
- `hpa2018-v1`: shipped inside the package (bench/data/protocols/), the stratified split of all 31,072
  labelled Kaggle HPA 2018 ids, built once by tools/make_hpa2018_v1.py, so every user of every
  version gets the same split. A dataset holding only part of those ids must say so explicitly
  (`dataset.subset=true`); the split is then restricted to those ids and its fingerprint differs.

A split depends only on the ids and labels, never on the order the dataset lists them in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from bench.data.split_config import SHIPPED_PROTOCOLS, SplitConfig
from bench.errors import BenchError

ROLES = ("train", "val", "test")
UNUSED = "unused"  # train-role images left out by split.train_fraction (validation and test are unchanged)
TRAIN_FOLDS = 20  # the nested train subsets are built from this many stratified folds of the train role


@dataclass(frozen=True)
class Split:
    name: str
    ids: tuple[str, ...]  # in the dataset's order
    roles: tuple[str, ...]

    @property
    def manifest(self) -> str:
        """CSV `id,role`, sorted by id: the text whose SHA-256 is the fingerprint."""
        rows = sorted(zip(self.ids, self.roles))
        return "id,role\n" + "".join(f"{i},{r}\n" for i, r in rows)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the manifest: which image has which role, the train subset included."""
        return hashlib.sha256(self.manifest.encode()).hexdigest()

    @property
    def protocol_fingerprint(self) -> str:
        """The fingerprint of the split before any train subset (unused images counted as train): runs on
        the same validation and test images share it, whatever their train fraction."""
        full = Split(self.name, self.ids, tuple("train" if r == UNUSED else r for r in self.roles))
        return full.fingerprint

    def indices(self, role: str) -> np.ndarray:
        """Positions in the dataset of the ids with this role."""
        return np.flatnonzero(np.asarray(self.roles) == role)

    def counts(self) -> dict[str, int]:
        roles = np.asarray(self.roles)
        return {role: int(np.sum(roles == role)) for role in ROLES + ((UNUSED,) if UNUSED in self.roles else ())}


def _stratified(labels: np.ndarray, cfg: SplitConfig) -> np.ndarray:
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    holdout = cfg.val_fraction + cfg.test_fraction
    roles = np.full(len(labels), "train", dtype=object)
    first = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=holdout, random_state=cfg.seed)
    try:
        _, held = next(first.split(np.zeros(len(labels)), labels))
    except ValueError:  # scikit-learn: a role rounds to no image
        raise BenchError(f"split stratified: {len(labels)} images are too few for a {holdout:.0%} held-out share; "
                         f"use more images or larger fractions") from None
    if cfg.test_fraction == 0:
        roles[held] = "val"
        return roles
    second = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=cfg.test_fraction / holdout,
                                              random_state=cfg.seed)
    try:
        val, test = next(second.split(np.zeros(len(held)), labels[held]))
    except ValueError:  # scikit-learn: a share rounds to no image
        raise BenchError(f"split stratified: {len(labels)} images give {len(held)} held-out images, too few to "
                         f"share between validation ({cfg.val_fraction}) and test ({cfg.test_fraction}); "
                         f"use more images or larger fractions") from None
    roles[held[val]] = "val"
    roles[held[test]] = "test"
    return roles


def _paper(ids: list[str], cfg: SplitConfig) -> dict[str, str]:
    from sklearn.model_selection import train_test_split

    train, val = train_test_split(sorted(ids), test_size=cfg.val_fraction, random_state=cfg.seed)
    return {**{i: "train" for i in train}, **{i: "val" for i in val}}


@cache
def shipped_protocol(name: str) -> tuple[dict, dict[str, str]]:
    """(metadata, id -> role) of a protocol shipped in bench/data/protocols, checked against its fingerprint."""
    folder = resources.files("bench.data.protocols")
    meta = json.loads(folder.joinpath(f"{name}.json").read_text())
    text = gzip.decompress(folder.joinpath(f"{name}.csv.gz").read_bytes()).decode()
    if hashlib.sha256(text.encode()).hexdigest() != meta["fingerprint"]:
        raise BenchError(f"shipped protocol {name} is damaged (fingerprint mismatch); reinstall synthloc-bench")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    return meta, {image_id: role for image_id, role in rows}


def _shipped(ids: list[str], name: str, is_subset: bool) -> dict[str, str]:
    _, role_of = shipped_protocol(name)
    unknown = [i for i in ids if i not in role_of]
    if unknown:
        raise BenchError(f"split {name}: {len(unknown)} of the dataset's {len(ids)} ids are not in the protocol "
                         f"(first: {unknown[0]!r}); it covers the {len(role_of)} Kaggle HPA 2018 train ids")
    if len(ids) < len(role_of) and not is_subset:
        raise BenchError(f"split {name}: the dataset has only {len(ids)} of the protocol's {len(role_of)} ids; "
                         f"to use that part on purpose pass dataset.subset=true (the split fingerprint then differs)")
    return role_of


def make_split(ids: list[str], labels: np.ndarray, cfg: SplitConfig, is_subset: bool = False) -> Split:
    """The split named by `cfg` of a dataset with these ids and (N, 28) labels."""
    if cfg.name in SHIPPED_PROTOCOLS:
        role_of = _shipped(ids, cfg.name, is_subset)
    elif cfg.name == "paper":
        role_of = _paper(ids, cfg)
    else:
        order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
        roles = _stratified(np.asarray(labels)[order], cfg)
        role_of = {ids[i]: role for i, role in zip(order, roles)}
    roles = [role_of[i] for i in ids]
    if cfg.train_fraction < 1:
        roles = _train_subset(ids, np.asarray(labels), roles, cfg)
    return Split(cfg.name, tuple(ids), tuple(roles))


def nested_train_order(ids: list[str], labels: np.ndarray, train: np.ndarray, seed: int) -> np.ndarray:
    """The train images (positions) in an order whose every prefix is a stratified subset: TRAIN_FOLDS
    stratified folds of the train role (iterative stratification, in id order), one after another. A
    fraction keeps a prefix, so smaller fractions lie inside larger ones."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    train = train[np.argsort(np.asarray(ids, dtype=object)[train], kind="stable")]  # independent of data order
    folds = min(TRAIN_FOLDS, len(train))
    splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return np.concatenate([train[held] for _, held in splitter.split(np.zeros(len(train)), labels[train])])


def _train_subset(ids: list[str], labels: np.ndarray, roles: list[str], cfg: SplitConfig) -> list[str]:
    train = np.flatnonzero(np.asarray(roles) == "train")
    keep = round(cfg.train_fraction * len(train))
    if keep < 1:
        raise BenchError(f"split.train_fraction={cfg.train_fraction} keeps no image of the {len(train)}-image train "
                         f"role; use a larger fraction or more images")
    order = nested_train_order(ids, labels, train, cfg.seed)
    if not cfg.allow_empty_classes:
        _refuse_empty_classes(labels, order, keep, cfg.train_fraction)
    out = list(roles)
    for position in order[keep:]:
        out[position] = UNUSED
    return out


def _refuse_empty_classes(labels: np.ndarray, order: np.ndarray, keep: int, fraction: float) -> None:
    """One line naming the classes of the train role that the kept prefix has no image of, with the smallest
    fraction that keeps them all."""
    from bench.data.labels import CLASS_NAMES

    present = labels[order].any(axis=0)
    empty = [c for c in np.flatnonzero(present) if not labels[order[:keep], c].any()]
    if not empty:
        return
    needed = max(int(np.argmax(labels[order, c])) + 1 for c in np.flatnonzero(present))
    smallest = int(np.ceil(100 * needed / len(order))) / 100
    names = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in empty)
    raise BenchError(f"split.train_fraction={fraction} keeps {keep} of the {len(order)} train images and leaves "
                     f"{len(empty)} class{'es' if len(empty) > 1 else ''} of the train role with no training image "
                     f"({names}); use split.train_fraction={smallest} or more to keep every class, or add "
                     f"split.allow_empty_classes=true to run anyway (their F1 is 0 in every macro average)")


def positives_per_role(split: Split, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class positive counts in each role (to report classes absent from val or test)."""
    return {role: labels[split.indices(role)].sum(axis=0).astype(int) for role in ROLES}
