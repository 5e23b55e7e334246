"""Statistics of a section's runs: each configuration's effect against its no-synthetic control (paired by
seed, with its interval) and the learning curves that join a configuration's train sizes."""

from __future__ import annotations

import dataclasses

import pandas as pd

from bench.evaluate.metrics import F1_TUNED
from bench.report.intervals import (
    beyond_zero,
    fmt_bounds,
    t_bounds,
    welch_bounds,
)
from bench.report.paired import PairedTest, control_of, is_control
from bench.report.runs_frame import NAMES, budget_order, budget_text


def all_controls(runs: pd.DataFrame) -> bool:
    """Whether every run of `runs` is a no-synthetic control."""
    return bool(is_control(runs).all())


@dataclasses.dataclass(frozen=True)
class Effect:
    """One configuration against the no-synthetic control of its settings, paired by seed: per role ("val",
    "test", and "gap": how much wider its validation − test gap is than the control's), the mean difference
    in macro F1 @tuned (None without a paired value) and its 95% interval ((None, None) without one)."""

    names: tuple[str, ...]  # generator, strategy, classifier
    group: str
    train_images: int
    epochs: int
    sized: bool  # the section has nested train subsets, so the effect names its train size
    seeds: int
    mean: dict
    bounds: dict
    pairs: tuple = ()  # (treated run, control run) per paired seed with a test score
    test_diffs: tuple = ()  # the paired test differences, one per seed
    variant: str = ""  # the generator's options where they differ from its defaults (an oracle degradation)
    budget: str = ""  # the optimizer budget as `budget_text` writes it ("plateau", "10"), where the runs record one

    @property
    def size(self) -> str:
        return f"{self.train_images} train images, {self.epochs} epochs" + \
            (f", budget {self.budget}" if self.budget else "")

    @property
    def label(self) -> str:
        """generator/strategy/classifier, the generator's changed options in brackets, with the train size and
        epochs where the section has several sizes."""
        return "/".join((self.generator, *self.names[1:])) + (f" at {self.size}" if self.sized else "")

    @property
    def generator(self) -> str:
        """The generator's name, with its options in brackets where they differ from its defaults."""
        return f"{self.names[0]} ({self.variant})" if self.variant else self.names[0]

    def shown(self, role: str) -> tuple[str, str]:
        """The mean and interval of `role` as the tables write them."""
        mean = self.mean.get(role)
        return ("—" if mean is None else f"{mean:+.3f}"), fmt_bounds(self.bounds.get(role, (None, None)))

    def beyond_zero(self, role: str) -> int:
        """+1 where the interval of `role`, as shown, lies above 0; -1 where below; else 0."""
        return beyond_zero(self.bounds.get(role, (None, None)))

    def cells(self) -> list:
        config = f"{self.group} · {self.size}" if self.sized else self.group
        return [self.generator, *self.names[1:], config, self.seeds, *self.shown("val"), *self.shown("test"),
                *self.shown("gap")]


EFFECT_HEADERS = [*NAMES, "config", "paired seeds", "Δ val macro F1 @tuned", "val 95% CI", "Δ test macro F1 @tuned",
                  "test 95% CI", "Δ gap (val − test)", "gap 95% CI"]
GAP_INTERVAL = "a Student-t interval over seeds of the paired change of the validation − test gap"


