"""Fidelity of a synthetic set, measured before any classifier uses it, and explained.

All distances are on the penultimate features of the *reference classifier*, the real-data run
(generator none, strategy none) on the same dataset and split, trained once and reused like any
run, through torch-fidelity with a registered feature extractor suited to 4-channel microscopy.
- How close: domain FID and KID against the train role the generator learned from and against the
  held-out validation role; precision and recall (Kynkaanniemi et al. 2019, torch-fidelity's `prc`)
  and density and coverage (Naeem et al. 2020), so a faithful but narrow set can be told from a
  diverse but unrealistic one; FID per class with at least `MIN_PER_CLASS` images on both sides.
- Against what could be reached, the floors: held-out real images (a perfect generator), and train
  images through the generator's sampling resolution and back (what its resolution alone costs).
- Whether images show their labels: label consistency (the reference classifier's macro F1 on the
  set against the labels it was generated for, beside the same on real validation images), per class
  too; CAS (a classifier trained on the set alone, selected on real validation, scored by macro F1 on
  the real test role) and its ratio to the CAS of the `real` set of the same size and labels.
- Inception FID on an RGB composite when the Inception-v3 weights file is available (a path, or
  torch-fidelity's usual cache); offline without it, it says so and the domain measures stand.
- The reference classifier's own validation macro F1; below `MIN_REFERENCE_F1` its features are
  flagged as too weak to trust.

Results go to `fidelity-<settings>.json` in the set's folder (with `VERSION`, a checksum and the
set's fingerprint); the `fidelity` config section sets the reference and CAS classifiers' epochs and
batch size (recorded in the file).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import torch_fidelity
from torch.utils.data import Dataset as TorchDataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from bench import identity as keys
from bench.config import (
    DEFAULT_PLUGINS,
    FidelityConfig,
    RunConfig,
    SyntheticConfig,
    TrainConfig,
    choice,
    resolved_fidelity,
)
from bench.data.images import LabelledImages
from bench.evaluate.metrics import F1_HALF, F1_TUNED, evaluate, no_skill_f1, tune_thresholds
from bench.evaluate.predict import predict
from bench.files import write_json
from bench.records import digests, load_classifier, read_json
from bench.train.loop import Trainer

EXTRACTOR = "bench-domain"
MIN_PER_CLASS = 50  # images of a class on both sides for its FID
MIN_PER_CLASS_CONSISTENCY = 10  # images of a class in a set for its label consistency
PRC_K = 3  # neighbourhood of precision and recall (Kynkäänniemi et al. 2019; torch-fidelity's default)
DC_K = 5  # neighbourhood of density and coverage (Naeem et al. 2020's choice)
VERSION = 3  # of what a fidelity file holds (2: floors, validation role, precision/recall, density/coverage,
#              label consistency, CAS ratio; 3: a reference trained to ignore pixel noise, memorisation, CAS at the
#              control's budget with its no-skill score and skill ratio); a file of another version is measured again
FLOOR_SEED = 20250528  # which real images stand in for a set of another size in the floors
MEMORISATION_PERCENTILE = 5  # a set image nearer its nearest train image than this percentile of held-out ones
CAS_MIN_SKILL = 0.10  # the real set's CAS must be this far above no-skill (macro F1) for a CAS ratio to be shown
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
    """The real-data run that defines the domain features: the run's dataset and split (with its whole train
    role, whatever the run's train fraction), the `fidelity` section's epochs and batch size, everything
    else at its defaults (so a set's fidelity never depends on which run asked for it first)."""
    train = TrainConfig(epochs=cfg.fidelity.epochs, batch_size=cfg.fidelity.batch_size,
                        noise_augment=cfg.fidelity.reference_noise, blur_augment=cfg.fidelity.reference_blur)
    defaults = {kind: choice(kind, DEFAULT_PLUGINS[kind]) for kind in ("generator", "strategy", "classifier")}
    split = dataclasses.replace(cfg.split, train_fraction=1.0)  # one feature space for every train fraction
    return RunConfig(dataset=cfg.dataset, split=split, **defaults, synthetic=SyntheticConfig(), train=train,
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


def distribution_metrics(synthetic: torch.Tensor, real: torch.Tensor) -> dict:
    """How far a set of features lies from a real one, as one number and as its two halves:
    FID and KID; precision and recall (Kynkäänniemi et al. 2019, torch-fidelity's `prc`, k = PRC_K):
    how much of the set lies on the real manifold, how much of the real one the set covers; density and
    coverage (Naeem et al. 2020, k = DC_K), their outlier-robust counterparts."""
    kid_mean, kid_std = kid(synthetic, real)
    prc = prc_features_to_metric(synthetic, real, prc_neighborhood=PRC_K, prc_batch_size=10000, verbose=False)
    return {"fid": fid(synthetic, real), "kid": kid_mean, "kid_std": kid_std,
            "precision": float(prc[KEY_METRIC_PRECISION]), "recall": float(prc[KEY_METRIC_RECALL]),
            **density_coverage(real, synthetic, DC_K)}


def density_coverage(real: torch.Tensor, synthetic: torch.Tensor, k: int) -> dict:
    """Density and coverage (Naeem et al. 2020): a real point's ball reaches its k-th nearest real
    neighbour; density counts how many real balls hold each synthetic point (/ k, mean; 1 for a set
    like the real one), coverage is the share of real balls holding at least one synthetic point."""
    real, synthetic = real.double(), synthetic.double()
    radii = torch.cdist(real, real).kthvalue(k + 1, dim=1).values  # k + 1: the point itself is at distance 0
    inside = torch.cdist(synthetic, real) <= radii[None, :]
    return {"density": float(inside.sum() / (k * len(synthetic))), "coverage": float(inside.any(dim=0).double().mean())}


def domain_metrics(synthetic: LabelledImages, real: LabelledImages, reference_run: Path, device) -> dict:
    """Distribution metrics overall, and FID per class with at least MIN_PER_CLASS images on both sides."""
    fs, fr = domain_features(synthetic, reference_run, device), domain_features(real, reference_run, device)
    return {**distribution_metrics(fs, fr), "per_class_fid": per_class_fid(fs, synthetic.labels, fr, real.labels),
            "per_class_min_images": MIN_PER_CLASS}


def per_class_fid(fs: torch.Tensor, synthetic_labels: np.ndarray, fr: torch.Tensor, real_labels: np.ndarray) -> dict:
    per_class = {}
    for c in range(synthetic_labels.shape[1]):
        s, r = np.flatnonzero(synthetic_labels[:, c]), np.flatnonzero(real_labels[:, c])
        if min(len(s), len(r)) >= MIN_PER_CLASS:
            per_class[str(c)] = round(fid(fs[s], fr[r]), 4)
    return per_class


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


def cas_config(cfg: RunConfig) -> RunConfig:
    """The CAS classifier's run: the reference's classifier and defaults, trained `fidelity.cas_epochs` epochs (the
    budget of the run's control when the set has as many images as the run's train role), without augmentation
    beyond the defaults."""
    train = TrainConfig(epochs=resolved_fidelity(cfg).cas_epochs, batch_size=cfg.fidelity.batch_size)
    return dataclasses.replace(reference_config(cfg), train=train)


def cas(cfg: RunConfig, synthetic: LabelledImages, val: LabelledImages, test: LabelledImages,
        device: torch.device, say: Callable[[str], None]) -> dict:
    """Train on the synthetic set alone (the reference classifier, `cas_config`), select on real val, score real
    test; beside it the no-skill score on the same images (`no_skill_f1`)."""
    cfg = cas_config(cfg)
    torch.manual_seed(0)
    model = cfg.classifier.create().to(device)
    strategy = cfg.strategy.create()
    Trainer(model, strategy, cfg.train, 0, device, None, say).fit(synthetic, val, None)
    thresholds = tune_thresholds(predict(model, val, cfg.train.eval_batch_size, device), val.labels)
    target = test if len(test) else val
    summary, _ = evaluate(predict(model, target, cfg.train.eval_batch_size, device), target.labels, thresholds)
    return {f"cas_{F1_TUNED}": summary[F1_TUNED], f"cas_{F1_HALF}": summary[F1_HALF],
            "cas_role": "test" if len(test) else "val", "cas_epochs": cfg.train.epochs,
            "cas_no_skill": no_skill_f1(target.labels)}


def cas_ratios(own: float, real: float, no_skill: float) -> dict:
    """The set's CAS against the `real` set's: the plain ratio, and the skill ratio (own - no-skill) / (real -
    no-skill), 0 for a set that teaches nothing; both only where the real set's CAS is at least CAS_MIN_SKILL above
    no-skill (else a ratio cannot tell noise from data, and `cas_note` says so)."""
    if real - no_skill < CAS_MIN_SKILL:
        return {"cas_ratio": None, "cas_skill_ratio": None,
                "cas_note": f"no ratio: the real set's CAS {real:.3f} is within {CAS_MIN_SKILL} of the no-skill "
                            f"{no_skill:.3f} (its classifier barely learns at this size and budget; raise "
                            f"fidelity.cas_epochs or synthetic.per_real)"}
    return {"cas_ratio": own / real, "cas_skill_ratio": (own - no_skill) / (real - no_skill)}


def measure(folder: Path, cfg: RunConfig, synthetic: LabelledImages, roles: dict, reference_run: Path,
            device: torch.device, say: Callable[[str], None], inception: str | None = None,
            real_cas: float | None = None) -> dict:
    """All fidelity metrics of one set, written to its fidelity file in the set folder.

    `real_cas`: the CAS of the `real` set with the same synthetic settings (as many real train images, the
    same label rows), for the CAS ratio; None for the real set itself or when CAS is off."""
    say(f"fidelity of {folder.name}: domain features of the set, the train role and held-out real images")
    features = Features(reference_run, device)
    fs, ft, fv = features(synthetic), features(roles["train"]), features(roles["val"])
    result = {"reference_run": reference_run.name, "real_reference": "train role", "n_images": len(synthetic),
              **distribution_metrics(fs, ft),
              "per_class_fid": per_class_fid(fs, synthetic.labels, ft, roles["train"].labels),
              "per_class_min_images": MIN_PER_CLASS, "val": distribution_metrics(fs, fv),
              "floors": floors(cfg, synthetic, roles, features, ft, fv),
              "memorisation": memorisation(synthetic, roles, features, ft),
              **label_consistency(synthetic, roles["val"], reference_run, device),
              **inception_fid(synthetic, roles["train"], inception_weights(inception), device)}
    if cfg.fidelity.cas:
        say("fidelity: CAS (train on the synthetic set alone, score on the real test role)")
        result.update(cas(cfg, synthetic, roles["val"], roles["test"], device, say))
        own = result[f"cas_{F1_TUNED}"]
        reference = own if real_cas is None else real_cas
        result["cas_real"] = reference
        result.update(cas_ratios(own, reference, result["cas_no_skill"]))
    result.update(reference_strength(reference_run))
    if "reference_warning" in result:
        say(f"warning: {result['reference_warning']}")
    result.update(settings=dataclasses.asdict(cfg.fidelity), set_fingerprint=synthetic.fingerprint, version=VERSION)
    result = _rounded(result)
    write_json(path(folder, cfg.fidelity), {**result, "checksum": _checksum(result)})
    return result


def _rounded(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


class Features:
    """Domain features of image sets, each extracted once."""

    def __init__(self, reference_run: Path, device: torch.device):
        self.reference_run, self.device, self.cache = reference_run, device, {}

    def __call__(self, data: LabelledImages) -> torch.Tensor:
        key = (data.fingerprint, tuple(data.ids))  # subsets of one dataset share its fingerprint
        if key not in self.cache:
            self.cache[key] = domain_features(data, self.reference_run, self.device)
        return self.cache[key]


def floors(cfg: RunConfig, synthetic: LabelledImages, roles: dict, features: Features, ft: torch.Tensor,
           fv: torch.Tensor) -> dict:
    """What a generator could at best reach, as many images as the set (where there are as many):
    - `held-out real`: real images the reference did not include (val + test against train; train
      against val): a perfect generator;
    - `train through R px` (generators sampling below the dataset's resolution R0): train images
      reduced to R px and enlarged back bicubically, as the generator's samples are: the resolution's cost."""
    rng = np.random.default_rng(FLOOR_SEED)
    train, n = roles["train"], len(synthetic)
    heldout = joined(roles["val"], roles["test"])
    subset = train.subset(np.sort(rng.choice(len(train), size=min(n, len(train)), replace=False)))
    held = heldout.subset(np.sort(rng.choice(len(heldout), size=min(n, len(heldout)), replace=False)))
    out = {"held-out real": {"train": distribution_metrics(features(held), ft),
                             "val": distribution_metrics(features(subset), fv),
                             "n_images": {"train": len(held), "val": len(subset)}}}
    size = sampling_resolution(cfg, train.resolution)
    if size < train.resolution:
        fd = features(degraded(subset, size))
        out[f"train through {size} px"] = {"train": distribution_metrics(fd, ft), "val": distribution_metrics(fd, fv),
                                           "n_images": {"train": len(subset), "val": len(subset)}}
    return out


def memorisation(synthetic: LabelledImages, roles: dict, features: Features, ft: torch.Tensor) -> dict:
    """Does the set copy its training images? The share of its images whose nearest train-role image is closer
    than held-out real images' nearest train image at their MEMORISATION_PERCENTILE-th percentile, in the
    reference's features and in pixels. A set of new images scores about that percentile (the oracle's share
    is the baseline); a set of train images scores 1."""
    heldout = joined(roles["val"], roles["test"])
    out = {"percentile": MEMORISATION_PERCENTILE, "heldout_images": len(heldout)}
    spaces = {"features": (features(synthetic), features(heldout), ft),
              "pixels": tuple(_pixels(data) for data in (synthetic, heldout, roles["train"]))}
    for space, (own, held, train) in spaces.items():
        threshold = np.percentile(_nearest(held, train), MEMORISATION_PERCENTILE)
        out[space] = float((_nearest(own, train) < threshold).mean())
    return out


def _pixels(data: LabelledImages) -> torch.Tensor:
    return torch.from_numpy(np.asarray(data.take(np.arange(len(data))))).reshape(len(data), -1).float() / 255.0


def _nearest(points: torch.Tensor, reference: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Euclidean distance from each point to its nearest reference point."""
    reference = reference.double()
    return np.concatenate([torch.cdist(points[i:i + batch].double(), reference).min(dim=1).values.numpy()
                           for i in range(0, len(points), batch)])


def joined(a: LabelledImages, b: LabelledImages) -> LabelledImages:
    images = np.concatenate([a.take(np.arange(len(a))), b.take(np.arange(len(b)))])
    labels = np.concatenate([a.labels, b.labels])
    return LabelledImages(a.ids + b.ids, labels, images, f"{a.fingerprint}+{b.fingerprint}")


def sampling_resolution(cfg: RunConfig, native: int) -> int:
    """The resolution a generator samples at (its `resolution` option), the dataset's when it has none."""
    return getattr(cfg.generator.options, "resolution", None) or native


def degraded(data: LabelledImages, size: int) -> LabelledImages:
    """The images reduced to `size` px (antialiased, as generators' training inputs are) and enlarged back
    bicubically (as their samples are)."""
    from torchvision.transforms.functional import resize

    x = torch.from_numpy(np.asarray(data.take(np.arange(len(data))))).float() / 255.0
    small = resize(x, [size, size], antialias=True)
    back = F.interpolate(small, size=x.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
    images = (back * 255).round().to(torch.uint8).numpy()
    return LabelledImages(list(data.ids), data.labels, images, f"{data.fingerprint}-through-{size}px")


def label_consistency(synthetic: LabelledImages, val: LabelledImages, reference_run: Path, device) -> dict:
    """Does each image show what its label says? The reference classifier's macro F1 on the set against
    the labels it was generated for, at the reference's own thresholds, over the classes the set has;
    beside it the same on real validation images over the same classes (those present there)."""
    model = load_classifier(reference_run, device)
    thresholds = pd.read_csv(reference_run / "per_class.csv")["threshold"].to_numpy(dtype=np.float64)
    scores = {}
    for name, data in (("set", synthetic), ("val", val)):
        _, per_class = evaluate(predict(model, data, 128, device), data.labels, thresholds)
        scores[name] = np.asarray(per_class["f1@tuned"])
    present = synthetic.labels.sum(axis=0) > 0
    both = present & (val.labels.sum(axis=0) > 0)
    count = synthetic.labels.sum(axis=0)
    per_class = {str(c): float(scores["set"][c]) for c in np.flatnonzero(count >= MIN_PER_CLASS_CONSISTENCY)}
    return {"label_consistency": float(scores["set"][present].mean()) if present.any() else None,
            "label_consistency_classes": int(present.sum()),
            "label_consistency_real_val": float(scores["val"][both].mean()) if both.any() else None,
            "per_class_label_consistency": per_class, "per_class_consistency_min_images": MIN_PER_CLASS_CONSISTENCY,
            "per_class_images": {str(c): int(n) for c, n in enumerate(count) if n}}


def reference_strength(reference_run: Path) -> dict:
    """The reference classifier's own validation macro F1 @tuned and the digest of its weights (the same
    configuration trained on another machine is another model), and a warning when its features are too weak."""
    score = read_json(reference_run, "metrics.json")["val"][F1_TUNED]  # the one file needed, checked
    out = {f"reference_val_{F1_TUNED}": score, "reference_weights": digests(reference_run).get("model.pt", "")[:16]}
    if score < MIN_REFERENCE_F1:
        out["reference_warning"] = (f"the fidelity reference classifier reaches validation macro F1 {score:.3f} < "
                                    f"{MIN_REFERENCE_F1}: its features are too weak to trust FID/KID; train it longer "
                                    f"(fidelity.epochs)")
    return out


def summary(scores: dict) -> str:
    """The fidelity of a set in a few lines: each measure beside its floors, then label consistency and CAS."""
    def row(name: str, m: dict) -> str:
        return (f"  {name:<26} FID {m['fid']:9.2f} / {m['val']['fid']:9.2f}   precision {m['precision']:.3f}  "
                f"recall {m['recall']:.3f}  density {m['density']:.3f}  coverage {m['coverage']:.3f}")

    lines = ["fidelity (domain features; FID against the train role / the validation role; "
             "precision, recall, density, coverage against the train role):",
             row(f"this set ({scores['n_images']} images)", scores)]
    for name, floor in (scores.get("floors") or {}).items():
        lines.append(row(f"floor: {name}", {**floor["train"], "val": floor["val"]}))
    consistency = scores.get("label_consistency")
    if consistency is not None:
        lines.append(f"  label consistency (reference macro F1 on the set's own labels, "
                     f"{scores['label_consistency_classes']} classes): {consistency:.3f}; on real validation "
                     f"images: {scores['label_consistency_real_val']:.3f}")
    memorised = scores.get("memorisation")
    if memorised:
        lines.append(f"  memorisation: {memorised['features']:.1%} of the set (features) and {memorised['pixels']:.1%} "
                     f"(pixels) lie nearer a train image than {memorised['percentile']}% of held-out real images do "
                     f"(new images: about {memorised['percentile']}%; copies: 100%)")
    cas = scores.get(f"cas_{F1_TUNED}")
    if cas is not None:
        ratio, skill = scores.get("cas_ratio"), scores.get("cas_skill_ratio")
        lines.append(f"  CAS macro F1 @tuned {cas:.3f} ({scores.get('cas_epochs', '?')} epochs); the real set of the "
                     f"same size {scores['cas_real']:.3f}; no-skill {scores.get('cas_no_skill', float('nan')):.3f}"
                     + (f" (ratio {ratio:.2f}, skill ratio {skill:.2f})" if skill is not None else
                        f" ({scores['cas_note']})" if scores.get("cas_note") else ""))
    lines.append(f"  reference classifier: validation macro F1 @tuned {scores[f'reference_val_{F1_TUNED}']:.3f}"
                 + (f" (below {MIN_REFERENCE_F1}: too weak to trust)" if "reference_warning" in scores else ""))
    return "\n".join(lines)


def _checksum(result: dict) -> str:
    return keys.digest(result)


def read(folder: Path, settings: FidelityConfig, synthetic: LabelledImages) -> dict | None:
    """The set's fidelity under these settings, or None when it is missing, damaged or of other images."""
    try:
        stored = json.loads(path(folder, settings).read_text())
        checksum = stored.pop("checksum")
    except (OSError, ValueError, KeyError):
        return None
    if (checksum != _checksum(stored) or stored.get("set_fingerprint") != synthetic.fingerprint
            or stored.get("version") != VERSION):
        return None
    return stored
