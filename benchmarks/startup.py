"""How long the `bench` command line takes to answer, against Python's and torch's own start-up.

    python benchmarks/startup.py [--repeats 5]

Each command is started `--repeats` times as a new process; the median wall time is printed beside
`python -c pass` and `python -c "import torch"`, measured in the same run. Plugin listings read a
cache (`bench.plugin_metadata`) that the first listing after an install or an edit fills by
importing every plugin once: the "cold" rows clear it before every start, the others use it. Targets:
`--help`, completion and `bench options` within 0.3 s, `bench list` within 1.0 s, on the
2-core development machine with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

BENCH = str(Path(sys.executable).with_name("bench"))


def completion(words: str) -> dict:
    return {"_BENCH_COMPLETE": "bash_complete", "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}


CASES = [  # (label, argv, extra environment, target in s, cold cache)
    ("python -c pass", [sys.executable, "-c", "pass"], {}, None, False),
    ('python -c "import torch"', [sys.executable, "-c", "import torch"], {}, None, False),
    ("bench --help", [BENCH, "--help"], {}, 0.3, False),
    ("bench run --help", [BENCH, "run", "--help"], {}, 0.3, False),
    ("complete a command (bench ru)", [BENCH], completion("bench ru"), 0.3, False),
    ("complete a plugin (--generator dd)", [BENCH], completion("bench run --generator dd"), 0.3, False),
    ("complete a config key (train.l)", [BENCH], completion("bench run train.l"), 0.3, False),
    ("complete a plugin option (generator.gu)", [BENCH], completion("bench run generator.gu"), 0.3, False),
    ("bench options generator edm", [BENCH, "options", "generator", "edm"], {}, 0.3, False),
    ("bench options", [BENCH, "options"], {}, 0.3, False),
    ("bench list", [BENCH, "list"], {}, 1.0, False),
    ("bench options generator edm (cold cache)", [BENCH, "options", "generator", "edm"], {}, None, True),
    ("bench list (cold cache)", [BENCH, "list"], {}, None, True),
]


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    base = {**os.environ, "BENCH_CACHE_DIR": str(cache)}
    subprocess.run([BENCH, "list"], env=base, capture_output=True, check=True)  # fill the plugin cache once
    rows = []
    for label, argv, extra, target, cold in CASES:
        times = []
        for _ in range(args.repeats):
            env = {**base, **extra}
            if cold:
                env["BENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-cold-", dir=cache)
            times.append(timed(argv, env))
        median = statistics.median(times)
        verdict = "" if target is None else ("met" if median <= target else f"MISSED by {median - target:.2f} s")
        rows.append([label, f"{median:.3f}", f"{min(times):.3f}", "" if target is None else target, verdict])
    shutil.rmtree(cache, ignore_errors=True)
    print(tabulate(rows, ["command", "median s", "min s", "target s", ""], tablefmt="github"))
    print(f"\n{args.repeats} starts each; python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f} (nothing else running: about 0)")


if __name__ == "__main__":
    main()
