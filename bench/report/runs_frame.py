"""The runs of a leaderboard as one pandas frame: every finished run folder read, verified and flattened
(one row per run), with the settings, curves and labels the statistics and the tables group by. Statistics:
`bench.report.effects`; tables and text: `bench.report.leaderboard`."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench import identity as keys
from bench import registry
from bench.config import METHOD_PARTS
from bench.errors import BenchError
from bench.evaluate.metrics import F1_TUNED, LABELS, SELECTION_RULE
from bench.records import DONE, DamagedRun, RunRecord
from bench.report import fidelity_tables, selection

NAMES = list(METHOD_PARTS)


def library_versions(environment: dict) -> str:
    """The versions a run's numbers depend on, as one comparable string (older records: torch and numpy)."""
    libraries = environment.get("libraries") or {"torch": environment.get("torch"), "numpy": environment.get("numpy")}
    return ", ".join(f"{name} {version}" for name, version in sorted(libraries.items()) if version)


def plugin_options(config: dict) -> str:
    """The generator, strategy and classifier options of a run that differ from the plugin's defaults."""
    parts = []
    for kind in NAMES:
        chosen = {k: v for k, v in config[kind].items() if k != "name"}
        try:
            defaults = dataclasses.asdict(registry.get(kind, config[kind]["name"]).Options())
        except BenchError:  # the plugin is not installed here: show every option
            defaults = {}
        parts += [f"{kind}.{k}={v}" for k, v in sorted(chosen.items()) if k not in defaults or defaults[k] != v]
    return ", ".join(parts) or "defaults"


def budget_text(budget) -> str:
    """An optimizer budget as the tables and figures write it: epochs of the whole train role, or a rule's name."""
    return budget if isinstance(budget, str) else f"{budget:g}"


def budget_order(budget) -> tuple:
    """Named budgets (a rule such as `plateau`: each size trained to its control's plateau) first, then numeric
    ones, largest first."""
    return (0, 0.0, budget) if isinstance(budget, str) else (1, -float(budget), "")


def section_stem(section: pd.DataFrame) -> str:
    first = section.iloc[0]
    return f"{first['dataset']}-{first['split']}-{first['split_fp'][:8]}"


def sections(frame: pd.DataFrame):
    """(stem, rows) of each (dataset, split) section."""
    for _, section in frame.groupby(["dataset", "dataset_fp", "split", "split_fp"], sort=True):
        yield section_stem(section), section


def _identity_view(config: dict) -> dict:
    """A recorded config as its identity (`bench.identity.of_recorded`)."""
    from bench.config import SECTION_TYPES, RunConfig
    runtime_sections = {f.name for f in dataclasses.fields(RunConfig) if f.metadata.get("runtime")}  # fidelity
    return keys.of_recorded(config, SECTION_TYPES, runtime_sections)


def _curve(config: dict, counts: dict, view: dict | None = None) -> dict:
    """A run's learning curve: its optimizer budget in epochs of the whole train role (epochs x kept share,
    so 100 epochs on 10% and 10 on all of it are one budget), or the name of the rule that chose its epochs
    (`train.budget`, e.g. plateau), and the id of its settings without the train size and the epochs; runs with
    the same id lie on one curve. `view`: the config's `_identity_view`, where the caller has it already."""
    budget = config["train"].get("budget") or \
        round(config["train"]["epochs"] * counts["train"] / (counts["train"] + counts.get("unused", 0)), 1)
    view = view if view is not None else _identity_view(config)
    view = {k: v for k, v in view.items() if k not in ("seed", "run_id", "group")}  # a copy: the caller's is kept
    view["split"] = {k: v for k, v in view["split"].items() if k != "train_fraction"}
    view["train"] = {k: v for k, v in view["train"].items() if k != "epochs"}
    return {"budget": budget, "curve": keys.short(keys.digest([view, budget]))}


# shown in columns of their own (method names and plugin options, train images, epochs) or making a section
NOT_SETTINGS = ("seed", "run_id", "group", "dataset", *METHOD_PARTS, "split.train_fraction", "train.epochs")


def _settings(view: dict) -> dict[str, str]:
    """A recorded config's identity (`_identity_view`) as flat `section.key` -> printed value, without what other
    columns show."""
    from bench.config import SECTION_TYPES

    view = dict(view)
    for name, section_type in SECTION_TYPES.items():  # a setting a record predates is at its default
        if isinstance(view.get(name), dict):
            view[name] = {**{f.name: f.default for f in dataclasses.fields(section_type)
                             if f.default is not dataclasses.MISSING and not f.metadata.get("runtime")}, **view[name]}
    flat = {}
    for name, value in view.items():
        for key, item in (value.items() if isinstance(value, dict) else [(None, value)]):
            dotted = f"{name}.{key}" if key is not None else name
            if name not in NOT_SETTINGS and dotted not in NOT_SETTINGS:
                flat[dotted] = item if isinstance(item, str) else json.dumps(item)
    return flat