def effect_rows(section: pd.DataFrame, paired: PairedTest | None = None) -> tuple[list[Effect], set]:
    """Each configuration against the no-synthetic control with the same classifier and training
    settings: the mean paired difference over shared seeds, with an interval: on test, where the runs'
    predictions are in `paired`'s runs folder, over seeds and test images (`SEED_IMAGE_INTERVAL`), else a t-interval
    over seeds (`EFFECT_INTERVAL`); smallest train size, then largest test (else validation) gain first.
    Also returns which intervals were of which kind ({"seeds", "seeds+images"})."""
    effects, order, kinds, paired = [], [], set(), paired or PairedTest(None)
    sized = section["train_images"].nunique() > 1  # nested train subsets: each effect says its size
    for (group, *names), runs in section.groupby(["group", *NAMES], sort=True):
        if all_controls(runs):
            continue
        control = control_of(section, runs).set_index("seed")
        mine = runs.set_index("seed")
        seeds = sorted(set(mine.index) & set(control.index))
        if not seeds:  # no control of the same settings and seeds (a ladder rung, say): nothing to pair with
            continue
        means, bounds, diffs = {}, {}, {}
        for role in ("val", "test"):
            diffs[role] = (mine.loc[seeds, f"{role}:{F1_TUNED}"] - control.loc[seeds, f"{role}:{F1_TUNED}"]).dropna()
            means[role] = float(diffs[role].mean()) if len(diffs[role]) else None
        pairs = tuple(zip(mine.loc[diffs["test"].index, "run"], control.loc[diffs["test"].index, "run"])) \
            if "run" in section else ()
        for role in ("val", "test"):
            image_bounds = paired.bounds(*map(list, zip(*pairs))) if role == "test" and len(pairs) >= 2 else None
            if len(diffs[role]) >= 2:
                kinds.add("seeds+images" if image_bounds else "seeds")
            bounds[role] = image_bounds or t_bounds(diffs[role])
        diffs["gap"] = (diffs["val"] - diffs["test"]).dropna()  # validation overstating test more than the control's
        means["gap"] = float(diffs["gap"].mean()) if len(diffs["gap"]) else None
        bounds["gap"] = t_bounds(diffs["gap"])
        effect = Effect(tuple(names), group, int(runs["train_images"].iloc[0]),
                        int(runs["epochs"].iloc[0]) if "epochs" in runs else 0, sized, len(seeds), means, bounds,
                        pairs, tuple(diffs["test"]),
                        runs["generator_changed"].iloc[0] if "generator_changed" in runs else "",
                        budget_text(runs["budget"].iloc[0]) if "budget" in runs else "")
        gain = means["test"] if means["test"] is not None else means["val"]
        effects.append(effect)
        order.append((effect.train_images if sized else 0, -gain if gain is not None else float("inf"), group))
    return [effect for _, effect in sorted(zip(order, effects), key=lambda pair: pair[0])], kinds


@dataclasses.dataclass(frozen=True)
class Curve:
    """One learning curve: the same settings at several train sizes (with the epochs that keep the optimizer
    budget), each size's effect against the control of that size, and the change of the test effect from the
    largest size to the smallest (`change`, with its 95% interval `bounds` and what it covers, `kind`)."""

    names: tuple[str, ...]
    budget: float | str  # epochs of the whole train role, or the name of a budget rule (`train.budget`)
    curve: str
    effects: dict  # train images -> Effect
    change: float | None = None
    bounds: tuple = (None, None)
    kind: str | None = None  # "seeds+images" or "seeds"
    variant: str = ""  # the generator's options where they differ from its defaults (an oracle degradation)

    @property
    def ends(self) -> tuple[int, int]:
        return min(self.effects), max(self.effects)

    @property
    def label(self) -> str:
        small, large = self.ends
        return f"{'/'.join(self.names)} ({small} vs {large} train images, budget {budget_text(self.budget)})"

    def shown(self) -> str:
        return "—" if self.change is None else f"{self.change:+.3f} {fmt_bounds(self.bounds)}"


def learning_curves(section: pd.DataFrame, effects: list[Effect], paired: PairedTest | None = None) -> list[Curve]:
    """The effects grouped into learning curves (rows of `curve_table`), each with the change of its test effect
    between its smallest and largest train size: over seeds and test images (`intervals.change_bounds`) where
    the runs' predictions are in `paired`'s folder, else Welch's interval over seeds; [] with one train size."""
    by_group = section.drop_duplicates("group").set_index("group")
    grouped: dict[tuple, dict[int, Effect]] = {}
    for effect in effects:
        info = by_group.loc[effect.group]
        budget = info["budget"] if isinstance(info["budget"], str) else float(info["budget"])
        grouped.setdefault((*effect.names, budget, info["curve"]), {})[effect.train_images] = effect
    if len({size for by_size in grouped.values() for size in by_size}) < 2:
        return []
    curves = []
    for key, by_size in sorted(grouped.items(), key=lambda item: (budget_order(item[0][len(NAMES)]),
                                                                  item[0][:len(NAMES)], item[0][-1])):
        curve = Curve(tuple(key[:len(NAMES)]), key[len(NAMES)], key[-1], dict(sorted(by_size.items())),
                      variant=next(iter(by_size.values())).variant)
        small, large = (by_size[n] for n in curve.ends)
        if small is not large and small.mean["test"] is not None and large.mean["test"] is not None:
            imaged = (paired or PairedTest(None)).change(list(small.pairs), list(large.pairs))
            bounds = imaged or welch_bounds(small.test_diffs, large.test_diffs)
            curve = dataclasses.replace(curve, change=small.mean["test"] - large.mean["test"], bounds=bounds,
                                        kind=None if bounds[0] is None else "seeds+images" if imaged else "seeds")
        curves.append(curve)
    return curves
