"""Leaderboard markdown from finished run folders only (pandas + tabulate).

One section per (dataset, split) fingerprint pair, so rows from different data or splits are never
mixed. Within a section, one row per configuration (everything but the seed), aggregated over
seeds as mean +- sample std. The same run folders always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.hpa import CLASS_NAMES
from bench.records import DONE
from bench.metrics import SELECTION_RULE

METRICS = {"f1_macro@0.5": "macro F1 @0.5", "f1_macro@tuned": "macro F1 @tuned",
           "f1_micro@tuned": "micro F1 @tuned", "map_macro": "macro mAP"}
NAMES = ["generator", "strategy", "classifier"]


def _fallback_group(config: dict) -> str:
    """Group key of records written before config.json carried one: the config without its seed."""
    rest = {k: v for k, v in config.items() if k not in ("seed", "run_id")}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]


def load_runs(runs_dir: Path) -> pd.DataFrame:
    """One row per finished run (a folder with `done`); unfinished folders are ignored."""
    rows = []
    for done in sorted(Path(runs_dir).glob(f"*/{DONE}")):
        folder = done.parent
        config = json.loads((folder / "config.json").read_text())
        record = json.loads((folder / "record.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        group = config.get("group") or _fallback_group(config)
        row = {"run": folder.name, "group": group, "seed": config["seed"],
               "dataset": config["dataset"]["name"], "dataset_fp": record["dataset"]["fingerprint"],
               "split": record["split"]["name"], "split_fp": record["split"]["fingerprint"],
               "data_shape": f"{record['dataset']['n_images']} images, {record['dataset']['resolution']} px",
               "epochs": config["train"]["epochs"], "wall_time_s": record["wall_time_s"],
               "absent_test": tuple(metrics.get("test", {}).get("absent_classes", ())),
               **{name: config[name]["name"] for name in NAMES}}
        for role in ("val", "test", "gap"):
            for key in METRICS:
                row[f"{role}:{key}"] = metrics.get(role, {}).get(key)
        scores = (record.get("synthetic") or {}).get("fidelity") or {}
        for key in ("fid", "kid", "cas_f1_macro@tuned", "inception_fid"):
            row[f"fidelity:{key}"] = scores.get(key)
        kaggle = json.loads((folder / "kaggle.json").read_text()) if (folder / "kaggle.json").exists() else {}
        row["kaggle:public"], row["kaggle:private"] = kaggle.get("public"), kaggle.get("private")
        row["gap:kaggle_private"] = (row["val:f1_macro@tuned"] - kaggle["private"]) if "private" in kaggle else None
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    if len(values) == 1:
        return f"{values.iloc[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def _aggregate(section: pd.DataFrame, columns: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    rows = []
    for (group, *names), runs in section.groupby(["group", *NAMES], sort=True):
        sort_key = runs.get("test:f1_macro@tuned", pd.Series(dtype=float)).dropna()
        if sort_key.empty:
            sort_key = runs["val:f1_macro@tuned"].dropna()
        score = sort_key.mean() if not sort_key.empty else float("-inf")
        cells = [*names, group, int(runs["epochs"].iloc[0]), len(runs)] + [_fmt(runs[c]) for c in columns]
        rows.append((-score, names, group, cells))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [*NAMES, "config", "epochs", "seeds", *columns.values()], [r[3] for r in rows]


def render_section(section: pd.DataFrame) -> str:
    first = section.iloc[0]
    has_test = section["test:f1_macro@tuned"].notna().any()
    main_cols = {f"val:{k}": f"val {v}" for k, v in METRICS.items() if k != "f1_micro@tuned"}
    if has_test:
        main_cols.update({f"test:{k}": f"test {v}" for k, v in METRICS.items()})
    has_kaggle = section["kaggle:private"].notna().any() or section["kaggle:public"].notna().any()
    if has_kaggle:
        main_cols.update({"kaggle:public": "Kaggle public", "kaggle:private": "Kaggle private"})
    headers, rows = _aggregate(section, main_cols)
    out = [f"## {first['dataset']} ({first['data_shape']}) · split `{first['split']}`", "",
           f"Dataset fingerprint `{first['dataset_fp'][:16]}`, split fingerprint `{first['split_fp'][:16]}`. "
           f"{len(section)} finished run{'s' if len(section) != 1 else ''}, "
           f"mean wall time {section['wall_time_s'].mean():.0f} s per run.", "",
           f"**Model selection:** {SELECTION_RULE}. Values are mean ± sample std over seeds; rows sorted by "
           f"{'test' if has_test else 'validation'} macro F1 @tuned.", "",
           "### Main table", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    if has_test or has_kaggle:
        gap_cols = {f"gap:{k}": f"gap {v}" for k, v in METRICS.items()} if has_test else {}
        if has_kaggle:
            gap_cols["gap:kaggle_private"] = "val @tuned − Kaggle private"
        headers, rows = _aggregate(section, gap_cols)
        out += ["### Validation − test gap", "",
                "Validation minus test for each metric (positive: validation overstates test). "
                "The @tuned thresholds are fitted on validation, so the @tuned gap includes that fitting's "
                "optimism; the @0.5 and mAP gaps do not.", "",
                tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    with_sets = section[section["fidelity:fid"].notna()]
    if not with_sets.empty:
        columns = {"fidelity:fid": "domain FID", "fidelity:kid": "domain KID",
                   "fidelity:cas_f1_macro@tuned": "CAS macro F1 @tuned", "fidelity:inception_fid": "Inception FID"}
        headers, rows = _aggregate(with_sets, columns)
        out += ["### Synthetic sets", "",
                "Fidelity of each configuration's synthetic set against the real train role, measured before "
                "any classifier used it: FID and KID on the penultimate features of the real-data reference "
                "classifier (torch-fidelity), CAS = macro F1 on the real test role of a classifier trained on "
                "the synthetic set alone.", "",
                tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    if has_test:
        absent = sorted({c for classes in section["absent_test"] for c in classes})
        if absent:
            names = ", ".join(f"{c} {CLASS_NAMES[c]}" for c in absent)
            out += [f"Classes with no positives in the test role (scored F1 = AP = 0, kept in every macro "
                    f"average): {names}.", ""]
    return "\n".join(out)


def render(frame: pd.DataFrame) -> str:
    header = ["# Leaderboard", "",
              "Generated by `bench leaderboard` from finished run folders (`runs/*/done`); do not edit by hand.",
              "All macro averages are over all 28 classes.", ""]
    if frame.empty:
        return "\n".join(header + ["No finished runs yet: run `bench run` first.", ""])
    sections = [render_section(section) for _, section in
                frame.groupby(["dataset", "dataset_fp", "split", "split_fp"], sort=True)]
    return "\n".join(header) + "\n" + "\n".join(sections)
