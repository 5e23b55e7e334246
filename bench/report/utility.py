"""What a synthetic set is worth against the best a generator could do, and which fidelity measure says so.

- **Generator utility**: for each strategy and train size, the share of the oracle's gain over the
  `real` set that a set recovers, (F1(set) - F1(real)) / (F1(oracle) - F1(real)) on test, runs paired
  by seed, with the Fieller interval over seeds and test images of `intervals.ratio_bounds`; undefined
  where the oracle's own gain over `real` is not told apart from 0. The oracle is the `oracle`
  generator at its default options (fresh, undegraded images of the true process).
- **Fidelity to benefit**: each set's test effect against the control beside its fidelity (version 3
  features: label consistency, FID, precision, recall, coverage), and, over all sets of a strategy and
  size, Spearman's rank correlation of each measure with the effect, with a Fisher-z interval over the
  sets (the sets are the sample; with few sets it is wide, as it must be), and each measure's shortfall
  from the best measure with Zou's interval, which says whether the best is told apart from the rest.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats
from tabulate import tabulate

from bench.evaluate.metrics import F1_TUNED
from bench.report import fidelity_tables
from bench.report.intervals import fmt_bounds
from bench.report.runs_frame import budget_text

ORACLE, REAL = "oracle", "real"
FIDELITY_VERSION = 3  # the features the fidelity-to-benefit columns are read on (checked against the oracle)
MEASURES = {"label_consistency": ("label consistency", 1), "fid": ("FID", -1), "precision": ("precision", 1),
            "recall": ("recall", 1), "coverage": ("coverage", 1),
            "cas_f1_macro@tuned": ("CAS", 1)}  # key -> (name, sign of "better")
WHICH_MEASURE = """Which measure predicts the benefit: Spearman's rank correlation of each measure (signed so that
higher is better) with the test effect over the sets of a strategy and train size (sets measured on every measure;
not the `real` set, copies of train images that every measure rates near perfect while they add no new image),
best first, with a 95% interval (Fisher's z with Bonett and Wright's standard error), and each measure's shortfall
from the best on the same sets with a 95% interval (Zou's, for two correlations sharing the effect): a measure is
told apart from the best only where that interval excludes 0. The intervals' level, checked in simulation
(`benchmarks/rank_interval_coverage.py`, 6-16 sets): 94.7-99.8%."""
MIN_SETS = 4  # sets needed for a rank correlation with an interval (Fisher's z needs n > 3)


@dataclasses.dataclass(frozen=True)
class Utility:
    """One set's utility at one strategy, classifier and train size."""

    generator: str
    set_label: str
    strategy: str
    classifier: str
    train_images: int
    seeds: int
    estimate: float | None
    bounds: tuple
    note: str
    ends_seeds: tuple = ()  # the synthetic seeds of the `oracle` and `real` runs, where either is not the set's

    def cells(self) -> list[str]:
        shown = "—" if self.estimate is None else f"{self.estimate:+.2f}"
        interval = self.note if self.bounds[0] is None else fmt_bounds(self.bounds, digits=2)
        return [self.set_label + _ends_text(self.ends_seeds), self.strategy, self.classifier, str(self.train_images),
                str(self.seeds), shown, interval]


def _ends_text(seeds: tuple) -> str:
    """Where the scale's ends were drawn under another synthetic seed than the set: which."""
    if not seeds:
        return ""
    oracle, real = seeds
    return (f" (ends: synthetic.seed={oracle})" if oracle == real
            else f" (ends: `oracle` at synthetic.seed={oracle}, `real` at {real})")


def _by_seed(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop_duplicates("seed").set_index("seed")


def _ends_at(ends: pd.DataFrame, synthetic_seed: int) -> pd.DataFrame:
    """The runs of one end of the scale (`real` or `oracle`) at the set's synthetic seed, else at the lowest one
    they have: another draw of the same number of images with labels sampled the same way."""
    at = ends["synthetic_seed"]
    return ends[at == (synthetic_seed if (at == synthetic_seed).any() else at.min())]


def utilities(section: pd.DataFrame, paired) -> list[Utility]:
    """Every set of the section that has the oracle and the `real` set beside it (same control settings, synthetic
    settings, strategy and classifier, shared seeds), with its utility and interval; [] where the section has no
    oracle. The ends are those of the set's own synthetic seed where they were run at it (`_ends_at`)."""
    out = []
    keys = ["control_key", "synthetic_settings", "strategy", "classifier"]
    for (_, _, strategy, classifier), runs in section[section["strategy"] != "none"].groupby(keys, sort=True):
        ends = {name: runs[(runs["generator"] == name) & (runs["generator_changed"] == "")] for name in (ORACLE, REAL)}
        if any(frame.empty for frame in ends.values()):
            continue
        end_groups = set(ends[ORACLE]["group"]) | set(ends[REAL]["group"])
        for group, mine in runs.groupby("group", sort=True):
            if group in end_groups:  # the oracle and the `real` set are the scale's ends, not sets on it
                continue
            first = mine.iloc[0]
            ceiling, reference = (_ends_at(ends[name], first["synthetic_seed"]) for name in (ORACLE, REAL))
            drawn = (int(ceiling["synthetic_seed"].iloc[0]), int(reference["synthetic_seed"].iloc[0]))
            ceiling, reference, mine = _by_seed(ceiling), _by_seed(reference), _by_seed(mine)
            seeds = sorted(set(mine.index) & set(ceiling.index) & set(reference.index))
            score = {name: frame.loc[seeds, f"test:{F1_TUNED}"].astype(float)
                     for name, frame in (("set", mine), ("real", reference), ("oracle", ceiling))}
            gain = float((score["oracle"] - score["real"]).mean()) if seeds else float("nan")
            estimate = float((score["set"] - score["real"]).mean()) / gain if seeds and gain else None
            low, high, note = paired.ratio(*(list(frame.loc[seeds, "run"]) for frame in (mine, reference, ceiling)))
            out.append(Utility(first["generator"], first["set_label"], strategy, classifier,
                               int(first["train_images"]), len(seeds), estimate, (low, high), note,
                               () if set(drawn) == {first["synthetic_seed"]} else drawn))
    return sorted(out, key=lambda u: (u.train_images, u.strategy, u.classifier, -(u.estimate or -np.inf)))


def fidelity_frame(section: pd.DataFrame, effects: list, sets: list[dict] = ()) -> pd.DataFrame:
    """One row per configuration with a synthetic set measured on version 3 features: its test effect against
    the control (mean and 95% interval, as in the effect table) and its set's fidelity measures, read as the
    set tables read them (`fidelity_tables.measurements`, from the runs' records and the set folders `sets`).
    A set measured by several trainings of the reference is read on the training that measured the most of
    these sets, so that as many sets as can be are compared on one model's features; CAS, which does not use
    the reference, comes from another record of the set where that one has none."""
    measured = fidelity_tables.measurements(section, fidelity_tables.in_section(section, list(sets)))
    by_group = section.drop_duplicates("group").set_index("group")
    mine = [(effect, by_group.loc[effect.group, "synthetic_fp"]) for effect in effects
            if effect.mean["test"] is not None and effect.group in by_group.index]
    trainings = {fp: [t for t in measured.get(fp, {}) if t[0] == FIDELITY_VERSION] for _, fp in mine}
    counts = Counter(t for fp in {fp for _, fp in mine} for t in trainings[fp])
    rows = []
    for effect, fp in mine:
        if not trainings[fp]:
            continue
        training = min(trainings[fp], key=lambda t: (-counts[t], t))
        scores = {**_cas(measured[fp].values()), **{k: v for k, v in measured[fp][training].scores.items()
                                                     if v is not None}}
        rows.append({"group": effect.group, "set": by_group.loc[effect.group, "set_label"],
                     "changed": by_group.loc[effect.group, "generator_changed"],
                     "generator": effect.names[0], "strategy": effect.names[1], "classifier": effect.names[2],
                     "train_images": effect.train_images, "budget": by_group.loc[effect.group, "budget"],
                     "seeds": effect.seeds, "effect": effect.mean["test"],
                     "low": effect.bounds["test"][0], "high": effect.bounds["test"][1],
                     "reference": fidelity_tables.training_label(training),
                     **{key: scores.get(key) for key in MEASURES}})
    return pd.DataFrame(rows)


def _cas(records) -> dict:
    """The CAS of the first of a set's records that has one ({} where none has)."""
    cas = f"cas_{F1_TUNED}"
    return next(({cas: m.scores[cas]} for m in records if m.scores.get(cas) is not None), {})


def mixed_references(frame: pd.DataFrame) -> list[str]:
    """A note where the sets of the fidelity table were measured by more than one reference classifier."""
    counts = frame.drop_duplicates("set")["reference"].value_counts()
    if len(counts) < 2:
        return []
    listed = "; ".join(f"{name}: {n} set{'s' if n > 1 else ''}" for name, n in counts.items())
    return [f"**These sets were measured by {len(counts)} trainings of the reference classifier** ({listed}): the "
            "same configuration trained again on another machine is another model, so a measure is "
            "compared exactly only between sets measured by the same one; a set measured by both is read on the "
            "training that measured more of them (the synthetic-set tables below show both).", ""]


def rho_bounds(rho: float, n: int) -> tuple:
    """95% interval of Spearman's rho over n sets: Fisher's z with Bonett and Wright's standard error,
    sqrt((1 + rho^2 / 2) / (n - 3)), a perfect ranking counted as the nearest one short of it (one adjacent swap)
    so that few sets ranked perfectly do not give an interval of width 0; its level is checked in
    `benchmarks/rank_interval_coverage.py`."""
    if n <= 3:
        return None, None
    rho = _short_of_perfect(rho, n)
    z, half = np.arctanh(rho), stats.norm.ppf(0.975) * np.sqrt((1 + rho ** 2 / 2) / (n - 3))
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def rho_difference_bounds(rho_a: float, rho_b: float, rho_ab: float, n: int) -> tuple:
    """95% interval of rho(A, effect) - rho(B, effect) on the same n sets: Zou's (2007) interval for two
    correlations sharing a variable, from each one's `rho_bounds` and the correlation of the two estimates."""
    (low_a, high_a), (low_b, high_b) = rho_bounds(rho_a, n), rho_bounds(rho_b, n)
    if low_a is None:
        return None, None
    a, b = (_short_of_perfect(r, n) for r in (rho_a, rho_b))
    c = ((rho_ab - a * b / 2) * (1 - a ** 2 - b ** 2 - rho_ab ** 2) + rho_ab ** 3) / ((1 - a ** 2) * (1 - b ** 2))
    low = a - b - np.sqrt(max((a - low_a) ** 2 + (high_b - b) ** 2 - 2 * c * (a - low_a) * (high_b - b), 0.0))
    high = a - b + np.sqrt(max((high_a - a) ** 2 + (b - low_b) ** 2 - 2 * c * (high_a - a) * (b - low_b), 0.0))
    return float(low), float(high)


def _short_of_perfect(rho: float, n: int) -> float:
    """rho, with +-1 moved to the nearest value n ranks can reach: 1 - 12 / (n (n^2 - 1)) (one adjacent swap)."""
    limit = 1 - 12 / (n * (n ** 2 - 1))
    return float(np.clip(rho, -limit, limit))


def rank_correlations(frame: pd.DataFrame) -> list[list[str]]:
    """Per strategy and train size with at least MIN_SETS sets other than `real` (copies of train images, which
    every fidelity measure rates near perfect while they add no new image: the utility scale's zero, not a
    generator), each measured on every measure: Spearman's rho of each measure (signed so
    that higher is better) with the test effect and its 95% interval (`rho_bounds`), best first, and each
    measure's shortfall from the best on the same sets with its 95% interval (`rho_difference_bounds`):
    a measure is told apart from the best where that interval excludes 0."""
    rows = []
    shown = frame.assign(budget=frame["budget"].map(budget_text))  # named and numbered budgets group as printed
    for (strategy, size, budget), part in shown[shown["generator"] != REAL].groupby(
            ["strategy", "train_images", "budget"], sort=True):
        values = part.dropna(subset=list(MEASURES))
        signed = {name: sign * values[key].to_numpy(float) for key, (name, sign) in MEASURES.items()
                  if np.ptp(values[key].to_numpy(float)) > 0}  # a measure that does not vary ranks nothing
        effect = values["effect"].to_numpy(float)
        n = len(values)
        if n < MIN_SETS or np.ptp(effect) == 0 or not signed:
            continue
        rho = {name: float(stats.spearmanr(x, effect).statistic) for name, x in signed.items()}
        order = sorted(rho, key=lambda name: -rho[name])
        best = order[0]
        for name in order:
            if name == best:
                shortfall = ["best", ""]
            else:
                between = float(stats.spearmanr(signed[best], signed[name]).statistic)
                bounds = rho_difference_bounds(rho[best], rho[name], between, n)
                shortfall = [f"{rho[best] - rho[name]:+.2f}", fmt_bounds(bounds, digits=2)]
            rows.append([strategy, str(size), budget, name, str(n), f"{rho[name]:+.2f}",
                         fmt_bounds(rho_bounds(rho[name], n), digits=2), *shortfall])
    return rows


def render(section: pd.DataFrame, effects: list, paired, sets: list[dict] = ()) -> list[str]:
    """The section's utility and fidelity-to-benefit tables (none where it has neither)."""
    out = []
    found = utilities(section, paired)
    if found:
        out += ["### Generator utility", "",
                "The share of the oracle's gain that a set recovers: (test macro F1 @tuned of the set − that of the "
                "`real` set) / (that of the `oracle` − that of the `real` set), the three trained with the same "
                "strategy, classifier, train size and seeds (paired by seed). 1: as good as fresh images of the "
                "true process; 0: as good as reusing real train images; below 0: worse. The 95% interval is "
                "Fieller's for a ratio, over seeds (Student t) and the shared test images (a paired bootstrap), "
                "as the effect intervals are; it is undefined where the oracle's own gain over `real` is not told "
                "apart from 0 (then no generator can be placed on this scale). Its level, checked in simulation "
                "(`benchmarks/utility_interval_coverage.py`): 93.9-97.3% coverage over six cases. A set trained "
                "under a synthetic seed at which `real` and `oracle` were not run is placed between theirs at "
                "another (its row says which): the same number of images and label sampling, another draw.", "",
                tabulate([u.cells() for u in found], ["set", "strategy", "classifier", "train images", "paired seeds",
                                                      "utility", "95% interval"],
                         tablefmt="github", disable_numparse=True), ""]
    frame = fidelity_frame(section, effects, sets)
    if not frame.empty:
        mixed = frame["reference"].nunique() > 1  # then each row says which training measured its set
        rows = [[r["set"], r["strategy"], str(r["train_images"]), budget_text(r["budget"]), str(r["seeds"]),
                 f"{r['effect']:+.3f}", fmt_bounds((r["low"], r["high"])), *(_num(r[k]) for k in MEASURES),
                 *([r["reference"].split(" @tuned ")[-1]] if mixed else [])] for _, r in frame.iterrows()]
        out += ["### Fidelity to benefit", "",
                "Each set's test effect against the control (as in the effect table) beside its fidelity on the "
                "checked features of fidelity version 3: how good must a generator's images be before they help? "
                "(—: one seed, no interval.)",
                "", tabulate(rows, ["set", "strategy", "train images", "budget", "seeds", "Δ test macro F1 @tuned",
                                    "95% CI", *(name for name, _ in MEASURES.values()),
                                    *(["reference's val F1"] if mixed else [])],
                             tablefmt="github", disable_numparse=True), "", *mixed_references(frame)]
        correlations = rank_correlations(frame)
        if correlations:
            out += [" ".join(WHICH_MEASURE.split()), "",
                    tabulate(correlations, ["strategy", "train images", "budget", "measure", "sets", "rho",
                                            "95% interval", "shortfall from the best", "its 95% interval"],
                             tablefmt="github", disable_numparse=True), "",
                    "CAS is the macro F1 @tuned, on the test images, of a classifier trained on the set alone for the "
                    "control's budget; it shares those test images (and their noise) with the effect it is ranked "
                    "against, which the other measures do not.", ""]
    return out


def _num(value) -> str:
    return "—" if value is None or value != value else f"{value:.3f}"
