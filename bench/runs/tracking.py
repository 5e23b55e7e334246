"""Optional experiment tracking: TensorBoard, MLflow and Weights & Biases, as timm and WILDS offer them.

Each is an extra (`pip install -e ".[tensorboard]"`, `".[mlflow]"`, `".[wandb]"`) imported only when a
run asks for it (`bench run --logger tensorboard --logger mlflow`). The run folder stays the record;
a tracker is a mirror: if one fails mid-run (an unreachable tracking server), the run says so once
and goes on without it, and nothing is lost.

Logged: the resolved config; per epoch the training loss, validation loss, validation macro F1 @0.5
and learning rate; the generator's training loss per epoch, its sample grid and the set's fidelity
(runs with synthetic images); the final validation, test and gap metrics; the run id as the run's name.
Where: TensorBoard event files in RUNS_DIR/tensorboard/<run id>/; MLflow at $MLFLOW_TRACKING_URI, else an
SQLite store RUNS_DIR/mlflow.db with artifacts in RUNS_DIR/mlartifacts (experiment `synthloc-bench`;
`mlflow ui --backend-store-uri sqlite:///RUNS_DIR/mlflow.db` shows it); wandb in $WANDB_PROJECT (default
`synthloc-bench`), offline when WANDB_MODE=offline, files in RUNS_DIR/wandb/.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.errors import BenchError

PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}  # logger -> module it needs
EXPERIMENT = "synthloc-bench"


def metric_name(key: str) -> str:
    """One spelling of a metric for every tracker (MLflow allows no '@'): `val/f1_macro_at_tuned`."""
    return key.replace("@", "_at_")


def check(names: tuple[str, ...]) -> None:
    """Before any work: each requested tracker is known and its package installed (one line, exit 2)."""
    for name in names:
        if name not in PACKAGES:
            raise BenchError(f"unknown logger {name!r}; valid: {', '.join(PACKAGES)}")
        if importlib.util.find_spec(PACKAGES[name]) is None:
            raise BenchError(f"--logger {name} needs the `{name}` extra: pip install -e \".[{name}]\" "
                             f"(or pip install synthloc-bench[{name}])")


class TensorBoard:
    name = "tensorboard"

    def __init__(self, runs_dir: Path, run_id: str):
        from torch.utils.tensorboard import SummaryWriter
        self.folder = Path(runs_dir) / "tensorboard" / run_id
        self.writer = SummaryWriter(log_dir=str(self.folder))

    def config(self, config: dict) -> None:
        import yaml
        self.writer.add_text("config", "```\n" + yaml.safe_dump(config, sort_keys=False) + "```")

    def metrics(self, values: dict, step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(metric_name(key), value, step)

    def image(self, tag: str, image: np.ndarray) -> None:
        self.writer.add_image(tag, image, 0, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


class MLflow:
    name = "mlflow"

    def __init__(self, runs_dir: Path, run_id: str):
        from mlflow.tracking import MlflowClient
        uri = os.environ.get("MLFLOW_TRACKING_URI") or mlflow_store(runs_dir)
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        artifacts = (Path(runs_dir) / "mlartifacts").resolve().as_uri()
        experiment_id = (experiment.experiment_id if experiment
                         else self.client.create_experiment(EXPERIMENT, artifact_location=artifacts))
        self.run_id = self.client.create_run(experiment_id, run_name=run_id).info.run_id

    def config(self, config: dict) -> None:
        for key, value in _flatten(config).items():
            self.client.log_param(self.run_id, key, str(value)[:500])

    def metrics(self, values: dict, step: int) -> None:
        for key, value in values.items():
            self.client.log_metric(self.run_id, metric_name(key), float(value), step=step)

    def image(self, tag: str, image: np.ndarray) -> None:
        self.client.log_image(self.run_id, image, f"{tag}.png")

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def mlflow_store(runs_dir: Path) -> str:
    """The default MLflow store: an SQLite database beside the run folders (MLflow's recommended local backend)."""
    return f"sqlite:///{(Path(runs_dir) / 'mlflow.db').resolve()}"


class Wandb:
    name = "wandb"

    def __init__(self, runs_dir: Path, run_id: str):
        import wandb
        self.wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", EXPERIMENT), name=run_id, id=run_id,
                              dir=str(runs_dir), resume="allow", reinit=True)

    def config(self, config: dict) -> None:
        self.run.config.update(config, allow_val_change=True)

    def metrics(self, values: dict, step: int) -> None:
        self.run.log({metric_name(k): v for k, v in values.items()} | {"epoch": step})

    def image(self, tag: str, image: np.ndarray) -> None:
        self.run.log({tag: self.wandb.Image(image)})

    def close(self) -> None:
        self.run.finish()


TRACKERS = {"tensorboard": TensorBoard, "mlflow": MLflow, "wandb": Wandb}


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class Trackers:
    """The run's trackers, each call guarded: a tracker that fails is reported once and dropped."""

    def __init__(self, names: tuple[str, ...], runs_dir: Path, run_id: str, say: Callable[[str], None]):
        self.say, self.active = say, []
        for name in names:
            try:
                self.active.append(TRACKERS[name](runs_dir, run_id))
            except Exception as exc:  # an unreachable server must not stop the run
                self._dropped(name, exc)

    def _dropped(self, name: str, exc: BaseException) -> None:
        self.say(f"logger {name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; the run goes "
                 f"on without it (everything is in the run folder)")

    def _each(self, method: str, *args) -> None:
        for tracker in list(self.active):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:
                self.active.remove(tracker)
                self._dropped(tracker.name, exc)

    def config(self, config: dict) -> None:
        self._each("config", config)

    def metrics(self, values: dict, step: int) -> None:
        finite = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and np.isfinite(v)}
        if finite:
            self._each("metrics", finite, step)

    def image(self, tag: str, path: Path) -> None:
        if Path(path).exists():
            from PIL import Image
            self._each("image", tag, np.asarray(Image.open(path).convert("RGB")))

    def close(self) -> None:
        self._each("close")
        self.active = []
