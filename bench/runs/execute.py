"""One run, start to finish: dataset -> split -> generator -> synthetic set -> strategy + classifier
-> predictions -> metrics -> run record. Plugins arrive resolved in the RunConfig (looked up once).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench import identity as keys
from bench import records, registry
from bench.config import RunConfig, choice, resolved_fidelity
from bench.data.images import LabelledImages
from bench.data.labels import CLASS_NAMES, NUM_CLASSES, format_target
from bench.data.splits import ROLES, Split, make_split
from bench.errors import BenchError
from bench.evaluate.metrics import F1_HALF, F1_TUNED, evaluate, gaps, oracle_selection, selection_rule, tune_thresholds
from bench.evaluate.predict import predict
from bench.files import atomic_target, remove_checked, remove_temporaries, write_json, write_text
from bench.locks import exclusive
from bench.records import is_finished
from bench.runs.environment import environment, peak_memory_mib, seconds_since_process_start
from bench.runs.preflight import Runtime, run_preflight
from bench.runs.tracking import Trackers
from bench.synthetic import fidelity
from bench.synthetic import sets as synthetic_sets
from bench.train import distributed
from bench.train.distributed import World
from bench.train.loop import Trainer, rotation_seed

REAL_CONTROL = "real"  # the generator whose set of real images is the CAS ratio's reference
REFERENCE = "fidelity reference"  # the purpose of the real-data run whose features measure synthetic sets


@contextmanager
def timed(phases: dict, name: str) -> Iterator[None]:
    """Record the block's wall seconds as `phases[name]` (the record's `phases_s`)."""
    start = time.perf_counter()
    yield
    phases[name] = round(time.perf_counter() - start, 2)


@dataclass
class Outcome:
    run_dir: Path
    reused: bool
    metrics: dict


def check_roles(cfg: RunConfig, data: LabelledImages, split: Split) -> None:
    """Refuse a split whose validation role (or test role, when one is asked for) holds no image."""
    counts, needs = split.counts(), {"val": "to select the epoch and tune thresholds on", "test": "to score"}
    empty = [role for role in ("val", "test") if not counts[role] and (role == "val" or cfg.split.test_fraction)]
    if empty:
        subset = " kept by dataset.subset" if data.is_subset else ""
        raise BenchError(f"the {split.name} split of dataset {cfg.dataset.name} ({len(data)} images{subset}) leaves "
                         f"the {empty[0]} role empty ({counts}): a run needs {empty[0]} images {needs[empty[0]]}; "
                         f"use more images or larger split fractions")


def check_no_eval_scoring(cfg: RunConfig, roles: dict, device: torch.device) -> None:
    """train.no_eval_inference scores test images one at a time in training mode, which BatchNorm refuses where
    a feature map is 1x1: find out on one untrained forward pass now, not after the set and the training. (A
    split without a test role scores none; `bench submit` checks its own images.)"""
    if cfg.train.no_eval_inference and len(roles["test"]):  # it applies to test scores (and submissions)
        probe = roles["val"].subset(np.arange(1))
        predict(cfg.classifier.create().to(device), probe, 1, device, no_eval=True,
                normalization=cfg.train.test_normalization)


def check_images(cfg: RunConfig, data: LabelledImages) -> None:
    """What a dataset plugin returned: uint8 images (N, 4, S, S), values 0..255."""
    sample = data.take(np.arange(min(len(data), 8)))
    if sample.dtype != np.uint8 or sample.ndim != 4 or sample.shape[1] != 4 or sample.shape[2] != sample.shape[3]:
        raise BenchError(f"dataset {cfg.dataset.name} returned {sample.dtype} images of shape {sample.shape[1:]}; "
                         f"expected uint8 (4, S, S) with values 0..255 (red, green, blue, yellow)")


def run_id(cfg: RunConfig, data: LabelledImages, split: Split) -> str:
    """Identity of a result: the resolved config plus the data and split it ran on."""
    return keys.run_id(cfg.to_dict(identity_only=True), data.fingerprint, split.fingerprint)


def per_class_frame(results: dict, thresholds: np.ndarray, train_labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"class": range(NUM_CLASSES), "name": CLASS_NAMES, "threshold": thresholds,
                          "train_positives": np.asarray(train_labels).sum(axis=0).astype(int)})
    for role, (_, per_class) in results.items():
        for key, values in per_class.items():
            frame[f"{role}_{key}"] = values
    if "test" in results:
        for key in ("f1@0.5", "f1@tuned", "ap"):
            frame[f"gap_{key}"] = (frame[f"val_{key}"] - frame[f"test_{key}"]).round(6)
    return frame


def predictions_frame(data: LabelledImages, probs: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    predicted = [format_target(row) for row in (probs >= thresholds)]
    frame = pd.DataFrame({"Id": data.ids, "Target": [format_target(r) for r in data.labels], "Predicted": predicted})
    probs_frame = pd.DataFrame(np.round(probs, 6), columns=[f"p{c}" for c in range(NUM_CLASSES)])
    return pd.concat([frame, probs_frame], axis=1)


def load_data(cfg: RunConfig) -> tuple[LabelledImages, Split, dict[str, LabelledImages]]:
    """The dataset, its split and the images of each role."""
    data = cfg.dataset.create().load()
    check_images(cfg, data)
    split = make_split(data.ids, data.labels, cfg.split, is_subset=data.is_subset)
    check_roles(cfg, data, split)
    return data, split, {role: data.subset(split.indices(role)) for role in ROLES}


def synthetic_for(cfg: RunConfig, data: LabelledImages, split: Split, roles: dict, runtime: Runtime,
                  device: torch.device, say: Callable[[str], None]) -> tuple[LabelledImages | None, dict | None]:
    """The run's synthetic set (reused or built from the train role) and its fidelity; (None, None) for a control."""
    cfg = replace(cfg, fidelity=resolved_fidelity(cfg))
    synthetic = synthetic_sets.obtain(cfg, roles["train"], data.fingerprint, split.fingerprint,
                                      runtime.synthetic_dir, device, say)
    if synthetic is None:
        return None, None
    return synthetic, ensure_fidelity(cfg, data, split, roles, synthetic, runtime, device, say)


