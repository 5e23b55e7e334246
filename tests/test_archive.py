"""`bench archive`: slim, committable copies of finished runs and sets, from which the leaderboard is regenerated
byte for byte; and the committed leaderboard itself, regenerated from its committed folders."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, bench_cli, folders


def _board(runs, sets, out):
    result = bench_cli("leaderboard", "--runs-dir", str(runs), "--synthetic-dir", str(sets), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return {p.name: p.read_bytes() for p in out.parent.iterdir()}


def test_an_archive_regenerates_the_same_leaderboard_and_holds_no_weights(fixture_runs, fixture_sets, tmp_path):
    runs = folders(fixture_runs)
    (runs[0] / "model.pt").write_bytes(b"weights")  # never archived
    (runs[0] / "kaggle.json").write_text('{"private": 0.4}')  # tabled
    (fixture_runs / "ladders").mkdir()
    (fixture_runs / "ladders" / "a-to-b.json").write_text(json.dumps(
        {"from": "a", "to": "b", "rungs": [{"name": "FROM", "runs": {"0": runs[0].name}}]}))
    result = bench_cli("archive", "--runs-dir", str(fixture_runs), "--synthetic-dir", str(fixture_sets),
                       "--to", str(tmp_path / "archive"))
    assert result.returncode == 0, result.stderr
    assert f"archived {len(runs)} new runs" in result.stdout
    archived = tmp_path / "archive"
    assert not list(archived.rglob("model.pt")) and not list(archived.rglob("*.npy"))
    assert [p.name for p in folders(archived / "runs")] == [p.name for p in folders(fixture_runs)]  # + ladders
    assert (archived / "runs" / "ladders" / "a-to-b.json").is_file()
    original = _board(fixture_runs, fixture_sets, tmp_path / "a" / "README.md")
    assert "Kaggle private" in original["README.md"].decode() and "## Ladders" in original["README.md"].decode()
    assert _board(archived / "runs", archived / "synthetic", tmp_path / "b" / "README.md") == original
    again = bench_cli("archive", "--runs-dir", str(fixture_runs), "--synthetic-dir", str(fixture_sets),
                      "--to", str(archived))
    assert again.returncode == 0 and "archived 0 new runs" in again.stdout  # nothing rewritten


@pytest.mark.slow
def test_the_committed_leaderboard_is_regenerated_from_its_folders_byte_for_byte(tmp_path):
    committed = REPO / "leaderboard"
    fresh = _board(committed / "runs", committed / "synthetic", tmp_path / "board" / "README.md")
    for name, content in fresh.items():
        assert (committed / name).read_bytes() == content, f"leaderboard/{name} differs from a regeneration"


def _real_set(root, measured=True):
    """A small `real` set built for real (images.npy, manifest) with a stand-in fidelity file (the archive copies
    measured sets, or sets asked for with their images, and reads nothing of that file)."""
    import torch

    from bench import config
    from bench.data.splits import make_split
    from bench.datasets.synthetic_cells import SyntheticCells
    from bench.synthetic.sets import obtain

    data = SyntheticCells(SyntheticCells.Options(n_images=120, resolution=32)).load()
    split = make_split(data.ids, data.labels, config.SplitConfig())
    cfg = config.build(overrides=("generator.name=real",))

    def build(said):
        return obtain(cfg, data.subset(split.indices("train")), data.fingerprint, split.fingerprint, root,
                      torch.device("cpu"), said.append)

    built = build([])
    folder = folders(root)[0]
    if measured:
        (folder / "fidelity-00000000.json").write_text("{}")
    return folder, built, build


def test_a_set_archived_with_its_images_is_used_as_built_once_copied_back(tmp_path):
    import shutil

    import numpy as np

    from bench.runs.archive import SET_IMAGES
    from bench.synthetic.sets import ARCHIVED_IMAGES

    assert SET_IMAGES == ARCHIVED_IMAGES
    folder, built, build = _real_set(tmp_path / "synthetic")
    (tmp_path / "runs").mkdir()
    result = bench_cli("archive", "--runs-dir", str(tmp_path / "runs"), "--synthetic-dir", str(tmp_path / "synthetic"),
                       "--to", str(tmp_path / "archive"), "--images", "real-*")
    assert result.returncode == 0, result.stderr
    archived = tmp_path / "archive" / "synthetic" / folder.name
    assert (archived / "images.npz").is_file() and not (archived / "images.npy").exists()
    shutil.rmtree(tmp_path / "synthetic")  # a new checkout: the set is gone, its archived copy is committed
    shutil.copytree(archived, folder)
    said = []
    again = build(said)
    assert any("reusing synthetic set" in line for line in said), said  # nothing trained or sampled again
    assert again.fingerprint == built.fingerprint
    assert np.array_equal(np.asarray(again.take(np.arange(len(again)))), np.asarray(built.take(np.arange(len(built)))))


def test_a_damaged_archived_image_file_is_one_line_not_a_set(tmp_path):
    import shutil

    from bench.errors import BenchError

    folder, _, build = _real_set(tmp_path / "synthetic")
    bench_cli("archive", "--runs-dir", str(tmp_path), "--synthetic-dir", str(tmp_path / "synthetic"),
              "--to", str(tmp_path / "archive"), "--images", "real-*")
    archived = tmp_path / "archive" / "synthetic" / folder.name
    (archived / "images.npz").write_bytes((archived / "images.npz").read_bytes()[:100])
    shutil.rmtree(folder)
    shutil.copytree(archived, folder)
    with pytest.raises(BenchError, match=r"is damaged \(images.npz: .*copy it again from the archive"):
        build([])


def test_other_images_under_an_archived_name_are_said_and_never_merged(fixture_runs, fixture_sets, tmp_path):
    archived = tmp_path / "archive"
    args = ("archive", "--runs-dir", str(fixture_runs), "--synthetic-dir", str(fixture_sets), "--to", str(archived))
    assert bench_cli(*args).returncode == 0
    run = next(p for p in folders(archived / "runs") if "fingerprint" in (_record(p).get("synthetic") or {}))
    record = _record(run)
    record["synthetic"]["fingerprint"] = "0" * 64  # the archived run trained on another build of its set
    (run / "record.json").write_text(json.dumps(record))
    set_folder = folders(archived / "synthetic")[0]
    manifest = json.loads((set_folder / "manifest.json").read_text())
    manifest["images_sha256"] = "0" * 64
    (set_folder / "manifest.json").write_text(json.dumps(manifest))
    before = {p: p.read_bytes() for p in archived.rglob("*") if p.is_file()}
    (fixture_sets / set_folder.name / "fidelity-ffffffff.json").write_text("{}")  # would otherwise join
    result = bench_cli(*args)
    assert result.returncode == 2
    assert f"skipped run {fixture_runs / run.name}: {run} has the same run id but trained with other" in result.stderr
    said = f"skipped set {fixture_sets / set_folder.name}: {set_folder} has the same key but other images"
    assert said in result.stderr
    assert "1 runs and 1 sets were not archived" in result.stderr
    assert {p: p.read_bytes() for p in archived.rglob("*") if p.is_file()} == before


def _record(run):
    return json.loads((run / "record.json").read_text())


def test_a_set_not_yet_measured_is_archived_only_when_its_images_are_asked_for(tmp_path):
    folder, _, _ = _real_set(tmp_path / "synthetic", measured=False)
    args = ("archive", "--runs-dir", str(tmp_path), "--synthetic-dir", str(tmp_path / "synthetic"))
    assert bench_cli(*args, "--to", str(tmp_path / "a")).returncode == 0
    assert not (tmp_path / "a" / "synthetic").exists()
    assert bench_cli(*args, "--to", str(tmp_path / "b"), "--images", "latent-*", "--images", "real-*").returncode == 0
    archived = tmp_path / "b" / "synthetic" / folder.name
    assert {p.name for p in archived.iterdir()} == {"images.npz", "labels.csv", "grid.png", "manifest.json"}


def test_a_set_measured_by_another_training_of_the_reference_joins_its_archived_copy(fixture_runs, fixture_sets,
                                                                                       tmp_path):
    from bench.evaluate.metrics import F1_TUNED
    from bench.runs.archive import REFERENCE_SCORE

    assert REFERENCE_SCORE == f"reference_val_{F1_TUNED}"  # the key `_reference_tag` reads, spelled as records write it
    archived = tmp_path / "archive"
    args = ("archive", "--runs-dir", str(fixture_runs), "--synthetic-dir", str(fixture_sets), "--to", str(archived))
    assert bench_cli(*args).returncode == 0
    (measured,) = sorted(fixture_sets.glob("*/fidelity-*.json"))[:1]
    first = measured.read_bytes()
    scores = json.loads(first)  # the same set measured again, with the same settings, by a reference trained anew
    scores.update({"reference_weights": "bbb12db933152e82", REFERENCE_SCORE: 0.654321})
    measured.write_text(json.dumps(scores))
    result = bench_cli(*args)
    assert result.returncode == 0 and "1 new fidelity files joined them" in result.stdout, result.stderr
    target = archived / "synthetic" / measured.parent.name
    assert (target / measured.name).read_bytes() == first  # the archived measurement is kept as it was
    assert json.loads((target / f"{measured.stem}-bbb12db933152e82.json").read_text()) == scores
    assert "0 new fidelity files joined" in bench_cli(*args).stdout  # once
    board = _board(archived / "runs", archived / "synthetic", tmp_path / "board" / "README.md")["README.md"]
    assert "0.654" in board.decode() and f"{json.loads(first)[REFERENCE_SCORE]:.3f}" in board.decode()