def config_labels(section: pd.DataFrame) -> dict[str, str]:
    """Each configuration's settings where they differ from the section's baseline (the value most of its
    configurations share, per setting): `train.lr=0.001 train.budget=plateau`; "" for the baseline itself."""
    settings = {g: json.loads(s) for g, s in zip(section["group"], section["settings"])}
    baseline = {}
    for key in sorted({k for s in settings.values() for k in s}):
        values = pd.Series([s.get(key) for s in settings.values()], dtype=object).fillna("(unset)")
        counts = values.value_counts()
        baseline[key] = sorted(counts[counts == counts.max()].index)[0]
    return {g: " ".join(f"{k}={s.get(k, '(unset)')}" for k in sorted(baseline) if s.get(k, "(unset)") != baseline[k])
            for g, s in settings.items()}


def _kaggle_scores(folder: Path, warn: Callable[[str], None]) -> dict:
    """The Kaggle scores `bench record-kaggle` added to a run ({} without them; a damaged file is said and left out)."""
    path = folder / "kaggle.json"
    if not path.exists():
        return {}
    try:
        scores = json.loads(path.read_bytes().decode("utf-8"))
        return {k: float(scores[k]) for k in ("public", "private") if k in scores}
    except (UnicodeDecodeError, ValueError, TypeError):
        warn(f"leaderboard: {path} is damaged (not the JSON `bench record-kaggle` writes); its Kaggle scores are left "
             f"out: record them again with `bench record-kaggle`")
        return {}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load_runs(runs_dir: Path, warn: Callable[[str], None] = _stderr, only: set[str] | None = None,
              set_folders: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per finished run (a folder with `done`; `only`: of these folder names); unfinished folders are
    ignored, damaged ones (a file missing, altered or unreadable) are skipped, each said in one line through
    `warn`, then counted. `set_folders`: {set fingerprint: set folder name} for records that predate
    `record.json`'s synthetic.folder, so every set is printed by its folder."""
    rows, damaged = [], 0
    for done in sorted(Path(runs_dir).glob(f"*/{DONE}")):
        folder = done.parent
        if only is not None and folder.name not in only:
            continue
        try:
            run = RunRecord.read(folder)
        except DamagedRun as exc:
            warn(f"leaderboard: skipped: {exc} (`bench run` of its configuration with --force runs it again)")
            damaged += 1
            continue
        config = run.config
        group = config.get("group") or keys.short(keys.group(config))  # records from before config.json had it
        view = _identity_view(config)
        comparable = {k: v for k, v in view.items()
                      if k not in ("seed", "run_id", "group", "generator", "strategy", "synthetic", "fidelity")}
        row = {"run": folder.name, "group": group, "seed": run.seed,
               "control_key": keys.digest(comparable)[:keys.RUN_DIGITS],
               "dataset": run.dataset.name, "dataset_fp": run.dataset.fingerprint,
               "split": run.split.name, "split_fp": run.split.section_fingerprint,
               "split_subset_fp": run.split.fingerprint,  # what a set made on this run's train subset records
               "train_images": run.split.counts["train"],
               "data_shape": f"{run.dataset.n_images} images, {run.dataset.resolution} px",
               "epochs": config["train"]["epochs"], "wall_time_s": run.wall_time_s,
               "purpose": run.purpose, "name": run.name,
               "options": plugin_options(config), "settings": json.dumps(_settings(view), sort_keys=True),
               "session_plugin": any(o.get("distribution") == registry.SESSION for o in run.plugins.values()),
               "versions": library_versions(run.environment),
               "selection": run.selection or SELECTION_RULE, "absent_test": run.absent_test_classes,
               **{name: config[name]["name"] for name in NAMES}}
        for role in ("val", "test", "gap"):
            for key in LABELS:
                row[f"{role}:{key}"] = run.score(role, key)
        row[selection.THRESHOLDS] = run.oracle.get(f"thresholds_on_test_{F1_TUNED}")
        row[selection.EPOCH] = run.oracle.get(f"epoch_and_thresholds_on_test_{F1_TUNED}")
        row.update(_curve(config, run.split.counts, view))
        synthetic = run.synthetic
        row["synthetic_fp"] = synthetic.fingerprint if synthetic else None
        row["set_folder"] = (synthetic.folder if synthetic else None) or (set_folders or {}).get(row["synthetic_fp"])
        row["set_label"] = fidelity_tables.set_label(config["generator"], row["synthetic_fp"] or "", row["set_folder"])
        row["generator_changed"] = fidelity_tables.changed_options(config["generator"])
        row["synthetic_seed"] = config.get("synthetic", {}).get("seed", 0)
        row["synthetic_settings"] = json.dumps({k: v for k, v in config.get("synthetic", {}).items() if k != "seed"},
                                               sort_keys=True)  # how many images with which labels, not the draw
        scores = (synthetic.fidelity if synthetic else None) or {}
        row["fidelity"] = scores or None
        for key in ("fid", "kid", f"cas_{F1_TUNED}", "inception_fid", f"reference_val_{F1_TUNED}", "reference_warning"):
            row[f"fidelity:{key}"] = scores.get(key)
        kaggle = _kaggle_scores(folder, warn)
        row["kaggle:public"], row["kaggle:private"] = kaggle.get("public"), kaggle.get("private")
        row["gap:kaggle_private"] = (row[f"val:{F1_TUNED}"] - kaggle["private"]) if "private" in kaggle else None
        rows.append(row)
    if damaged:
        warn(f"leaderboard: {damaged} damaged run folder(s) skipped (named above); {len(rows)} runs read")
    return pd.DataFrame(rows)
