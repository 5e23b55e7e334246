"""Experiment trackers read back with their own tools: TensorBoard's event reader, the MLflow client."""

from __future__ import annotations

import json

import pytest
from conftest import TINY, bench_cli, folders

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

pytestmark = pytest.mark.xdist_group("tracking")  # one worker trains the module's tracked run once


@pytest.fixture(scope="session")  # once on the module's one worker (xdist_group), whatever the order
def tracked(tmp_path_factory):
    """One run with a synthetic set (`real`), mirrored to TensorBoard and MLflow (a file store)."""
    root = tmp_path_factory.mktemp("tracked")
    result = bench_cli("run", "--generator", "real", "--strategy", "concat", "--logger", "tensorboard",
                       "--logger", "mlflow", *TINY, cwd=root)
    assert result.returncode == 0, result.stderr
    run = next(r for r in folders(root / "runs") if json.loads((r / "config.json").read_text())["generator"]["name"]
               == "real")
    return root, run, json.loads((run / "metrics.json").read_text())


@pytest.mark.slow
def test_tensorboard_events_hold_the_curves_the_set_and_the_final_metrics(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, run, metrics = tracked
    events = EventAccumulator(str(root / "runs" / "tensorboard" / run.name)).Reload()
    scalars = events.Tags()["scalars"]
    for tag in ("train/loss", "val/loss", "val/f1_macro_at_0.5", "lr", "fidelity/fid", "fidelity/precision",
                "final/test/f1_macro_at_tuned", "final/gap/f1_macro_at_tuned"):
        assert tag in scalars, tag
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]
    assert [round(e.value, 5) for e in events.Scalars("train/loss")] == [round(h["train_loss"], 5)
                                                                        for h in metrics["history"]]
    assert events.Scalars("final/test/f1_macro_at_tuned")[0].value == pytest.approx(metrics["test"]["f1_macro@tuned"])
    assert "generator/samples" in events.Tags()["images"] and "config/text_summary" in events.Tags()["tensors"]


@pytest.mark.slow
def test_mlflow_store_holds_the_run_by_its_id(tracked):
    from mlflow.tracking import MlflowClient

    root, run, metrics = tracked
    from bench.runs.tracking import mlflow_store

    client = MlflowClient(tracking_uri=mlflow_store(root / "runs"))
    experiment = client.get_experiment_by_name("synthloc-bench")
    found = client.search_runs([experiment.experiment_id], filter_string=f"attributes.run_name = '{run.name}'")
    assert len(found) == 1 and found[0].info.status == "FINISHED"
    data = found[0].data
    assert data.params["generator.name"] == "real" and data.params["train.epochs"] == "2"
    assert data.metrics["final/test/f1_macro_at_tuned"] == pytest.approx(metrics["test"]["f1_macro@tuned"])
    history = client.get_metric_history(found[0].info.run_id, "val/loss")
    assert [h.step for h in history] == [1, 2]
    images = [a.path for a in client.list_artifacts(found[0].info.run_id, "generator")]
    assert images == ["generator/samples.png"]  # the set's sample grid


@pytest.mark.slow
def test_an_unreachable_tracking_server_is_said_once_and_the_run_goes_on(tmp_path):
    env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
    result = bench_cli("run", "--logger", "mlflow", *TINY, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith("logger mlflow:")]
    assert len(said) == 1 and "the run goes on without it" in said[0]
    assert all((run / "done").exists() for run in folders(tmp_path / "runs"))


def test_a_missing_tracker_package_is_one_line_exit_2(tmp_path):
    from bench.runs import tracking

    if tracking.importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    result = bench_cli("run", "--logger", "wandb", *TINY, cwd=tmp_path)
    assert result.returncode == 2 and 'pip install -e ".[wandb]"' in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_wandb_offline_when_it_is_installed(tmp_path):
    pytest.importorskip("wandb")
    result = bench_cli("run", "--logger", "wandb", *TINY, cwd=tmp_path, env={"WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "runs" / "wandb").glob("offline-run-*"))
