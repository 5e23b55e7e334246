"""Synthetic sets: content-addressed, built from the train role only, reused, never used when damaged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench import config
from bench.datasets.synthetic_cells import SyntheticCells
from bench.errors import BenchError
from bench.protocol import make_split
from bench.synthetic import obtain, set_key
from conftest import TINY, bench_cli

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def roles():
    data = SyntheticCells(SyntheticCells.Options(n_images=160, resolution=32)).load()
    split = make_split(data.ids, data.labels, config.SplitConfig())
    return data, split, {r: data.subset(split.indices(r)) for r in ("train", "val", "test")}


def build(roles, root, *overrides, log=None):
    data, split, parts = roles
    cfg = config.build(overrides=("generator.name=real",) + overrides)
    return obtain(cfg, parts["train"], data.fingerprint, split.fingerprint, root, CPU, log or (lambda line: None))


def test_a_set_is_built_from_the_train_role_only(roles, tmp_path):
    _, _, parts = roles
    synthetic = build(roles, tmp_path)
    images = synthetic.take(np.arange(len(synthetic)))
    train = {parts["train"].take([i])[0].tobytes() for i in range(len(parts["train"]))}
    held_out = {parts[r].take([i])[0].tobytes() for r in ("val", "test") for i in range(len(parts[r]))}
    assert len(synthetic) == len(parts["train"])  # synthetic.per_real = 1
    assert all(image.tobytes() in train and image.tobytes() not in held_out for image in images)
    folder = next(tmp_path.iterdir())
    meta = json.loads((folder / "manifest.json").read_text())
    assert meta["generator"]["name"] == "real" and meta["n_images"] == len(synthetic) and meta["resolution"] == 32
    assert {"images.npy", "labels.csv", "grid.png", "manifest.json", "work"} == {p.name for p in folder.iterdir()}
    assert (folder / "labels.csv").read_text().startswith("Id,Target\nsyn-000000,")


def test_sets_are_reused_by_key(roles, tmp_path):
    said = []
    first = build(roles, tmp_path)
    again = build(roles, tmp_path, "seed=5", log=said.append)  # another classifier seed: same set
    assert any("reusing synthetic set" in line for line in said)
    assert again.fingerprint == first.fingerprint and len(list(tmp_path.iterdir())) == 1
    build(roles, tmp_path, "synthetic.per_real=0.5")
    build(roles, tmp_path, "synthetic.seed=1")
    assert len(list(tmp_path.iterdir())) == 3


def test_key_depends_on_generator_options_data_and_split_not_the_run_seed():
    a = config.build(overrides=("generator.name=ddpm",))
    assert set_key(a, "d", "s") == set_key(config.build(overrides=("generator.name=ddpm", "seed=3")), "d", "s")
    assert set_key(a, "d", "s") != set_key(config.build(overrides=("generator.name=ddpm", "generator.epochs=3")), "d", "s")
    assert len({set_key(a, "d", "s"), set_key(a, "d2", "s"), set_key(a, "d", "s2")}) == 3


def test_a_damaged_set_is_never_used(roles, tmp_path):
    build(roles, tmp_path)
    folder = next(tmp_path.iterdir())
    images = np.load(folder / "images.npy")
    images[0, 0, 0, 0] ^= 1
    np.save(folder / "images.npy", images)
    with pytest.raises(BenchError, match="is damaged .*delete the folder"):
        build(roles, tmp_path)


def test_an_interrupted_set_is_built_again(roles, tmp_path):
    first = build(roles, tmp_path)
    folder = next(tmp_path.iterdir())
    (folder / "manifest.json").unlink()  # killed before the manifest: incomplete
    said = []
    again = build(roles, tmp_path, log=said.append)
    assert any("is incomplete (interrupted)" in line for line in said) and again.fingerprint == first.fingerprint


def test_damaged_set_through_the_cli_is_one_line(tmp_path):
    ok = bench_cli("generate", "--generator", "real", *TINY, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    folder = next((tmp_path / "synthetic").iterdir())
    (folder / "labels.csv").write_text("Id,Target\nx,1\n")
    bad = bench_cli("run", "--generator", "real", "--strategy", "concat", *TINY, cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "is damaged" in bad.stderr
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())  # only the fidelity reference run
    assert all(json.loads((tmp_path / "runs" / name / "config.json").read_text())["generator"]["name"] == "none"
               for name in folders)
