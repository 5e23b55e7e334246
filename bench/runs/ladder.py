"""`bench ladder FROM TO`: which of the settings in which two configurations differ explains the change?

The settings in which FROM and TO differ are grouped into rungs (settings that must change together
form one rung: a plugin and its options, the split protocol, the learning-rate schedule, the loss, an
ArcFace head with its loss), and the ladder runs FROM, FROM with each rung switched to TO's values
alone, and TO, for every seed, through the sweep machinery (so it resumes and parallelises). Its
manifest, `RUNS_DIR/ladders/<name>.json`, lists the rungs and their runs; the leaderboard turns it
into a table (`bench.report.ladders`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench import config, registry
from bench import identity as keys
from bench.config import PluginChoice, RunConfig
from bench.errors import BenchError
from bench.files import write_json, write_text
from bench.runs.execute import load_data, run_id
from bench.runs.sweep import Job

PLUGIN_RUNGS = ("dataset", "generator", "strategy", "classifier")
SECTION_RUNGS = ("split", "synthetic")
TRAIN_GROUPS = {"schedule": ("schedule", "step_epochs", "step_gamma", "warmup_epochs", "plateau_mode", "paper_warmup"),
                "loss": ("loss", "focal_gamma", "arcface_s", "arcface_m")}


@dataclass
class Rung:
    name: str
    changes: dict = field(default_factory=dict)  # dotted key -> TO's value ({} for FROM)
    runs: dict = field(default_factory=dict)  # seed -> run id
    note: str = ""


def flat(cfg: RunConfig) -> dict:
    """Every setting of the config that can change a number, as dotted keys (`classifier.name`, `train.lr`):
    runtime fields and sections left out, and the seed (seeds are the ladder's other axis)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get("runtime") or f.name == "seed":
            continue
        options = value.options if isinstance(value, PluginChoice) else value
        if isinstance(value, PluginChoice):
            out[f"{f.name}.name"] = value.name
        for g in dataclasses.fields(options):
            if not g.metadata.get("runtime"):
                out[f"{f.name}.{g.name}"] = getattr(options, g.name)
    return out


def rung_of(key: str) -> str:
    section, _, name = key.partition(".")
    if section in PLUGIN_RUNGS or section in SECTION_RUNGS:
        return section
    if section == "train":
        return next((f"train.{group}" for group, keys in TRAIN_GROUPS.items() if name in keys), key)
    return key


def rungs(a: RunConfig, b: RunConfig) -> list[Rung]:
    """The rungs between two configs: every differing setting, grouped with what must change with it."""
    fa, fb = flat(a), flat(b)
    keys = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
    groups: dict[str, dict] = {}
    for key in keys:
        groups.setdefault(rung_of(key), {})[key] = fb.get(key)
    head_changes = a.classifier.options.__dict__.get("head") != b.classifier.options.__dict__.get("head")
    if head_changes and "train.loss" in groups:  # an ArcFace head and its loss go together
        groups.setdefault("classifier", {}).update(groups.pop("train.loss"))
    if "strategy" in groups and "generator" in groups:  # a strategy's use of synthetic images and its generator
        groups["strategy"].update(groups.pop("generator"))
    for plugin in PLUGIN_RUNGS:  # a plugin's options belong to its name: switching it takes TO's whole section
        for rung in groups.values():
            if f"{plugin}.name" in rung:
                for key in [k for k in rung if k.startswith(f"{plugin}.")]:
                    del rung[key]
                rung.update({f"{plugin}.{k}": v for k, v in _section(b, plugin).items()})
    return [Rung(name, changes) for name, changes in sorted(groups.items())]


def _section(cfg: RunConfig, name: str) -> dict:
    return cfg.to_dict()[name]


def rung_config(base: RunConfig, changes: dict) -> RunConfig:
    """`base` with `changes` applied (a plugin rung replaces the whole plugin section)."""
    raw = base.to_dict()
    for plugin in PLUGIN_RUNGS:
        if f"{plugin}.name" in changes:
            raw[plugin] = {}
    for key, value in changes.items():
        config.set_dotted(raw, key, value)
    return config.resolve(raw)


def plan(from_cfg: RunConfig, to_cfg: RunConfig, say) -> list[tuple[Rung, RunConfig]]:
    """FROM, FROM + each rung alone, TO; a rung that cannot stand alone is said and left out."""
    out = [(Rung("FROM"), from_cfg)]
    for rung in rungs(from_cfg, to_cfg):
        try:
            cfg = config.normalise(rung_config(from_cfg, rung.changes), lambda line: None)
        except BenchError as exc:
            say(f"ladder: rung {rung.name} cannot be switched alone ({exc}); it is covered by TO only")
            continue
        if not registry.fits(cfg.generator.plugin, cfg.strategy.plugin):
            say(f"ladder: rung {rung.name} gives a generator/strategy pair that does not fit; covered by TO only")
            continue
        out.append((rung, cfg))
    out.append((Rung("TO", {k: v for r in rungs(from_cfg, to_cfg) for k, v in r.changes.items()}), to_cfg))
    return out


def jobs(steps: list[tuple[Rung, RunConfig]], seeds: list[int], folder: Path) -> list[Job]:
    """One job per rung and seed, each `bench run --config <rung>.yaml --seed S`; rung configs are written
    to `folder` (the ladder's own), and each rung's run ids are filled in. The two ends come first, so a
    ladder stopped part-way already knows how far apart FROM and TO are."""
    folder.mkdir(parents=True, exist_ok=True)
    out, data_cache = [], {}
    for rung, cfg in [steps[0], steps[-1], *steps[1:-1]] if len(steps) > 1 else steps:
        path = folder / f"{_slug(rung.name)}.yaml"
        write_text(path, yaml.safe_dump({k: v for k, v in cfg.to_dict().items() if k != "seed"}, sort_keys=False))
        for seed in seeds:
            seeded = config.resolve({**cfg.to_dict(), "seed": seed})
            key = json.dumps([seeded.to_dict()["dataset"], seeded.to_dict()["split"]], sort_keys=True)
            if key not in data_cache:
                data_cache[key] = load_data(seeded)[:2]
            rid = run_id(seeded, *data_cache[key])
            rung.runs[str(seed)] = rid[:16]
            args = ["--config", str(path), "--seed", str(seed)]
            set_args = ["--config", str(path)] if cfg.generator.plugin.produces_images else None
            out.append(Job(args, rid, set_args, f"{rung.name} seed {seed}"))
    return out


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def name_of(from_name: str, to_name: str, extra: tuple[str, ...]) -> str:
    tail = keys.short(keys.digest(list(extra))) if extra else ""
    return "--".join(filter(None, [_slug(from_name), _slug(to_name), tail]))


def write_manifest(path: Path, from_name: str, to_name: str, steps: list[tuple[Rung, RunConfig]], seeds: list[int],
                   notes: list[str]) -> None:
    write_json(path, {"from": from_name, "to": to_name, "seeds": seeds, "notes": notes,
                      "rungs": [{"name": r.name, "changes": r.changes, "runs": r.runs} for r, _ in steps]})
