"""The leaderboard's synthetic-set tables: one row per set (not per run), each beside its floors.

- how close a set lies to real images, and how: FID and KID against the train role and the
  validation role, precision / recall and density / coverage, with the floors (held-out real
  images; real images through the generator's sampling resolution) as rows of their own;
- whether its images show their labels: label consistency next to the same on real images, CAS and
  the CAS ratio to the `real` set of the same size;
- per class (the rare classes first): label consistency and FID where a class has enough images.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import NamedTuple

import pandas as pd
from tabulate import tabulate

from bench import registry
from bench.data.labels import CLASS_NAMES
from bench.errors import BenchError
from bench.evaluate.metrics import F1_TUNED

SHOWN_VERSIONS = {2: "fidelity version 2: a reference trained on the images as they are, whose features i.i.d. "
                     "pixel noise dominates (on the embedded dataset at 64 px, fresh images of its own process "
                     "without their pixel noise scored FID 83 on them, beside 3.4 with it) and CAS classifiers "
                     "trained 10 epochs whatever the set's size; kept as recorded, not comparable with version 3",
                  3: ""}  # the fidelity versions whose tables the leaderboard shows, and what an older one was


def _num(value, digits: int = 3) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"


def changed_options(generator: dict) -> str:
    """The generator options of a recorded config that differ from the plugin's defaults, as `k=v, ...` ("" for
    none; "?" when the plugin is not installed here)."""
    try:
        defaults = dataclasses.asdict(registry.get("generator", generator["name"]).Options())
    except BenchError:
        return "?"
    return ", ".join(f"{k}={v}" for k, v in sorted(generator.items())
                     if k != "name" and (k not in defaults or defaults[k] != v))


def set_label(generator: dict, fingerprint: str, folder: str | None = None) -> str:
    """A set's one printed name: its folder (`oracle-a44e404e4faa13ee`, as in captions and on disk), or, for a set
    whose folder is not known here, its generator and fingerprint; then the generator options that differ
    from the plugin's defaults (two sets of one generator then say how they differ)."""
    name = f"`{folder}`" if folder else f"{generator['name']} `{fingerprint[:8]}`"
    changed = changed_options(generator)
    return name + (f" ({changed})" if changed and changed != "?" else "")


def set_folders(synthetic_dir: Path | None) -> dict[str, str]:
    """{set fingerprint: set folder name} of every set in `synthetic_dir` (an unreadable manifest is left out)."""
    out = {}
    for manifest in sorted(Path(synthetic_dir).glob("*/manifest.json")) if synthetic_dir else []:
        try:
            out[json.loads(manifest.read_text())["fingerprint"]] = manifest.parent.name
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def load_sets(synthetic_dir: Path | None) -> list[dict]:
    """Every finished set in `synthetic_dir` with a fidelity file of this version or an older one still shown
    (`SHOWN_VERSIONS`): {dataset_fp, split_fp, generator, synthetic_fp, folder, fidelity}, so a set shows in the
    leaderboard before any run used it."""

    out = []
    for manifest in sorted(Path(synthetic_dir or "").glob("*/manifest.json")) if synthetic_dir else []:
        try:
            meta = json.loads(manifest.read_text())
            for path in sorted(manifest.parent.glob("fidelity-*.json")):
                scores = json.loads(path.read_text())
                if scores.get("version") in SHOWN_VERSIONS and scores.get("set_fingerprint") == meta["fingerprint"]:
                    scores.pop("checksum", None)
                    out.append({"dataset_fp": meta["dataset_fingerprint"], "split_fp": meta["split_fingerprint"],
                                "generator": meta["generator"]["name"], "synthetic_fp": meta["fingerprint"],
                                "set_label": set_label(meta["generator"], meta["fingerprint"], manifest.parent.name),
                                "folder": manifest.parent, "fidelity": scores})
        except (OSError, ValueError, KeyError, TypeError) as exc:  # said, and left out
            print(f"leaderboard: synthetic set {manifest.parent} skipped: a damaged file ({type(exc).__name__}); "
                  f"`bench generate` with its options checks it and says how to rebuild it", file=sys.stderr)
    return out


def reference_training(scores: dict) -> tuple:
    """Which training of the reference classifier measured a set: (fidelity version, reference run, its
    validation macro F1 @tuned). The same configuration trained again on another machine is another model with
    other features: its run id is the same, its validation score tells it apart (records from before
    `reference_weights` was kept have only these two)."""
    score = scores.get(f"reference_val_{F1_TUNED}")
    return scores.get("version", 0), scores.get("reference_run") or "", -1.0 if score is None else round(score, 6)


def training_label(training: tuple) -> str:
    """A reference training as printed: its run and validation score."""
    _, run, score = training
    return f"`{run[:16]}` with validation macro F1 @tuned {_num(score if score >= 0 else None)}"


class Measured(NamedTuple):
    generator: str
    label: str
    scores: dict


