"""The GPU check: where the main job's time goes, classifier and loader rates at 512 px, a generator's rates.

    python benchmarks/gpu_check.py [--device auto] [--tiny] [--out gpu-check.txt]

Prepared to fit in 8 minutes of a lent GPU (about 5 on an H100), and run on the CPU with `--tiny`
by the suite (tests/test_benchmarks.py) so that it works when a GPU comes. In order:
1. the README's main command (`bench run`, the embedded dataset) as a new process: its wall time
   and the phases its record.json names (imports and set-up before the run, dataset, model set-up,
   epochs, scoring, files), so the time outside training is named;
2. ResNet-18 training images/s at 512 px: the paper's loop and the harness in fp32, channels_last,
   bf16 and both (benchmarks/training_throughput.py);
3. the loader's delivery rate at 512 px beside it (benchmarks/loader_throughput.py), on the real
   HPA sample beside the repository or, where that is absent, the embedded dataset written in the
   Kaggle layout at 512 px;
4. the `edm` generator's training and sampling images/s at the dataset's 64 px.
Every figure is printed with the device name and torch version; `--out` also writes them to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = str(Path(sys.executable).with_name("bench"))
TINY_RUN = ("dataset.n_images=160", "dataset.resolution=32", "train.epochs=1", "train.batch_size=32")


def shell(argv: list[str], cwd: Path | None = None) -> tuple[str, float]:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-1500:]}")
    return result.stdout, time.perf_counter() - start


def script(name: str, *args: str) -> str:
    """What a benchmark script prints, run in this interpreter (torch is imported once for the whole check)."""
    printed, argv = io.StringIO(), sys.argv
    sys.argv = [name, *args]
    try:
        with contextlib.redirect_stdout(printed):
            runpy.run_path(str(REPO / "benchmarks" / name), run_name="__main__")
    finally:
        sys.argv = argv
    return printed.getvalue()


def main_job(work: Path, device: str, tiny: bool) -> list[str]:
    """The README's main command as a new user runs it: its own process, a cold dataset cache."""
    _, wall = shell([BENCH, "run", "--device", device, *(TINY_RUN if tiny else ())], cwd=work)
    (record_file,) = (work / "runs").glob("*/record.json")
    record = json.loads(record_file.read_text())
    phases = record["phases_s"]
    named = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items() if v is not None)
    accounted = sum(v for k, v in phases.items() if v is not None)
    return [f"main job (`bench run`{' ' + ' '.join(TINY_RUN) if tiny else ''}): {wall:.1f} s wall, of which "
            f"training {phases['train']:.1f} s; phases: {named}; not in a phase (checks, exit): "
            f"{wall - accounted:.1f} s"]


def training(device: str, tiny: bool) -> list[str]:
    size = ["--resolution", "32", "--n", "8", "--batch-size", "4", "--workers", "0", "--dataset-images", "160"] \
        if tiny else ["--resolution", "512", "--n", "512", "--batch-size", "64", "--dataset-images", "640"]
    out = script("training_throughput.py", "--device", device, *size)
    return ["ResNet-18 training: " + line.strip() for line in out.splitlines() if "x paper loop" in line or
            line.startswith("resnet18,")]


def loader(work: Path, tiny: bool) -> list[str]:
    resolution = 64 if tiny else 512
    data = REPO.parent / "shared" / "data" / "hpa" / "sample"
    if tiny or not (data / "train.csv").exists():
        data = work / "kaggle-layout"
        shell([BENCH, "data", "export", str(data), f"dataset.n_images={24 if tiny else 256}",
               f"dataset.resolution={resolution}"])
    out = script("loader_throughput.py", "--data", str(data), "--resolution", str(resolution),
                 "--seconds", "0.5" if tiny else "4")
    return ["loader: " + line.strip() for line in out.splitlines() if "images/s" not in line and line.strip()]


def generator(device: str, tiny: bool) -> list[str]:
    import numpy as np

    from bench import config
    from bench.runs.execute import load_data
    from bench.runs.preflight import pick_device
    found = pick_device(device)
    cfg = config.build(overrides=TINY_RUN[:2] if tiny else ())
    _, _, roles = load_data(cfg)
    train = roles["train"] if not tiny else roles["train"].subset(np.arange(32))
    options = {"epochs": 1, "width": 16, "sampling_steps": 4} if tiny else {"epochs": 3}
    gen = config.choice("generator", "edm", options).create()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        gen.fit(train, seed=0, device=found, workdir=Path(tmp))
        fit_rate = len(train) * options["epochs"] / (time.perf_counter() - start)
    labels = train.labels[: 8 if tiny else 256]
    start = time.perf_counter()
    gen.sample(labels, resolution=train.resolution, seed=0, device=found)
    sample_rate = len(labels) / (time.perf_counter() - start)
    return [f"edm ({', '.join(f'{k}={v}' for k, v in options.items())}), {len(train)} train images at "
            f"{train.resolution} px: training {fit_rate:.1f} images/s (epochs x images / time, first epoch "
            f"included), sampling {sample_rate:.1f} images/s ({len(labels)} images)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks the script on a CPU in seconds")
    parser.add_argument("--out", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    import torch
    name = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "CPU"
    lines = [f"device {name}, torch {torch.__version__}, {os.cpu_count()} CPUs{' (tiny sizes)' if args.tiny else ''}"]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_CACHE_DIR"] = str(Path(tmp) / "cache")  # cold for the main job, then shared by the parts
        for part in (lambda: main_job(Path(tmp), args.device, args.tiny), lambda: training(args.device, args.tiny),
                     lambda: loader(Path(tmp), args.tiny), lambda: generator(args.device, args.tiny)):
            start = time.perf_counter()
            found = part()
            found[-1] += f"  [{time.perf_counter() - start:.0f} s]"
            print("\n".join(found), flush=True)
            lines += found
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
