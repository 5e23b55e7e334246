"""The leaderboard's ladders (`bench ladder FROM TO`): one table per ladder, one row per rung, with each
rung's paired effect against FROM and the rung that explains most of the validation-to-test drop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.evaluate.metrics import F1_TUNED
from bench.report.intervals import beyond_zero, fmt, fmt_bounds, t_bounds
from bench.report.paired import PairedTest


def load(runs_dir: Path) -> list[dict]:
    out = []
    for path in sorted((Path(runs_dir) / "ladders").glob("*.json")):
        try:
            out.append({"name": path.stem, **json.loads(path.read_text())})
        except (OSError, ValueError, TypeError) as exc:  # said, and left out
            print(f"leaderboard: ladder manifest {path} skipped: damaged ({type(exc).__name__}); `bench ladder` with "
                  f"the same arguments writes it again", file=sys.stderr)
    return out


def _scores(frame: pd.DataFrame, runs: dict, key: str) -> pd.Series:
    """A rung's metric by seed, from the finished runs among its run ids."""
    by_id = frame.set_index("run")
    return pd.Series({int(seed): by_id.loc[rid, key] for seed, rid in runs.items() if rid in by_id.index},
                     dtype=float).dropna()


def _shown(bounds: tuple) -> str:
    return fmt_bounds(bounds) if bounds[0] is not None else "no interval (1 seed)"


