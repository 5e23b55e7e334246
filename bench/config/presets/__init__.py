"""Named presets: YAML config layers shipped with the package (`--preset NAME`, `bench presets`).

`paper/<notebook>` reproduces one notebook of Lin & Cao 2025 with each of its known quirks as an
explicit option, and a `reported:` section with what that notebook logged (shown in the
leaderboard, never used by a run); `controlled` gives every model the same schedule, epochs, init
and selection.
A preset sits between the defaults and the user's config file, flags and overrides.
"""

from __future__ import annotations

import difflib
from importlib import resources

import yaml

from bench.errors import BenchError

NOT_CONFIG = ("description", "reported")  # a preset's text about itself, not config keys


def _files() -> dict[str, str]:
    """Preset name -> YAML text."""
    root = resources.files(__name__)
    out = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            out[entry.name[:-5]] = entry.read_text(encoding="utf-8")
        elif entry.is_dir() and not entry.name.startswith("__"):
            for sub in sorted(entry.iterdir(), key=lambda e: e.name):
                if sub.name.endswith(".yaml"):
                    out[f"{entry.name}/{sub.name[:-5]}"] = sub.read_text(encoding="utf-8")
    return out


def available() -> dict[str, str]:
    """Preset name -> its one-line description."""
    return {name: yaml.safe_load(text).get("description", "") for name, text in _files().items()}


def load(name: str) -> dict:
    """The preset's config layer (without its description)."""
    files = _files()
    if name not in files:
        close = difflib.get_close_matches(name, list(files), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BenchError(f"unknown preset {name!r}{hint}; `bench presets` lists them: {', '.join(files)}")
    layer = yaml.safe_load(files[name])
    for key in NOT_CONFIG:
        layer.pop(key, None)
    return layer


def reported() -> dict[str, dict]:
    """Preset name -> the numbers the paper logged for it (its `reported:` section), for presets that have one."""
    return {name: layer["reported"] for name, text in _files().items() if "reported" in (layer := yaml.safe_load(text))}
