"""Leaderboard markdown from finished run folders only (pandas + tabulate): the tables and their text.

The report is three steps, as DomainBed keeps them: loading (`bench.report.runs_frame`: run folders to
one frame), statistics (`bench.report.effects`: effects against the control, learning curves; intervals
in `bench.report.intervals`), and rendering (this module; the CSV/JSON/LaTeX exports in
`bench.report.export` render the same rows). One section per (dataset, split) fingerprint pair, so
rows from different data or splits are never mixed. Within a section, one row per configuration
(everything but the seed), aggregated over seeds as mean +- sample std. The same run folders always
give the same bytes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.data.labels import CLASS_NAMES
from bench.evaluate.metrics import F1_MICRO_TUNED, F1_TUNED, LABELS
from bench.report import fidelity_tables, per_class, selection, utility
from bench.report.effects import EFFECT_HEADERS, GAP_INTERVAL, Curve, Effect, all_controls, effect_rows, learning_curves
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
)
from bench.report.paired import PairedTest, config_bounds
from bench.report.runs_frame import NAMES, budget_text, config_labels, section_stem


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
                     *([f"{curve.curve} {curve.variant}".strip()] if repeated else []),
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
    if has_test:
        wider = [e.label for e in effects if e.beyond_zero("gap") > 0]
        narrower = [e.label for e in effects if e.beyond_zero("gap") < 0]
        parts.append(f"validation − test gap wider than the control's: {', '.join(wider) or 'none'}; "
                     f"narrower: {', '.join(narrower) or 'none'}")
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
        wider = [e for e in effects if e.beyond_zero("gap") > 0]
        if wider:
            out.append("  - Validation overstating test more than for the control (Δ gap, 95%): "
                       + ", ".join(f"{e.label} ({' '.join(e.shown('gap'))})" for e in wider) + ".")
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
    unpaired = section.groupby("group").filter(lambda runs: not all_controls(runs))["group"].nunique() - len(effects)
    if unpaired:
        out += [f"{unpaired} configuration{'s' if unpaired != 1 else ''} of this section "
                f"{'have' if unpaired != 1 else 'has'} no no-synthetic control with the same settings and seeds "
                f"(ladder rungs, for instance: see their own table), so no effect against the control.", ""]
    if effects:
        method = (f"on validation{' and where test predictions are missing' if 'seeds' in kinds else ''}, "
                  f"{EFFECT_INTERVAL}; on test, {SEED_IMAGE_INTERVAL}") if "seeds+images" in kinds else EFFECT_INTERVAL
        out += ["### Effect against the no-synthetic control", "",
                "Change in macro F1 @tuned against the run with generator `none` and strategy `none` and the same "
                f"classifier and training settings, paired by seed; the interval is {method}. Δ gap: how much "
                "more validation overstates test than it does for the control (Δ val − Δ test), with "
                f"{GAP_INTERVAL}. An interval that contains 0 is no evidence of an effect; with one seed there is "
                "no interval (—).", "",
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
            out += utility.render(section, effects, paired, sets)
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
            answer = _answer(lines, curves, pictures, effect_table[0])
            pictures = [p for p in pictures if not _is_answer_figure(p)]
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
    counts = Counter(paragraphs)
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


def _where(effect: Effect) -> str:
    options = f"{effect.variant}, " if effect.variant else ""
    return f"{options}{effect.names[1]}, {effect.size}"


def _tally(mine: list[Effect]) -> str:
    """How many of `mine` lie above and below the control, and the best and worst among those with an interval."""
    ranked = [e for e in mine if e.bounds["test"][0] is not None] or mine  # one seed: no interval, not ranked
    best, worst = max(ranked, key=lambda e: e.mean["test"]), min(ranked, key=lambda e: e.mean["test"])
    above = sum(e.beyond_zero("test") > 0 for e in mine)
    below = sum(e.beyond_zero("test") < 0 for e in mine)
    single = sum(e.bounds["test"][0] is None for e in mine)
    if len(mine) == 1:
        verdict = ("measured in one configuration with one paired seed, no interval yet" if single else
                   f"{'above' if above else 'below' if below else 'not told apart from'} the control in its one "
                   f"configuration")
        return f"{verdict}: {' '.join(best.shown('test'))} ({_where(best)})"
    return (f"above the control in {above} and below it in {below} of its {len(mine)} configurations "
            f"(best {' '.join(best.shown('test'))} ({_where(best)}); "
            f"worst {' '.join(worst.shown('test'))} ({_where(worst)})"
            + (f"; {single} with one paired seed, no interval yet" if single else "") + ")")


def answer_paragraph(effects: list[Effect]) -> str:
    """The answer in words: per generator, its largest test gain and its largest test harm against the control,
    each with its interval (among effects that have one), strongest generator first; at its default options
    apart from with options changed (the oracle's degradations are not the oracle); then how many configurations
    looked better on validation and did not hold on test."""
    scored = [e for e in effects if e.mean["test"] is not None]
    by_generator: dict[str, list[Effect]] = {}
    for effect in scored:
        by_generator.setdefault(effect.names[0], []).append(effect)
    parts = []
    for generator, mine in sorted(by_generator.items(), key=lambda item: -max(e.mean["test"] for e in item[1])):
        defaults, changed = [e for e in mine if not e.variant], [e for e in mine if e.variant]
        if defaults and changed:
            parts.append(f"`{generator}` at its default options is {_tally(defaults)}, and with options "
                         f"changed from them {_tally(changed)}")
        else:
            parts.append(f"`{generator}`{' with options changed from its defaults' if changed else ''} is "
                         f"{_tally(mine)}")
    flattered = sum(e.beyond_zero("val") > 0 and e.beyond_zero("test") <= 0 for e in scored)
    wider, narrower = (sum(e.beyond_zero("gap") == sign for e in scored) for sign in (1, -1))
    judged = sum(e.bounds.get("gap", (None, None))[0] is not None for e in scored)
    return ("**In words.** Change in test macro F1 @tuned against the no-synthetic control (95% intervals; "
            "above or below: the interval excludes 0): " + "; ".join(parts) + ". "
            f"{flattered} configuration{'s' if flattered != 1 else ''} looked better than the control on validation "
            f"and did not hold on test; the validation − test gap of {wider} was wider than the control's and of "
            f"{narrower} narrower (paired by seed, 95%; of {judged} with an interval, about {judged / 20:.1f} would be "
            f"by chance alone).")


def _answer(lines: list[str], curves: list[Curve], pictures: list[tuple[str, str]],
            effects: list[Effect]) -> list[str]:
    """The top of the leaderboard: the main experiment's answer in words, its figure, its effect-by-size table and
    its verdict in detail."""
    headers, rows = curve_table(curves)
    figure = [f"![{c}]({f})\n\n*{c}.*" for c, f in pictures if _is_answer_figure((c, f))]
    return ["## The answer", "",
            "Does a synthetic set help a classifier against the same classifier trained without it, and does it "
            "depend on how much real data there is? From the main experiment (the section with the most runs):", "",
            answer_paragraph(effects), "", *figure, *([""] if figure else []),
            "### Effect by real-data size", "", _curves_text(curves),
            tabulate(rows, headers, tablefmt="github", disable_numparse=True), "", "### In detail", "", *lines, ""]
