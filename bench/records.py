"""A run folder on disk, read back: the one place that knows its files.

The filesystem is the database (as in DomainBed): a run lives in `runs/<first 16 hex of its id>/`,
every file is written to a temporary name and renamed (`bench.files`), and `done` is written last,
holding the SHA-256 of every file of the folder. A folder without `done` is never read as a result;
a file that does not match its digest in `done` (or, in a folder finished before digests were kept,
does not parse into what a run writes) is damaged: `DamagedRun` says which and what to do.
"""

from __future__ import annotations

import dataclasses
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


def _facts(cls: type, data: dict | None):
    """`data` as `cls`: its known keys (a record from before a key existed gets the field's default)."""
    if data is None:
        return None
    return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclasses.dataclass(frozen=True)
class DatasetFacts:
    """What a run records of its dataset (record.json `dataset`)."""

    name: str
    fingerprint: str
    n_images: int
    resolution: int
    skipped_images: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class SplitFacts:
    """What a run records of its split (record.json `split`); `protocol_fingerprint` names a shipped protocol's
    split whatever train subset a run kept."""

    name: str
    fingerprint: str
    counts: dict
    protocol_fingerprint: str | None = None
    train_fraction: float = 1.0

    @property
    def section_fingerprint(self) -> str:
        """The fingerprint runs are grouped by: the protocol's where there is one, so nested train subsets of one
        split share a section."""
        return self.protocol_fingerprint or self.fingerprint


@dataclasses.dataclass(frozen=True)
class SetFacts:
    """What a run records of its synthetic set (record.json `synthetic`)."""

    n_images: int
    fingerprint: str
    fidelity: dict | None = None
    folder: str | None = None  # the set folder's name (records from before it was kept: None)


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A finished run folder, read and checked once, as typed fields: what every reader of results uses instead
    of the JSON files' keys (`execute` writes record.json's dataset, split and synthetic parts from the same
    types). `config` is config.json as recorded (older harness versions included); `metrics` is metrics.json."""

    folder: Path
    run_id: str
    config: dict
    metrics: dict
    dataset: DatasetFacts
    split: SplitFacts
    synthetic: SetFacts | None
    environment: dict
    wall_time_s: float
    purpose: str = ""
    name: str = ""
    plugins: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> RunRecord:
        """The checked run folder (`verify`); raises DamagedRun."""
        found = verify(folder)
        record = found["record"]
        try:
            return cls(Path(folder), record["run_id"], found["config"], found["metrics"],
                       _facts(DatasetFacts, record["dataset"]), _facts(SplitFacts, record["split"]),
                       _facts(SetFacts, record.get("synthetic")), record["environment"], record.get("wall_time_s", 0.0),
                       record.get("purpose") or "", record.get("name") or "", record.get("plugins") or {})
        except (KeyError, TypeError) as exc:
            raise DamagedRun(folder, "record.json", f"lacks {exc} or holds it in another form") from None

    @property
    def seed(self) -> int:
        return self.config["seed"]

    def score(self, role: str, metric: str) -> float | None:
        """A metric of a role ("val", "test", "gap"), None where the run has none."""
        return (self.metrics.get(role) or {}).get(metric)

    @property
    def selection(self) -> str | None:
        """The rule that chose the run's epoch and thresholds, as recorded (None for runs from before it was)."""
        return self.metrics.get("selection")

    @property
    def absent_test_classes(self) -> tuple[int, ...]:
        """Classes with no positive in the test role (scored 0 in every macro average)."""
        return tuple((self.metrics.get("test") or {}).get("absent_classes", ()))

    @property
    def oracle(self) -> dict:
        """The oracle selection rule's scores (metrics.json `oracle`), {} where the run has none."""
        return self.metrics.get("oracle") or {}


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
