"""Shared fixtures: paths, the real HPA files beside the repo, a tiny config, CLI helpers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"  # committed run folders and a set (tools/make_test_fixtures.py)
SHARED_HPA = REPO.parent / "shared" / "data" / "hpa"

# A run that takes a few seconds on a 2-core CPU (and, with a synthetic set, a 1-epoch fidelity reference and
# no CAS classifiers: tests/test_fidelity.py turns them on where it checks them).
TINY = ("dataset.n_images=160", "dataset.resolution=32", "train.epochs=2", "train.batch_size=32", "fidelity.epochs=1",
        "fidelity.cas=false")


def _share_the_cores() -> None:
    """Under pytest-xdist, each worker (and every `bench` process it starts) gets its share of the cores,
    so parallel workers do not oversubscribe the CPU."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        import torch

        torch.set_num_threads(int(threads))


_share_the_cores()


def shared_tmp(tmp_path_factory) -> Path:
    """A folder all pytest-xdist workers of this session share (the session's temporary folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep the rendered-dataset and plugin caches of the tests out of the user's home; one cache for all workers
    (entries are written to temporary names and renamed), so each dataset is rendered once per session."""
    folder = shared_tmp(tmp_path_factory) / "bench-cache"
    folder.mkdir(exist_ok=True)
    os.environ["BENCH_CACHE_DIR"] = str(folder)


@pytest.fixture(scope="session")
def shared_hpa() -> Path:
    if not (SHARED_HPA / "train.csv").exists():
        pytest.skip(f"real HPA files not found at {SHARED_HPA} (CI places ../shared beside the repo)")
    return SHARED_HPA


@pytest.fixture()
def fixture_runs(tmp_path) -> Path:
    """A writable copy of the committed fixture run folders (never written in place)."""
    import shutil

    return Path(shutil.copytree(FIXTURES / "runs", tmp_path / "fixture-runs"))


@pytest.fixture()
def fixture_sets(tmp_path) -> Path:
    """A writable copy of the committed fixture synthetic set folder (grid, manifest; no images)."""
    import shutil

    return Path(shutil.copytree(FIXTURES / "synthetic", tmp_path / "fixture-synthetic"))


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


def bench_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600,
              process: bool = False):
    """Run `bench ARGS` and return (returncode, stdout, stderr).

    In-process through click's CliRunner (no interpreter start-up: a cold `bench` costs seconds),
    unless the process boundary matters: `process=True`, or an `env` (read at import time by
    plugins and libraries) runs the installed console script for real.
    """
    if process or env:
        full_env = {**os.environ, **(env or {})}
        exe = Path(sys.executable).with_name("bench")
        return subprocess.run([str(exe), *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
    from click.testing import CliRunner

    from bench.cli import cli

    previous = os.getcwd()
    os.chdir(cwd or previous)
    try:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(["bench", *args], result.exit_code, result.stdout, result.stderr)


DURATIONS = REPO / "tests" / "durations.json"  # measured seconds per test (tools/store_test_durations.py)


def pytest_collection_modifyitems(config, items):
    """Costliest work first: pytest-xdist hands work out in this order (with `--no-loadscope-reorder`), so the
    long tests start at once and the many short ones fill the other worker around them, instead of one long
    test starting last while the other worker idles. A test's cost is its measured time in tests/durations.json
    (new tests: 10 s if marked slow, else 0.5 s); an `xdist_group` is one piece of work, its tests' sum. The
    sort is stable, so tests of equal cost (most short ones) keep pytest-randomly's order."""
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}

    def cost(item) -> float:
        measured = known.get(re.sub(r"@[\w-]+$", "", item.nodeid))
        return measured if measured is not None else 10.0 if item.get_closest_marker("slow") else 0.5

    def scope(item) -> str:
        group = item.get_closest_marker("xdist_group")
        return f"group:{group.args[0] if group.args else group.kwargs.get('name')}" if group else item.nodeid

    totals: dict[str, float] = {}
    for item in items:
        totals[scope(item)] = totals.get(scope(item), 0.0) + cost(item)
    items.sort(key=lambda item: -totals[scope(item)])
