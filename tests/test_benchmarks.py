"""The GPU check runs end to end, at tiny sizes on the CPU, so it works when a GPU is lent; the generator
precision and fidelity-replicate benchmarks print what they promise."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, TINY, bench_cli, folders


@pytest.mark.slow  # a `bench run`, the training and loader benchmarks and an `edm`, each at tiny sizes
def test_the_gpu_check_prints_every_figure_it_promises(tmp_path):
    out = tmp_path / "gpu-check.txt"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu",
                             "--out", str(out)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    assert text.startswith("device CPU, torch ")
    main_job = next(line for line in text.splitlines() if line.startswith("main job"))
    for phase in ("before_run", "data", "set_up", "train", "evaluate", "write", "not in a phase"):
        assert phase in main_job
    for variant in ("harness, FP32", "harness, channels_last", "harness, bf16", "paper loop"):
        assert any(variant in line and "images/s" in line for line in text.splitlines()), variant
    assert "cached: batch delivery" in text and "edm (" in text and "sampling" in text


def test_the_generator_precision_benchmark_prints_both_networks_and_their_ratio():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "generator_precision.py"), "--tiny",
                             "--repeats", "1", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("torch ") and len(lines) == 3
    assert all("fp32 / bf16 = " in line for line in lines[1:])
    assert lines[1].startswith("diffusion U-Net") and lines[2].startswith("autoencoder")


@pytest.mark.slow  # two tiny `bench generate` (each with its 1-epoch fidelity reference) and the benchmark
def test_a_larger_set_begins_with_the_smaller_one_and_its_other_slices_are_measured_as_replicates(tmp_path):
    """The replicate benchmark's premise (a set's first images are the smaller set with the same options) and its
    table, on two `oracle` sets of a tiny dataset."""
    synthetic, runs, data = tmp_path / "synthetic", tmp_path / "runs", ["dataset.n_images=200", "dataset.resolution=32"]
    for share in ("0.25", "1.0"):
        result = bench_cli("generate", "--generator", "oracle", f"synthetic.per_real={share}", *data, *TINY[2:],
                           "--runs-dir", str(runs), "--synthetic-dir", str(synthetic))
        assert result.returncode == 0, result.stderr[-2000:]
    small, large = sorted(folders(synthetic), key=lambda f: (f / "labels.csv").stat().st_size)
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fidelity_replicates.py"), str(large),
                             "--n", "40", "--first", str(small), "--runs-dir", str(runs), *data],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert f"slice 0 is {small.name}, image for image: True" in lines
    table = lines[lines.index(next(line for line in lines if line.startswith(large.name))) + 1:]
    assert table[0].split()[:3] == ["slice", "fid", "precision"] and len(table) == 1 + 4 + 2  # 160 train: 4 of 40
    assert table[-2].startswith("slices 1-3: mean fid ") and table[-1].startswith("slices 1-3: sd   fid ")
    wrong = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fidelity_replicates.py"), str(large),
                            "--n", "40", "--runs-dir", str(runs), "dataset.n_images=160", "dataset.resolution=32"],
                           capture_output=True, text=True, timeout=300,
                           cwd=tmp_path)
    assert wrong.returncode == 1 and "pass the KEY=VALUE overrides it was generated with" in wrong.stderr
