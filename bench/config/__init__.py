"""Run configuration: plain dataclasses, loaded from YAML/TOML, overridden by `key=value`, hashed.

Precedence: defaults < config file < CLI flags (--dataset, --epochs, ...) < `key=value` overrides.
Plugin sections (`dataset`, `generator`, `strategy`, `classifier`) hold a `name` plus the options
of that plugin's `Options` dataclass, so `classifier.pretrained=true` is checked against the
plugin that was chosen. The hash of the resolved config (canonical JSON) names the run folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dacite
import yaml

from bench import identity as keys
from bench import options as _options
from bench import registry
from bench.config import presets
from bench.data.split_config import SplitConfig
from bench.errors import BenchError
from bench.options import OptionError as _OptionError
from bench.options import identity, option
from bench.options import require as _require

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLUGIN_SECTIONS = ("dataset", "generator", "strategy", "classifier")
METHOD_PARTS = PLUGIN_SECTIONS[1:]  # the plugin choices that name a configuration's method in reports
DEFAULT_PLUGINS = {"dataset": "synthetic-cells", "generator": "none", "strategy": "none", "classifier": "resnet18"}


@dataclass
class SyntheticConfig:
    """How many synthetic images a generator makes and with which labels."""

    per_real: float = option(1.0, "synthetic images per real training image")
    labels: Literal["train", "rebalanced", "uniform"] = option(
        "train", "which label sets are sampled: train (resampled train label sets), rebalanced (the same, weighted "
                 "toward sets with rare classes), uniform (one-hot, equal class counts: the paper's set)")
    seed: int = option(0, "seed of generator training and sampling (one set serves every classifier seed of a "
                          "grid)")

    def __post_init__(self):
        _require(self.per_real > 0, "per_real", "must be > 0")
        _require(self.seed >= 0, "seed", "must be >= 0")


@dataclass
class TrainConfig:
    """The one training loop's settings (the controlled defaults; presets set the paper's)."""

    epochs: int = option(6, "training epochs (the default run: under 2 minutes on 2 CPU cores; the `controlled` "
                            "preset uses 10)")
    batch_size: int = option(64, "training images per step (real images; a strategy adds its synthetic ones)")
    optimizer: Literal["adamw", "adam", "sgd"] = option("adamw", "optimizer of the classifier")
    lr: float = option(1e-3, "peak learning rate")
    weight_decay: float = option(0.01, "decoupled (adamw) or L2 (adam, sgd) weight decay")
    schedule: Literal["cosine", "constant", "step", "multistage", "warmup-plateau"] = option(
        "cosine", "learning-rate schedule: step (the paper's baselines), multistage (its Adam45), warmup-plateau "
                  "(its MixModel); see docs/training.md")
    step_epochs: int = option(15, "schedule=step: decay every this many epochs")
    step_gamma: float = option(0.1, "schedule=step: decay factor")
    warmup_epochs: int = option(10, "schedule=warmup-plateau: linear warm-up epochs")
    plateau_mode: Literal["max", "min"] = option("max", "schedule=warmup-plateau: 'min' is the paper's bug "
                                                        "(validation F1 read as a loss)")
    paper_warmup: bool = option(False, "schedule=warmup-plateau: the paper's warm-up, set after each epoch")
    loss: Literal["bce", "focal", "arcface"] = option("bce", "training loss (arcface needs classifier.head=arcface)")
    focal_gamma: float = option(2.0, "loss=focal: focusing exponent gamma")
    arcface_s: float = option(30.0, "loss=arcface: scale s")
    arcface_m: float = option(0.5, "loss=arcface: additive angular margin m (radians)")
    random_resized_crop: bool = option(False, "the paper's crop (scale 0.8-1.0, aspect 0.9-1.1), on the training "
                                              "device")
    rotate90: bool = option(True, "random 90-degree rotations, on the training device")
    flip: bool = option(True, "random horizontal flips, on the training device")
    noise_augment: float = option(0.0, "add i.i.d. Gaussian pixel noise of a standard deviation drawn per image "
                                       "from [0, this] (intensity units, images in 0..1); 0 = off (the fidelity "
                                       "reference uses it so that its features ignore pixel noise)", new=True)
    blur_augment: float = option(0.0, "blur half the images with a Gaussian of a standard deviation drawn per "
                                      "image from [0, this] px; 0 = off", new=True)
    select: Literal["best", "last", "min_val_loss"] = option(
        "best", "which epoch's model is kept: best validation macro F1 @0.5; last (the paper's ResNets and "
                "MixModels); min_val_loss (its transformers)")
    patience: int = option(0, "early stopping after this many epochs without improvement; 0 = off")
    eval_batch_size: int = option(256, "images per batch when predicting validation and test")
    precision: Literal["fp32", "bf16", "fp16"] = option(
        "fp32", "autocast precision: bf16 (CUDA, or CPUs with bf16) or fp16 with a gradient scaler (CUDA GPUs "
                "without bf16); changes the numbers")
    budget: str = option("", "the name of the rule that chose `epochs` for this train size, e.g. plateau (each size "
                             "trained to its control's validation plateau); runs with the same rule at several train "
                             "sizes form one learning curve (without it: epochs x the share of the train role kept)",
                         new=True)
    grad_clip: float = option(0.0, "clip the gradients' global L2 norm to this value; 0 = off", new=True)
    ema: float = option(0.0, "decay of an exponential moving average of the classifier's weights (timm's "
                             "ModelEmaV3), which is then what is validated, selected and tested; 0 = off "
                             "(0.999 is usual)", new=True)
    no_eval_inference: bool = option(False, "the paper's MixModel submissions' bug: test scores and Kaggle "
                                            "submissions without model.eval() (BatchNorm in training mode, one "
                                            "image at a time); validation stays in eval mode, as its validation "
                                            "notebooks did", new=True)
    val_rotation: bool = option(False, "the paper's dataset class: validation images rotated by random multiples "
                                       "of 90 degrees (unseeded there; drawn from the run seed here)", new=True)
    test_normalization: Literal["none", "imagenet", "half"] = option(
        "none", "the paper's transformer test pipelines (docs/paper.md, quirk 12): test and submission images are "
                "resized to the classifier's input_size outside the model and normalised, while training and "
                "validation saw [0, 1]: imagenet = albumentations' Normalize defaults (ImageNet mean/std; yellow takes "
                "red's), "
                "half = mean 0.5, std 0.5 (inputs in [-1, 1])", new=True)
    channels_last: bool = option(False, "channels-last memory format of CNN inputs and weights (speed only)",
                                 runtime=True)
    oracle_selection: bool = option(False, "also score the test role after every epoch, never to select: the "
                                           "leaderboard then reports the oracle rule (epoch and thresholds chosen on "
                                           "test) as the upper bound it is; costs one test pass per epoch",
                                    runtime=True)

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size", "step_epochs", "warmup_epochs"):
            _require(getattr(self, name) >= 1, name, "must be >= 1")
        _require(self.lr > 0, "lr", "must be > 0")
        _require(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        _require(0 < self.step_gamma <= 1, "step_gamma", "must be in (0, 1]")
        _require(self.patience >= 0, "patience", "must be >= 0")
        _require(self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 = off)")
        _require(0 <= self.noise_augment <= 1, "noise_augment", "must be a standard deviation in [0, 1]")
        _require(0 <= self.blur_augment <= 8, "blur_augment", "must be a standard deviation in [0, 8] px")
        _require(self.ema == 0 or 0 < self.ema < 1, "ema", "must be 0 (off) or a decay in (0, 1)")
        _require(self.arcface_s > 0 and 0 <= self.arcface_m < math.pi / 2, "arcface_m",
                "arcface_s must be > 0 and arcface_m in [0, pi/2)")


@dataclass
class FidelityConfig:
    """How a synthetic set's fidelity is measured: the reference classifier (domain FID/KID features) and the
    CAS classifier (trained on the set alone) train with these settings.

    Recorded with the set's fidelity and in config.json, not hashed into run ids: it changes the fidelity
    numbers attached to a run, not what the run trains. Small values keep tests and quick checks quick.
    """

    epochs: int = option(10, "training epochs of the reference classifier")
    batch_size: int = option(64, "batch size of the reference and the CAS classifier")
    cas: bool = option(True, "train the CAS classifier (half of the fidelity cost); false: CAS is not reported")
    cas_epochs: int = option(0, "training epochs of the CAS classifier; 0: the asking run's train.epochs (resolved "
                                "when the run is configured), so with synthetic.per_real=1 it gets the budget of "
                                "the control trained on as many real images")
    reference_noise: float = option(0.05, "the reference classifier trains with pixel-noise augmentation up to this "
                                          "standard deviation (train.noise_augment), so that its features, which "
                                          "every domain measure uses, are not dominated by i.i.d. pixel noise "
                                          "(checked by benchmarks/fidelity_checks.py); 0 = the raw-pixel reference "
                                          "of fidelity version 2")
    reference_blur: float = option(0.0, "the reference classifier also trains with blur augmentation up to this "
                                        "standard deviation in px (train.blur_augment, half the images), so that it "
                                        "sees images with less pixel noise than the data's; 0 = off")

    def __post_init__(self):
        _require(self.epochs >= 1, "epochs", "must be >= 1")
        _require(self.cas_epochs >= 0, "cas_epochs", "must be >= 0 (0: the run's train.epochs)")
        _require(0 <= self.reference_noise <= 1, "reference_noise", "must be a standard deviation in [0, 1]")
        _require(0 <= self.reference_blur <= 8, "reference_blur", "must be a standard deviation in [0, 8] px")
        _require(self.batch_size >= 2, "batch_size", "must be >= 2")

    def key(self) -> str:
        """Short hash naming this setting's fidelity file in a set folder."""
        return keys.short(keys.digest(dataclasses.asdict(self)))


