"""When two things are the same: every identity key the harness derives, named and defined once.

A key is the SHA-256 of a description written as JSON with sorted keys (`digest`). Each notion
below says what its description holds and how many hex digits its name shows:

| notion           | description                                                      | shown as                       |
|------------------|------------------------------------------------------------------|--------------------------------|
| run id           | the config's identity fields, dataset and split fingerprints     | run folder: first 16           |
| config hash      | the config's identity fields                                     | `record.json` config_hash: 64  |
| group            | the config's identity fields without the seed                    | `config.json` group: first 8   |
| set key          | generator options, synthetic section, dataset, split (, source)  | set folder `NAME-`first 16     |
| training key     | generator options but sampling-only ones, synthetic seed, data   | `.train/NAME-`first 16         |
| stage key        | the options of a stage and the stages before it, seed, data      | `.train/NAME-STAGE-`first 16   |
| fidelity setting | the fidelity section                                             | `fidelity-`first 8`.json`      |
| ladder tail      | the overrides given to both ends of a ladder                     | ladder name: first 8           |
| control key      | a recorded config without seed, method, synthetic and fidelity   | leaderboard pairing: first 16  |
| curve            | a recorded config without train size and epochs, with its budget | leaderboard curve: first 8     |

Run ids and config hashes (from version 0.1) hash compact JSON (no spaces); every later key the
default separators. Changing either would rename every recorded run and set, so
`tests/test_identity.py` pins one value of each notion.

Content fingerprints (the bytes of images and files: `bench.files.sha256`, dataset fingerprints)
say whether data is unchanged, not whether two settings are the same; they live with the data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

RUN_DIGITS = 16  # run folders, set folders, training folders, control keys
SHORT_DIGITS = 8  # groups, fidelity settings, ladder tails, curves


def digest(description: Any, *, compact: bool = False) -> str:
    """SHA-256 (64 hex digits) of `description` as JSON with sorted keys; `compact`: without spaces."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":") if compact else None)
    return hashlib.sha256(text.encode()).hexdigest()


def run_id(config_identity: dict, dataset_fp: str, split_fp: str) -> str:
    """A result's identity: its config, and the data and split it ran on (folder: the first RUN_DIGITS)."""
    return digest({"config": config_identity, "dataset": dataset_fp, "split": split_fp}, compact=True)


def config_hash(config_identity: dict) -> str:
    """The config alone (recorded in record.json beside the run id, which adds the data)."""
    return digest(config_identity, compact=True)


def group(config_identity: dict) -> str:
    """Runs that differ only by their seed share it."""
    return digest({k: v for k, v in config_identity.items() if k not in ("seed", "run_id")})


def short(key: str) -> str:
    return key[:SHORT_DIGITS]


def folder_name(prefix: str, key: str) -> str:
    """`prefix-` and the key's first RUN_DIGITS: the name of a set or a training folder."""
    return f"{prefix}-{key[:RUN_DIGITS]}"


def kept(f: dataclasses.Field, value: Any) -> bool:
    """Whether a field is part of an identity: not a runtime option, and not an option added after runs were
    recorded (`option(new=True)`) left at its default."""
    return not f.metadata.get("runtime") and not (f.metadata.get("new") and value == f.default)


def of_options(obj) -> dict:
    """A dataclass (a config section, a plugin's options) as the dict its identity is computed from."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if kept(f, getattr(obj, f.name))}


def of_recorded(config: dict, section_types: dict[str, type], runtime_sections: set[str]) -> dict:
    """A recorded config (`config.json`) reduced by the same rule as `of_options`, whether the record has the
    later options or predates them: runs of different harness versions with the same settings then match,
    as their run ids do."""
    out = {k: v for k, v in config.items() if k not in runtime_sections}
    for name, section_type in section_types.items():
        if isinstance(out.get(name), dict):
            fields = {f.name: f for f in dataclasses.fields(section_type)}
            out[name] = {k: v for k, v in out[name].items() if k not in fields or kept(fields[k], v)}
    return out
