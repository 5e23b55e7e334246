"""Files written so that nothing half-written or damaged is ever trusted.

- Atomic writes: every file is written to a temporary name in its folder, then renamed; a reader
  never sees a half-written file, a failed writer leaves nothing (its temporary file is removed on
  any exception, and a killed writer's is removed by the next command working in that folder).
- A full disk is one `DiskFull` line (which folder, how much is free, what to do), never a traceback;
  `require_space` refuses a long step early where the bytes it needs are known.
- Checked files (checkpoints, sampled chunks, cached arrays): `save_checked` writes a SHA-256 beside
  the file, `damage` compares it on read, so flipped bytes are caught, not only truncation.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.errors import BenchError
from bench.interrupts import uninterrupted

TEMPORARY = ".*.tmp"  # the names atomic_target writes to
CHECKSUMS = ".sha256"  # suffix of the checksum file beside a checked file
_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(BenchError):
    """No space left where the harness writes: finished work is kept, the same command resumes."""

    def __init__(self, folder: Path, needed: int | None = None, why: str = ""):
        free, need = size(free_bytes(folder)), f"{size(needed)} needed{why}, " if needed else ""
        super().__init__(f"no space left in {folder} ({need}{free} free); nothing half-written was kept: free some "
                         f"space (or write elsewhere: --runs-dir, --synthetic-dir, $BENCH_CACHE_DIR) and run the "
                         f"same command again, it resumes from what finished")


def size(n: float | None) -> str:
    """Bytes as people read them: 512 B, 3.1 MB, 2.4 GB."""
    n = float(n or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def free_bytes(folder: Path) -> int:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def require_space(folder: Path, needed: int, why: str = "") -> None:
    """Refuse early (DiskFull) when `folder`'s file system has less than `needed` bytes free (`why`: what for)."""
    if free_bytes(folder) < needed:
        raise DiskFull(Path(folder), needed, why)


def is_disk_full(exc: BaseException) -> bool:
    """An OSError for a full disk or quota, or torch's RuntimeError for a write that could not finish."""
    if isinstance(exc, OSError):
        return exc.errno in _FULL
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("unexpected pos" in text or "file write failed" in text
                                              or "No space left" in text)


def cache_dir() -> Path:
    """The user-level cache folder: $BENCH_CACHE_DIR, else ~/.cache/synthloc-bench (an optimisation only)."""
    return Path(os.environ.get("BENCH_CACHE_DIR") or Path.home() / ".cache" / "synthloc-bench")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(path.parent) from None
        raise
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        _inject_fault(path)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_disk_full(exc):
            raise DiskFull(path.parent) from None
        raise


_writes: dict[str, int] = {}


def _inject_fault(path: Path) -> None:
    """For fault-injection tests: BENCH_FAULT=<pattern>:<n>:<KILL|TERM|INT> sends that signal to this process
    during the n-th write of a file whose path ends in that pattern (`Path.match`: a file name, or with its
    folders, e.g. `real-*/images.npy`), when its bytes are in the temporary file and not yet renamed."""
    spec = os.environ.get("BENCH_FAULT")
    if not spec or not path.match(spec.split(":")[0]):
        return
    name, nth, sig = spec.split(":")
    _writes[name] = _writes.get(name, 0) + 1
    if _writes[name] == int(nth):
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


def remove_temporaries(folder: Path) -> int:
    """Remove what killed writers left in `folder` (their temporary files); call it where this process alone
    writes (under the folder's lock). Returns how many were removed."""
    removed = 0
    for tmp in Path(folder).glob(TEMPORARY):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_file(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUMS)


def _listed(path: Path) -> set[str]:
    try:
        return set(json.loads(_checksum_file(path).read_text()))
    except (OSError, ValueError, TypeError):
        return set()


def save_checked(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` atomically through `write(tmp)`, its SHA-256 beside it in `<name>.sha256`; signals wait until
    both are on disk. The checksum file lists the old and the new digest while the new file is renamed into place,
    so a kill at any moment leaves a file that matches its checksum (the old one or the new one)."""
    path = Path(path)
    with uninterrupted(), atomic_target(path) as tmp:
        write(tmp)
        digest = sha256(tmp)
        write_text(_checksum_file(path), json.dumps(sorted(_listed(path) | {digest})))
    write_text(_checksum_file(path), json.dumps([digest]))


def damage(path: Path) -> str | None:
    """What is wrong with a checked file: None when it matches its checksum, or when it has no checksum file
    (written before checksums were kept: the reader's parse is the only check)."""
    path = Path(path)
    if not _checksum_file(path).exists():
        return None if path.is_file() else "missing"
    listed = _listed(path)
    if not listed:
        return f"its checksum file {_checksum_file(path).name} is damaged"
    return None if path.is_file() and sha256(path) in listed else "its bytes do not match its checksum"


def tensor_bytes(tree) -> int:
    """Bytes of the arrays and tensors in a nested dict / list (what saving it will about take)."""
    if isinstance(tree, dict):
        return sum(tensor_bytes(v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return sum(tensor_bytes(v) for v in tree)
    return int(getattr(tree, "nbytes", 0) or 0)


def remove_checked(path: Path) -> None:
    Path(path).unlink(missing_ok=True)
    _checksum_file(Path(path)).unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_npy(path: Path, array) -> None:
    """np.save to exactly `path` (np.save given a name adds `.npy` to it), never pickling."""
    import numpy as np  # the CLI imports this module without numpy

    with open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
