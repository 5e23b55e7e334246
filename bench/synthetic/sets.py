"""Synthetic sets on disk, content-addressed and shared by every run that asks for the same one.

A set's key hashes the generator's name and options, the synthetic config (count, labels, seed) and
the fingerprints of the dataset and split whose train role it learned from. Its folder holds:
- `images.npy`   uint8 (N, 4, S, S), channel order red, green, blue, yellow (one array, no pickle);
- `labels.csv`   `Id,Target` in the Kaggle format;
- `grid.png`     sample images, one row per class;
- `loss.csv`     the generator's training loss per epoch (`epoch,loss`), when it reports one;
- `.chunks/`     while the set is being sampled: each finished chunk of 256 images, so an interrupted
                 build samples only what is missing (removed once the set is written);
- `../.train/<generator>-<training key>/` the generator's per-epoch checkpoints, shared by sets that
                 differ only in sampling options or labels (a killed build resumes its training);
- `manifest.json` written last: generator, options, key, fingerprints, count, resolution, the
                 SHA-256 of images.npy and labels.csv, and `built_on`: the machine that sampled and wrote
                 the set (CPU model, torch's CPU kernels, torch, device; a training stage resumed from a
                 checkpoint may have run elsewhere). Without it the set is incomplete and is
                 built again; with a mismatch it is damaged and is never used.
A set folder archived with its images (`bench archive --images`) holds `images.npz` in place of
`images.npy`; copied into a synthetic folder it is used as built: `images.npy` is restored from it
first and checked against the manifest like any other.
"""

from __future__ import annotations

import inspect
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench import identity as keys
from bench import machine
from bench.config import RunConfig
from bench.data.images import LabelledImages, content_fingerprint
from bench.data.kaggle import read_labels_csv, write_labels_csv
from bench.data.labels import CLASS_NAMES, NUM_CLASSES
from bench.data.preview import save_class_rows
from bench.errors import BenchError
from bench.files import (
    atomic_target,
    damage,
    remove_checked,
    remove_temporaries,
    require_space,
    save_checked,
    save_npy,
    sha256,
    write_json,
    write_text,
)
from bench.locks import exclusive
from bench.options import identity
from bench.progress import Progress
from bench.version import __version__

MANIFEST = "manifest.json"
LOSS = "loss.csv"  # the generator's training loss per epoch (diffusion generators)
ARCHIVED_IMAGES = "images.npz"  # images.npy compressed, in an archived set (`bench archive --images`)
CHUNKS = ".chunks"  # sampled chunks of a set being built, removed once it is written
SAMPLING_CHUNK = 256


def set_key(cfg: RunConfig, dataset_fp: str, split_fp: str) -> str:
    spec = {"generator": cfg.generator.to_dict(identity_only=True), "synthetic": identity(cfg.synthetic),
            "dataset": dataset_fp, "split": split_fp}
    source = cfg.generator.create().source()
    if source is not None:  # images made elsewhere: the set follows their files
        spec["source"] = source
    return keys.digest(spec)


def set_folder(root: Path, cfg: RunConfig, dataset_fp: str, split_fp: str) -> Path:
    return Path(root) / f"{cfg.generator.name}-{set_key(cfg, dataset_fp, split_fp)[:16]}"


def training_folder(root: Path, cfg: RunConfig, dataset_fp: str, split_fp: str) -> Path:
    """Where a generator's training checkpoints live: keyed by what training depends on only, so sets
    that differ in sampling options (guidance, sampler, steps) or in their labels share one training."""
    sampling_only = cfg.generator.plugin.sampling_options
    options = {k: v for k, v in cfg.generator.to_dict(identity_only=True).items() if k not in sampling_only}
    spec = {"generator": options, "seed": cfg.synthetic.seed, "dataset": dataset_fp, "split": split_fp}
    return Path(root) / ".train" / keys.folder_name(cfg.generator.name, keys.digest(spec))