def render_one(ladder: dict, frame: pd.DataFrame, runs_dir: Path | None = None) -> list[str]:
    first = ladder["rungs"][0]
    base = {role: _scores(frame, first["runs"], f"{role}:{F1_TUNED}") for role in ("val", "test", "gap")}
    paired = PairedTest(runs_dir)
    rows, start = [], _from_config(first, runs_dir)
    for rung in ladder["rungs"]:
        scores = {role: _scores(frame, rung["runs"], f"{role}:{F1_TUNED}") for role in ("val", "test", "gap")}
        change = "every rung's change together" if rung["name"] == "TO" else _changes(rung.get("changes", {}), start)
        cells = [rung["name"], change, len(scores["val"]), fmt(scores["val"]),
                 fmt(scores["test"]), fmt(scores["gap"])]
        for role in ("val", "test", "gap"):
            seeds = sorted(set(scores[role].index) & set(base[role].index))
            diff = scores[role][seeds] - base[role][seeds]
            if rung is first or not len(diff):
                cells.append("—")
                continue
            seeded = paired.bounds([rung["runs"][str(s)] for s in seeds],
                                   [first["runs"][str(s)] for s in seeds]) if role == "test" else None
            cells.append(f"{diff.mean():+.3f} {_shown(seeded or t_bounds(diff))}")
        rows.append(cells)
    headers = ["rung", "FROM → TO", "seeds", "val macro F1 @tuned", "test macro F1 @tuned", "gap (val − test)",
               "Δ val vs FROM (95%)", "Δ test vs FROM (95%)", "Δ gap vs FROM (95%)"]
    out = [f"### Ladder `{ladder['from']}` → `{ladder['to']}`", "",
           "Each rung is FROM with one group of settings switched to TO's values alone (its changes: "
           f"`runs/ladders/{ladder['name']}.json`); effects are paired by seed against FROM. Intervals: on "
           "validation and on the gap, a Student-t interval over seeds; on test, where the runs' predictions "
           "are saved, over seeds and test images (as in the effect tables).", "",
           *(f"*{note}.*" for note in ladder.get("notes", [])), "",
           tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    return out + [verdict(ladder, frame), ""]


def _from_config(first: dict, runs_dir: Path | None) -> dict:
    """The config of one of FROM's runs (its values are every rung's starting point), or {} where none is found."""
    for rid in first["runs"].values():
        path = Path(runs_dir or ".") / rid / "config.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return {}


def _changes(changes: dict, start: dict) -> str:
    """A rung's settings as FROM's value → TO's (`train.lr 0.0001 → 0.001`); FROM's value is `?` where unknown."""
    def value(dotted: str):
        node = start
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return "?"
            node = node[part]
        return node

    return "; ".join(f"`{key}` {value(key)} → {new}" for key, new in sorted(changes.items())) or "—"


def _gap_moves(ladder: dict, frame: pd.DataFrame) -> dict[str, tuple[float, tuple]]:
    """Each rung's paired change of the validation − test gap against FROM: (mean, t-interval over seeds)."""
    key = f"gap:{F1_TUNED}"
    base = _scores(frame, ladder["rungs"][0]["runs"], key)
    out = {}
    for rung in ladder["rungs"][1:]:
        scores = _scores(frame, rung["runs"], key)
        seeds = sorted(set(scores.index) & set(base.index))
        if seeds:
            diff = scores[seeds] - base[seeds]
            out[rung["name"]] = (diff.mean(), t_bounds(diff))
    return out


def _strength(bounds: tuple, subject: str = "its interval") -> str:
    if bounds[0] is None:
        return "no interval: one seed cannot tell it from seed noise"
    if beyond_zero(bounds):
        return f"{subject} excludes 0"
    return f"{subject} includes 0, so with these seeds it is not told apart from seed noise"


def verdict(ladder: dict, frame: pd.DataFrame) -> str:
    """How much the validation − test gap moves from FROM to TO (with its interval), which rung alone moves it
    most that way (with its interval), and every rung whose own interval excludes 0, either way."""
    first, last = ladder["rungs"][0], ladder["rungs"][-1]
    gap_moves = _gap_moves(ladder, frame)
    if last["name"] != "TO" or "TO" not in gap_moves or first["name"] != "FROM":
        return "*Verdict pending: FROM, TO and the rungs need finished runs.*"
    total, total_interval = gap_moves.pop("TO")
    if not gap_moves:
        return "*Verdict pending: no single rung has finished runs yet.*"
    out = (f"**Verdict:** from `{ladder['from']}` (FROM) to `{ladder['to']}` (TO) the validation − test gap of "
           f"macro F1 @tuned changes by {total:+.3f} "
           f"{_shown(total_interval)} ({_strength(total_interval, 'the interval')}); ")
    name = (min if total <= 0 else max)(gap_moves, key=lambda k: gap_moves[k][0])
    move, interval = gap_moves[name]
    if move * total <= 0:
        together = " (the change comes from rungs together)" if beyond_zero(total_interval) else ""
        out += f"no rung on its own moves it that way{together}."
    else:
        out += (f"the rung that moves it most in that direction on its own is `{name}` "
                f"({move:+.3f} {_shown(interval)}; {_strength(interval)}).")
    clear = [f"`{k}` {m:+.3f} {_shown(i)}" for k, (m, i) in sorted(gap_moves.items(), key=lambda kv: kv[1][0])
             if beyond_zero(i)]
    return out + (f" Rungs whose own gap change excludes 0: {', '.join(clear)}." if clear
                  else " No rung's own gap change excludes 0.")


def summary_lines(frame: pd.DataFrame, runs_dir: Path | None) -> list[str]:
    """One bullet per ladder with a verdict: its line from the ladder's section below."""
    out = []
    for ladder in (load(runs_dir) if runs_dir is not None and not frame.empty else []):
        line = verdict(ladder, frame)
        if line.startswith("**Verdict:**"):
            out.append(f"- **Ladder `{ladder['from']}` → `{ladder['to']}`**: " + line.removeprefix("**Verdict:** "))
    return out


def render(frame: pd.DataFrame, runs_dir: Path | None) -> str:
    ladders = load(runs_dir) if runs_dir is not None else []
    if not ladders or frame.empty:
        return ""
    out = ["## Ladders", ""]
    for ladder in ladders:
        out += render_one(ladder, frame, runs_dir)
    return "\n".join(out) + "\n"
