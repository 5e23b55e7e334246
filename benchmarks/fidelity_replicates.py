"""How much one set's fidelity moves between fresh samples of the same trained generator.

    python benchmarks/fidelity_replicates.py synthetic/latent-XXXX [--n 598] [--first synthetic/latent-YYYY]
        [--runs-dir runs | --reference runs/RUN] [--out replicates.csv] [KEY=VALUE ...]

A set's label rows are drawn in order from its synthetic seed and its images are sampled in chunks whose
seeds depend on that seed and the chunk's position only, so a larger set with the same generator options
begins with the smaller one: the 2,393-image set (`synthetic.per_real=1.0`) holds the 598-image set
(`per_real=0.25`) as its first 598 images, and its later slices are fresh samples, with fresh train label
rows, of the same trained generator. This measures each disjoint slice of `--n` images as the set's
fidelity measures it, on the reference classifier named by the set's newest fidelity record (or
`--reference`): FID against the train role, precision, recall, density, coverage, label consistency,
memorisation. It prints each slice, then the mean and the standard deviation over the slices after the
first: the sampling noise of one set's figures, and a check, on images no choice has seen, of a setting
chosen on the first slice.
`--first` names the smaller set and checks that slice 0 is that set, image for image. KEY=VALUE
overrides name the dataset and split the set was made on, as `bench generate` was given them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import bench
from bench.data.images import LabelledImages
from bench.errors import BenchError
from bench.runs.execute import load_data
from bench.synthetic import fidelity, sets

MEASURES = ["fid", "precision", "recall", "density", "coverage", "label_consistency", "memorised_features",
            "memorised_pixels"]


def read_set(folder: Path) -> tuple[LabelledImages, dict]:
    """A finished set, checked against its manifest's digests as `bench run` checks it, and the manifest."""
    if not (folder / sets.MANIFEST).is_file():
        sys.exit(f"{folder}: not a finished synthetic set (no {sets.MANIFEST}); build it with bench generate")
    meta = json.loads((folder / sets.MANIFEST).read_text())
    try:
        return sets.load_set(folder, meta["key"]), meta
    except BenchError as exc:
        sys.exit(str(exc))


def reference_of(folder: Path, runs_dir: Path) -> Path:
    """The reference classifier that measured the set (its newest fidelity record's)."""
    records = sorted(folder.glob("fidelity-*.json"), key=lambda p: p.stat().st_mtime)
    if not records:
        sys.exit(f"{folder}: no fidelity record; measure the set first (bench generate ...)")
    return runs_dir / json.loads(records[-1].read_text())["reference_run"]


def measure_slice(data: LabelledImages, roles: dict, features: fidelity.Features, ft: torch.Tensor,
                  run: Path) -> dict:
    metrics = fidelity.distribution_metrics(features(data), ft)
    consistency = fidelity.label_consistency(data, roles["val"], run, torch.device("cpu"))["label_consistency"]
    copied = fidelity.memorisation(data, roles, features, ft)
    return {**{k: metrics[k] for k in ("fid", "precision", "recall", "density", "coverage")},
            "label_consistency": consistency, "memorised_features": copied["features"],
            "memorised_pixels": copied["pixels"]}


def same_images(a: LabelledImages, b: LabelledImages) -> bool:
    index = np.arange(len(b))
    return len(a) >= len(b) and np.array_equal(a.labels[:len(b)], b.labels) and np.array_equal(
        a.take(index), b.take(index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", type=Path, help="a finished set folder, several times --n images")
    parser.add_argument("--n", type=int, default=598, help="images per slice")
    parser.add_argument("--first", type=Path, help="the smaller set that slice 0 should be, image for image")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where the reference run is")
    parser.add_argument("--reference", type=Path, help="the reference run folder (default: the one named by the "
                                                       "set's newest fidelity record, in --runs-dir)")
    parser.add_argument("--out", type=Path, help="write the slices' table as CSV too")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE: the dataset and split the set was made on")
    args = parser.parse_intermixed_args()
    data, meta = read_set(args.set)
    slices = len(data) // args.n
    if slices < 2:
        sys.exit(f"{args.set}: {len(data)} images make fewer than 2 slices of --n {args.n}")
    full, split, roles = load_data(bench.configure(overrides=args.overrides))
    if (full.fingerprint, split.fingerprint) != (meta["dataset_fingerprint"], meta["split_fingerprint"]):
        sys.exit(f"{args.set}: made on another dataset or split than {' '.join(args.overrides) or 'the defaults'} "
                 f"give; pass the KEY=VALUE overrides it was generated with")
    if args.first:
        small, _ = read_set(args.first)
        print(f"slice 0 is {args.first.name}, image for image: {same_images(data, small)}")
    run = args.reference or reference_of(args.set, args.runs_dir)
    if not (run / "metrics.json").exists():
        sys.exit(f"{run}: not a finished run folder; pass the fidelity reference's run folder as --reference, or "
                 f"the folder that holds it as --runs-dir")
    features = fidelity.Features(run, torch.device("cpu"))
    ft = features(roles["train"])
    rows = [{"slice": k, **measure_slice(data.subset(np.arange(k * args.n, (k + 1) * args.n)), roles, features, ft,
                                         run)} for k in range(slices)]
    frame = pd.DataFrame(rows)
    fresh = frame[frame.slice > 0][MEASURES]
    print(f"{args.set.name}: {slices} slices of {args.n} images, reference {run.name}; torch {torch.__version__}")
    print(frame.round(3).to_string(index=False))
    print(f"slices 1-{slices - 1}: mean " + ", ".join(f"{m} {fresh[m].mean():.3f}" for m in MEASURES))
    print(f"slices 1-{slices - 1}: sd   " + ", ".join(f"{m} {fresh[m].std(ddof=1):.3f}" for m in MEASURES))
    if args.out:
        frame.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