def measurements(section: pd.DataFrame, extra: list[dict] = ()) -> dict[str, dict[tuple, Measured]]:
    """Every measurement of each synthetic set the section's runs used or `extra` (set folders) lists, one per
    reference training: {set fingerprint: {`reference_training`: Measured}}. Where one training measured a set
    more than once (other fidelity settings; a run's copy of the set's record), the one every table reads is
    a record with CAS before one without, then the set folder's (which the archive never overwrites)."""
    with_sets = section[section["synthetic_fp"].notna() & section["fidelity"].notna()]
    rows = [(1, r["generator"], r["synthetic_fp"], r["fidelity"], r["set_label"]) for _, r in with_sets.iterrows()]
    rows += [(0, s["generator"], s["synthetic_fp"], s["fidelity"], s["set_label"]) for s in extra]
    out: dict[str, dict[tuple, Measured]] = {}
    for _, generator, fp, scores, label in sorted(
            rows, key=lambda r: (r[3].get(f"cas_{F1_TUNED}") is None, r[0], json.dumps(r[3], sort_keys=True))):
        if scores.get("precision") is not None:  # a set measured on two feature spaces shows in the table of each
            out.setdefault(fp, {}).setdefault(reference_training(scores), Measured(generator, label, scores))
    return out


def distinct_sets(section: pd.DataFrame, extra: list[dict] = ()) -> list[tuple[tuple, str, dict]]:
    """(reference training, label, fidelity) of each set and training that measured it, by generator then set."""
    measured = measurements(section, extra)
    return [(training, m.label, m.scores)
            for fp, by_training in sorted(measured.items(), key=lambda item: (min(
                m.generator for m in item[1].values()), item[0]))
            for training, m in sorted(by_training.items())]


def _distribution_row(label: str, images, train: dict, val: dict) -> list[str]:
    return [label, str(images), _num(train["fid"], 2), _num(val["fid"], 2), _num(train["kid"], 4),
            *(_num(train[k]) for k in ("precision", "recall", "density", "coverage"))]


def closeness_table(sets: list[tuple[str, dict]]) -> str:
    rows, floors = [], {}
    for label, scores in sets:
        rows.append(_distribution_row(label, scores["n_images"], scores, scores["val"]))
        for name, floor in (scores.get("floors") or {}).items():
            n = floor["n_images"]
            floors.setdefault((name, n["train"], n["val"]), floor)
    for (name, n_train, n_val), floor in sorted(floors.items()):
        images = n_train if n_train == n_val else f"{n_train} / {n_val}"
        rows.append(_distribution_row(f"*floor: {name}*", images, floor["train"], floor["val"]))
    headers = ["set", "images", "FID vs train", "FID vs val", "KID vs train", "precision", "recall", "density",
               "coverage"]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def labels_table(sets: list[tuple[str, dict]]) -> str:
    rows = []
    for label, scores in sets:
        cas = scores.get(f"cas_{F1_TUNED}")
        memorised = scores.get("memorisation") or {}
        rows.append([label, f"{_num(scores.get('label_consistency'))} ({scores.get('label_consistency_classes', '—')})",
                     _num(scores.get("label_consistency_real_val")), _num(cas), _num(scores.get("cas_real")),
                     _num(scores.get("cas_no_skill")), _cas_ratio(scores),
                     f"{_num(memorised.get('features'))} / {_num(memorised.get('pixels'))}" if memorised else "—",
                     _num(scores.get("inception_fid"), 2)])
    headers = ["set", "label consistency (classes)", "same, real val images", "CAS macro F1 @tuned",
               "CAS of `real`, same size", "CAS no-skill", "CAS ratio (skill ratio)",
               "memorised (features / pixels)", "Inception FID"]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _cas_ratio(scores: dict) -> str:
    if scores.get(f"cas_{F1_TUNED}") is not None and "cas_no_skill" not in scores:
        return "— (recorded without a no-skill score: not shown)"
    if scores.get("cas_note"):
        return "— (the real set's CAS is within 0.1 of no-skill)"
    ratio, skill = scores.get("cas_ratio"), scores.get("cas_skill_ratio")
    return _num(ratio, 2) + (f" ({_num(skill, 2)})" if skill is not None else "")


def per_class_table(sets: list[tuple[str, dict]]) -> str | None:
    """Label consistency (and FID) per class for the classes with enough images in any set, rarest first."""
    classes = sorted({int(c) for _, s in sets for c in (s.get("per_class_label_consistency") or {})})
    if not classes:
        return None
    counts = {c: max((s.get("per_class_images") or {}).get(str(c), 0) for _, s in sets) for c in classes}
    rows = []
    for c in sorted(classes, key=lambda c: (counts[c], c)):
        cells = []
        for _, s in sets:
            f1 = (s.get("per_class_label_consistency") or {}).get(str(c))
            fid = (s.get("per_class_fid") or {}).get(str(c))
            cells.append("—" if f1 is None else _num(f1) + (f" · FID {fid:.1f}" if fid is not None else ""))
        rows.append([f"{c} {CLASS_NAMES[c]}", counts[c], *cells])
    headers = ["class", "images (largest set)", *(label for label, _ in sets)]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def in_section(section: pd.DataFrame, sets: list[dict]) -> list[dict]:
    """The sets made on the section's dataset and split: on its protocol's train role, or on a train subset of it
    that a run of the section used (a set records its own split's fingerprint)."""
    if not sets:
        return []
    first = section.iloc[0]
    splits = {first["split_fp"], *(section["split_subset_fp"] if "split_subset_fp" in section else ())}
    return [s for s in sets if s["dataset_fp"] == first["dataset_fp"] and s["split_fp"] in splits]