@dataclass
class PluginChoice:
    """A plugin chosen for a run: its registered name, its class (resolved once, when the config is
    resolved) and its validated options."""

    name: str
    options: Any
    plugin: type = field(repr=False, compare=False, default=None)

    def create(self, **kwargs):
        """A new instance of the plugin with these options."""
        return self.plugin(self.options, **kwargs)

    def to_dict(self, identity_only: bool = False) -> dict:
        options = identity(self.options) if identity_only else dataclasses.asdict(self.options)
        return {"name": self.name, **options}


@dataclass
class RunConfig:
    dataset: PluginChoice
    generator: PluginChoice
    strategy: PluginChoice
    classifier: PluginChoice
    split: SplitConfig = field(default_factory=SplitConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = option(0, "run seed: initialisation, data order, augmentation (a synthetic set has its own, "
                          "synthetic.seed)")
    fidelity: FidelityConfig = field(default_factory=FidelityConfig, metadata={"runtime": True})

    def to_dict(self, identity_only: bool = False) -> dict:
        """The resolved config; with identity_only, without runtime fields and sections (what is hashed)."""
        out = {}
        for f in dataclasses.fields(self):
            if identity_only and f.metadata.get("runtime"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, PluginChoice):
                out[f.name] = value.to_dict(identity_only)
            elif dataclasses.is_dataclass(value):
                out[f.name] = identity(value) if identity_only else dataclasses.asdict(value)
            else:
                out[f.name] = value
        return out

    def hash(self) -> str:
        """The config hash (`bench.identity`): the identity fields alone, without the data."""
        return keys.config_hash(self.to_dict(identity_only=True))

    def group_hash(self) -> str:
        """Hash of the identity without the seed: runs that differ only by seed share it."""
        return keys.group(self.to_dict(identity_only=True))


SECTION_TYPES = {"split": SplitConfig, "synthetic": SyntheticConfig, "train": TrainConfig,
                 "fidelity": FidelityConfig}
TOP_LEVEL = set(PLUGIN_SECTIONS) | set(SECTION_TYPES) | {"seed"}


# ----------------------------------------------------------------------------- loading raw dicts

def load_file(path: Path) -> dict:
    """A YAML or TOML config file as a nested dict; one-line errors for unreadable or invalid files."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read config {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        if str(path).endswith(".toml"):
            data = tomllib.loads(text)
        elif str(path).endswith((".yaml", ".yml")):
            data = yaml.safe_load(text)
        else:
            raise BenchError(f"config {path}: expected a .yaml, .yml or .toml file")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        first = " ".join(str(exc).split())
        raise BenchError(f"config {path} is not valid: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BenchError(f"config {path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise BenchError(f"override {item!r}: expected key=value, e.g. train.epochs=3")
    return key.strip(), value


def set_dotted(raw: dict, key: str, value: Any) -> None:
    """raw['a']['b'] = value for key 'a.b'; a plugin section given as a bare name becomes {'name': ...}."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, str) and part in PLUGIN_SECTIONS:
            child = {"name": child}
        if not isinstance(child, dict):
            child = {}
        node[part] = child
        node = child
    node[parts[-1]] = value


# ----------------------------------------------------------------------------- typed resolution

def _coerce_int(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value


def _coerce_float(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _coerce_bool(value: Any) -> Any:
    if isinstance(value, str):
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            value.strip().lower(), value)
    return value


def _coerce_str(value: Any) -> Any:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


DACITE = dacite.Config(strict=True, type_hooks={int: _coerce_int, float: _coerce_float,
                                                 bool: _coerce_bool, str: _coerce_str})


def _describe_type(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def to_dataclass(cls: type, data: Any, path: str):
    """Build `cls` from `data`, naming the full key path in every error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BenchError(f"{path}: expected a mapping of options, got {data!r}")
    valid = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {path}.{close[0]}?)" if close else ""
            raise BenchError(f"unknown config key {path}.{key}{hint}; valid keys: {', '.join(valid) or '(none)'}")
    try:
        return dacite.from_dict(cls, data, config=DACITE)
    except dacite.WrongTypeError as exc:
        raise BenchError(f"{path}.{exc.field_path}: expected {_describe_type(exc.field_type)}, "
                         f"got {exc.value!r}") from None
    except dacite.MissingValueError as exc:
        raise BenchError(f"{path}.{exc.field_path}: required option is missing") from None
    except _OptionError as exc:
        raise BenchError(f"{path}.{exc.field_name}: {exc.message} (got {data.get(exc.field_name)!r})") from None
    except BenchError:
        raise
    except Exception as exc:  # a plugin's own check (ValueError, TypeError, ...) is a user error too
        message = " ".join(str(exc).split()) or type(exc).__name__
        given = ", ".join(f"{key}={value}" for key, value in data.items()) or "none, the defaults"
        raise BenchError(f"{path}: {message} (options given: {given})") from None


def _plugin_choice(kind: str, section: Any) -> PluginChoice:
    if section is None:
        section = {}
    if isinstance(section, str):
        section = {"name": section}
    if not isinstance(section, dict):
        raise BenchError(f"{kind}: expected a plugin name or a mapping with 'name', got {section!r}")
    options = dict(section)
    name = _coerce_str(options.pop("name", DEFAULT_PLUGINS[kind]))
    if not isinstance(name, str):
        raise BenchError(f"{kind}.name: expected a plugin name, got {name!r}")
    plugin = registry.get(kind, name)
    return PluginChoice(name, to_dataclass(plugin.Options, options, kind), plugin)


def choice(kind: str, name: str, options: dict | None = None) -> PluginChoice:
    """The plugin `name` of `kind` with `options` (its defaults where not given)."""
    return _plugin_choice(kind, {"name": name, **(options or {})})


def resolve(raw: dict) -> RunConfig:
    """A validated RunConfig from a raw nested dict (defaults filled in)."""
    for key in raw:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), sorted(TOP_LEVEL), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BenchError(f"unknown config key {key}{hint}; valid keys: {', '.join(sorted(TOP_LEVEL))}")
    plugins = {kind: _plugin_choice(kind, raw.get(kind)) for kind in PLUGIN_SECTIONS}
    sections = {name: to_dataclass(cls, raw.get(name), name) for name, cls in SECTION_TYPES.items()}
    seed = _coerce_int(raw.get("seed", 0))
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise BenchError(f"seed: expected a non-negative integer, got {raw.get('seed')!r}")
    check_capabilities(plugins["generator"], plugins["dataset"])
    head = getattr(plugins["classifier"].options, "head", "linear")
    if (head == "arcface") != (sections["train"].loss == "arcface"):
        raise BenchError(f"train.loss=arcface and classifier.head=arcface go together "
                         f"(got train.loss={sections['train'].loss}, classifier.head={head})")
    return RunConfig(**plugins, **sections, seed=seed)


def check_capabilities(generator: PluginChoice, dataset: PluginChoice) -> None:
    """A generator that needs a dataset capability (the `oracle` needs `render`) runs only on a dataset with it."""
    from bench.api import capabilities

    missing = [need for need in generator.plugin.needs_dataset if need not in capabilities(dataset.plugin)]
    if missing:
        offer = [name for name in registry.names("dataset") if _offers(name, missing)]
        raise BenchError(f"generator {generator.name!r} needs a dataset that can {' and '.join(missing)} new images "
                         f"of its own process (the dataset capability `Dataset.{missing[0]}`); dataset "
                         f"{dataset.name!r} does not offer it"
                         + (f"; datasets that can: {', '.join(offer)}" if offer else ""))


def _offers(dataset_name: str, needs: list[str]) -> bool:
    from bench.api import capabilities

    try:
        return set(needs) <= capabilities(registry.get("dataset", dataset_name))
    except BenchError:  # a broken plugin offers nothing
        return False


def merge(base: dict, top: dict) -> dict:
    """`top` over `base`, recursively; a plugin section given as a bare name counts as {'name': ...}."""
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        if key in PLUGIN_SECTIONS:
            old = {"name": old} if isinstance(old, str) else old
            value = {"name": value} if isinstance(value, str) else value
        out[key] = merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def build(config_file: Path | None = None, flags: dict | None = None, overrides: tuple[str, ...] = (),
          preset: str | None = None) -> RunConfig:
    """Defaults < preset < config file < flags < key=value overrides."""
    raw: dict = presets.load(preset) if preset else {}
    if config_file:
        raw = merge(raw, load_file(config_file))
    for key, value in (flags or {}).items():
        if value is not None:
            set_dotted(raw, key, value)
    for item in overrides:
        set_dotted(raw, *parse_override(item))
    return resolve(raw)


def normalise(cfg: RunConfig, say: Callable[[str], None]) -> RunConfig:
    """Check the generator/strategy pairing before any work; return the config a run uses (`cfg` is unchanged).

    A strategy that uses no synthetic data runs without a generator (the no-synthetic run), and a run
    without synthetic images has the default `synthetic` and `fidelity` sections, so every such control
    is one run.
    """
    generator, strategy = cfg.generator, cfg.strategy.plugin
    if not registry.fits(generator.plugin, strategy):
        if strategy.needs_synthetic:
            raise BenchError(f"strategy {cfg.strategy.name!r} needs synthetic images, but generator "
                             f"{cfg.generator.name!r} makes none; pick a generator that does (see `bench list`)")
        say(f"note: strategy {cfg.strategy.name!r} uses no synthetic images, so generator "
            f"{cfg.generator.name!r} is not used: this is the no-synthetic run")
        generator = choice("generator", "none")
    if not generator.plugin.produces_images:
        return dataclasses.replace(cfg, generator=generator, synthetic=SyntheticConfig(), fidelity=FidelityConfig())
    return dataclasses.replace(cfg, generator=generator, fidelity=resolved_fidelity(cfg))


def resolved_fidelity(cfg: RunConfig) -> FidelityConfig:
    """The `fidelity` section with `cas_epochs=0` resolved to the run's train.epochs (so the fidelity file's key
    names the budget its CAS classifier trained with)."""
    if cfg.fidelity.cas_epochs:
        return cfg.fidelity
    return dataclasses.replace(cfg.fidelity, cas_epochs=cfg.train.epochs)


_MOVED = {"require": "bench.api.require", "OptionError": "bench.api.OptionError",
          "runtime_field": "bench.api.runtime_field"}


def __getattr__(name: str):
    """`bench.config.require`, `OptionError` and `runtime_field` moved to `bench.api`; the old names still work."""
    if name in _MOVED:
        warnings.warn(f"bench.config.{name} moved to {_MOVED[name]}; import it from bench.api (plugins import "
                      f"bench.api only)", DeprecationWarning, stacklevel=2)
        return getattr(_options, name)
    raise AttributeError(f"module 'bench.config' has no attribute {name!r}")
