"""Fidelity of a synthetic set, measured before any classifier uses it.

- Domain FID and KID, computed by torch-fidelity with a registered feature extractor suited to
  4-channel microscopy: the penultimate features of the *reference classifier*, the real-data run
  (generator none, strategy none) on the same dataset and split, trained once and reused like any
  run. Real reference: the train role the generator learned from.
- Per-class domain FID for classes with at least `MIN_PER_CLASS` images on both sides.
- Inception FID on an RGB composite when the Inception-v3 weights file is available (a path, or
  torch-fidelity's usual cache); offline without it, it says so and the domain FID still stands.
- CAS (classification accuracy score): a classifier trained on the synthetic set alone, selected
  on the real validation role and scored by macro F1 on the real test role: label consistency.

Results go to `fidelity-<settings>.json` in the set's folder; the `fidelity` config section sets
the reference and CAS classifiers' epochs and batch size (recorded in the file).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch_fidelity
from torch.utils.data import Dataset as TorchDataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from bench.config import DEFAULT_PLUGINS, FidelityConfig, RunConfig, SyntheticConfig, TrainConfig, choice
from bench.data.images import LabelledImages
from bench.evaluate.metrics import F1_HALF, F1_TUNED, evaluate, tune_thresholds
from bench.evaluate.predict import predict
from bench.files import write_json
from bench.records import load_classifier, read_json
from bench.train.loop import Trainer

EXTRACTOR = "bench-domain"
MIN_PER_CLASS = 50
MIN_REFERENCE_F1 = 0.25  # below it, the reference classifier's features are flagged as too weak (the default
#                         10-epoch reference on synthetic-cells reaches 0.44; a 1-epoch one about 0.07)
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


class ImagesDataset(TorchDataset):
    """uint8 (4, S, S) tensors of a LabelledImages, optionally as an RGB composite (for Inception)."""

    def __init__(self, data: LabelledImages, rows: np.ndarray | None = None, rgb: bool = False):
        self.data, self.rgb = data, rgb
        self.rows = np.arange(len(data)) if rows is None else np.asarray(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = torch.from_numpy(np.ascontiguousarray(self.data.take([self.rows[i]])[0]))
        if not self.rgb:
            return image
        r, g, b, y = image.float()
        return torch.stack([r + y / 2, g + y / 2, b]).clamp(0, 255).to(torch.uint8)


class DomainFeatures(FeatureExtractorBase):
    """Penultimate features of a bench run's classifier; `feature_extractor_weights_path` = its run folder."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.model = load_classifier(Path(feature_extractor_weights_path))

    @staticmethod
    def get_provided_features_list():
        return ("penultimate",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "penultimate"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return None

    def forward(self, x: torch.Tensor):
        return (self.model.features(x.float() / 255.0).double(),)


torch_fidelity.register_feature_extractor(EXTRACTOR, DomainFeatures)


def reference_config(cfg: RunConfig) -> RunConfig:
    """The real-data run that defines the domain features: the run's dataset and split, the `fidelity`
    section's epochs and batch size, everything else at its defaults (so a set's fidelity never depends
    on which run asked for it first)."""
    train = TrainConfig(epochs=cfg.fidelity.epochs, batch_size=cfg.fidelity.batch_size)
    defaults = {kind: choice(kind, DEFAULT_PLUGINS[kind]) for kind in ("generator", "strategy", "classifier")}
    return RunConfig(dataset=cfg.dataset, split=cfg.split, **defaults, synthetic=SyntheticConfig(), train=train,
                     seed=0, fidelity=cfg.fidelity)


def path(folder: Path, settings: FidelityConfig) -> Path:
    """The file holding a set's fidelity under these settings (one set can be measured under several)."""
    return Path(folder) / f"fidelity-{settings.key()}.json"


def domain_features(data: LabelledImages, reference_run: Path, device: torch.device) -> torch.Tensor:
    """Penultimate reference-classifier features (N, D), extracted by torch-fidelity's own machinery."""
    cuda = device.type == "cuda"
    extractor = create_feature_extractor(EXTRACTOR, ["penultimate"], cuda=cuda, verbose=False,
                                         feature_extractor_weights_path=str(reference_run))
    return get_featuresdict_from_dataset(ImagesDataset(data), extractor, 128, cuda, True, False)["penultimate"]


def fid(features_1: torch.Tensor, features_2: torch.Tensor) -> float:
    stats = [fid_features_to_statistics(f) for f in (features_1, features_2)]
    return float(fid_statistics_to_metric(*stats, False)[KEY_METRIC_FID])


def kid(features_1: torch.Tensor, features_2: torch.Tensor) -> tuple[float, float]:
    subset = min(1000, len(features_1), len(features_2))
    out = kid_features_to_metric(features_1, features_2, kid_subsets=100, kid_subset_size=subset, verbose=False,
                                 rng_seed=2020, kid_kernel="poly", kid_kernel_poly_degree=3,
                                 kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


def domain_metrics(synthetic: LabelledImages, real: LabelledImages, reference_run: Path, device) -> dict:
    """Domain FID and KID overall, and FID per class with at least MIN_PER_CLASS images on both sides."""
    fs, fr = domain_features(synthetic, reference_run, device), domain_features(real, reference_run, device)
    kid_mean, kid_std = kid(fs, fr)
    per_class = {}
    for c in range(synthetic.labels.shape[1]):
        s, r = np.flatnonzero(synthetic.labels[:, c]), np.flatnonzero(real.labels[:, c])
        if min(len(s), len(r)) >= MIN_PER_CLASS:
            per_class[str(c)] = round(fid(fs[s], fr[r]), 4)
    return {"fid": fid(fs, fr), "kid": kid_mean, "kid_std": kid_std, "per_class_fid": per_class,
            "per_class_min_images": MIN_PER_CLASS}


def inception_weights(path: str | None) -> Path | None:
    if path:
        return Path(path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    return cached if cached.exists() else None


def inception_fid(synthetic: LabelledImages, real: LabelledImages, weights: Path | None, device) -> dict:
    if weights is None or not weights.exists():
        return {"inception_fid": None, "inception_note": f"Inception-v3 weights not found ({INCEPTION_FILE}); "
                "pass --inception-weights PATH (offline it cannot be downloaded); domain FID still reported"}
    metrics = torch_fidelity.calculate_metrics(
        input1=ImagesDataset(synthetic, rgb=True), input2=ImagesDataset(real, rgb=True), fid=True,
        feature_extractor_weights_path=str(weights), cuda=device.type == "cuda", cache=False, verbose=False,
        save_cpu_ram=True)
    return {"inception_fid": float(metrics["frechet_inception_distance"])}


def cas(cfg: RunConfig, synthetic: LabelledImages, val: LabelledImages, test: LabelledImages,
        device: torch.device, log: Callable[[str], None]) -> dict:
    """Train on the synthetic set alone (the reference classifier and schedule), select on real val, score real test."""
    cfg = reference_config(cfg)
    torch.manual_seed(0)
    model = cfg.classifier.create().to(device)
    strategy = cfg.strategy.create()
    Trainer(model, strategy, cfg.train, 0, device, None, log).fit(synthetic, val, None)
    thresholds = tune_thresholds(predict(model, val, cfg.train.eval_batch_size, device), val.labels)
    target = test if len(test) else val
    summary, _ = evaluate(predict(model, target, cfg.train.eval_batch_size, device), target.labels, thresholds)
    return {f"cas_{F1_TUNED}": summary[F1_TUNED], f"cas_{F1_HALF}": summary[F1_HALF],
            "cas_role": "test" if len(test) else "val"}


def measure(folder: Path, cfg: RunConfig, synthetic: LabelledImages, roles: dict, reference_run: Path,
            device: torch.device, log: Callable[[str], None], inception: str | None = None) -> dict:
    """All fidelity metrics of one set, written to its fidelity file in the set folder."""
    log(f"fidelity of {folder.name}: domain FID/KID against the real train role")
    result = {"reference_run": reference_run.name, "real_reference": "train role",
              **domain_metrics(synthetic, roles["train"], reference_run, device),
              **inception_fid(synthetic, roles["train"], inception_weights(inception), device)}
    if cfg.fidelity.cas:
        log("fidelity: CAS (train on the synthetic set alone, score on the real test role)")
        result.update(cas(cfg, synthetic, roles["val"], roles["test"], device, log))
    result.update(reference_strength(reference_run))
    if "reference_warning" in result:
        log(f"warning: {result['reference_warning']}")
    result.update(settings=dataclasses.asdict(cfg.fidelity), set_fingerprint=synthetic.fingerprint)
    result = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in result.items()}
    write_json(path(folder, cfg.fidelity), {**result, "checksum": _checksum(result)})
    return result


def reference_strength(reference_run: Path) -> dict:
    """The reference classifier's own validation macro F1 @tuned, and a warning when its features are too weak."""
    score = read_json(reference_run, "metrics.json")["val"][F1_TUNED]
    out = {f"reference_val_{F1_TUNED}": score}
    if score < MIN_REFERENCE_F1:
        out["reference_warning"] = (f"the fidelity reference classifier reaches validation macro F1 {score:.3f} < "
                                    f"{MIN_REFERENCE_F1}: its features are too weak to trust FID/KID; train it longer "
                                    f"(fidelity.epochs)")
    return out


def _checksum(result: dict) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()


def read(folder: Path, settings: FidelityConfig, synthetic: LabelledImages) -> dict | None:
    """The set's fidelity under these settings, or None when it is missing, damaged or of other images."""
    try:
        stored = json.loads(path(folder, settings).read_text())
        checksum = stored.pop("checksum")
    except (OSError, ValueError, KeyError):
        return None
    if checksum != _checksum(stored) or stored.get("set_fingerprint") != synthetic.fingerprint:
        return None
    return stored
