"""Leaderboard markdown from finished run folders only (pandas + tabulate).

One section per (dataset, split) fingerprint pair, so rows from different data or splits are never
mixed. Within a section, one row per configuration (everything but the seed), aggregated over
seeds as mean +- sample std. The same run folders always give the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench import identity as keys
from bench import registry
from bench.config import METHOD_PARTS
from bench.data.labels import CLASS_NAMES
from bench.errors import BenchError
from bench.evaluate.metrics import F1_MICRO_TUNED, F1_TUNED, LABELS, SELECTION_RULE
from bench.records import DONE, DamagedRun, verify
from bench.report import fidelity_tables, per_class, selection, utility
from bench.report.intervals import (
    CHANGE_INTERVAL,
    CHANGE_INTERVAL_SEEDS,
    EFFECT_INTERVAL,
    MEAN_INTERVAL,
    MEAN_INTERVAL_SEEDS,
    SEED_IMAGE_INTERVAL,
    beyond_zero,
    fmt,
    fmt_bounds,
    t_bounds,
    welch_bounds,
)
from bench.report.paired import PairedTest, config_bounds, control_of, is_control

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


def sections(frame: pd.DataFrame):
    """(stem, rows) of each (dataset, split) section."""
    for _, section in frame.groupby(["dataset", "dataset_fp", "split", "split_fp"], sort=True):
        yield section_stem(section), section


def _identity_view(config: dict) -> dict:
    """A recorded config as its identity (`bench.identity.of_recorded`)."""
    from bench.config import SECTION_TYPES, RunConfig
    runtime_sections = {f.name for f in dataclasses.fields(RunConfig) if f.metadata.get("runtime")}  # fidelity
    return keys.of_recorded(config, SECTION_TYPES, runtime_sections)


def _curve(config: dict, counts: dict) -> dict:
    """A run's learning curve: its optimizer budget in epochs of the whole train role (epochs x kept share,
    so 100 epochs on 10% and 10 on all of it are one budget), or the name of the rule that chose its epochs
    (`train.budget`, e.g. plateau), and the id of its settings without the train size and the epochs; runs with
    the same id lie on one curve."""
    budget = config["train"].get("budget") or \
        round(config["train"]["epochs"] * counts["train"] / (counts["train"] + counts.get("unused", 0)), 1)
    view = _identity_view(config)
    view = {k: v for k, v in view.items() if k not in ("seed", "run_id", "group")}
    view["split"] = {k: v for k, v in view["split"].items() if k != "train_fraction"}
    view["train"] = {k: v for k, v in view["train"].items() if k != "epochs"}
    return {"budget": budget, "curve": keys.short(keys.digest([view, budget]))}


# shown in columns of their own (method names and plugin options, train images, epochs) or making a section
NOT_SETTINGS = ("seed", "run_id", "group", "dataset", *METHOD_PARTS, "split.train_fraction", "train.epochs")


def _settings(config: dict) -> dict[str, str]:
    """A recorded config's identity as flat `section.key` -> printed value, without what other columns show."""
    from bench.config import SECTION_TYPES

    view = _identity_view(config)
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
            loaded = verify(folder)
        except DamagedRun as exc:
            warn(f"leaderboard: skipped: {exc} (`bench run` of its configuration with --force runs it again)")
            damaged += 1
            continue
        config, record, metrics = loaded["config"], loaded["record"], loaded["metrics"]
        group = config.get("group") or keys.short(keys.group(config))  # records from before config.json had it
        comparable = {k: v for k, v in _identity_view(config).items()
                      if k not in ("seed", "run_id", "group", "generator", "strategy", "synthetic", "fidelity")}
        row = {"run": folder.name, "group": group, "seed": config["seed"],
               "control_key": keys.digest(comparable)[:keys.RUN_DIGITS],
               "dataset": config["dataset"]["name"], "dataset_fp": record["dataset"]["fingerprint"],
               "split": record["split"]["name"],
               "split_fp": record["split"].get("protocol_fingerprint", record["split"]["fingerprint"]),
               "train_images": record["split"]["counts"]["train"],
               "data_shape": f"{record['dataset']['n_images']} images, {record['dataset']['resolution']} px",
               "epochs": config["train"]["epochs"], "wall_time_s": record["wall_time_s"],
               "purpose": record.get("purpose", ""), "name": record.get("name", ""),
               "options": plugin_options(config), "settings": json.dumps(_settings(config), sort_keys=True),
               "session_plugin": any(o.get("distribution") == registry.SESSION
                                     for o in (record.get("plugins") or {}).values()),
               "versions": library_versions(record["environment"]),
               "selection": metrics.get("selection", SELECTION_RULE),
               "absent_test": tuple(metrics.get("test", {}).get("absent_classes", ())),
               **{name: config[name]["name"] for name in NAMES}}
        for role in ("val", "test", "gap"):
            for key in LABELS:
                row[f"{role}:{key}"] = metrics.get(role, {}).get(key)
        oracle = metrics.get("oracle") or {}
        row[selection.THRESHOLDS] = oracle.get(f"thresholds_on_test_{F1_TUNED}")
        row[selection.EPOCH] = oracle.get(f"epoch_and_thresholds_on_test_{F1_TUNED}")
        row.update(_curve(config, record["split"]["counts"]))
        synthetic = record.get("synthetic") or {}
        row["synthetic_fp"] = synthetic.get("fingerprint")
        row["set_folder"] = synthetic.get("folder") or (set_folders or {}).get(row["synthetic_fp"])
        row["set_label"] = fidelity_tables.set_label(config["generator"], row["synthetic_fp"] or "", row["set_folder"])
        row["generator_changed"] = fidelity_tables.changed_options(config["generator"])
        row["synthetic_key"] = json.dumps(config.get("synthetic", {}), sort_keys=True)
        scores = (record.get("synthetic") or {}).get("fidelity") or {}
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


