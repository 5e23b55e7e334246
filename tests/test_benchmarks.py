"""The GPU check runs end to end, at tiny sizes on the CPU, so it works when a GPU is lent; the generator
precision benchmark prints what it promises."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


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
