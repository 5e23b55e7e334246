"""One run on several processes through torchrun (DDP), on the CPU with gloo: the run lands once,
written by rank 0 alone, and every process ends with the same weights whatever the strategy."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from conftest import TINY, folders

import bench
from bench import config, registry
from bench.runs.execute import load_data
from bench.train import distributed
from bench.train.loop import Trainer

pytestmark = pytest.mark.xdist_group("distributed")  # one worker trains the module's process pair once

ONE_EPOCH = (*TINY, "train.epochs=1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, processes: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={processes}",
               f"--master-port={free_port()}", "-m", "bench", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_torchrun_two_processes_make_one_complete_run(tmp_path):
    runs = tmp_path / "runs"
    result = torchrun("run", "--device", "cpu", "--runs-dir", str(runs), *ONE_EPOCH)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("record: ") == 1  # rank 0 speaks, the other process is silent
    (folder,) = folders(runs)
    assert (folder / "done").exists() and not (folder / "checkpoint.pt").exists()
    assert json.loads((folder / "record.json").read_text())["environment"]["processes"] == 2
    assert "2 processes" in (folder / "log.txt").read_text()


@pytest.mark.slow
def test_a_multi_process_run_wants_its_synthetic_set_made_first(tmp_path):
    result = torchrun("run", "--device", "cpu", "--runs-dir", str(tmp_path / "runs"), "--synthetic-dir",
                      str(tmp_path / "synthetic"), "--generator", "real", "--strategy", "concat", *ONE_EPOCH)
    assert result.returncode != 0
    assert "needs its synthetic set made first: run `bench generate --generator real`" in result.stderr
    assert "bench: error: a multi-process run" in result.stderr
    # one line from each process, no traceback through bench's code (torchrun prints a summary of its own)
    assert f'File "{Path(bench.__file__).parent}' not in result.stderr
    assert not (tmp_path / "synthetic").exists()


STRATEGIES = [info.name for info in registry.discover("strategy") if info.error is None]


def _train_on_rank(rank: int, size: int, port: int, out: str) -> None:
    """Every strategy in turn, in one process pair (a spawn costs an interpreter and a torch import)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    world = distributed.from_env()
    device = distributed.start(world, torch.device("cpu"))
    cfg = config.build(overrides=ONE_EPOCH)
    _, _, roles = load_data(cfg)
    for name in STRATEGIES:
        strategy = config.choice("strategy", name).create()
        synthetic = roles["train"] if strategy.needs_synthetic else None  # real images stand in for a set
        torch.manual_seed(100 + rank)  # different starting weights on each process: DDP must make them agree
        model = cfg.classifier.create()
        trainer = Trainer(model, strategy, cfg.train, cfg.seed, device, None, lambda line: None, world)
        trainer.fit(roles["train"], roles["val"], synthetic)
        torch.save(model.state_dict(), os.path.join(out, f"{name}-rank{rank}.pt"))
    distributed.finish()


@pytest.fixture(scope="session")  # once on the module's one worker (xdist_group), whatever the order
def trained_on_two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_train_on_rank, args=(2, free_port(), str(out)), nprocs=2)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_process_ends_with_the_same_weights(strategy, trained_on_two_processes):
    first, second = (torch.load(trained_on_two_processes / f"{strategy}-rank{r}.pt", weights_only=True)
                     for r in (0, 1))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)  # parameters and BatchNorm statistics