def _aggregate(section: pd.DataFrame, columns: dict[str, str]) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, one row per configuration, and each row's group id."""
    rows, sizes = [], section["train_images"].nunique() > 1  # several train sizes: smallest first, then by score
    settings = config_labels(section)
    for (group, *names), runs in section.groupby(["group", *NAMES], sort=True):
        sort_key = runs.get(f"test:{F1_TUNED}", pd.Series(dtype=float)).dropna()
        if sort_key.empty:
            sort_key = runs[f"val:{F1_TUNED}"].dropna()
        score = sort_key.mean() if not sort_key.empty else float("-inf")
        label = group + (f" {settings[group]}" if settings[group] else "") + \
            "".join(f" ({p})" for p in sorted(set(runs["purpose"])) if p) + \
            "".join(f" «{n}»" for n in sorted(set(runs["name"])) if n)
        label += " (mixed library versions)" if runs["versions"].nunique() > 1 else ""
        label += " (plugin registered in a Python session, not installed)" if runs["session_plugin"].any() else ""
        cells = [*names, label, int(runs["epochs"].iloc[0]), len(runs)] + [fmt(runs[c]) for c in columns]
        size = int(runs["train_images"].iloc[0]) if sizes else 0
        rows.append(((size, -score), names, group, cells))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [*NAMES, "config", "epochs", "seeds", *columns.values()], [r[3] for r in rows], [r[2] for r in rows]


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _selection(section: pd.DataFrame) -> str:
    rules = sorted(set(section["selection"]))
    if len(rules) == 1:
        return rules[0]
    groups = {r: ", ".join(sorted(set(section.loc[section["selection"] == r, "group"]))) for r in rules}
    by_rule = "; ".join(f"{groups[r]}: {r}" for r in rules)
    return f"differs by configuration ({by_rule})"


def _versions_note(section: pd.DataFrame) -> str:
    versions = sorted(set(section["versions"]))
    if len(versions) == 1:
        return f"**Library versions:** {versions[0]} (every run)."
    return ("**Library versions differ between runs** (" + "; ".join(versions) + "): numbers from different "
            "versions are repeated measurements, not identical ones; rows that mix them are marked "
            "(mixed library versions).")


