"""SIGTERM and Ctrl-C as exceptions, held back while a file and its checksum are being written.

SLURM pre-empts with SIGTERM; `install()` (the CLI calls it) turns it into `Terminated`. Inside
`uninterrupted()` a signal is remembered and raised when the block ends, so a checkpoint is never
cut between its file and its checksum: the epoch it saves is kept. SIGKILL cannot be held back;
`bench.files.save_checked` is safe against it by the order of its writes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (what SLURM sends on pre-emption)."""


_depth = 0
_pending: int | None = None


def _exception(signum: int) -> BaseException:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum, frame):
    global _pending
    if _depth:
        _pending = signum
        return
    raise _exception(signum)


def install() -> None:
    """SIGTERM raises Terminated and SIGINT KeyboardInterrupt, both held back inside `uninterrupted()`."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGTERM / SIGINT back until the block is done (then raise it)."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending is not None:
            signum, _pending = _pending, None
            raise _exception(signum)


_completed: str | None = None


def completed(what: str) -> None:
    """Say that the command's result is complete (`what` names it), for a signal that comes after it."""
    global _completed
    _completed = what


def what_is_kept() -> str:
    """The message's tail on an interrupt: what finished and how to go on."""
    if _completed:
        return f"it had completed before the signal: {_completed}"
    return "finished epochs, checkpoints and sampled chunks are kept; the same command resumes"


def ignore() -> None:
    """After the command has finished: signals are ignored while the process exits."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
