"""Which machine made a result: the CPU model, torch's CPU kernels, the device and the torch build.

A leaf module, so that a synthetic set's manifest and a run's record describe their machine the same way.
"""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def cpu_model() -> str | None:
    """The CPU's model name (Linux reports none through `platform.processor()`: read from /proc/cpuinfo), so
    that runs on two machines of one architecture are told apart; None where neither says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def describe(device: torch.device) -> dict:
    """The machine in a few fields: CPU model, torch's CPU kernels (e.g. AVX512), torch, device and GPU."""
    out = {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
           "device": str(device)}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out
