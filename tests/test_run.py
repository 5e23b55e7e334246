"""`bench run` on the embedded dataset: the record, reuse, determinism, resume, the paper split."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY

from bench import config
from bench.runs.execute import Runtime, execute

pytestmark = pytest.mark.xdist_group("run")  # one worker trains the module's finished run once

RECORD_FILES = {"config.json", "split.csv", "metrics.json", "per_class.csv", "predictions_test.csv",
                "model.pt", "record.json", "log.txt", "done"}


def run(runs_dir, *overrides, force=False, say=lambda line: None):
    cfg = config.build(overrides=TINY + overrides)
    return execute(cfg, Runtime(runs_dir, "cpu", force), say=say)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return run(tmp_path_factory.mktemp("runs"))


def test_run_writes_a_complete_record(finished):
    folder = finished.run_dir
    assert {p.name for p in folder.iterdir()} == RECORD_FILES  # no checkpoint or temporary file left
    record = json.loads((folder / "record.json").read_text())
    cfg = json.loads((folder / "config.json").read_text())
    assert folder.name == record["run_id"][:16] == cfg["run_id"][:16]
    assert len(record["dataset"]["fingerprint"]) == len(record["split"]["fingerprint"]) == 64
    assert record["seed"] == cfg["seed"] == 0 and record["environment"]["torch"]
    assert record["environment"]["cpu"] and record["environment"]["cpu_capability"]  # which CPU, not only "x86_64"
    assert record["peak_memory"]["host_rss_mib"] > 0 and record["wall_time_s"] > 0
    phases = record["phases_s"]  # where the time went
    assert set(phases) == {"before_run", "data", "synthetic", "set_up", "train", "evaluate", "write"}
    assert phases["train"] > 0 and all(v is None or v >= 0 for v in phases.values())
    assert sum(phases[k] for k in ("set_up", "train", "evaluate", "write")) <= record["wall_time_s"] + 0.2
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) >= {"val", "test", "gap", "best_epoch", "selection", "history"}
    for role in ("val", "test"):
        assert 0 <= metrics[role]["f1_macro@tuned"] <= 1 and 0 <= metrics[role]["map_macro"] <= 1
        assert metrics[role]["n_images"] > 0
    assert metrics["gap"]["f1_macro@0.5"] == pytest.approx(
        metrics["val"]["f1_macro@0.5"] - metrics["test"]["f1_macro@0.5"], abs=1e-6)
    per_class = (folder / "per_class.csv").read_text().splitlines()
    assert len(per_class) == 29 and "gap_f1@tuned" in per_class[0]
    predictions = (folder / "predictions_test.csv").read_text().splitlines()
    assert predictions[0].startswith("Id,Target,Predicted,p0,") and len(predictions) - 1 == metrics["test"]["n_images"]
    assert (folder / "split.csv").read_text().startswith("id,role\n")


def test_identical_config_reuses_the_finished_run(finished):
    said = []
    again = run(finished.run_dir.parent, say=said.append)
    assert again.reused and again.run_dir == finished.run_dir and "reusing finished run" in said[0]
    forced = run(finished.run_dir.parent, force=True)
    assert not forced.reused and forced.metrics == finished.metrics  # same seed, same numbers


@pytest.mark.slow
def test_same_seed_gives_byte_identical_metrics_other_seed_differs(finished, tmp_path):
    other_dir = run(tmp_path / "a").run_dir
    assert (other_dir / "metrics.json").read_bytes() == (finished.run_dir / "metrics.json").read_bytes()
    seeded = run(tmp_path / "b", "seed=1")
    assert seeded.run_dir.name != finished.run_dir.name and seeded.metrics != finished.metrics


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_with_the_same_metrics(finished, tmp_path):
    class Killed(Exception):
        pass

    def die_in_epoch_2(line):
        if line.startswith("epoch 2/"):
            raise Killed

    with pytest.raises(Killed):
        run(tmp_path, say=die_in_epoch_2)
    folder = tmp_path / finished.run_dir.name
    assert (folder / "checkpoint.pt").exists() and not (folder / "done").exists()
    saved = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert saved["state"]["best_epoch"] == 1  # the first epoch is always selected: its weights are stored once
    assert saved["best_is_current"] and saved["state"]["best_state"] is None  # and rebuilt on resume
    said = []
    resumed = run(tmp_path, say=said.append)
    assert any("resumed from" in line and "after epoch 1" in line for line in said)
    assert (resumed.run_dir / "metrics.json").read_bytes() == (finished.run_dir / "metrics.json").read_bytes()


def test_paper_split_has_no_test_role(tmp_path):
    outcome = run(tmp_path, "split.name=paper")
    assert set(outcome.metrics) >= {"val"} and "test" not in outcome.metrics and "gap" not in outcome.metrics
    assert not (outcome.run_dir / "predictions_test.csv").exists()


def test_record_files_are_readable_by_others(finished):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    for path in finished.run_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


def test_a_damaged_checkpoint_is_discarded_and_the_run_starts_over(finished, tmp_path):
    folder = tmp_path / finished.run_dir.name
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
    said = []
    outcome = run(tmp_path, say=said.append)
    assert any("is damaged (unreadable: " in line for line in said)
    assert outcome.metrics == finished.metrics


def test_random_resized_crop_is_per_sample_seeded_and_keeps_the_size():
    import torch

    from bench.train.augment import random_resized_crop

    x = torch.rand(6, 4, 32, 32)
    a = random_resized_crop(x, torch.Generator().manual_seed(0))
    b = random_resized_crop(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.allclose(a, x)
    same = torch.stack([x[0]] * 6)
    crops = random_resized_crop(same, torch.Generator().manual_seed(1))
    assert not torch.allclose(crops[0], crops[1])  # each sample gets its own crop
    full = random_resized_crop(x, torch.Generator().manual_seed(0), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(full, x, atol=1e-5, rtol=0)  # the whole image: identity


@pytest.mark.slow
def test_runs_started_at_once_in_one_folder_all_land(tmp_path):
    """Two configs, each started twice, all at the same moment: two complete records, none mixed."""
    import subprocess
    import sys
    from pathlib import Path

    from bench.report.runs_frame import load_runs

    exe = Path(sys.executable).with_name("bench")
    seeds = [0, 1, 0, 1]
    processes = [subprocess.Popen([str(exe), "run", "--runs-dir", str(tmp_path), "--seed", str(seed), *TINY,
                                   "train.epochs=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for seed in seeds]
    outputs = [p.communicate(timeout=900) for p in processes]
    assert [p.returncode for p in processes] == [0] * len(seeds), [err[-500:] for _, err in outputs]
    runs = load_runs(tmp_path)
    assert sorted(runs["seed"]) == [0, 1] and runs["run"].is_unique
    for folder in tmp_path.glob("*/done"):
        config_seed = json.loads((folder.parent / "config.json").read_text())["seed"]
        assert json.loads((folder.parent / "record.json").read_text())["seed"] == config_seed
        assert not list(folder.parent.glob("*.tmp")) and not (folder.parent / "checkpoint.pt").exists()
    reused = sum("reusing finished run" in out for out, _ in outputs)
    assert reused == 2  # each duplicate waited for the other process and reused its record


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_gives_the_same_bytes(finished, tmp_path):
    """Kill-and-resume cycles at random moments (import, data, training, writing the record)."""
    import random
    import subprocess
    import sys
    import time
    from pathlib import Path

    exe = Path(sys.executable).with_name("bench")
    args = [str(exe), "run", "--runs-dir", str(tmp_path), *TINY]
    delays = sorted(random.Random(8).uniform(1.0, 12.0) for _ in range(4))
    for delay in delays:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.kill()
        process.wait()
    final = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    folder = tmp_path / finished.run_dir.name
    assert (folder / "metrics.json").read_bytes() == (finished.run_dir / "metrics.json").read_bytes()
    assert (folder / "done").exists() and not list(folder.glob(".*.tmp"))


class _Payload:
    """A pickle that would create a file when unpickled by an unsafe loader."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_in_a_checkpoint_is_never_executed(finished, tmp_path):
    import torch

    marker = tmp_path / "executed"
    folder = tmp_path / "runs" / finished.run_dir.name
    folder.mkdir(parents=True)
    torch.save({"model": _Payload(marker)}, folder / "checkpoint.pt")
    said = []
    outcome = run(tmp_path / "runs", say=said.append)
    assert not marker.exists()  # weights_only=True refused it
    assert any("is damaged (unreadable: " in line for line in said) and outcome.metrics == finished.metrics