def _interval_method(kinds: set[str]) -> str:
    if "seeds+images" in kinds:
        return MEAN_INTERVAL + (f"; where a run's test predictions are missing, {MEAN_INTERVAL_SEEDS}"
                                if "seeds" in kinds else "")
    return MEAN_INTERVAL_SEEDS if kinds else "a 95% interval of the mean over seeds"


def _is_control(runs: pd.DataFrame) -> bool:
    return bool(is_control(runs).all())


@dataclasses.dataclass(frozen=True)
class Effect:
    """One configuration against the no-synthetic control of its settings, paired by seed: per role ("val",
    "test"), the mean difference in macro F1 @tuned (None without a paired value) and its 95% interval
    ((None, None) without one)."""

    names: tuple[str, ...]  # generator, strategy, classifier
    group: str
    train_images: int
    epochs: int
    sized: bool  # the section has nested train subsets, so the effect names its train size
    seeds: int
    mean: dict
    bounds: dict
    pairs: tuple = ()  # (treated run, control run) per paired seed with a test score
    test_diffs: tuple = ()  # the paired test differences, one per seed

    @property
    def size(self) -> str:
        return f"{self.train_images} train images, {self.epochs} epochs"

    @property
    def label(self) -> str:
        """generator/strategy/classifier, with the train size and epochs where the section has several sizes."""
        return "/".join(self.names) + (f" at {self.size}" if self.sized else "")

    def shown(self, role: str) -> tuple[str, str]:
        """The mean and interval of `role` as the tables write them."""
        mean = self.mean[role]
        return ("—" if mean is None else f"{mean:+.3f}"), fmt_bounds(self.bounds[role])

    def beyond_zero(self, role: str) -> int:
        """+1 where the interval of `role`, as shown, lies above 0; -1 where below; else 0."""
        return beyond_zero(self.bounds[role])

    def cells(self) -> list:
        config = f"{self.group} · {self.size}" if self.sized else self.group
        return [*self.names, config, self.seeds, *self.shown("val"), *self.shown("test")]


EFFECT_HEADERS = [*NAMES, "config", "paired seeds", "Δ val macro F1 @tuned", "val 95% CI", "Δ test macro F1 @tuned",
                  "test 95% CI"]


def effect_rows(section: pd.DataFrame, paired: PairedTest | None = None) -> tuple[list[Effect], set]:
    """Each configuration against the no-synthetic control with the same classifier and training
    settings: the mean paired difference over shared seeds, with an interval: on test, where the runs'
    predictions are in `paired`'s runs folder, over seeds and test images (`SEED_IMAGE_INTERVAL`), else a t-interval
    over seeds (`EFFECT_INTERVAL`); smallest train size, then largest test (else validation) gain first.
    Also returns which intervals were of which kind ({"seeds", "seeds+images"})."""
    effects, order, kinds, paired = [], [], set(), paired or PairedTest(None)
    sized = section["train_images"].nunique() > 1  # nested train subsets: each effect says its size
    for (group, *names), runs in section.groupby(["group", *NAMES], sort=True):
        if _is_control(runs):
            continue
        control = control_of(section, runs).set_index("seed")
        mine = runs.set_index("seed")
        seeds = sorted(set(mine.index) & set(control.index))
        if not seeds:  # no control of the same settings and seeds (a ladder rung, say): nothing to pair with
            continue
        means, bounds, diffs = {}, {}, {}
        for role in ("val", "test"):
            diffs[role] = (mine.loc[seeds, f"{role}:{F1_TUNED}"] - control.loc[seeds, f"{role}:{F1_TUNED}"]).dropna()
            means[role] = float(diffs[role].mean()) if len(diffs[role]) else None
        pairs = tuple(zip(mine.loc[diffs["test"].index, "run"], control.loc[diffs["test"].index, "run"])) \
            if "run" in section else ()
        for role in ("val", "test"):
            image_bounds = paired.bounds(*map(list, zip(*pairs))) if role == "test" and len(pairs) >= 2 else None
            if len(diffs[role]) >= 2:
                kinds.add("seeds+images" if image_bounds else "seeds")
            bounds[role] = image_bounds or t_bounds(diffs[role])
        effect = Effect(tuple(names), group, int(runs["train_images"].iloc[0]),
                        int(runs["epochs"].iloc[0]) if "epochs" in runs else 0, sized, len(seeds), means, bounds,
                        pairs, tuple(diffs["test"]))
        gain = means["test"] if means["test"] is not None else means["val"]
        effects.append(effect)
        order.append((effect.train_images if sized else 0, -gain if gain is not None else float("inf"), group))
    return [effect for _, effect in sorted(zip(order, effects), key=lambda pair: pair[0])], kinds


