"""Sampling throughput of `ddpm` (the paper's, 1000 ancestral steps) vs `ddpm-unet` and `edm`.

    python benchmarks/sampling_throughput.py [--n 256] [--device auto] [--ddpm-epochs 30] [--unet-epochs 40]
        [--edm-epochs 70] [--skip ddpm-unet] [--unet-variant "width=32"] [--edm-variant "width=32"]
        [--sampling-variant "guidance_scale=1"] ...

Every generator is trained on the train role of the embedded dataset (default split), then each
samples the same N label sets on the same device, timed (sampling only, after a warm-up batch),
at its default sampling settings (guidance included).
`--unet-variant` / `--edm-variant` (repeatable) train a `ddpm-unet` / `edm` with those options on top
of its defaults (instead of the defaults alone);
`--sampling-variant` (repeatable) samples every trained `ddpm-unet` and `edm` again with other
sampling options (guidance, steps) without retraining. Each line also prints the domain FID of
those N samples against the real train role (reference classifier: the default real-data run,
reused from ./runs or trained once). Fewer epochs make the script quicker on a CPU; throughput does
not depend on them, FID does (it is printed with them). The ratio printed is against `ddpm`.
Trainings live where `bench generate` keeps them (`--synthetic-dir`), so a generator already trained
with the same options for a synthetic set is reused ("train" then shows the seconds to load it).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from bench import config
from bench.api import LabelledImages, content_fingerprint
from bench.runs.execute import Runtime, execute, load_data
from bench.runs.preflight import pick_device
from bench.synthetic import fidelity
from bench.synthetic import sets as synthetic


def parse_options(text: str) -> dict:
    """'width=16,guidance_scale=1' -> {'width': 16, 'guidance_scale': 1} (values parsed as YAML)."""
    return {k.strip(): yaml.safe_load(v) for k, v in (item.split("=", 1) for item in text.split(",") if item)}


def timed_sample(generator, labels, resolution, device) -> tuple[np.ndarray, float]:
    generator.sample(labels[:2], resolution=resolution, seed=1, device=device)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    images = generator.sample(labels, resolution=resolution, seed=0, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return images, len(labels) / (time.perf_counter() - start)


def training_dir(root: str, name: str, options: dict, data, split) -> Path:
    """Where `bench generate` keeps (or would keep) this generator's training: a finished one is reused."""
    cfg = config.build(flags={"generator.name": name},
                       overrides=tuple(f"generator.{k}={v}" for k, v in options.items()))
    folder = synthetic.training_folder(Path(root), cfg, data.fingerprint, split.fingerprint)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="images sampled by each generator")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--ddpm-epochs", type=int, default=30)
    parser.add_argument("--unet-epochs", type=int, default=40)
    parser.add_argument("--edm-epochs", type=int, default=70)
    parser.add_argument("--skip", action="append", default=[], choices=["ddpm-unet", "edm"],
                        help="leave a generator out (ddpm, the baseline, always runs)")
    parser.add_argument("--unet-variant", action="append", default=[], help="ddpm-unet training options to try")
    parser.add_argument("--edm-variant", action="append", default=[], help="edm training options to try")
    parser.add_argument("--sampling-variant", action="append", default=[], help="extra ddpm-unet sampling options")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--synthetic-dir", default="synthetic",
                        help="generator trainings are shared with `bench generate` there (reused when they exist)")
    args = parser.parse_args()
    device = pick_device(args.device)
    cfg = config.build()
    data, split, roles = load_data(cfg)
    train = roles["train"]
    reference = execute(fidelity.reference_config(cfg), Runtime(Path(args.runs_dir), args.device), say=lambda s: None)
    labels = train.labels[np.random.default_rng(0).integers(0, len(train), args.n)]
    jobs = [("ddpm", {"epochs": args.ddpm_epochs, "sampling_steps": 1000}, [{}])]
    samplings = [{}] + [parse_options(v) for v in args.sampling_variant]
    for name, epochs, variants in (("ddpm-unet", args.unet_epochs, args.unet_variant),
                                   ("edm", args.edm_epochs, args.edm_variant)):
        if name not in args.skip:
            jobs += [(name, {"epochs": epochs, **parse_options(v)}, samplings) for v in variants or [""]]
    rows = []
    for name, options, samplings in jobs:
        generator = config.choice("generator", name, options).create()
        workdir = training_dir(args.synthetic_dir, name, options, data, split)
        start = time.perf_counter()
        generator.fit(train, seed=cfg.synthetic.seed, device=device, workdir=workdir)
        fit_s = time.perf_counter() - start
        trained = generator.options
        for sampling in samplings:
            generator.options = dataclasses.replace(trained, **sampling)
            images, rate = timed_sample(generator, labels, train.resolution, device)
            ids = [f"s{i}" for i in range(len(images))]
            synthetic = LabelledImages(ids, labels, images, content_fingerprint(ids, labels, images))
            fid = fidelity.domain_metrics(synthetic, train, reference.run_dir, device)["fid"]
            rows.append((name, {**options, **sampling}, fit_s, rate, fid))
            print(f"{name} {rows[-1][1]}: {rate:.2f} images/s, domain FID {fid:.1f}", flush=True)
    print(f"\ndevice {device}, torch {torch.__version__}, {args.n} samples each, {len(train)} train images")
    base_rate = rows[0][3]
    for name, options, fit_s, rate, fid in rows:
        shown = ", ".join(f"{k}={v}" for k, v in options.items())
        print(f"{name:10s} {shown:60s} train {fit_s:7.1f} s  sampling {rate:8.2f} images/s "
              f"({rate / base_rate:5.1f}x ddpm)  domain FID {fid:8.2f}")


if __name__ == "__main__":
    main()
