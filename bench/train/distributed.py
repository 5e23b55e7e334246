"""Multi-process training of one run through torchrun (DistributedDataParallel).

    torchrun --nproc-per-node=4 -m bench run --generator ddpm --strategy mix_rep ...

Each process takes its share of every global batch (`train.batch_size` stays the global batch, so the
learning rate and the schedule mean the same as in one process); DDP averages the gradients. Every
process evaluates the same model on the same data and follows rank 0's validation score, so all make
the same decisions; only rank 0 writes files. NCCL on GPUs, gloo on CPUs (what the tests use).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bench.errors import BenchError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module under DistributedDataParallel when there are several processes."""
        if self.size == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.local_rank] if next(module.parameters()).is_cuda else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def from_main(self, value: float) -> float:
        """Rank 0's value on every process (decisions such as best epoch must agree)."""
        if self.size == 1:
            return value
        tensor = _tensor([float(value)])
        dist.broadcast(tensor, 0)
        return float(tensor.item())

    def total(self, *values: float) -> list[float]:
        """Sums over the processes (epoch loss and sample counts)."""
        if self.size == 1:
            return list(values)
        tensor = _tensor(values)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def share_buffers(self, module: torch.nn.Module) -> None:
        """Rank 0's buffers (BatchNorm statistics) everywhere, so evaluation is identical on every process."""
        if self.size > 1:
            for buffer in module.buffers():
                dist.broadcast(buffer.data, 0)


SINGLE = World()


def _tensor(values) -> torch.Tensor:
    """A float64 tensor where the backend can reduce it (NCCL: the current GPU; gloo: the CPU)."""
    on_gpu = dist.get_backend() == "nccl"
    return torch.tensor(values, dtype=torch.float64, device=torch.cuda.current_device() if on_gpu else "cpu")


def from_env() -> World:
    """The process's place as torchrun describes it (RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise."""
    try:
        return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise BenchError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (once) and return this process's device: cuda:LOCAL_RANK or the CPU."""
    if world.size == 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def finish() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
