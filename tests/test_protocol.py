"""Fixed split protocols: stratified 80/10/10 and the paper's exact split, with fingerprints."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from bench.config import SplitConfig
from bench.data.splits import make_split, positives_per_role
from bench.datasets.synthetic_cells import sample_labels

IDS = [f"img{i:04d}" for i in range(1000)]
LABELS = sample_labels(1000, seed=0)


def test_stratified_split_is_80_10_10_disjoint_and_complete():
    split = make_split(IDS, LABELS, SplitConfig())
    counts = split.counts()
    assert counts["train"] == 800 and sum(counts.values()) == 1000  # iterative stratification balances labels,
    assert abs(counts["val"] - 100) <= 3 and abs(counts["test"] - 100) <= 3  # so val/test sizes are near 10%
    assert sorted(np.concatenate([split.indices(r) for r in ("train", "val", "test")])) == list(range(1000))


def test_stratified_split_spreads_every_class_that_can_be_spread():
    split = make_split(IDS, LABELS, SplitConfig())
    pos = positives_per_role(split, LABELS)
    total = LABELS.sum(axis=0)
    for c in np.flatnonzero(total >= 20):
        assert pos["val"][c] >= 1 and pos["test"][c] >= 1, f"class {c} missing from val or test"
        assert abs(pos["train"][c] / total[c] - 0.8) < 0.1


def test_split_is_fixed_and_independent_of_dataset_order():
    a = make_split(IDS, LABELS, SplitConfig())
    order = np.random.default_rng(1).permutation(len(IDS))
    b = make_split([IDS[i] for i in order], LABELS[order], SplitConfig())
    assert a.fingerprint == b.fingerprint and a.manifest == b.manifest
    assert len(a.fingerprint) == 64


def test_fingerprint_changes_with_the_seed_and_with_one_role():
    a = make_split(IDS, LABELS, SplitConfig())
    assert make_split(IDS, LABELS, SplitConfig(seed=1)).fingerprint != a.fingerprint
    roles = list(a.roles)
    roles[0] = "val" if roles[0] != "val" else "train"
    assert type(a)(a.name, a.ids, tuple(roles)).fingerprint != a.fingerprint


def test_paper_split_is_the_papers_code_exactly():
    shuffled = list(reversed(IDS))  # the paper sorted the ids first
    split = make_split(shuffled, LABELS[::-1], SplitConfig(name="paper"))
    train, val = train_test_split(sorted(IDS), test_size=0.1, random_state=42)
    role = dict(zip(split.ids, split.roles))
    assert {i for i in IDS if role[i] == "train"} == set(train)
    assert {i for i in IDS if role[i] == "val"} == set(val)
    assert split.counts()["test"] == 0


def test_paper_split_on_the_real_train_csv_gives_the_papers_counts(shared_hpa):
    frame = pd.read_csv(shared_hpa / "train.csv")
    labels = np.zeros((len(frame), 28), dtype=np.uint8)
    split = make_split(frame["Id"].tolist(), labels, SplitConfig(name="paper"))
    assert split.counts() == {"train": 27964, "val": 3108, "test": 0}  # 437 and 49 batches of 64 in its logs


def test_shipped_hpa2018_v1_matches_the_real_train_csv(shared_hpa):
    from bench.data.kaggle import read_labels_csv
    from bench.data.splits import shipped_protocol

    meta, role_of = shipped_protocol("hpa2018-v1")
    ids, labels = read_labels_csv(shared_hpa / "train.csv")
    assert sorted(role_of) == sorted(ids) and len(ids) == 31072
    assert hashlib.sha256((shared_hpa / "train.csv").read_bytes()).hexdigest() == meta["source"]["sha256"]
    split = make_split(ids, labels, SplitConfig(name="hpa2018-v1"))
    assert split.fingerprint == meta["fingerprint"] and split.counts() == meta["counts"]
    rebuilt = make_split(ids, labels, SplitConfig(name="stratified"))  # how it was built
    assert rebuilt.fingerprint == meta["fingerprint"]
    positives = positives_per_role(split, labels)
    assert (positives["val"] >= 1).all() and (positives["test"] >= 1).all()  # Rods & rings included
    assert positives["val"][27] + positives["test"][27] + positives["train"][27] == 11


def test_shipped_protocol_needs_an_explicit_subset(shared_hpa):
    from bench.data.kaggle import read_labels_csv
    from bench.errors import BenchError

    ids, labels = read_labels_csv(shared_hpa / "sample" / "train.csv")
    with pytest.raises(BenchError, match="only 4 of the protocol's 31072 ids; .* dataset.subset=true"):
        make_split(ids, labels, SplitConfig(name="hpa2018-v1"))
    part = make_split(ids, labels, SplitConfig(name="hpa2018-v1"), is_subset=True)
    assert sum(part.counts().values()) == 4
    with pytest.raises(BenchError, match="ids are not in the protocol"):
        make_split(["not-an-hpa-id"], labels[:1], SplitConfig(name="hpa2018-v1"), is_subset=True)
