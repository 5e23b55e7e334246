"""Identity keys (`bench.identity`) stay what recorded runs and sets were named by: every committed run folder's
id, group and config hash, and every committed set's key, are recomputed from what the folder records."""

from __future__ import annotations

import json
from pathlib import Path

from bench import config, identity
from bench.synthetic import sets

ROOT = Path(__file__).resolve().parents[1]
RUNS = sorted(p.parent for p in [*(ROOT / "tests" / "fixtures").rglob("config.json"),
                                 *(ROOT / "leaderboard").rglob("config.json")])
SETS = sorted(p.parent for p in (ROOT / "leaderboard" / "synthetic").glob("*/manifest.json"))


def test_there_are_recorded_runs_and_sets_to_check():
    assert len(RUNS) >= 100 and len(SETS) >= 10


def _run_keys_hold(folder: Path) -> bool:
    recorded = json.loads((folder / "config.json").read_text())
    record = json.loads((folder / "record.json").read_text())
    run_id, group = recorded.pop("run_id"), recorded.pop("group", None)
    cfg = config.resolve(recorded)
    key = identity.run_id(cfg.to_dict(identity_only=True), record["dataset"]["fingerprint"],
                          record["split"]["fingerprint"])
    return (key == run_id and key[:identity.RUN_DIGITS] == folder.name and cfg.hash() == record["config_hash"]
            and (group is None or identity.short(cfg.group_hash()) == group))


def _set_key_holds(folder: Path) -> bool:
    manifest = json.loads((folder / sets.MANIFEST).read_text())
    cfg = config.resolve({"generator": manifest["generator"], "synthetic": manifest["synthetic"]})
    key = sets.set_key(cfg, manifest["dataset_fingerprint"], manifest["split_fingerprint"])
    return key == manifest["key"] and identity.folder_name(cfg.generator.name, key) == folder.name


def test_recorded_runs_keep_their_ids_groups_and_config_hashes():
    assert [folder for folder in RUNS if not _run_keys_hold(folder)] == []


def test_recorded_sets_keep_their_keys():
    assert [folder for folder in SETS if not _set_key_holds(folder)] == []


def test_the_other_keys_are_pinned():
    """Keys no committed file records: their values before they moved into `bench.identity`."""
    cfg = config.build(overrides=("generator.name=real", "strategy.name=concat"))
    staged = config.build(overrides=("generator.name=latent", "strategy.name=concat"))
    data, split = "d" * 8, "s" * 8
    assert sets.training_folder(Path("r"), cfg, data, split).name == "real-e6d250b9937fcd22"
    assert sets.stage_folder(Path("r"), staged, "diffusion", data, split).name == "latent-diffusion-374a1926e93a2aa5"
    assert cfg.fidelity.key() == "c5fb3988"
    assert identity.short(identity.digest(["x=1", "y=2"])) == "0b3bc7d8"  # a ladder's tail


def test_digest_separators():
    assert identity.digest({"b": 1, "a": [1, 2]}) == identity.digest({"a": [1, 2], "b": 1})
    assert identity.digest({"a": 1}) != identity.digest({"a": 1}, compact=True)
