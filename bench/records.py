"""A run folder on disk, read back: the one place that knows its files.

The filesystem is the database (as in DomainBed): a run lives in `runs/<first 16 hex of its id>/`,
every file is written to a temporary name and renamed (`bench.files`), and `done` is written last,
holding the SHA-256 of every file of the folder. A folder without `done` is never read as a result;
a file that does not match its digest in `done` (or, in a folder finished before digests were kept,
does not parse into what a run writes) is damaged: `DamagedRun` says which and what to do.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError
from bench.files import TEMPORARY, sha256, write_json

DONE = "done"
RECORDS = ("config.json", "metrics.json", "record.json")  # what every reader of a finished run needs
_REQUIRED = {"config.json": ("dataset", "generator", "strategy", "classifier", "train", "seed"),
             "metrics.json": ("val", "history"), "record.json": ("run_id", "dataset", "split", "environment")}


class DamagedRun(BenchError):
    """A finished run folder with a missing, truncated or altered file."""

    def __init__(self, folder: Path, name: str, problem: str):
        self.folder, self.name, self.problem = Path(folder), name, problem
        super().__init__(f"run folder {folder} is damaged ({name}: {problem})")


def is_finished(folder: Path) -> bool:
    return (Path(folder) / DONE).exists()


def finish(folder: Path) -> None:
    """Mark a run folder finished (written last): the time and the SHA-256 of each of its files."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != DONE and not p.match(TEMPORARY))
    write_json(folder / DONE, {"finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "sha256": {p.name: sha256(p) for p in files}})


def digests(folder: Path) -> dict[str, str]:
    """The digests `done` lists ({} for a folder finished before digests were kept)."""
    try:
        marker = json.loads((Path(folder) / DONE).read_text())
    except (OSError, ValueError):  # an older plain-text marker
        return {}
    return marker.get("sha256", {}) if isinstance(marker, dict) else {}


def check_file(folder: Path, name: str, listed: dict[str, str] | None = None) -> None:
    """Raise DamagedRun when `name` is missing or does not match its digest in `done`."""
    path = Path(folder) / name
    if not path.is_file():
        raise DamagedRun(folder, name, "missing")
    listed = digests(folder) if listed is None else listed
    if name in listed and sha256(path) != listed[name]:
        raise DamagedRun(folder, name, "its bytes do not match the SHA-256 recorded in done")


def read_json(folder: Path, name: str, listed: dict[str, str] | None = None) -> dict:
    """One JSON file of a finished run folder (config.json, metrics.json, record.json, ...), checked first."""
    check_file(folder, name, listed)
    try:
        data = json.loads((Path(folder) / name).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DamagedRun(folder, name, f"not valid JSON ({type(exc).__name__}: truncated or altered)") from None
    missing = [key for key in _REQUIRED.get(name, ()) if not isinstance(data, dict) or key not in data]
    if missing:
        raise DamagedRun(folder, name, f"lacks {', '.join(missing)}")
    return data


def verify(folder: Path) -> dict[str, dict]:
    """Every file of a finished run that `done` lists and that is present (an archived copy keeps no weights),
    checked; returns its config, metrics and record. Raises DamagedRun."""
    listed = digests(folder)
    for name in listed:
        if name not in RECORDS and (Path(folder) / name).exists():  # the records: checked as they are read below
            check_file(folder, name, listed)
    return {name.removesuffix(".json"): read_json(folder, name, listed) for name in RECORDS}


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


def load_classifier(run_dir: Path, device="cpu"):
    """A finished run's selected classifier, rebuilt from its config.json and model.pt, in eval mode."""
    import torch  # reading records needs no torch

    from bench import config

    check_file(run_dir, "model.pt")
    recorded = read_json(run_dir, "config.json")["classifier"]
    model = config.choice("classifier", recorded["name"], {k: v for k, v in recorded.items() if k != "name"}).create()
    model.load_state_dict(torch.load(Path(run_dir) / "model.pt", map_location="cpu", weights_only=True))
    return model.to(device).eval()
