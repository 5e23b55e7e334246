"""The leaderboard's ladders (`bench ladder FROM TO`): one table per ladder, one row per rung, with each
rung's paired effect against FROM and the rung that explains most of the validation-to-test drop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.evaluate.metrics import F1_TUNED
from bench.report.intervals import fmt, t_interval


def load(runs_dir: Path) -> list[dict]:
    out = []
    for path in sorted((Path(runs_dir) / "ladders").glob("*.json")):
        try:
            out.append({"name": path.stem, **json.loads(path.read_text())})
        except (OSError, ValueError):
            continue
    return out


def _scores(frame: pd.DataFrame, runs: dict, key: str) -> pd.Series:
    """A rung's metric by seed, from the finished runs among its run ids."""
    by_id = frame.set_index("run")
    return pd.Series({int(seed): by_id.loc[rid, key] for seed, rid in runs.items() if rid in by_id.index},
                     dtype=float).dropna()


def render_one(ladder: dict, frame: pd.DataFrame) -> list[str]:
    first = ladder["rungs"][0]
    base = {role: _scores(frame, first["runs"], f"{role}:{F1_TUNED}") for role in ("val", "test", "gap")}
    rows, gap_moves = [], {}
    for rung in ladder["rungs"]:
        scores = {role: _scores(frame, rung["runs"], f"{role}:{F1_TUNED}") for role in ("val", "test", "gap")}
        cells = [rung["name"], len(scores["val"]), fmt(scores["val"]), fmt(scores["test"]), fmt(scores["gap"])]
        for role in ("val", "test", "gap"):
            seeds = sorted(set(scores[role].index) & set(base[role].index))
            diff = scores[role][seeds] - base[role][seeds]
            cells += [f"{diff.mean():+.3f} {t_interval(diff)}" if len(diff) and rung is not first else "—"]
            if role == "gap" and len(diff) and rung["name"] not in ("FROM", "TO"):
                gap_moves[rung["name"]] = diff.mean()
        rows.append(cells)
    headers = ["rung", "seeds", "val macro F1 @tuned", "test macro F1 @tuned", "gap (val − test)",
               "Δ val vs FROM (95% t)", "Δ test vs FROM (95% t)", "Δ gap vs FROM (95% t)"]
    out = [f"### Ladder `{ladder['from']}` → `{ladder['to']}`", "",
           "Each rung is FROM with one group of settings switched to TO's values alone (its changes: "
           f"`runs/ladders/{ladder['name']}.json`); effects are paired by seed against FROM, with a Student-t "
           "interval over seeds.", "", *(f"*{note}.*" for note in ladder.get("notes", [])), "",
           tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    finished = {r["name"] for r in ladder["rungs"] if len(_scores(frame, r["runs"], f"val:{F1_TUNED}"))}
    if gap_moves and {"FROM", "TO"} <= finished:
        total = float(np.mean(_scores(frame, ladder["rungs"][-1]["runs"], f"gap:{F1_TUNED}"))) - \
            float(np.mean(base["gap"]))
        name = min(gap_moves, key=gap_moves.get) if total <= 0 else max(gap_moves, key=gap_moves.get)
        out += [f"**Verdict:** from FROM to TO the validation − test gap of macro F1 @tuned changes by {total:+.3f}; "
                f"the rung that moves it most in that direction on its own is `{name}` ({gap_moves[name]:+.3f}).",
                ""]
    else:
        out += ["*Verdict pending: FROM, TO and the rungs need finished runs.*", ""]
    return out


def summary_lines(frame: pd.DataFrame, runs_dir: Path | None) -> list[str]:
    """One bullet per ladder with a verdict: its line from the ladder's section below."""
    out = []
    for ladder in (load(runs_dir) if runs_dir is not None and not frame.empty else []):
        verdict = [line for line in render_one(ladder, frame) if line.startswith("**Verdict:**")]
        if verdict:
            out.append(f"- **Ladder `{ladder['from']}` → `{ladder['to']}`**: "
                       + verdict[0].removeprefix("**Verdict:** "))
    return out


def render(frame: pd.DataFrame, runs_dir: Path | None) -> str:
    ladders = load(runs_dir) if runs_dir is not None else []
    if not ladders or frame.empty:
        return ""
    out = ["## Ladders", ""]
    for ladder in ladders:
        out += render_one(ladder, frame)
    return "\n".join(out) + "\n"
