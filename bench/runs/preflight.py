"""What a run refuses before it loads data or writes anything; `--dry-run` runs the same checks and stops.

Each refusal is one line naming the setting and what to do instead. Checks that need the images
(empty split roles, a generator's size rules) come once the data is loaded, still before any write.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.config import RunConfig, normalise
from bench.errors import BenchError
from bench.runs import tracking


@dataclass
class Runtime:
    """Settings that change where and how a run executes, not what it measures (not hashed)."""

    runs_dir: Path = Path("runs")
    device: str = "auto"
    force: bool = False
    synthetic_dir: Path = Path("synthetic")
    inception_weights: str | None = None  # Inception-v3 weights file for the RGB-composite FID
    purpose: str = ""  # why the run exists when it is not the user's own (recorded; the leaderboard labels it)
    loggers: tuple[str, ...] = ()  # experiment trackers mirroring the run (bench.runs.tracking)
    threads: int | None = None  # torch's CPU threads (None: torch's default); record.json states what ran
    name: str = ""  # the user's tag (`--name`): recorded, shown beside the configuration, a leaderboard filter


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _instead() -> str:
    """What a run can use on this machine, for a refusal of a device it does not have."""
    if torch.cuda.is_available():
        return f"use --device cuda (or cuda:0 to cuda:{torch.cuda.device_count() - 1})"
    if mps_available():
        return "use --device mps (Apple GPU) or --device cpu"
    build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}, no GPU visible"
    return f"this torch {torch.__version__} is {build}; use --device cpu (or auto: the best device present)"


def pick_device(name: str) -> torch.device:
    """`auto`: a CUDA GPU, else Apple's MPS, else the CPU; or the device named, if this machine has it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BenchError(f"--device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchError(f"--device {name}: CUDA is not available on this machine; {_instead()}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise BenchError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s); {_instead()}")
    if device.type == "mps" and not mps_available():
        raise BenchError(f"--device {name}: Apple MPS is not available on this machine; {_instead()}")
    if device.type not in ("cpu", "cuda", "mps"):
        raise BenchError(f"--device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    return device


def check_precision(cfg: RunConfig, device: torch.device) -> None:
    """fp16 autocast with a gradient scaler is for CUDA GPUs; elsewhere bf16 is the reduced precision."""
    if cfg.train.precision == "fp16" and device.type != "cuda":
        raise BenchError(f"train.precision=fp16 needs a CUDA GPU (this run is on {device}); use train.precision=bf16 "
                         f"on a CPU, or fp32")


def check_writable(folder: Path, what: str = "runs folder") -> None:
    """Fail before any work if `folder` (or its nearest existing parent) cannot be written."""
    probe = Path(folder).resolve()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise BenchError(f"{what} {folder}: {probe} is not a writable folder")
    try:  # os.access says yes to root everywhere (/proc too): try it, leaving nothing behind
        tempfile.TemporaryDirectory(dir=probe, prefix=".bench-probe-").cleanup()
    except OSError as exc:
        raise BenchError(f"{what} {folder}: cannot write there ({exc.strerror or exc}); pass another folder") from None


def preflight(cfg: RunConfig, runtime: Runtime) -> torch.device:
    """The device, or the first refusal a run of this (normalised) config would give before it loads data:
    experiment trackers, folders, Inception weights, device, precision, the dataset's own check."""
    tracking.check(tuple(runtime.loggers))
    check_writable(runtime.runs_dir)
    if cfg.generator.plugin.produces_images:
        check_writable(runtime.synthetic_dir, "synthetic folder")
        if runtime.inception_weights and not Path(runtime.inception_weights).is_file():
            raise BenchError(f"--inception-weights {runtime.inception_weights}: no such file; give the path of "
                             f"the Inception-v3 weights (pt_inception-2015-12-05), or leave it out")
    device = pick_device(runtime.device)
    check_precision(cfg, device)
    cfg.dataset.create().check()
    if runtime.threads:
        torch.set_num_threads(runtime.threads)
    return device


def run_preflight(cfg: RunConfig, runtime: Runtime, say: Callable[[str], None]) -> tuple[RunConfig, torch.device]:
    """`bench run`'s checks: the generator/strategy pairing (`config.normalise`), then `preflight`."""
    cfg = normalise(cfg, say)
    return cfg, preflight(cfg, runtime)


NAME_LIMIT = 64


def check_name(name: str | None) -> str:
    """A `--name` tag as given, or a BenchError saying what is wrong with it."""
    if name is None:
        return ""
    if not name.strip():
        raise BenchError("--name is empty: give a short tag such as `lr-sweep`, or leave --name out")
    if len(name) > NAME_LIMIT:
        raise BenchError(f"--name is {len(name)} characters long; keep it to {NAME_LIMIT}")
    if any(sep in name for sep in ("/", "\\")) or not name.isprintable():
        raise BenchError(f"--name {name!r} holds a path separator or a control character; use letters, digits, "
                         f"'-', '_', '.' or spaces")
    return name