@dataclasses.dataclass(frozen=True)
class Curve:
    """One learning curve: the same settings at several train sizes (with the epochs that keep the optimizer
    budget), each size's effect against the control of that size, and the change of the test effect from the
    largest size to the smallest (`change`, with its 95% interval `bounds` and what it covers, `kind`)."""

    names: tuple[str, ...]
    budget: float | str  # epochs of the whole train role, or the name of a budget rule (`train.budget`)
    curve: str
    effects: dict  # train images -> Effect
    change: float | None = None
    bounds: tuple = (None, None)
    kind: str | None = None  # "seeds+images" or "seeds"

    @property
    def ends(self) -> tuple[int, int]:
        return min(self.effects), max(self.effects)

    @property
    def label(self) -> str:
        small, large = self.ends
        return f"{'/'.join(self.names)} ({small} vs {large} train images, budget {budget_text(self.budget)})"

    def shown(self) -> str:
        return "—" if self.change is None else f"{self.change:+.3f} {fmt_bounds(self.bounds)}"


def learning_curves(section: pd.DataFrame, effects: list[Effect], paired: PairedTest | None = None) -> list[Curve]:
    """The effects grouped into learning curves (rows of `curve_table`), each with the change of its test effect
    between its smallest and largest train size: over seeds and test images (`intervals.change_bounds`) where
    the runs' predictions are in `paired`'s folder, else Welch's interval over seeds; [] with one train size."""
    by_group = section.drop_duplicates("group").set_index("group")
    grouped: dict[tuple, dict[int, Effect]] = {}
    for effect in effects:
        info = by_group.loc[effect.group]
        budget = info["budget"] if isinstance(info["budget"], str) else float(info["budget"])
        grouped.setdefault((*effect.names, budget, info["curve"]), {})[effect.train_images] = effect
    if len({size for by_size in grouped.values() for size in by_size}) < 2:
        return []
    curves = []
    for key, by_size in sorted(grouped.items(), key=lambda item: (budget_order(item[0][len(NAMES)]),
                                                                  item[0][:len(NAMES)], item[0][-1])):
        curve = Curve(tuple(key[:len(NAMES)]), key[len(NAMES)], key[-1], dict(sorted(by_size.items())))
        small, large = (by_size[n] for n in curve.ends)
        if small is not large and small.mean["test"] is not None and large.mean["test"] is not None:
            imaged = (paired or PairedTest(None)).change(list(small.pairs), list(large.pairs))
            bounds = imaged or welch_bounds(small.test_diffs, large.test_diffs)
            curve = dataclasses.replace(curve, change=small.mean["test"] - large.mean["test"], bounds=bounds,
                                        kind=None if bounds[0] is None else "seeds+images" if imaged else "seeds")
        curves.append(curve)
    return curves