def test_a_synthetic_set_with_a_pickled_array_is_refused(tmp_path):
    import numpy as np

    from bench.errors import BenchError
    from bench.synthetic.sets import load_set

    folder = tmp_path / "set"
    folder.mkdir()
    np.save(folder / "images.npy", np.array([_Payload(tmp_path / "executed")], dtype=object), allow_pickle=True)
    (folder / "labels.csv").write_text("Id,Target\nsyn-0,1\n")
    from bench.files import sha256
    manifest = {"key": "k", "images_sha256": sha256(folder / "images.npy"),
                "labels_sha256": sha256(folder / "labels.csv"), "fingerprint": "f"}
    (folder / "manifest.json").write_text(json.dumps(manifest))  # its checksums match: only the loader can refuse
    with pytest.raises(BenchError, match="is damaged"):
        load_set(folder, "k")
    assert not (tmp_path / "executed").exists()


def test_an_empty_validation_role_is_refused_before_training(shared_hpa, tmp_path):
    """The real case: a subset of the shipped protocol's ids (here the 4 real sample images) with no validation id."""
    from conftest import bench_cli

    result = bench_cli("run", "--dataset", "hpa-kaggle", f"dataset.path={shared_hpa / 'sample'}",
                       "dataset.resolution=32", "dataset.subset=true", "split.name=hpa2018-v1", "--runs-dir",
                       str(tmp_path / "runs"), "--epochs", "1")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "the hpa2018-v1 split of dataset hpa-kaggle (4 images kept by dataset.subset) leaves the val role " \
           "empty" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*/config.json"))