def render(section: pd.DataFrame, extra: list[dict] = ()) -> list[str]:
    """The markdown lines of a section's synthetic-set tables: one block per reference training (sets measured
    on different features are never in one table), the newest fidelity version first, then the training that
    measured the most sets; none without a measured set."""
    groups: dict[tuple, list] = {}
    for training, label, scores in distinct_sets(section, in_section(section, list(extra))):
        groups.setdefault(training, []).append((label, scores))
    order = sorted(groups, key=lambda t: (-t[0], -len(groups[t]), t[1], t[2]))
    out, shown = [], set()
    for training in order:
        out += (_render_group if training[0] not in shown else _render_retraining)(training, groups[training])
        shown.add(training[0])
    return out


def _reference_line(training: tuple, sets: list[tuple[str, dict]]) -> str:
    weights = sorted({s["reference_weights"][:12] for _, s in sets if s.get("reference_weights")})
    return (f"Reference classifier: run {training_label(training)} (the real-data run labelled `fidelity "
            f"reference`" + (f"; weights `{'`, `'.join(weights)}`" if weights else "") + "); below 0.25 its "
            "features are flagged as too weak to trust.")


def _warnings(sets: list[tuple[str, dict]]) -> list[str]:
    return [line for w in sorted({s.get("reference_warning") for _, s in sets} - {None})
            for line in (f"**Warning:** {w}.", "")]


def _render_retraining(training: tuple, sets: list[tuple[str, dict]]) -> list[str]:
    """The tables of sets measured by another training of the reference of a version already shown."""
    return [f"#### The same, measured by another training of the reference ({len(sets)} "
            f"set{'s' if len(sets) > 1 else ''})", "",
            "The same configuration of the reference trained again (on another machine) is another model with "
            "other features: these figures compare with each other, not with the tables above; a set in both "
            "shows how far the two trainings' measures lie apart.", "",
            _reference_line(training, sets), "", *_warnings(sets), closeness_table(sets), "", labels_table(sets),
            ""]


def _render_group(training: tuple, sets: list[tuple[str, dict]]) -> list[str]:
    scores = sets[0][1]
    old = SHOWN_VERSIONS.get(scores.get("version"), "")
    reference, warnings = _reference_line(training, sets), _warnings(sets)
    out = ["### Synthetic sets" + (f" (fidelity version {scores.get('version')})" if old else ""), "",
           *([f"*Measured by {old}.*", ""] if old else []),
           "Each set once, measured before any classifier used it, on the penultimate features of the real-data "
           "reference classifier (torch-fidelity). FID and KID against the real train role the generator learned "
           "from and against the held-out validation role; precision and recall (k = 3, Kynkäänniemi et al. "
           "2019: the share of the set on the real manifold, the share of the real manifold the set reaches) and "
           "density and coverage (k = 5, Naeem et al. 2020) against the train role. *Floors* are what a generator "
           "could at best reach: held-out real images (val + test against train; train against val), and real "
           "train images through the generator's sampling resolution and back. Lower FID/KID is closer; precision, "
           "recall and coverage are at most 1; density is 1 for a set like the real one.", "",
           reference, "", *warnings, closeness_table(sets), "",
           "Label consistency: the reference classifier's macro F1 on the set against the labels its images were "
           "generated for (at the reference's tuned thresholds, over the classes the set has; in brackets), next "
           "to the same on real validation images over the same classes. CAS: macro F1 on the real test role of a "
           "classifier trained on the set alone; the ratio divides it by the CAS of the `real` set with the same "
           "label rows and size, the skill ratio divides what each gains over no-skill (every class predicted for "
           "every image), so a set that teaches nothing scores 0; both only where the `real` set's CAS is at least "
           "0.1 above no-skill. Memorised: the share of the set nearer its nearest train image than 95% of held-out "
           "real images are (new images: about 0.05; copies: 1).", "",
           labels_table(sets), ""]
    per_class = per_class_table(sets)
    if per_class:
        out += ["Per class (rarest first; label consistency where a set has at least "
                f"{scores.get('per_class_consistency_min_images', 10)} images of the class, FID where it has at "
                f"least {scores.get('per_class_min_images', 50)} on both sides):", "", per_class, ""]
    return out
