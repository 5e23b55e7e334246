"""Training throughput: the paper's plain FP32 eager loop vs the harness's Trainer, same model and device.

    python benchmarks/training_throughput.py [--classifier resnet18] [--resolution 128] [--n 512]
        [--batch-size 64] [--device auto] [--workers 2] [--dataset-images 3000]

Both train one epoch over the same N embedded-dataset images (train role), after a warm-up step:
- paper: a torch Dataset doing per-sample float conversion, a random 90-degree rotation and
  RandomResizedCrop(scale 0.8-1, ratio 0.9-1.1), a DataLoader with `--workers` processes, FP32,
  `model(x)`, BCE, backward, AdamW step (its notebooks' loop);
- harness: `bench.train.Trainer` (uint8 batches read ahead in a thread, pinned on CUDA, the same
  augmentation per sample on whole batches on the device), in FP32, bf16 autocast, channels_last,
  and both. Printed: images/s and the ratio to the paper's loop. bf16 needs CUDA or a CPU with bf16.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import transforms

from bench import config
from bench.api import LabelledImages
from bench.runs.execute import load_data
from bench.runs.preflight import pick_device
from bench.train.loop import StrategyStep, Trainer


class PaperDataset(torch.utils.data.Dataset):
    def __init__(self, data: LabelledImages, size: int):
        self.data = data
        self.crop = transforms.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x = torch.from_numpy(self.data.take([i])[0]).float() / 255.0
        x = torch.rot90(x, random.choice([0, 1, 2, 3]), dims=(1, 2))
        return self.crop(x), torch.from_numpy(self.data.labels[i]).float()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def paper_loop(model, data, args, device) -> float:
    loader = torch.utils.data.DataLoader(PaperDataset(data, data.resolution), batch_size=args.batch_size,
                                         shuffle=True, num_workers=args.workers, drop_last=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    seen, start = 0, None
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if start is None:  # the first step is the warm-up
            sync(device)
            start = time.perf_counter()
        else:
            seen += len(x)
    sync(device)
    return seen / (time.perf_counter() - start)


def harness_loop(model, data, args, device, **train) -> float:
    cfg = config.TrainConfig(batch_size=args.batch_size, epochs=1, **train)
    strategy = config.choice("strategy", "none").create()
    trainer = Trainer(model, strategy, cfg, 0, device, None, lambda s: None)
    step = StrategyStep(model, strategy, trainer.criterion)
    warm = data.subset(np.arange(args.batch_size))
    trainer._train_epoch(step, warm, None, 1)
    sync(device)
    start = time.perf_counter()
    trainer._train_epoch(step, data, None, 2)
    sync(device)
    return len(data) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="resnet18")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--dataset-images", type=int, default=3000, help="images rendered (the train role is 80%%)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    cfg = config.build(overrides=(f"dataset.resolution={args.resolution}", f"dataset.n_images={args.dataset_images}"))
    _, _, roles = load_data(cfg)
    data = roles["train"].subset(np.arange(min(args.n, len(roles["train"]))))
    variants = [("paper loop, FP32, DataLoader", None), ("harness, FP32", {}),
                ("harness, channels_last", {"channels_last": True}), ("harness, bf16", {"precision": "bf16"}),
                ("harness, bf16 + channels_last", {"precision": "bf16", "channels_last": True})]
    rows = []
    for name, train in variants:
        torch.manual_seed(0)
        model = config.choice("classifier", args.classifier).create().to(device)
        rate = paper_loop(model, data, args, device) if train is None else harness_loop(model, data, args, device,
                                                                                        **train)
        rows.append((name, rate))
        print(f"{name:32s} {rate:8.1f} images/s", flush=True)
    print(f"\n{args.classifier}, {len(data)} images at {args.resolution} px, batch {args.batch_size}, device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, rate in rows:
        print(f"{name:32s} {rate:8.1f} images/s  {rate / rows[0][1]:5.2f}x paper loop")


if __name__ == "__main__":
    main()
