"""Synthetic sets: content-addressed, built from the train role only, reused, never used when damaged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, bench_cli, folders

from bench import config
from bench.data.splits import make_split
from bench.datasets.synthetic_cells import SyntheticCells
from bench.errors import BenchError
from bench.synthetic.sets import obtain, set_key

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def roles():
    data = SyntheticCells(SyntheticCells.Options(n_images=160, resolution=32)).load()
    split = make_split(data.ids, data.labels, config.SplitConfig())
    return data, split, {r: data.subset(split.indices(r)) for r in ("train", "val", "test")}


def build(roles, root, *overrides, say=None):
    data, split, parts = roles
    cfg = config.build(overrides=("generator.name=real",) + overrides)
    return obtain(cfg, parts["train"], data.fingerprint, split.fingerprint, root, CPU, say or (lambda line: None))


def test_a_set_is_built_from_the_train_role_only(roles, tmp_path):
    _, _, parts = roles
    synthetic = build(roles, tmp_path)
    images = synthetic.take(np.arange(len(synthetic)))
    train = {parts["train"].take([i])[0].tobytes() for i in range(len(parts["train"]))}
    held_out = {parts[r].take([i])[0].tobytes() for r in ("val", "test") for i in range(len(parts[r]))}
    assert len(synthetic) == len(parts["train"])  # synthetic.per_real = 1
    assert all(image.tobytes() in train and image.tobytes() not in held_out for image in images)
    folder = folders(tmp_path)[0]
    meta = json.loads((folder / "manifest.json").read_text())
    assert meta["generator"]["name"] == "real" and meta["n_images"] == len(synthetic) and meta["resolution"] == 32
    assert meta["built_on"]["cpu"] and meta["built_on"]["device"] == "cpu"  # where it was made, named
    assert {"images.npy", "labels.csv", "grid.png", "manifest.json"} == {p.name for p in folder.iterdir()}
    assert (folder / "labels.csv").read_text().startswith("Id,Target\nsyn-000000,")


@pytest.mark.slow
def test_sets_are_reused_by_key(roles, tmp_path):
    said = []
    first = build(roles, tmp_path)
    again = build(roles, tmp_path, "seed=5", say=said.append)  # another classifier seed: same set
    assert any("reusing synthetic set" in line for line in said)
    assert again.fingerprint == first.fingerprint and len(folders(tmp_path)) == 1
    build(roles, tmp_path, "synthetic.per_real=0.5")
    build(roles, tmp_path, "synthetic.seed=1")
    assert len(folders(tmp_path)) == 3


def test_key_depends_on_generator_options_data_and_split_not_the_run_seed():
    a = config.build(overrides=("generator.name=ddpm",))
    assert set_key(a, "d", "s") == set_key(config.build(overrides=("generator.name=ddpm", "seed=3")), "d", "s")
    other_options = config.build(overrides=("generator.name=ddpm", "generator.epochs=3"))
    assert set_key(a, "d", "s") != set_key(other_options, "d", "s")
    assert len({set_key(a, "d", "s"), set_key(a, "d2", "s"), set_key(a, "d", "s2")}) == 3


def test_a_damaged_set_is_never_used(roles, tmp_path):
    build(roles, tmp_path)
    folder = folders(tmp_path)[0]
    images = np.load(folder / "images.npy")
    images[0, 0, 0, 0] ^= 1
    np.save(folder / "images.npy", images)
    with pytest.raises(BenchError, match="is damaged .*delete the folder"):
        build(roles, tmp_path)


@pytest.mark.slow
def test_an_interrupted_set_is_built_again(roles, tmp_path):
    first = build(roles, tmp_path)
    folder = folders(tmp_path)[0]
    (folder / "manifest.json").unlink()  # killed before the manifest: incomplete
    said = []
    again = build(roles, tmp_path, say=said.append)
    assert any("is incomplete (interrupted)" in line for line in said) and again.fingerprint == first.fingerprint


@pytest.mark.slow
def test_damaged_set_through_the_cli_is_one_line(tmp_path):
    none = bench_cli("generate", *TINY, cwd=tmp_path)
    assert none.returncode == 2 and len(none.stderr.strip().splitlines()) == 1 and "--generator" in none.stderr
    (tmp_path / "real.yaml").write_text("generator: {name: real}\n")  # as `bench ladder` hands a rung's config
    ok = bench_cli("generate", "--config", str(tmp_path / "real.yaml"), *TINY, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    folder = folders(tmp_path / "synthetic")[0]
    (folder / "labels.csv").write_text("Id,Target\nx,1\n")
    bad = bench_cli("run", "--generator", "real", "--strategy", "concat", *TINY, cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "is damaged" in bad.stderr
    names = [p.name for p in folders(tmp_path / "runs")]  # only the fidelity reference run
    assert all(json.loads((tmp_path / "runs" / name / "config.json").read_text())["generator"]["name"] == "none"
               for name in names)


@pytest.mark.slow
def test_generate_killed_with_sigkill_resumes_to_the_same_set(tmp_path):
    """A real process killed with SIGKILL after a generator checkpoint: the next call resumes and
    writes the same bytes as an uninterrupted build."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    args = ["generate", "--generator", "ddpm-unet", "--runs-dir", str(tmp_path / "runs"), *TINY,
            "generator.epochs=6", "generator.width=8", "generator.resolution=16", "generator.sampling_steps=5"]
    whole = bench_cli(*args, "--synthetic-dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    killed_dir = tmp_path / "killed"
    exe = Path(sys.executable).with_name("bench")
    process = subprocess.Popen([str(exe), *args, "--synthetic-dir", str(killed_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(killed_dir.glob(".train/*/ddpm-unet.pt")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not list(killed_dir.glob("*/manifest.json"))  # killed mid-training: not a set yet
    resumed = bench_cli(*args, "--synthetic-dir", str(killed_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert "generator checkpoints found" in resumed.stdout and "resuming" in resumed.stdout
    folder = folders(killed_dir)[0]
    reference = folders(tmp_path / "whole")[0]
    for name in ("images.npy", "labels.csv"):
        assert (folder / name).read_bytes() == (reference / name).read_bytes()


@pytest.mark.slow
def test_sets_differing_only_in_sampling_options_share_one_training(roles, tmp_path):
    said = []
    first = build(roles, tmp_path, "generator.name=ddpm-unet", "generator.epochs=1", "generator.width=8",
                  "generator.resolution=16", "generator.sampling_steps=4", say=said.append)
    trained = list((tmp_path / ".train").iterdir())
    assert len(trained) == 1 and (trained[0] / "ddpm-unet.pt").exists()
    said.clear()
    second = build(roles, tmp_path, "generator.name=ddpm-unet", "generator.epochs=1", "generator.width=8",
                   "generator.resolution=16", "generator.sampling_steps=4", "generator.guidance_scale=1",
                   say=said.append)
    assert any("generator checkpoints found" in line for line in said)  # no second training
    assert len(list((tmp_path / ".train").iterdir())) == 1 and second.fingerprint != first.fingerprint


@pytest.mark.slow
def test_interrupted_sampling_resumes_from_its_finished_chunks(roles, tmp_path, monkeypatch):
    from generators.real import RealImages

    whole = build(roles, tmp_path / "whole", "synthetic.per_real=5")  # 645 images: three chunks of up to 256
    calls = []
    sample = RealImages.sample

    def dies_in_the_second_chunk(self, labels, **kwargs):
        calls.append(len(labels))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return sample(self, labels, **kwargs)

    monkeypatch.setattr(RealImages, "sample", dies_in_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        build(roles, tmp_path / "killed", "synthetic.per_real=5")
    (folder,) = folders(tmp_path / "killed")
    assert sorted(p.name for p in (folder / ".chunks").iterdir()) == ["00000.npy", "00000.npy.sha256"]
    assert not (folder / "manifest.json").exists()
    said = []
    monkeypatch.setattr(RealImages, "sample", lambda self, labels, **kw: calls.append(len(labels)) or sample(
        self, labels, **kw))
    calls.clear()
    resumed = build(roles, tmp_path / "killed", "synthetic.per_real=5", say=said.append)
    assert len(calls) == 2 and calls[0] == 256  # chunks 2 and 3: the first was not sampled again
    assert any("resuming sampling: 1 of 3 chunks" in line for line in said)
    assert resumed.fingerprint == whole.fingerprint and not (folder / ".chunks").exists()


def test_a_build_says_what_it_will_do_and_how_to_make_it_quick(roles, tmp_path, capsys):
    said = []
    build(roles, tmp_path, "generator.name=ddpm", "generator.epochs=2", "generator.sampling_steps=3",
          "synthetic.per_real=0.1", say=said.append)
    plan = next(line for line in said if line.startswith("synthetic set: generator ddpm"))
    assert "trains 2 epochs on" in plan and "13 images with 3 denoising steps each" in plan
    assert "for a quick check: generator.epochs=1 generator.sampling_steps=4 synthetic.per_real=0.1" in plan
    err = capsys.readouterr().err  # not a terminal: one progress line per epoch and per chunk, with an ETA
    assert "PaperDDPM training: 1/2 epoch, loss " in err and "PaperDDPM training: 2/2 epoch" in err
    assert "sampling ddpm: 13/13 image" in err and "ETA" in err