def curve_table(curves: list[Curve]) -> tuple[list[str], list[list[str]]] | None:
    """The test effects as learning curves: one row per curve, one column per train size (the effect against
    the control of that size, with its interval), and the change from the largest size to the smallest;
    None without curves."""
    if not curves:
        return None
    sizes = sorted({size for curve in curves for size in curve.effects})
    budgets = len({curve.budget for curve in curves}) > 1
    repeated = len({(curve.names, curve.budget) for curve in curves}) < len(curves)  # same names, other settings
    headers = [*NAMES, *(["budget (epochs of the whole train role)"] if budgets else []),
               *(["curve"] if repeated else []), *(f"Δ test at {n} train images (95%)" for n in sizes),
               "change: Δ at smallest − Δ at largest size (95%)"]
    rows = []
    for curve in curves:
        ends = "" if curve.change is None or curve.ends == (sizes[0], sizes[-1]) else \
            f" ({curve.ends[0]} vs {curve.ends[1]})"
        rows.append([*curve.names, *([budget_text(curve.budget)] if budgets else []),
                     *([curve.curve] if repeated else []),
                     *(" ".join(curve.effects[n].shown("test")) if n in curve.effects else "—" for n in sizes),
                     curve.shown() + ends])
    return headers, rows


def _verdict(effects: list[Effect], has_test: bool) -> str:
    """Which configurations beat (and which fell below) the control, by their 95% intervals."""
    parts = []
    for role, name in (("val", "validation"), ("test", "test"))[: 2 if has_test else 1]:
        above = [e.label for e in effects if e.beyond_zero(role) > 0]
        below = [e.label for e in effects if e.beyond_zero(role) < 0]
        parts.append(f"on {name}, above the control: {', '.join(above) or 'none'}; "
                     f"below it: {', '.join(below) or 'none'}")
    return "**Verdict (95% intervals entirely above or below 0):** " + "; ".join(parts) + "."


def _span(values: list[int]) -> str:
    return str(min(values)) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def summary_lines(section: pd.DataFrame, effects: list[Effect], curves: list[Curve] = ()) -> list[str]:
    """What a section's effect table says, in a few bullets for the top of the leaderboard: which
    configurations lie above or below the control on test (by their 95% intervals), which looked better
    on validation without holding on test, how many show no evidence either way, and on learning curves,
    whose effect changes between the smallest and the largest train size."""
    if not effects:
        return []
    first = section.iloc[0]
    shape = f" ({first['data_shape']})" if isinstance(first.get("data_shape"), str) else ""
    where = f"{first['dataset']}{shape} · split `{first['split']}`"
    has_test = section[f"test:{F1_TUNED}"].notna().any()
    role, name = ("test", "test") if has_test else ("val", "validation")

    def named(chosen: list[Effect]) -> str:
        return ", ".join(f"{e.label} ({' '.join(e.shown(role))})" for e in chosen) or "none"

    above = [e for e in effects if e.beyond_zero(role) > 0]
    below = [e for e in effects if e.beyond_zero(role) < 0]
    unsure = [e for e in effects if e.bounds[role][0] is not None and not e.beyond_zero(role)]
    out = [f"- **{where}**: {len(effects)} configuration{'s' if len(effects) != 1 else ''} against the "
           f"no-synthetic control ({_span([e.seeds for e in effects])} paired seeds).\n"
           f"  - Above it on {name}: {named(above)}.\n  - Below it on {name}: {named(below)}.\n"
           f"  - No evidence either way: {len(unsure)}; without an interval (fewer than 2 paired seeds): "
           f"{len(effects) - len(above) - len(below) - len(unsure)}."]
    if has_test:
        misleading = [e for e in effects if e.beyond_zero("val") > 0 and e not in above]
        if misleading:
            out.append(f"  - Above the control on validation but not on test: {named(misleading)}.")
    judged = [c for c in curves if c.bounds[0] is not None]
    if judged:
        def listed(sign: int) -> str:
            return ", ".join(f"{c.label} ({c.shown()})" for c in judged if beyond_zero(c.bounds) == sign) or "none"

        out.append(f"  - Change of the test effect from the largest train size to the smallest (95%): higher at the "
                   f"smaller size (less harm or more gain with less real data): {listed(1)}; lower there: "
                   f"{listed(-1)}; no evidence either way: "
                   f"{sum(not beyond_zero(c.bounds) for c in judged)} of {len(judged)} curves.")
    return out


