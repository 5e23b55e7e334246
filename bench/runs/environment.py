"""What a run record says about where it ran: library versions, platform, device, processes, peak memory."""

from __future__ import annotations

import os
import platform
import resource

import numpy as np
import torch

import bench
from bench.train import distributed
from bench.train.distributed import World


def environment(device: torch.device, world: World = distributed.SINGLE) -> dict:
    env = {"processes": world.size, "bench": bench.__version__, "python": platform.python_version(),
           "torch": torch.__version__,
           "numpy": np.__version__, "platform": platform.platform(), "machine": platform.machine(),
           "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": str(device)}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    if os.environ.get("SLURM_JOB_ID"):  # where a cluster ran it: job, array task, node
        env["slurm"] = {key: os.environ[f"SLURM_{key.upper()}"] for key in ("job_id", "array_job_id",
                        "array_task_id", "job_nodelist") if f"SLURM_{key.upper()}" in os.environ}
    return env


def peak_memory_mib(device: torch.device) -> dict:
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    peak = {"host_rss_mib": round(rss_kib / 1024, 1)}
    if device.type == "cuda":
        peak["gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peak