def test_too_few_images_to_split_is_one_line(tmp_path):
    from bench.errors import BenchError

    with pytest.raises(BenchError, match=r"split stratified: 10 images give 2 held-out images, too few to share"):
        run(tmp_path, "dataset.n_images=10", "split.val_fraction=0.01", "split.test_fraction=0.2")


def test_an_unwritable_results_folder_is_one_line():
    from conftest import bench_cli

    for option in ("--runs-dir", "--synthetic-dir"):
        result = bench_cli("run", option, "/proc/bench-runs", "--generator", "real", "--strategy", "concat", *TINY)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("bench: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_a_dataset_that_returns_float_images_is_refused(tmp_path, monkeypatch):
    import numpy as np

    from bench.datasets.synthetic_cells import SyntheticCells
    from bench.errors import BenchError

    load = SyntheticCells.load

    def as_float(self):
        data = load(self)
        data._images = np.asarray(data._images, dtype=np.float32) / 255
        return data

    monkeypatch.setattr(SyntheticCells, "load", as_float)
    with pytest.raises(BenchError, match=r"dataset synthetic-cells returned float32 images .*expected uint8"):
        run(tmp_path)


@pytest.mark.slow  # a run of its own
def test_threads_sets_torchs_cpu_threads_and_the_record_says_so(tmp_path):
    from conftest import bench_cli

    before = torch.get_num_threads()
    try:
        result = bench_cli("run", "--threads", "1", "--runs-dir", str(tmp_path), *TINY, "train.epochs=1")
        assert result.returncode == 0, result.stderr
        (record,) = tmp_path.glob("*/record.json")
        assert json.loads(record.read_text())["environment"]["torch_threads"] == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow  # a run of its own
def test_oracle_selection_scores_test_every_epoch_and_selects_nothing(finished, tmp_path):
    import numpy as np
    import pandas as pd

    from bench.evaluate.metrics import evaluate, tune_thresholds

    plain = json.loads((finished.run_dir / "metrics.json").read_text())
    oracle = run(tmp_path, "train.oracle_selection=true")
    assert oracle.run_dir.name == finished.run_dir.name  # a runtime option: the same run id
    metrics = json.loads((oracle.run_dir / "metrics.json").read_text())
    for role in ("val", "test", "gap"):
        assert metrics[role] == plain[role]  # the same model selected, the same scores
    scores = [row.pop("oracle_test_f1") for row in metrics["history"]]
    assert metrics["history"] == plain["history"] and len(scores) == metrics["epochs_run"]
    best = int(np.argmax(scores))
    assert metrics["oracle"]["epoch"] == best + 1
    assert metrics["oracle"]["epoch_and_thresholds_on_test_f1_macro@tuned"] == scores[best]
    table = pd.read_csv(oracle.run_dir / "predictions_test.csv", dtype={"Target": str})
    probs = table[[f"p{c}" for c in range(28)]].to_numpy(dtype=np.float64)
    labels = np.stack([np.isin(np.arange(28), [int(c) for c in t.split()]) for t in table["Target"]]).astype(int)
    expected = evaluate(probs, labels, tune_thresholds(probs, labels))[0]["f1_macro@tuned"]
    assert abs(metrics["oracle"]["thresholds_on_test_f1_macro@tuned"] - expected) < 1e-3  # probabilities rounded
    assert "epoch_and_thresholds_on_test_f1_macro@tuned" not in plain["oracle"]  # not asked: thresholds part only


@pytest.mark.parametrize("selected,ema", [("this epoch", 0.9), ("an earlier epoch", 0.0)])  # the EMA's weights
def test_a_checkpoint_holds_the_selected_weights_once_and_resumes_them(tmp_path, selected, ema):
    """The selected weights are written beside the model only when they are an earlier epoch's; when they are this
    epoch's evaluated weights (the EMA's where there is one) they are rebuilt from the checkpoint on resume."""
    from bench.train.loop import Trainer

    cfg = config.build(overrides=(*TINY, f"train.ema={ema}"))
    torch.manual_seed(0)
    trainer = Trainer(cfg.classifier.create(), cfg.strategy.create(), cfg.train, 0, torch.device("cpu"),
                      tmp_path / "checkpoint.pt", lambda line: None)
    earlier = {k: v + 1 if v.is_floating_point() else v for k, v in trainer.evaluated.state_dict().items()}
    trainer.state.epoch = 2
    trainer.state.best_epoch, trainer.state.best_state = (
        (2, {k: v.clone() for k, v in trainer.evaluated.state_dict().items()}) if selected == "this epoch"
        else (1, earlier))
    trainer._save()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["best_is_current"] == (selected == "this epoch")
    assert (saved["state"]["best_state"] is None) == (selected == "this epoch")
    torch.manual_seed(1)  # other starting weights: everything must come from the checkpoint
    resumed = Trainer(cfg.classifier.create(), cfg.strategy.create(), cfg.train, 0, torch.device("cpu"),
                      tmp_path / "checkpoint.pt", lambda line: None)
    assert resumed.try_resume() and resumed.state.best_epoch == trainer.state.best_epoch
    for key, value in trainer.state.best_state.items():
        assert torch.equal(resumed.state.best_state[key], value), key
