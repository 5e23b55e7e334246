"""Do the fidelity measures measure the data? Checked against the `oracle` and its degradations.

    python benchmarks/fidelity_checks.py [--n 598] [--references default,noise] [--runs-dir runs-fidelity-check]

For each candidate reference classifier (the real-data run whose penultimate features every domain
measure uses), this trains it (or reuses it from `--runs-dir`) and measures sets of `--n` images with
the train role's label rows: the oracle (fresh images of the true process), the oracle without the
renderer's pixel noise, and each degradation kind at increasing strength (pixel noise, blur,
resolution, label noise), plus held-out real images. It prints FID against the train role,
precision, recall, density, coverage and label consistency, then the two checks a measure must pass:
- noise-free oracle close to the oracle (its FID at most a fifth of the mildest blur's);
- each degradation kind worsens the measure steadily (Spearman's rho of measure against strength
  = 1, with the oracle as strength 0 and resolution's strength its reduction factor); label noise
  leaves each image realistic, so only label consistency is expected to see it.

References (train.* settings of the reference run):
    default   the 10-epoch ResNet-18 of fidelity version 2, on the images as they are
    noise     the same trained with pixel-noise augmentation (train.noise_augment=0.05): the reference of
              fidelity version 3 (`fidelity.reference_noise`)
    noiseblur the same with blur augmentation too (train.blur_augment=1.0)
    noiselightblur  with a lighter blur augmentation (train.blur_augment=0.5)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

import bench
from bench.config import choice
from bench.data.images import LabelledImages
from bench.runs.execute import load_data
from bench.synthetic import fidelity

REFERENCES = {"default": {"noise_augment": 0.0, "blur_augment": 0.0}, "noise": {"noise_augment": 0.05},
              "noiseblur": {"noise_augment": 0.05, "blur_augment": 1.0},
              "noiselightblur": {"noise_augment": 0.05, "blur_augment": 0.5}}
LEVELS = {  # degradation kind -> oracle option -> strengths (the oracle itself is strength 0)
    "noise": ("noise", [0.02, 0.05, 0.1, 0.2]),
    "blur": ("blur", [0.5, 1.0, 1.5, 2.0]),
    "resolution": ("through_px", [48, 32, 24, 16]),
    "label noise": ("label_noise", [0.25, 0.5, 0.75, 1.0]),
}


def oracle_set(base_cfg, train: LabelledImages, labels: np.ndarray, options: dict, name: str) -> LabelledImages:
    generator = choice("generator", "oracle", options).create()
    generator.fit(train, seed=0, device=torch.device("cpu"), dataset=base_cfg.dataset.create())
    images = generator.sample(labels, resolution=train.resolution, seed=12345, device=torch.device("cpu"))
    ids = [f"{name}-{i}" for i in range(len(labels))]
    return LabelledImages(ids, labels, images, f"check-{name}")


def sets_to_measure(base_cfg, roles: dict, n: int) -> dict[str, tuple[str, float, LabelledImages]]:
    train = roles["train"]
    rng = np.random.default_rng(0)
    labels = train.labels[rng.choice(len(train), size=n)]
    out = {"oracle": ("oracle", 0.0, oracle_set(base_cfg, train, labels, {}, "oracle")),
           "oracle, no pixel noise": ("clean", 0.0, oracle_set(base_cfg, train, labels, {"pixel_noise": False},
                                                                "clean"))}
    for kind, (key, levels) in LEVELS.items():
        for level in levels:
            name = f"{key}={level}"
            strength = train.resolution / level if key == "through_px" else level  # the reduction factor
            out[name] = (kind, strength, oracle_set(base_cfg, train, labels, {key: level}, name))
    heldout = fidelity.joined(roles["val"], roles["test"])
    pick = np.sort(rng.choice(len(heldout), size=min(n, len(heldout)), replace=False))
    out["held-out real"] = ("real", 0.0, heldout.subset(pick))
    return out


def reference_run(name: str, runs_dir: Path, epochs: int) -> Path:
    cfg = fidelity.reference_config(bench.configure())
    train = dataclasses.replace(cfg.train, epochs=epochs, **REFERENCES[name])
    record = bench.run(dataclasses.replace(cfg, train=train), runs_dir=runs_dir)
    return Path(record["run_dir"])


def front_blurred(data: LabelledImages, sigma: float) -> LabelledImages:
    """The images through a fixed Gaussian blur (a front end that removes pixel noise before the features)."""
    if not sigma:
        return data
    from generators.oracle import gaussian_blur

    x = torch.from_numpy(np.asarray(data.take(np.arange(len(data))))).double() / 255.0
    images = (gaussian_blur(x, sigma).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return LabelledImages(list(data.ids), data.labels, images, f"{data.fingerprint}-front-{sigma}")


def measure(sets: dict, roles: dict, run: Path, front: float = 0.0) -> pd.DataFrame:
    device = torch.device("cpu")
    features = fidelity.Features(run, device)
    if front:
        sets = {name: (kind, level, front_blurred(data, front)) for name, (kind, level, data) in sets.items()}
        roles = {role: front_blurred(data, front) for role, data in roles.items()}
    ft = features(roles["train"])
    rows = []
    for name, (kind, level, data) in sets.items():
        metrics = fidelity.distribution_metrics(features(data), ft)
        consistency = fidelity.label_consistency(data, roles["val"], run, device)["label_consistency"]
        rows.append({"set": name, "kind": kind, "level": level, "fid": metrics["fid"],
                     "precision": metrics["precision"], "recall": metrics["recall"], "density": metrics["density"],
                     "coverage": metrics["coverage"], "label_consistency": consistency})
    return pd.DataFrame(rows)


def checks(frame: pd.DataFrame) -> list[str]:
    by = frame.set_index("set")
    lines = []
    clean, oracle = by.loc["oracle, no pixel noise", "fid"], by.loc["oracle", "fid"]
    mild_blur = by.loc["blur=0.5", "fid"]
    passed = clean - oracle <= 0.2 * (mild_blur - oracle)
    lines.append(f"noise-free oracle: FID {clean:.1f} vs oracle {oracle:.1f} and blur 0.5 {mild_blur:.1f}: "
                 f"{'PASS' if passed else 'FAIL'} (excess at most a fifth of the mildest blur's)")
    for kind in LEVELS:
        rows = pd.concat([by.loc[["oracle"]].assign(level=1.0 if kind == "resolution" else 0.0),
                          frame[frame.kind == kind].set_index("set")])
        # label noise leaves every image realistic: only label consistency should see it
        measures = (("label_consistency", -1),) if kind == "label noise" else (
            ("fid", 1), ("precision", -1), ("recall", -1), ("coverage", -1), ("label_consistency", -1))
        for measure, sign in measures:
            rho = spearmanr(rows["level"], sign * rows[measure]).statistic
            lines.append(f"{kind:<12} {measure:<18} Spearman rho with strength {rho:+.2f}"
                         + ("  steady" if rho > 0.99 else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=598)
    parser.add_argument("--references", default="default,noise,noiseblur")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs-fidelity-check"))
    parser.add_argument("--out", type=Path, default=None, help="write the table as CSV too")
    parser.add_argument("--front-blur", type=float, default=0.0,
                        help="measure every image through a Gaussian blur of this sigma in px first (both sides)")
    args = parser.parse_args()
    cfg = bench.configure()
    _, _, roles = load_data(cfg)
    t0 = time.perf_counter()
    sets = sets_to_measure(cfg, roles, args.n)
    print(f"{len(sets)} sets of {args.n} images in {time.perf_counter() - t0:.0f} s; torch {torch.__version__}")
    frames = []
    for name in args.references.split(","):
        run = reference_run(name, args.runs_dir, args.epochs)
        val = json.loads((run / "metrics.json").read_text())["val"]["f1_macro@tuned"]
        frame = measure(sets, roles, run, args.front_blur).assign(reference=name)
        print(f"\nreference {name} ({run.name}, train.{REFERENCES[name] or 'defaults'}; val macro F1 @tuned "
              f"{val:.3f})")
        print(frame.drop(columns=["reference"]).round(3).to_string(index=False))
        print("\n".join(checks(frame)))
        frames.append(frame)
    if args.out:
        pd.concat(frames).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