def load_set(folder: Path, key: str) -> LabelledImages | None:
    """The finished set in `folder`, None if there is none yet; a damaged set is an error."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        return None
    _restore_archived_images(folder)
    meta, problem = _checked_manifest(folder, key)
    if problem:
        raise BenchError(f"synthetic set {folder} is damaged ({problem}); its images are not used: delete the folder "
                         f"and the same command builds it again (a trained generator in .train/ is reused)")
    ids, labels = read_labels_csv(folder / "labels.csv")
    try:
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # an object (pickled) array, or not an .npy file: never loaded
        raise BenchError(f"synthetic set {folder} is damaged (images.npy: {exc}); delete the folder to build it "
                         f"again") from None
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(ids):
        raise BenchError(f"synthetic set {folder} is damaged (images.npy is {images.dtype} {images.shape}; expected "
                         f"uint8 ({len(ids)}, 4, S, S)); delete the folder to build it again")
    return LabelledImages(ids, labels, images, meta["fingerprint"])


def _restore_archived_images(folder: Path) -> None:
    """An archived set's images.npy from its images.npz (`bench archive --images`), when it has no images.npy."""
    archived = folder / ARCHIVED_IMAGES
    if (folder / "images.npy").exists() or not archived.exists():
        return
    try:
        with np.load(archived, allow_pickle=False) as npz:
            images = npz["images"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise BenchError(f"synthetic set {folder} is damaged ({ARCHIVED_IMAGES}: {exc}); copy it again from the "
                         f"archive, or delete the folder to build the set again") from None
    with atomic_target(folder / "images.npy") as tmp:
        save_npy(tmp, images)


def _checked_manifest(folder: Path, key: str) -> tuple[dict, str]:
    """A finished set's manifest and what is wrong with its files ("" when they match it)."""
    try:
        meta = json.loads((folder / MANIFEST).read_bytes().decode("utf-8"))
        expected = {"images.npy": meta["images_sha256"], "labels.csv": meta["labels_sha256"]}
        if meta["key"] != key:
            return meta, f"{MANIFEST} names another set"
    except (OSError, ValueError, KeyError, TypeError):
        return {}, f"{MANIFEST}: unreadable or incomplete"
    if "fingerprint" not in meta:
        return meta, f"{MANIFEST}: unreadable or incomplete"
    for name, digest in expected.items():
        if not (folder / name).is_file():
            return meta, f"{name}: missing"
        if sha256(folder / name) != digest:
            return meta, f"{name}: its bytes do not match the SHA-256 in {MANIFEST}"
    return meta, ""


def rebalancing_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling probability of each train label set: proportional to 1 / frequency of its rarest class."""
    frequency = labels.sum(axis=0).astype(np.float64)
    inverse = np.where(labels > 0, 1.0 / np.maximum(frequency, 1.0), 0.0).max(axis=1)
    return inverse / inverse.sum()


def choose_labels(cfg: RunConfig, train: LabelledImages) -> np.ndarray:
    """Label rows to sample: train label sets (as they are, or rebalanced toward rare classes), or one-hot uniform."""
    n = max(1, round(cfg.synthetic.per_real * len(train)))
    if cfg.synthetic.labels == "uniform":
        return np.eye(NUM_CLASSES, dtype=np.uint8)[np.arange(n) % NUM_CLASSES]
    rng = np.random.default_rng([cfg.synthetic.seed, 0x5E7])
    p = rebalancing_weights(train.labels) if cfg.synthetic.labels == "rebalanced" else None
    return train.labels[rng.choice(len(train), size=n, p=p)]


def obtain(cfg: RunConfig, train: LabelledImages, dataset_fp: str, split_fp: str, root: Path,
           device: torch.device, say: Callable[[str], None]) -> LabelledImages | None:
    """The run's synthetic set: None for a control without images, else reused or built from the train role."""
    generator = cfg.generator.create()
    if not generator.produces_images:
        return None
    dataset = cfg.dataset.create()
    generator.check(train, dataset)  # before any folder, lock or training exists
    key = set_key(cfg, dataset_fp, split_fp)
    folder = set_folder(root, cfg, dataset_fp, split_fp)
    with exclusive(root, folder.name, say):  # concurrent runs needing one set: one builds it, the others wait
        found = load_set(folder, key)
        if found is not None:
            say(f"reusing synthetic set {folder} ({len(found)} images)")
            return found
        _say_if_source_changed(cfg, generator, folder, root, say)
        say(plan(cfg, len(train), generator))
        if generator.stages:
            _fit_stages(generator, cfg, train, folder, root, dataset_fp, split_fp, device, say)
        else:
            workdir = training_folder(root, cfg, dataset_fp, split_fp)
            with exclusive(root, f"train-{workdir.name}", say):  # sets sharing a training never train it twice at once
                _fit(generator, cfg, train, folder, workdir, device, say, dataset)
        return _build(generator, cfg, train, key, folder, dataset_fp, split_fp, device, say)


def _say_if_source_changed(cfg: RunConfig, generator, folder: Path, root: Path, say: Callable[[str], None]) -> None:
    """For images made elsewhere: name the set built from the same options before their files changed."""
    if generator.source() is None:
        return
    options = cfg.generator.to_dict()
    for manifest in sorted(Path(root).glob(f"{cfg.generator.name}-*/{MANIFEST}")):
        try:
            same = json.loads(manifest.read_text()).get("generator") == options and manifest.parent != folder
        except (OSError, ValueError):
            continue
        if same:
            say(f"the source files of generator {cfg.generator.name} changed since set {manifest.parent} was built "
                f"from them: building a new set {folder}")
            return


def plan(cfg: RunConfig, n_train: int, generator=None) -> str:
    """What building the set will do, said before it starts (the generator's own words where it has them), and
    how to make it quick."""
    plugin = cfg.generator.plugin
    n = max(1, round(cfg.synthetic.per_real * n_train))
    quick = " ".join(f"generator.{k}={v}" for k, v in plugin.quick_options.items())
    hint = f"; for a quick check: {quick} synthetic.per_real=0.1" if quick else ""
    own = generator.plan(n_train, n) if generator is not None else None
    if own:
        return f"synthetic set: generator {cfg.generator.name}: {own} (progress below; interrupted, the same " \
               f"command resumes){hint}"
    return (f"synthetic set: generator {cfg.generator.name} builds {n} images from the {n_train} train-role images "
            f"(progress below; interrupted, the same command resumes){hint}")


def stage_folder(root: Path, cfg: RunConfig, stage: str, dataset_fp: str, split_fp: str) -> Path:
    """Where one stage of a staged generator trains: keyed by its options and those of the stages before it."""
    plugin, options = cfg.generator.plugin, cfg.generator.to_dict(identity_only=True)
    names = list(plugin.stages)
    depends = {k for earlier in names[:names.index(stage) + 1] for k in plugin.stages[earlier]}
    spec = {"generator": {k: v for k, v in options.items() if k in depends or k == "name"}, "stage": stage,
            "seed": cfg.synthetic.seed, "dataset": dataset_fp, "split": split_fp}
    return Path(root) / ".train" / keys.folder_name(f"{cfg.generator.name}-{stage}", keys.digest(spec))


def _fit_stages(generator, cfg: RunConfig, train: LabelledImages, folder: Path, root: Path, dataset_fp: str,
                split_fp: str, device: torch.device, say: Callable[[str], None]) -> None:
    """Each needed stage in order, under its own lock (a set needing only a finished stage never waits on another)."""
    if (folder / "images.npy").exists():
        say(f"synthetic set {folder} is incomplete (interrupted); building it again")
    for stage in generator.stages_needed():
        workdir = stage_folder(root, cfg, stage, dataset_fp, split_fp)
        with exclusive(root, f"train-{workdir.name}", say):
            if workdir.exists() and any(workdir.iterdir()):
                say(f"{stage} checkpoints found in {workdir}: resuming (or reusing) it")
            say(f"generator {cfg.generator.name}, stage {stage}: on the train role ({len(train)} images)")
            with training_in(workdir):
                generator.fit_stage(stage, train, seed=cfg.synthetic.seed, device=device, workdir=workdir)


def _fit(generator, cfg: RunConfig, train: LabelledImages, folder: Path, workdir: Path, device: torch.device,
         say: Callable[[str], None], dataset) -> None:
    if (folder / "images.npy").exists():
        say(f"synthetic set {folder} is incomplete (interrupted); building it again")
    if workdir.exists() and any(workdir.iterdir()):
        say(f"generator checkpoints found in {workdir}: resuming (or reusing) its training")
    extra = fit_arguments(generator, workdir=workdir, dataset=dataset if generator.needs_dataset else None)
    with training_in(workdir):
        generator.fit(train, seed=cfg.synthetic.seed, device=device, **extra)


@contextmanager
def training_in(workdir: Path) -> Iterator[None]:
    """Make the training folder (temporary files of a killed write removed); a training that wrote nothing there
    (nothing to learn, or refused or failed first) leaves no folder behind."""
    made = not workdir.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    remove_temporaries(workdir)
    try:
        yield
    finally:
        if made and not any(workdir.iterdir()):
            workdir.rmdir()


def fit_arguments(generator, **candidates) -> dict:
    """The optional keywords of `fit` (`workdir=`, `dataset=`) that a generator's `fit` takes (every built-in one
    takes `workdir`); none for an older plugin's `fit`, and none whose value is None."""
    parameters = inspect.signature(generator.fit).parameters.values()
    names = {p.name for p in parameters}
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters)
    return {k: v for k, v in candidates.items() if v is not None and (k in names or open_ended)}


