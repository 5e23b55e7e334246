"""A run folder on disk, read back: the one place that knows its files.

The filesystem is the database (as in DomainBed): a run lives in `runs/<first 16 hex of its id>/`,
every file is written to a temporary name and renamed (`bench.files`), and `done` is written last.
A folder without `done` is never read as a result.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from bench import config
from bench.api import Classifier
from bench.errors import BenchError

DONE = "done"


def is_finished(folder: Path) -> bool:
    return (Path(folder) / DONE).exists()


def read_json(folder: Path, name: str) -> dict:
    """One JSON file of a run folder (config.json, metrics.json, record.json, ...)."""
    return json.loads((Path(folder) / name).read_text())


def find_run(run: str, runs_dir: Path) -> Path:
    """A finished run folder, given its path or a prefix of its id."""
    folder = Path(run)
    if not folder.is_dir():
        matches = sorted(p for p in Path(runs_dir).glob(f"{run}*") if p.is_dir()) if run else []
        if len(matches) != 1:
            raise BenchError(f"run {run!r}: {'no' if not matches else 'several'} run folders match in {runs_dir}; "
                             f"`ls {runs_dir}` lists the runs (`bench leaderboard` names each run's folder)")
        folder = matches[0]
    if not is_finished(folder):
        raise BenchError(f"run {folder} is not finished (no done marker)")
    return folder


def load_classifier(run_dir: Path, device: torch.device | str = "cpu") -> Classifier:
    """A finished run's selected classifier, rebuilt from its config.json and model.pt, in eval mode."""
    recorded = read_json(run_dir, "config.json")["classifier"]
    model = config.choice("classifier", recorded["name"], {k: v for k, v in recorded.items() if k != "name"}).create()
    model.load_state_dict(torch.load(Path(run_dir) / "model.pt", map_location="cpu", weights_only=True))
    return model.to(device).eval()
