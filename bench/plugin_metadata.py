"""What `bench list`, `bench options` and shell completion show about a plugin, without importing it.

Importing a plugin imports torch (seconds on a CPU); a listing needs only each plugin's description,
its options and whether it loads. Those are kept in one JSON file per Python environment, each entry
stamped with what it was read from: the plugin's top-level package and `bench` itself (every `.py`
file's size and modification time), the site-packages folders and the versions. An entry
whose stamp no longer matches is read again by importing its plugin, once. The file lives in the
user cache (`$BENCH_CACHE_DIR`, else `~/.cache/synthloc-bench`); a folder that cannot be written only
costs speed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from bench.files import cache_dir, write_json

FORMAT = 1


@dataclass(frozen=True)
class PluginSummary:
    """A plugin as listings show it: description, options (as `bench.options.describe_fields` gives them, defaults
    as text) and the error that keeps it from loading, if any."""

    kind: str
    name: str
    distribution: str
    target: str
    description: str
    options: tuple[dict, ...]
    error: str | None


def cache_file() -> Path:
    """One file per Python environment (installed plugins differ between environments)."""
    return cache_dir() / f"plugins-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]}.json"


def default_text(value) -> str:
    """An option's default as `bench options` prints it (true/false/none for Python's True/False/None)."""
    if value is None or isinstance(value, bool):
        return {True: "true", False: "false", None: "none"}[value]
    return str(value)


def _files_stamp(roots: list[Path]) -> list:
    found = []
    for root in roots:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            found.append([str(f), st.st_mtime_ns, st.st_size])
    return found


@cache
def _package_digest(top: str) -> str:
    """The fingerprint of a top-level package's `.py` files (found, not imported): once per package and process,
    however many plugins it holds."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        roots = []
    elif spec.submodule_search_locations:  # a package: every file under it
        roots = [Path(p) for p in spec.submodule_search_locations]
    else:  # a single module
        roots = [Path(spec.origin)] if spec.origin else []
    return hashlib.sha256(json.dumps(_files_stamp(roots)).encode()).hexdigest()


@cache
def _environment_digest() -> str:
    """The fingerprint of what every plugin's summary depends on: versions, `bench`'s files, the install folders."""
    from bench.version import __version__
    folders = []  # where distributions are installed: an install or uninstall changes the folder's time
    for entry in sys.path:
        if entry and Path(entry).name in ("site-packages", "dist-packages"):
            try:
                folders.append([entry, Path(entry).stat().st_mtime_ns])
            except OSError:
                continue
    parts = [FORMAT, __version__, sys.version, folders, _package_digest("bench")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def stamp(target: str, distribution: str) -> str:
    """The fingerprint of everything a plugin's summary is read from."""
    top = target.split(":")[0].split(".")[0]
    parts = [target, distribution, _environment_digest(), _package_digest(top)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _read() -> dict:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


def _write(entries: dict) -> None:
    try:
        write_json(cache_file(), {"format": FORMAT, "entries": entries})
    except OSError:
        pass  # a read-only home: every listing imports its plugins, nothing else changes


def summarise(info) -> PluginSummary:
    """A loaded `registry.PluginInfo` as a summary (imports nothing beyond what loading it did)."""
    import dataclasses

    from bench.options import describe_fields
    options_class = getattr(info.plugin, "Options", None)
    rows = []
    if info.plugin is not None and options_class is not None and dataclasses.is_dataclass(options_class):
        rows = [{**o, "default": default_text(o["default"])} for o in describe_fields(options_class)]
    return PluginSummary(info.kind, info.name, info.distribution, info.target, info.description, tuple(rows),
                         info.error)


def summaries(infos_to_load: list, load) -> list[PluginSummary]:
    """Summaries of `(kind, name, distribution, target, entry)` plugins: cached where the stamp matches, else
    `load(entry)` (a `registry.PluginInfo`), summarised, and cached."""
    cached = _read().get("entries", {})
    out, changed = [], False
    for kind, name, distribution, target, entry in infos_to_load:
        key = f"{kind}:{name}:{target}"
        mark = stamp(target, distribution)
        hit = cached.get(key)
        if hit is not None and hit.get("stamp") == mark:
            summary = PluginSummary(**{**hit["summary"], "options": tuple(hit["summary"]["options"])})
        else:
            summary = summarise(load(entry))
            cached[key] = {"stamp": mark, "summary": {**asdict(summary), "options": list(summary.options)}}
            changed = True
        out.append(summary)
    if changed:
        _write(cached)
    return out
