"""What a run record says about where it ran: library versions, platform, device, processes, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from bench import machine
from bench.train import distributed
from bench.train.distributed import World
from bench.version import __version__

# every library whose version can change a number
LIBRARIES = ("torch", "torchvision", "timm", "torchmetrics", "torch-fidelity", "diffusers", "numpy", "scipy",
             "scikit-learn", "pandas", "iterative-stratification")
REPRODUCIBILITY = ("metrics.json is byte-identical for the same config, seed, library versions and hardware on "
                   "a CPU; other torch or library versions, another CPU model or a GPU change the numbers slightly "
                   "(floating-point order), so compare such runs as repeated measurements, not as the same one")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    folder = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def source() -> dict:
    """The harness's version and, when it runs from a git checkout, its commit and whether the tree was dirty."""
    out = {"version": __version__}
    commit = _git("rev-parse", "HEAD")
    if commit:
        out.update(commit=commit, dirty=bool(_git("status", "--porcelain", "--untracked-files=no")))
    return out


def environment(device: torch.device, world: World = distributed.SINGLE) -> dict:
    env = {"processes": world.size, "bench": __version__, "source": source(),
           "python": platform.python_version(), "numpy": np.__version__,
           "libraries": {name: _version(name) for name in LIBRARIES}, "platform": platform.platform(),
           "machine": platform.machine(), "processor": platform.processor(), **machine.describe(device),
           "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "reproducibility": REPRODUCIBILITY}
    env.update(cuda_build=torch.version.cuda, cudnn=_cudnn(), gpu_count=torch.cuda.device_count())
    if device.type == "cuda":
        env.update(cuda=torch.version.cuda)
    if os.environ.get("SLURM_JOB_ID"):  # where a cluster ran it: job, array task, node
        env["slurm"] = {key: os.environ[f"SLURM_{key.upper()}"] for key in ("job_id", "array_job_id",
                        "array_task_id", "job_nodelist") if f"SLURM_{key.upper()}" in os.environ}
    return env


def _cudnn() -> int | None:
    """cuDNN's version when this torch build has it (None on a CPU-only build)."""
    try:
        return torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except RuntimeError:
        return None


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process started (Linux /proc; None elsewhere): imports and set-up before a run."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return round(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, ValueError, IndexError):
        return None


def peak_memory_mib(device: torch.device) -> dict:
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    peak = {"host_rss_mib": round(rss_kib / 1024, 1)}
    if device.type == "cuda":
        peak["gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peak
