"""Progress of long loops: a tqdm bar with rate and ETA in a terminal, one line per step in logs.

In a terminal the bar redraws in place; anywhere else (a log file, SLURM output, a pipe) each step
prints one line with the rate and the time left, so a long job is never silent.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class Progress:
    """Count `total` units (epochs, images) of one task; `update(n, note)` after each step."""

    def __init__(self, total: int, desc: str, unit: str, start: int = 0, stream=None):
        self.total, self.desc, self.unit, self.done, self.start = total, desc, unit, start, start
        self.stream = stream or sys.stderr
        self.began = time.perf_counter()
        self.bar = tqdm(total=total, initial=start, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True,
                        leave=False) if self.stream.isatty() else None

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            return
        elapsed = time.perf_counter() - self.began
        rate = (self.done - self.start) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = duration(left) if left == left else "?"
        speed = f"{rate:.2f} {self.unit}/s" if rate >= 1 else f"{1 / rate:.1f} s/{self.unit}" if rate else "?"
        extra = f", {note}" if note else ""
        print(f"{self.desc}: {self.done}/{self.total} {self.unit}{extra}, {speed}, ETA {eta}", file=self.stream,
              flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

