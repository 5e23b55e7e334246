"""Training checkpoints that are never trusted damaged: saved with a checksum beside them (after checking
there is room for them), loaded only when they match it; a damaged one is removed, said in one line,
and training starts again from its first epoch (the same seed gives the same result)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch

from bench.files import damage, remove_checked, require_space, save_checked, size, tensor_bytes


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write `payload` with torch.save, atomically and with its checksum; refuse early (one line) when the disk
    lacks the room. Each checkpoint is written beside the previous one, which it then replaces: the first one
    asks for room for two, so a run is refused at its first epoch, not at its second."""
    one = tensor_bytes(payload) + (1 << 20)
    first = not Path(path).exists()
    require_space(Path(path).parent, 2 * one if first else one,
                  f" for {'two checkpoints' if first else 'a checkpoint'} of {size(one)} (each is written beside "
                  f"the previous one, which it then replaces)")
    save_checked(Path(path), lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: Path | None, device, say: Callable[[str], None] = _stderr) -> dict | None:
    """The checkpoint's payload; None when there is none, or when it is damaged (then it is removed and said)."""
    if path is None or not Path(path).exists():
        return None
    problem = damage(path)
    if problem is None:
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:  # truncated, not a checkpoint: the same remedy
            problem = f"unreadable: {type(exc).__name__}"
    say(f"checkpoint {path} is damaged ({problem}); it is removed and training starts again from its first epoch "
        f"(the same seed gives the same result)")
    remove_checked(path)
    return None