def execute(cfg: RunConfig, runtime: Runtime, say: Callable[[str], None] = print) -> Outcome:
    """Run `cfg` (or reuse its finished run) and return where its record is.

    Under torchrun every process calls this; they train together and rank 0 alone writes.
    """
    world = distributed.from_env()
    say = say if world.is_main else (lambda line: None)
    phases = {"before_run": seconds_since_process_start()}  # where a run's wall time goes (record.json)
    cfg, device = run_preflight(cfg, runtime, say)  # every refusal that needs no data, before any write
    device = distributed.start(world, device)
    with timed(phases, "data"):
        data, split, roles = load_data(cfg)
    rid = run_id(cfg, data, split)
    run_dir = Path(runtime.runs_dir) / rid[:16]

    def finished() -> bool:
        return bool(world.from_main(is_finished(run_dir) and not runtime.force))

    if finished():
        return _reuse(run_dir, say, runtime.name)
    if world.size > 1:
        _require_synthetic_set(cfg, data, split, runtime)
    check_no_eval_scoring(cfg, roles, device)
    # before anything is written to runs/
    with timed(phases, "synthetic"):
        synthetic, scores = synthetic_for(cfg, data, split, roles, runtime, device, say)
    # a second process with this config waits, then reuses
    with exclusive(runtime.runs_dir, rid[:16], say) if world.is_main else nullcontext():
        if finished():
            return _reuse(run_dir, say, runtime.name)
        if world.is_main:
            if runtime.force and run_dir.exists():
                shutil.rmtree(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
        world.barrier()
        trackers = Trackers(runtime.loggers if world.is_main else (), runtime.runs_dir, rid[:16], say)
        try:
            set_folder = synthetic_sets.set_folder(runtime.synthetic_dir, cfg, data.fingerprint, split.fingerprint)
            return _train_and_record(cfg, data, split, roles, rid, run_dir, device, synthetic, scores, say, world,
                                     runtime.purpose, Tracked(trackers, set_folder), phases, runtime.name)
        finally:
            trackers.close()


def _require_synthetic_set(cfg: RunConfig, data: LabelledImages, split: Split, runtime: Runtime) -> None:
    """A multi-process run uses a finished synthetic set; it does not keep every GPU waiting on one that
    trains a generator."""
    if not cfg.generator.plugin.produces_images:
        return
    folder = synthetic_sets.set_folder(runtime.synthetic_dir, cfg, data.fingerprint, split.fingerprint)
    if not (folder / synthetic_sets.MANIFEST).exists() or not fidelity.path(folder, cfg.fidelity).exists():
        raise BenchError(f"a multi-process run needs its synthetic set made first: run `bench generate "
                         f"--generator {cfg.generator.name}` with the same options in one process, then torchrun")


@dataclass
class Tracked:
    """What a run mirrors to its experiment trackers, and when."""

    trackers: Trackers
    set_folder: Path | None

    def start(self, cfg: RunConfig, fidelity: dict | None) -> None:
        self.trackers.config(cfg.to_dict())
        if fidelity is None or self.set_folder is None:
            return
        loss = self.set_folder / synthetic_sets.LOSS
        if loss.exists():
            for row in pd.read_csv(loss).itertuples():
                self.trackers.metrics({"generator/loss": row.loss}, int(row.epoch))
        self.trackers.image("generator/samples", self.set_folder / "grid.png")
        flat = {f"fidelity/{k}": v for k, v in fidelity.items() if isinstance(v, (int, float))}
        flat |= {f"fidelity/val/{k}": v for k, v in (fidelity.get("val") or {}).items()}
        self.trackers.metrics(flat, 0)

    def epoch(self, row: dict) -> None:
        self.trackers.metrics({"train/loss": row["train_loss"], "val/loss": row["val_loss"],
                               f"val/{F1_HALF}": row[f"val_{F1_HALF}"], "lr": row["lr"]}, row["epoch"])

    def finish(self, metrics: dict, epoch: int) -> None:
        final = {f"final/{role}/{k}": v for role in ("val", "test", "gap") for k, v in metrics.get(role, {}).items()}
        self.trackers.metrics(final, epoch)


def _reuse(run_dir: Path, say: Callable[[str], None], name: str = "") -> Outcome:
    try:
        found = records.RunRecord.read(run_dir)
    except records.DamagedRun as exc:
        raise BenchError(f"{exc}; its results are not used: run the same command with --force to run it again "
                         f"(the folder is replaced)") from None
    metrics, recorded = found.metrics, found.name
    say(f"reusing finished run {run_dir} (identical config, data and split; --force to run again)")
    if name and name != recorded:
        say(f"note: that run is {'named ' + repr(recorded) if recorded else 'unnamed'}; --name {name!r} names new "
            f"runs only (--force runs it again under the new name)")
    return Outcome(run_dir, True, metrics)


def ensure_fidelity(cfg: RunConfig, data: LabelledImages, split: Split, roles: dict, synthetic: LabelledImages,
                    runtime: Runtime, device: torch.device, say: Callable[[str], None]) -> dict:
    """The set's fidelity metrics; the first time, after running (or reusing) the reference real-data run."""
    folder = synthetic_sets.set_folder(runtime.synthetic_dir, cfg, data.fingerprint, split.fingerprint)
    stored = fidelity.read(folder, cfg.fidelity, synthetic)
    if stored is not None:
        return stored
    with exclusive(runtime.synthetic_dir, f"fidelity-{fidelity.path(folder, cfg.fidelity).stem}-{folder.name}", say):
        stored = fidelity.read(folder, cfg.fidelity, synthetic)  # measured by a run that held the lock before us
        if stored is not None:
            return stored
        if fidelity.path(folder, cfg.fidelity).exists():
            say(f"{fidelity.path(folder, cfg.fidelity)} does not match its checksum, its set or this version's "
                f"measures: measuring again")
        real_cas = _real_cas(cfg, data, split, roles, runtime, device, say)
        say("fidelity needs the reference classifier (the real-data run on this dataset and split)")
        reference = execute(fidelity.reference_config(cfg), replace(runtime, force=False, purpose=REFERENCE), say)
        return fidelity.measure(folder, cfg, synthetic, roles, reference.run_dir, device, say,
                                runtime.inception_weights, real_cas)


def _real_cas(cfg: RunConfig, data: LabelledImages, split: Split, roles: dict, runtime: Runtime,
              device: torch.device, say: Callable[[str], None]) -> float | None:
    """The CAS of the `real` control's set with the same synthetic settings (the CAS ratio's denominator);
    None for the control itself, with CAS off, or without the control installed."""
    if not cfg.fidelity.cas or cfg.generator.name == REAL_CONTROL or REAL_CONTROL not in registry.names("generator"):
        return None
    control = replace(cfg, generator=choice("generator", REAL_CONTROL))
    say(f"the CAS ratio needs the CAS of the `{REAL_CONTROL}` set of the same size: making (or reusing) it")
    _, scores = synthetic_for(control, data, split, roles, runtime, device, say)
    return scores.get(f"cas_{F1_TUNED}")


def _train_and_record(cfg: RunConfig, data: LabelledImages, split: Split, roles: dict, rid: str, run_dir: Path,
                      device: torch.device, synthetic: LabelledImages | None, fidelity: dict | None,
                      say: Callable[[str], None], world: World = distributed.SINGLE, purpose: str = "",
                      tracked: Tracked | None = None, phases: dict | None = None, name: str = "") -> Outcome:
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    phases = dict(phases or {})
    main = world.is_main
    log_lines = _earlier_log(run_dir, started) if main else []

    def say_and_log(line: str) -> None:
        """Say a line and keep it in the run's log.txt."""
        log_lines.append(line)
        say(line)
        if main:
            write_text(run_dir / "log.txt", "\n".join(log_lines) + "\n")

    if main:
        write_json(run_dir / "config.json", {"run_id": rid, "group": keys.short(cfg.group_hash()), **cfg.to_dict()})
        write_text(run_dir / "split.csv", split.manifest)
    say_and_log(f"run {rid[:16]}: {cfg.dataset.name} ({len(data)} images, {data.resolution}px), split {split.name} "
        f"{split.counts()}, generator {cfg.generator.name}, strategy {cfg.strategy.name}, "
        f"classifier {cfg.classifier.name}, seed {cfg.seed}, device {device}"
        + (f", {world.size} processes" if world.size > 1 else ""))
    if data.skipped:
        shown = "; ".join(f"{bad['id']}: {bad['error']}" for bad in data.skipped[:5])
        say_and_log(f"dataset: {len(data.skipped)} unreadable images skipped (dataset.skip_bad=true; all listed in "
            f"record.json; the dataset fingerprint covers the images kept): {shown}"
            + ("; ..." if len(data.skipped) > 5 else ""))
    tracked = tracked or Tracked(Trackers((), run_dir, rid, say), None)
    tracked.start(cfg, fidelity if synthetic is not None else None)
    if synthetic is not None:
        say_and_log(f"synthetic set: {len(synthetic)} images from generator {cfg.generator.name}")
    torch.manual_seed(cfg.seed)
    model = cfg.classifier.create().to(device)
    strategy = cfg.strategy.create()
    trainer = Trainer(model, strategy, cfg.train, cfg.seed, device, run_dir / "checkpoint.pt", say_and_log, world,
                      on_epoch=tracked.epoch)
    trainer.try_resume()
    phases["set_up"] = round(time.perf_counter() - t0, 2)
    with timed(phases, "train"):
        state = trainer.fit(roles["train"], roles["val"], synthetic,
                            roles["test"] if cfg.train.oracle_selection else None)

    with timed(phases, "evaluate"):
        evaluated = [role for role in ("val", "test") if len(roles[role])]
        # the paper's quirks: validation images rotated; test scored without model.eval() (validation in eval
        # mode, as its validation notebooks did) and, for its transformers, resized and normalised outside the model
        quirks = {"val": {"rotate_seed": rotation_seed(cfg.train, cfg.seed, 0)},
                  "test": {"no_eval": cfg.train.no_eval_inference, "normalization": cfg.train.test_normalization}}
        probs = {role: predict(model, roles[role], cfg.train.eval_batch_size, device, cfg.train.precision,
                               **quirks[role]) for role in evaluated}
        thresholds = tune_thresholds(probs["val"], roles["val"].labels)
        results = {role: evaluate(probs[role], roles[role].labels, thresholds) for role in evaluated}
        metrics = {role: summary for role, (summary, _) in results.items()}
        if "test" in metrics:
            metrics["gap"] = gaps(metrics["val"], metrics["test"])
        metrics.update(best_epoch=state.best_epoch, epochs_run=state.epoch,
                       selection=selection_rule(cfg.train.select), history=state.history)
        if "test" in probs:  # an upper bound for the selection's share of the gap, reported apart from results
            metrics["oracle"] = oracle_selection(probs["test"], roles["test"].labels, state.history)
    if not main:
        return Outcome(run_dir, False, metrics)

    with timed(phases, "write"):
        tracked.finish(metrics, state.epoch)
        write_json(run_dir / "metrics.json", metrics)
        per_class = per_class_frame(results, thresholds, roles["train"].labels)
        write_text(run_dir / "per_class.csv", per_class.to_csv(index=False))
        if "test" in probs:
            write_text(run_dir / "predictions_test.csv",
                       predictions_frame(roles["test"], probs["test"], thresholds).to_csv(index=False))
        with atomic_target(run_dir / "model.pt") as tmp:
            torch.save(model.state_dict(), tmp)
    write_json(run_dir / "record.json", {
        "run_id": rid, "config_hash": cfg.hash(), "seed": cfg.seed,
        "dataset": asdict(records.DatasetFacts(cfg.dataset.name, data.fingerprint, len(data), data.resolution,
                                               data.skipped)),
        "split": asdict(records.SplitFacts(split.name, split.fingerprint, split.counts(), split.protocol_fingerprint,
                                           cfg.split.train_fraction)),
        "synthetic": None if synthetic is None else asdict(records.SetFacts(
            len(synthetic), synthetic.fingerprint, fidelity, tracked.set_folder.name if tracked.set_folder else None)),
        "environment": environment(device, world), "command": sys.argv, "purpose": purpose,
        **({"name": name} if name else {}),
        "plugins": {kind: registry.origin(kind, getattr(cfg, kind).name) for kind in registry.KINDS},
        "started": started.isoformat(timespec="seconds"), "wall_time_s": round(time.perf_counter() - t0, 1),
        "peak_memory": peak_memory_mib(device),
        # seconds: process start to the run (imports), dataset, synthetic set, model set-up, epochs (validation
        # included), scoring, files; a resumed run's train time counts this process's epochs only
        "phases_s": phases,
    })
    remove_checked(run_dir / "checkpoint.pt")
    summary = ", ".join(f"{role} macro F1@tuned {metrics[role][F1_TUNED]:.4f}" for role in evaluated)
    say_and_log(f"finished {run_dir} in {time.perf_counter() - t0:.0f} s; best epoch {state.best_epoch}; {summary}")
    records.finish(run_dir)  # last: the done marker, with every file's digest
    return Outcome(run_dir, False, metrics)


def _earlier_log(run_dir: Path, started: datetime) -> list[str]:
    """The lines of an interrupted attempt's log.txt, then a line for this resume (the log keeps every attempt);
    what killed writers left in the folder is removed first."""
    removed = remove_temporaries(run_dir)
    log = run_dir / "log.txt"
    if not log.exists():
        return []
    left = f"; {removed} temporary file(s) of a killed write removed" if removed else ""
    return [*log.read_text(errors="replace").splitlines(),
            f"--- resumed {started.isoformat(timespec='seconds')} (pid {os.getpid()}){left} ---"]