def _curves_text(curves: list[Curve]) -> str:
    """What the effect-by-size table shows and how its last column's interval is made."""
    covered = {c.kind for c in curves if c.kind}
    method = (CHANGE_INTERVAL_SEEDS if covered == {"seeds"} else CHANGE_INTERVAL if "seeds" not in covered
              else f"{CHANGE_INTERVAL}; where a run's predictions are missing, {CHANGE_INTERVAL_SEEDS}")
    return ("Each cell is the change in test macro F1 @tuned against the control trained on the same nested subset "
            "of the train role (validation and test unchanged), paired by seed, with its 95% interval. The last "
            "column is how much higher the effect is at the curve's smallest train size than at its largest "
            f"(positive: less harm or more gain with less real data), with {method}; an interval that contains 0 "
            "is no evidence either way.\n")


def render_section(section: pd.DataFrame, sets: list[dict] = (), runs_dir: Path | None = None,
                   effect_table: tuple | None = None, paired: PairedTest | None = None,
                   curves_above: bool = False, curves: list[Curve] | None = None) -> str:
    """One section's markdown; `effect_table` is `effect_rows`' result where the caller has it already;
    `curves_above`: its effect-by-size table is printed at the top of the leaderboard (`answer`), not here;
    `curves`: `learning_curves`' result where the caller has it already."""
    first = section.iloc[0]
    has_test = section[f"test:{F1_TUNED}"].notna().any()
    main_cols = {f"val:{k}": f"val {v}" for k, v in LABELS.items() if k != F1_MICRO_TUNED}
    if has_test:
        main_cols.update({f"test:{k}": f"test {v}" for k, v in LABELS.items()})
    has_kaggle = section["kaggle:private"].notna().any() or section["kaggle:public"].notna().any()
    if has_kaggle:
        main_cols.update({"kaggle:public": "Kaggle public", "kaggle:private": "Kaggle private"})
    headers, rows, groups = _aggregate(section, main_cols)
    ci_key = f"test:{F1_TUNED}" if has_test else f"val:{F1_TUNED}"
    paired = paired or PairedTest(runs_dir)
    bounds = {g: config_bounds(r, ci_key, paired) for g, r in section.groupby("group")}
    intervals = {g: fmt_bounds(b) for g, (b, _) in bounds.items()}
    covers = {kind for b, kind in bounds.values() if b[0] is not None}  # what the main table's intervals cover
    headers.append(f"{'test' if has_test else 'val'} macro F1 @tuned 95% CI")
    headers.append("options (where not the plugin's default)")
    options = dict(zip(section["group"], section["options"]))
    for row, group in zip(rows, groups):
        row += [intervals[group], options[group]]
    if section["train_images"].nunique() > 1:  # runs on nested train subsets (split.train_fraction)
        images = dict(zip(section["group"], section["train_images"]))
        headers.insert(len(NAMES) + 3, "train images")
        for row, group in zip(rows, groups):
            row.insert(len(NAMES) + 3, str(images[group]))
    out = [f"## {first['dataset']} ({first['data_shape']}) · split `{first['split']}`", "",
           f"Dataset fingerprint `{first['dataset_fp'][:16]}`, split fingerprint `{first['split_fp'][:16]}`. "
           f"{len(section)} finished run{'s' if len(section) != 1 else ''}, "
           f"wall time {_duration(section['wall_time_s'].sum())} in all (sum over the runs; "
           f"{section['wall_time_s'].mean():.0f} s per run on average; generators and the fidelity reference "
           f"not included).", "",
           f"**Model selection:** {_selection(section)}. Values are mean ± sample std over seeds; rows sorted by "
           f"{'train images, then ' if section['train_images'].nunique() > 1 else ''}"
           f"{'test' if has_test else 'validation'} macro F1 @tuned; the interval is {_interval_method(covers)}; "
           f"with 1 seed there is none.", "",
           _versions_note(section), "",
           "### Main table", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    effects, kinds = effect_table or effect_rows(section, paired)
    unpaired = section.groupby("group").filter(lambda runs: not _is_control(runs))["group"].nunique() - len(effects)
    if unpaired:
        out += [f"{unpaired} configuration{'s' if unpaired != 1 else ''} of this section "
                f"{'have' if unpaired != 1 else 'has'} no no-synthetic control with the same settings and seeds "
                f"(ladder rungs, for instance: see their own table), so no effect against the control.", ""]
    if effects:
        method = (f"on validation{' and where test predictions are missing' if 'seeds' in kinds else ''}, "
                  f"{EFFECT_INTERVAL}; on test, {SEED_IMAGE_INTERVAL}") if "seeds+images" in kinds else EFFECT_INTERVAL
        out += ["### Effect against the no-synthetic control", "",
                "Change in macro F1 @tuned against the run with generator `none` and strategy `none` and the same "
                f"classifier and training settings, paired by seed; the interval is {method}. An interval "
                "that contains 0 is no evidence of an effect; with one seed there is no interval (—).", "",
                tabulate([e.cells() for e in effects], EFFECT_HEADERS, tablefmt="github", disable_numparse=True), "",
                _verdict(effects, has_test), ""]
        if curves is None:
            curves = learning_curves(section, effects, paired) if has_test else []
        table = curve_table(curves)
        if table and curves_above:
            out += ["### Effect by real-data size", "", "At the top of this page (*The answer*).", ""]
        elif table:
            out += ["### Effect by real-data size", "", _curves_text(curves),
                    tabulate(table[1], table[0], tablefmt="github", disable_numparse=True), ""]
        out += per_class.render(section, runs_dir)
        if has_test:
            out += utility.render(section, effects, paired)
    if has_test or has_kaggle:
        gap_cols = {f"gap:{k}": f"gap {v}" for k, v in LABELS.items()} if has_test else {}
        if has_kaggle:
            gap_cols["gap:kaggle_private"] = "val @tuned − Kaggle private"
        headers, rows, _ = _aggregate(section, gap_cols)
        out += ["### Validation − test gap", "",
                "Validation minus test for each metric (positive: validation overstates test). "
                "The @tuned thresholds are fitted on validation, so the @tuned gap includes that fitting's "
                "optimism; the @0.5 and mAP gaps do not.", "",
                tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    if has_test:
        out += selection.render(section, runs_dir)
    out += fidelity_tables.render(section, sets)
    if has_test:
        absent = sorted({c for classes in section["absent_test"] for c in classes})
        if absent:
            names = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in absent)
            out += [f"Classes with no positives in the test role (scored F1 = AP = 0, kept in every macro "
                    f"average): {names}.", ""]
    out += run_folders(section)
    return "\n".join(out)


def run_folders(section: pd.DataFrame) -> list[str]:
    """Where each configuration id of the section's tables lives: its run folders, by seed."""
    rows = [[f"`{group}`", ", ".join(f"`{r}` (seed {s})" for r, s in zip(runs["run"], runs["seed"]))]
            for group, runs in section.sort_values(["group", "seed"]).groupby("group", sort=True)]
    return ["<details><summary>Run folders of each configuration (the config ids of the tables above)</summary>", "",
            tabulate(rows, ["config", "run folders"], tablefmt="github", disable_numparse=True), "", "</details>", ""]


def section_stem(section: pd.DataFrame) -> str:
    first = section.iloc[0]
    return f"{first['dataset']}-{first['split']}-{first['split_fp'][:8]}"


def render(frame: pd.DataFrame, figures: dict[str, list[tuple[str, str]]] | None = None,
           sets: list[dict] = (), runs_dir: Path | None = None) -> str:
    """The markdown; `figures` maps a section's stem to (caption, file) pairs to embed; `sets` are synthetic
    sets (`fidelity_tables.load_sets`) shown in their section whether or not a run used them."""
    header = ["# Leaderboard", "",
              "Generated by `bench leaderboard` from finished run folders (`runs/*/done`); do not edit by hand.",
              "All macro averages are over all 28 classes.", ""]
    if frame.empty:
        return "\n".join(header + ["No finished runs yet: run `bench run` first.", ""])
    sections, summary, paired, answer = [], [], PairedTest(runs_dir), []
    grouped = sorted(frame.groupby(["dataset", "dataset_fp", "split", "split_fp"], sort=True),
                     key=lambda item: -len(item[1]))  # the main experiment (most runs) first
    for index, (_, section) in enumerate(grouped):
        effect_table = effect_rows(section, paired)
        has_test = section[f"test:{F1_TUNED}"].notna().any()
        curves = learning_curves(section, effect_table[0], paired) if has_test else []
        lines = summary_lines(section, effect_table[0], curves)
        pictures = (figures or {}).get(section_stem(section), [])
        on_top = index == 0 and curve_table(curves) is not None
        if on_top:
            answer, pictures = _answer(lines, curves, pictures), [p for p in pictures if not _is_answer_figure(p)]
        else:
            summary += lines
        text = render_section(section, sets, runs_dir, effect_table, paired, curves_above=on_top, curves=curves)
        if pictures:
            text += "\n### Figures\n\n" + "\n\n".join(f"{c}:\n\n![{c}]({f})" for c, f in pictures) + "\n"
        sections.append(text)
    from bench.report import ladders
    from bench.report.paper import markdown
    summary += ladders.summary_lines(frame, runs_dir)
    header += answer
    if summary:
        header += [f"## {'Other results' if answer else 'Summary'}, in short", "",
                   "Generated from the tables below (95% intervals as named in each section; effects are changes in "
                   "macro F1 @tuned against the no-synthetic control, paired by seed).", "", *summary, ""]
    sections, methods = methods_once(sections)
    return "\n".join(header) + "\n" + "\n".join(sections) + "\n" + ladders.render(frame, runs_dir) + markdown() + \
        methods


METHOD_MIN_CHARS = 300  # a paragraph this long, repeated verbatim in two sections or more, is a method statement


def methods_once(texts: list[str]) -> tuple[list[str], str]:
    """Method paragraphs that several sections repeat word for word, stated once in a closing `## Methods`
    section; each repeat becomes a one-line pointer to its number there. Tables, lists, headings and figures
    stay where they are."""
    paragraphs = [p for text in texts for p in text.split("\n\n")]
    counts = {p: paragraphs.count(p) for p in paragraphs}
    repeated = [p for p in dict.fromkeys(paragraphs)
                if counts[p] > 1 and len(p) >= METHOD_MIN_CHARS and p.lstrip()[:1] not in ("|", "#", "!", "<", "-")]
    if not repeated:
        return texts, ""
    number = {p: k for k, p in enumerate(repeated, start=1)}
    pointer = "*How this is measured: method {} under [Methods](#methods), at the end of this page.*"
    texts = ["\n\n".join(pointer.format(number[p]) if p in number else p for p in text.split("\n\n"))
             for text in texts]
    stated = [f"**Method {k}.** {p}" for p, k in number.items()]
    return texts, "\n".join(["", "## Methods", "", "Stated once for every section above that uses them.", "",
                             "\n\n".join(stated), ""])


def _is_answer_figure(picture: tuple[str, str]) -> bool:
    return picture[1].endswith("-learning-curves.png")


def _answer(lines: list[str], curves: list[Curve], pictures: list[tuple[str, str]]) -> list[str]:
    """The top of the leaderboard: the main experiment's verdict, its effect-by-size table and its figure."""
    headers, rows = curve_table(curves)
    figure = [f"![{c}]({f})\n\n*{c}.*" for c, f in pictures if _is_answer_figure((c, f))]
    return ["## The answer", "",
            "Does a synthetic set help a classifier against the same classifier trained without it, and does it "
            "depend on how much real data there is? From the main experiment (the section with the most runs):", "",
            *lines, "", "### Effect by real-data size", "", _curves_text(curves),
            tabulate(rows, headers, tablefmt="github", disable_numparse=True), "", *figure, *([""] if figure else [])]
