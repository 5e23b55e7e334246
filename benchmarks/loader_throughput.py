"""Loader throughput at 512 px: the paper's per-sample PIL loader vs the harness's cached pipeline.

    python benchmarks/loader_throughput.py [--data ../shared/data/hpa/sample] [--seconds 8]

Both read the same Kaggle-layout files in one run, single process, warm OS file cache:
- paper: its Dataset.__getitem__ (open the four PNGs with PIL, convert to L, rotate by a random
  multiple of 90 degrees, stack, divide by 255, RandomResizedCrop(512, scale 0.8-1, ratio 0.9-1.1));
- cached, delivery: a batch of 64 read from the uint8 memory map as a tensor (what a GPU's
  training loop waits for; augmentation then runs on the GPU);
- cached, delivery + augmentation on this CPU: the same plus rot90 and flip (on uint8), /255 and
  the random resized crop on the whole batch (bench.train.augment): everything the paper's loader does.
The one-off `bench data prepare` decode is timed separately. Ratios are against the paper's loader.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from bench.config import TrainConfig
from bench.data import image_cache
from bench.data.kaggle import files_signature, read_labels_csv, scan
from bench.data.labels import CHANNELS
from bench.evaluate.predict import to_device
from bench.train.augment import augment
from bench.train.loop import epoch_generator

REPO = Path(__file__).resolve().parents[1]


def paper_getitem(folder: Path, image_id: str, crop) -> torch.Tensor:
    planes = [Image.open(folder / f"{image_id}_{c}.png").convert("L") for c in CHANNELS]
    angle = random.choice([0, 90, 180, 270])
    planes = [p.rotate(angle) for p in planes]
    x = torch.from_numpy(np.stack([np.asarray(p) for p in planes])).float() / 255.0
    return crop(x)


def rate(step, seconds: float) -> float:
    """Images per second of `step()` (which returns how many images it produced), after one warm-up."""
    step()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "hpa" / "sample")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = args.data / "train"
    ids, labels = read_labels_csv(args.data / "train.csv")
    crop = transforms.RandomResizedCrop(args.resolution, scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True)
    order = iter(range(10**9))
    paper = rate(lambda: (paper_getitem(folder, ids[next(order) % len(ids)], crop), 1)[1], args.seconds)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cached = image_cache.build(Path(tmp), folder, ids, labels, args.resolution,
                                   signature=files_signature(scan(folder), ids), skip_bad=False, workers=1)
        prepare = len(ids) / (time.perf_counter() - start)
        rng = np.random.default_rng(0)
        cfg = TrainConfig(random_resized_crop=True)
        g = epoch_generator(0, 1)

        def delivery() -> int:
            idx = np.sort(rng.integers(0, len(ids), args.batch))
            torch.from_numpy(np.ascontiguousarray(cached.images[cached.rows[idx]]))
            return args.batch

        def delivery_and_augment() -> int:
            idx = np.sort(rng.integers(0, len(ids), args.batch))
            augment(to_device(cached.images[cached.rows[idx]], torch.device("cpu")), g, cfg)
            return args.batch

        fast = rate(delivery, args.seconds)
        full = rate(delivery_and_augment, args.seconds)

    print(f"{len(ids)} images from {args.data} at {args.resolution}px, 1 CPU thread, torch {torch.__version__}")
    print(f"{'pipeline':58s} {'images/s':>10s} {'vs paper':>9s}")
    for name, value in [("paper: PIL per sample (decode, rotate, /255, crop)", paper),
                        ("one-off: bench data prepare (decode into the cache)", prepare),
                        ("cached: batch delivery (GPU does the augmentation)", fast),
                        ("cached: delivery + rot90, flip, /255, crop on this CPU", full)]:
        print(f"{name:58s} {value:10.1f} {value / paper:8.1f}x")


if __name__ == "__main__":
    main()
