"""Exclusive locks between processes sharing a results folder (eight runs started at once, a sweep).

An advisory `flock` on `<folder>/.locks/<name>.lock`, outside the record folders themselves. A
second process asking for a lock that is held waits for it and says so once; the kernel releases
the lock when its holder exits or is killed, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.errors import BenchError


@contextlib.contextmanager
def exclusive(folder: Path, name: str, say: Callable[[str], None] = lambda line: None) -> Iterator[None]:
    locks = Path(folder) / ".locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise BenchError(f"{folder}: cannot write its lock files ({exc.strerror or exc}); "
                         f"pass a folder you can write to") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another process working on {name} in {folder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