def _build(generator, cfg: RunConfig, train: LabelledImages, key: str, folder: Path, dataset_fp: str, split_fp: str,
           device: torch.device, say: Callable[[str], None]) -> LabelledImages:
    made = generator.existing(train.resolution)  # images made elsewhere, read (and refused) before any write
    folder.mkdir(parents=True, exist_ok=True)
    remove_temporaries(folder)
    if made is not None:
        labels, images = made
    else:
        labels = choose_labels(cfg, train)
        images = _sample(generator, cfg, labels, train.resolution, folder / CHUNKS, device, say)
    history = getattr(generator, "loss_history", None)
    if history:  # the generator's training loss per epoch, kept with the set it made
        write_text(folder / LOSS, pd.DataFrame(history).to_csv(index=False))
    _write(folder, cfg, key, dataset_fp, split_fp, images, labels, device)
    shutil.rmtree(folder / CHUNKS, ignore_errors=True)
    say(f"wrote synthetic set {folder}")
    return load_set(folder, key)


def chunk_seed(seed: int, chunk: int) -> int:
    """The sampling seed of one chunk: a set's images depend on its seed and their position only."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, dtype=np.uint32)[0])


def _sample(generator, cfg: RunConfig, labels: np.ndarray, resolution: int, chunks: Path, device: torch.device,
            say: Callable[[str], None]) -> np.ndarray:
    """Images for `labels`, sampled SAMPLING_CHUNK at a time; each finished chunk is kept on disk (with its
    checksum), so an interrupted build samples only what is missing."""
    chunks.mkdir(parents=True, exist_ok=True)
    remove_temporaries(chunks)
    # the chunks, then images.npy beside them: twice the set's bytes, refused now rather than when sampled
    require_space(chunks, 2 * len(labels) * 4 * resolution * resolution + (1 << 20))
    starts = list(range(0, len(labels), SAMPLING_CHUNK))
    kept = {k for k in range(len(starts)) if (chunks / f"{k:05d}.npy").exists()}
    if kept:
        say(f"resuming sampling: {len(kept)} of {len(starts)} chunks of {SAMPLING_CHUNK} images already sampled")
    say(f"sampling {len(labels)} images with generator {cfg.generator.name}")
    tracker = Progress(len(labels), f"sampling {cfg.generator.name}", "image",
                       start=sum(len(labels[starts[k]:starts[k] + SAMPLING_CHUNK]) for k in kept))
    out = []
    for k, lo in enumerate(starts):
        part, path = labels[lo:lo + SAMPLING_CHUNK], chunks / f"{k:05d}.npy"
        expected = (len(part), 4, resolution, resolution)
        if k in kept:
            images, problem = _read_chunk(path, expected)
            if images is not None:
                out.append(images)
                continue
            say(f"sampled chunk {path} is damaged ({problem}); sampling it again (same seed, same images)")
            remove_checked(path)
        images = np.asarray(generator.sample(part, resolution=resolution, seed=chunk_seed(cfg.synthetic.seed, k),
                                             device=device))
        if images.shape != expected or images.dtype != np.uint8:
            raise BenchError(f"generator {cfg.generator.name!r} returned {images.dtype} {images.shape}; "
                             f"expected uint8 {expected}")
        save_checked(path, lambda tmp, images=images: save_npy(tmp, images))
        out.append(images)
        tracker.update(len(part))
    tracker.close()
    return np.concatenate(out)


def _read_chunk(path: Path, expected: tuple) -> tuple[np.ndarray | None, str]:
    """A sampled chunk if it matches its checksum and shape, else (None, what is wrong)."""
    problem = damage(path)
    if problem:
        return None, problem
    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return None, f"unreadable: {type(exc).__name__}"
    if images.shape != expected or images.dtype != np.uint8:
        return None, f"{images.dtype} {images.shape}, expected uint8 {expected}"
    return images, ""


def _write(folder: Path, cfg: RunConfig, key: str, dataset_fp: str, split_fp: str, images: np.ndarray,
           labels: np.ndarray, device: torch.device) -> None:
    ids = [f"syn-{i:06d}" for i in range(len(labels))]
    with atomic_target(folder / "images.npy") as tmp:
        save_npy(tmp, images)
    write_labels_csv(folder / "labels.csv", ids, labels)
    save_class_rows(images, labels, CLASS_NAMES, folder / "grid.png")
    write_json(folder / MANIFEST, {
        "generator": cfg.generator.to_dict(), "synthetic": identity(cfg.synthetic), "key": key,
        "dataset_fingerprint": dataset_fp, "split_fingerprint": split_fp, "n_images": len(ids),
        "resolution": int(images.shape[-1]), "fingerprint": content_fingerprint(ids, labels, images),
        "images_sha256": sha256(folder / "images.npy"), "labels_sha256": sha256(folder / "labels.csv"),
        "bench": __version__, "built_on": machine.describe(device)})
