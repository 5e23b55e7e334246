"""Kaggle submissions and scores: real Kaggle-layout files, the real sample_submission.csv."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import bench_cli, folders

from bench.data.kaggle import write_layout
from bench.datasets.synthetic_cells import SyntheticCells
from bench.errors import BenchError
from bench.records import load_classifier
from bench.report.submission import binarize, check_submission


@pytest.fixture(scope="module")
def kaggle_folder(tmp_path_factory):
    """A Kaggle-layout folder (train/, test/, sample_submission.csv) of rendered images, and a run on it."""
    root = tmp_path_factory.mktemp("kaggle")
    train = SyntheticCells(SyntheticCells.Options(n_images=120, resolution=32, seed=0)).load()
    test = SyntheticCells(SyntheticCells.Options(n_images=12, resolution=32, seed=9)).load()
    write_layout(root, train.ids, train.labels, train.take(np.arange(len(train))))
    write_layout(root / "tmp", test.ids, test.labels, test.take(np.arange(len(test))))
    (root / "tmp" / "train").rename(root / "test")
    shutil.rmtree(root / "tmp")
    order = list(reversed(test.ids))  # Kaggle's order, not sorted
    (root / "sample_submission.csv").write_text("Id,Predicted\n" + "".join(f"{i},0\n" for i in order))
    result = bench_cli("run", "--dataset", "hpa-kaggle", f"dataset.path={root}", "dataset.resolution=32",
                       "--epochs", "1", "--runs-dir", str(root / "runs"), cwd=root)
    assert result.returncode == 0, result.stderr
    return root, folders(root / "runs")[0]


def test_submission_has_the_sample_ids_in_order_and_valid_labels(kaggle_folder):
    root, run = kaggle_folder
    result = bench_cli("submit", str(run), "--data", str(root), cwd=root)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(run / "submission.csv", dtype=str, keep_default_na=False)
    assert frame["Id"].tolist() == pd.read_csv(root / "sample_submission.csv")["Id"].tolist()
    assert all(frame["Predicted"].str.len() > 0)  # argmax fallback: never empty
    check_submission(run / "submission.csv", root / "sample_submission.csv")


def test_submission_uses_eval_mode_and_the_runs_thresholds(kaggle_folder):
    import torch

    root, run = kaggle_folder
    model = load_classifier(run, torch.device("cpu"))
    assert not model.training
    thresholds = pd.read_csv(run / "per_class.csv")["threshold"].to_numpy()
    assert len(thresholds) == 28 and ((thresholds >= 0.05) & (thresholds <= 0.95)).all()


def test_binarize_falls_back_to_argmax():
    probs = np.array([[0.1, 0.9, 0.2], [0.1, 0.2, 0.3]])
    assert binarize(probs, np.array([0.5, 0.5, 0.5])) == ["1", "2"]


def test_a_test_image_with_only_some_channels_is_refused(kaggle_folder, tmp_path):
    root, run = kaggle_folder
    partial = tmp_path / "partial"
    shutil.copytree(root, partial, ignore=shutil.ignore_patterns("runs"))
    victim = next((partial / "test").glob("*_blue.png"))
    victim.unlink()
    result = bench_cli("submit", str(run), "--data", str(partial), "--out", str(tmp_path / "s.csv"), cwd=tmp_path)
    assert result.returncode == 2 and f"{victim.name}: missing channel file" in result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_check_against_the_real_sample_submission(shared_hpa, tmp_path):
    sample = shared_hpa / "sample_submission.csv"
    ids = pd.read_csv(sample)["Id"].tolist()
    assert len(ids) == 11702
    good = tmp_path / "good.csv"
    pd.DataFrame({"Id": ids, "Predicted": ["0 25"] * len(ids)}).to_csv(good, index=False)
    check_submission(good, sample)
    swapped = tmp_path / "swapped.csv"
    pd.DataFrame({"Id": [ids[1], ids[0], *ids[2:]], "Predicted": ["0"] * len(ids)}).to_csv(swapped, index=False)
    with pytest.raises(BenchError, match="ids differ .*0 missing"):
        check_submission(swapped, sample)
    short = tmp_path / "short.csv"
    pd.DataFrame({"Id": ids[:-1], "Predicted": ["0"] * (len(ids) - 1)}).to_csv(short, index=False)
    with pytest.raises(BenchError, match="1 missing"):
        check_submission(short, sample)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"Id": ids, "Predicted": ["28"] * len(ids)}).to_csv(bad, index=False)
    with pytest.raises(BenchError, match="row 2: Predicted '28'"):
        check_submission(bad, sample)


def test_record_kaggle_scores_reach_the_leaderboard(kaggle_folder, tmp_path):
    root, run = kaggle_folder
    runs = tmp_path / "runs"
    shutil.copytree(run, runs / run.name)
    ok = bench_cli("record-kaggle", run.name[:8], "--public", "0.41", "--private", "0.39", "--runs-dir", str(runs))
    assert ok.returncode == 0, ok.stderr
    assert bench_cli("leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "lb.md")).returncode == 0
    board = (tmp_path / "lb.md").read_text()
    assert "Kaggle private" in board and "0.390" in board and "val @tuned − Kaggle private" in board
    bad = bench_cli("record-kaggle", run.name[:8], "--private", "3", "--runs-dir", str(runs))
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr


def test_data_prepare_then_run_reads_the_cache(kaggle_folder, tmp_path):
    root, _ = kaggle_folder
    env = {"BENCH_CACHE_DIR": str(tmp_path / "cache")}
    prepared = bench_cli("data", "prepare", str(root), "--resolution", "32", "--workers", "2", env=env)
    assert prepared.returncode == 0, prepared.stderr
    assert "120 images at 32px cached and verified" in prepared.stdout
    cache = next((tmp_path / "cache").glob("hpa-kaggle/*/r32"))
    assert (cache / "manifest.json").exists() and (cache / "images.u8").stat().st_size == 120 * 4 * 32 * 32


def test_skipped_images_are_listed_in_the_run_record_and_log(kaggle_folder, tmp_path):
    import json

    root, _ = kaggle_folder
    copy = tmp_path / "copy"
    shutil.copytree(root / "train", copy / "train")
    shutil.copyfile(root / "train.csv", copy / "train.csv")
    victim = sorted((copy / "train").glob("*_green.png"))[5]
    victim.write_bytes(victim.read_bytes()[:40])
    result = bench_cli("run", "--dataset", "hpa-kaggle", f"dataset.path={copy}", "dataset.resolution=32",
                       "dataset.skip_bad=true", "dataset.workers=1", "--epochs", "1", "--runs-dir",
                       str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    (run,) = folders(tmp_path / "runs")
    skipped = json.loads((run / "record.json").read_text())["dataset"]["skipped_images"]
    bad_id = victim.name.rsplit("_", 1)[0]
    assert [entry["id"] for entry in skipped] == [bad_id] and "truncated PNG" in skipped[0]["error"]
    assert "1 unreadable images skipped" in (run / "log.txt").read_text() and bad_id in (run / "log.txt").read_text()


def test_submit_with_an_unknown_run_says_how_to_find_runs(kaggle_folder):
    root, _ = kaggle_folder
    result = bench_cli("submit", "nosuchrun", "--data", str(root), "--runs-dir", str(root / "runs"))
    assert result.returncode == 2 and "no run folders match" in result.stderr and f"ls {root / 'runs'}" in result.stderr
