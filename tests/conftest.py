"""Shared fixtures: paths, the real HPA files beside the repo, a tiny config, CLI helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_HPA = REPO.parent / "shared" / "data" / "hpa"

# A run that takes a few seconds on a 2-core CPU.
TINY = ("dataset.n_images=160", "dataset.resolution=32", "train.epochs=2", "train.batch_size=32")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep the rendered-dataset cache of the tests out of the user's home."""
    os.environ["BENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("bench-cache"))


@pytest.fixture(scope="session")
def shared_hpa() -> Path:
    if not (SHARED_HPA / "train.csv").exists():
        pytest.skip(f"real HPA files not found at {SHARED_HPA} (CI places ../shared beside the repo)")
    return SHARED_HPA


def stand_in_weights(folder: Path, arch: str, seed: int = 0) -> tuple[Path, dict]:
    """Random RGB weights of a timm model as safetensors, standing in for ImageNet's (offline here)."""
    import timm
    import torch
    from safetensors.torch import load_file, save_file

    path = Path(folder) / f"{arch}-{seed}.safetensors"
    if not path.exists():
        torch.manual_seed(seed)
        save_file(timm.create_model(arch, num_classes=0).state_dict(), str(path))
    return path, load_file(str(path))


def folders(path: Path) -> list[Path]:
    """The record folders under a runs or synthetic folder (not `.locks`), sorted."""
    return sorted(p for p in Path(path).iterdir() if p.is_dir() and not p.name.startswith("."))


def bench_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run the installed `bench` console script for real; returns the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("bench")
    return subprocess.run([str(exe), *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
