"""Fidelity of synthetic sets: torch-fidelity with the domain extractor, the real control, CAS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from conftest import TINY, bench_cli, folders

from bench.datasets.synthetic_cells import SyntheticCells
from bench.synthetic import fidelity

pytestmark = pytest.mark.xdist_group("fidelity")  # one worker builds the module's sets (and their reference run) once

CPU = torch.device("cpu")
MEASURED = (*TINY, "fidelity.cas=true")  # TINY leaves the CAS classifiers out; this file checks them


@pytest.fixture(scope="session")  # built once on the one worker that runs this module (xdist_group), whatever the order
def generated(tmp_path_factory):
    """`bench generate` for the real control and a 1-epoch paper DDPM on the tiny embedded dataset."""
    root = tmp_path_factory.mktemp("gen")
    out = {}
    # the paper's DDPM samples at 16 px for a 32 px dataset here, so its set has a resolution floor
    for name, extra in (("real", ()), ("ddpm", ("generator.epochs=1", "generator.sampling_steps=20",
                                                 "generator.resolution=16"))):
        result = bench_cli("generate", "--generator", name, *MEASURED, *extra, cwd=root)
        assert result.returncode == 0, result.stderr
        folder = next((root / "synthetic").glob(f"{name}-*"))
        out[name] = json.loads(next(folder.glob("fidelity-*.json")).read_text())
        out[name + "_stdout"] = result.stdout
    out["root"] = root
    return out


@pytest.mark.slow
def test_real_control_is_far_closer_than_the_papers_ddpm(generated):
    real, ddpm = generated["real"], generated["ddpm"]
    assert 0 <= real["fid"] < ddpm["fid"] and real["kid"] < ddpm["kid"]
    assert real["fid"] < 0.2 * ddpm["fid"]  # real-vs-real is near zero on this scale
    assert "FID" in generated["real_stdout"] and "CAS macro F1" in generated["real_stdout"]


@pytest.mark.slow
def test_cas_and_inception_note_are_recorded(generated):
    for name in ("real", "ddpm"):
        scores = generated[name]
        assert 0 <= scores["cas_f1_macro@tuned"] <= 1 and scores["cas_role"] == "test"
        assert scores["inception_fid"] is None and "Inception-v3 weights not found" in scores["inception_note"]
        assert isinstance(scores["per_class_fid"], dict) and scores["per_class_min_images"] == fidelity.MIN_PER_CLASS


@pytest.mark.slow
def test_reference_run_is_the_real_data_run_and_is_reused(generated):
    runs = folders(generated["root"] / "runs")
    assert len(runs) == 1  # trained once for both generators
    config = json.loads((runs[0] / "config.json").read_text())
    assert config["generator"]["name"] == "none" and config["strategy"]["name"] == "none"
    assert generated["real"]["reference_run"] == generated["ddpm"]["reference_run"] == runs[0].name


@pytest.mark.slow
def test_fidelity_explains_itself_against_floors_and_the_validation_role(generated):
    real, ddpm = generated["real"], generated["ddpm"]
    for scores in (real, ddpm):
        for key in ("precision", "recall", "density", "coverage"):
            assert 0 <= scores[key] and (key == "density" or scores[key] <= 1)
            assert 0 <= scores["val"][key]
        assert scores["val"]["fid"] > 0 and scores["version"] == fidelity.VERSION
        held = scores["floors"]["held-out real"]
        assert held["n_images"]["train"] <= scores["n_images"] and held["train"]["fid"] > 0
    assert "train through 16 px" in ddpm["floors"] and "train through 16 px" not in real["floors"]
    through = ddpm["floors"]["train through 16 px"]
    assert through["train"]["fid"] > 0 and through["n_images"]["train"] == ddpm["n_images"]  # as many as the set
    assert real["precision"] > ddpm["precision"] and real["coverage"] > ddpm["coverage"]
    for floor in ("floor: held-out real", "floor: train through 16 px"):
        assert floor in generated["ddpm_stdout"]


def test_degraded_images_lose_detail_and_keep_their_labels():
    data = SyntheticCells(SyntheticCells.Options(n_images=10, resolution=32, seed=0)).load()
    through = fidelity.degraded(data, 8)
    assert through.resolution == 32 and np.array_equal(through.labels, data.labels)
    original, blurred = data.take(np.arange(10)).astype(float), through.take(np.arange(10)).astype(float)
    high = lambda x: np.abs(np.diff(x, axis=-1)).mean()  # noqa: E731 - mean horizontal gradient
    assert high(blurred) < 0.7 * high(original)


@pytest.mark.slow
def test_label_consistency_and_cas_ratio(generated):
    real, ddpm = generated["real"], generated["ddpm"]
    assert 0 <= ddpm["label_consistency"] <= 1 and 0 <= ddpm["label_consistency_real_val"] <= 1
    assert ddpm["label_consistency_classes"] == sum(1 for n in ddpm["per_class_images"].values() if n)
    assert real["cas_real"] == real["cas_f1_macro@tuned"]
    assert ddpm["cas_real"] == real["cas_f1_macro@tuned"]  # the real set with the same synthetic settings
    for scores in (real, ddpm):  # the CAS classifier trains the asking run's epochs (TINY: 2)
        assert scores["cas_epochs"] == 2 and 0 < scores["cas_no_skill"] < 1
        expected = fidelity.cas_ratios(scores["cas_f1_macro@tuned"], scores["cas_real"], scores["cas_no_skill"])
        for key, value in expected.items():
            assert scores[key] == (pytest.approx(value, abs=1e-5) if isinstance(value, float) else value)
    for c in ddpm["per_class_label_consistency"]:
        assert ddpm["per_class_images"][c] >= fidelity.MIN_PER_CLASS_CONSISTENCY


@pytest.mark.slow
def test_precision_recall_density_coverage_equal_an_independent_implementation(generated):
    """torch-fidelity's precision/recall and our density/coverage against `prdc` (Naeem et al.'s own code)."""
    prdc = pytest.importorskip("prdc")
    reference = folders(generated["root"] / "runs")[0]
    a = SyntheticCells(SyntheticCells.Options(n_images=90, resolution=32, seed=0)).load()
    b = SyntheticCells(SyntheticCells.Options(n_images=70, resolution=32, seed=1)).load()
    fa, fb = (fidelity.domain_features(x, reference, CPU) for x in (a, b))
    ours = fidelity.distribution_metrics(fb, fa)
    for k, keys in ((fidelity.PRC_K, ("precision", "recall")), (fidelity.DC_K, ("density", "coverage"))):
        theirs = prdc.compute_prdc(real_features=fa.numpy(), fake_features=fb.numpy(), nearest_k=k)
        for key in keys:
            assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key  # one point is 1/70


@pytest.mark.slow
def test_domain_fid_equals_torch_fidelitys_own_calculate_metrics(generated):
    reference = folders(generated["root"] / "runs")[0]
    a = SyntheticCells(SyntheticCells.Options(n_images=60, resolution=32, seed=0)).load()
    b = SyntheticCells(SyntheticCells.Options(n_images=60, resolution=32, seed=1)).load()
    ours = fidelity.domain_metrics(a, b, reference, CPU)
    theirs = torch_fidelity.calculate_metrics(
        input1=fidelity.ImagesDataset(a), input2=fidelity.ImagesDataset(b), feature_extractor=fidelity.EXTRACTOR,
        feature_extractor_weights_path=str(reference), fid=True, kid=True, kid_subset_size=60, cuda=False,
        cache=False, verbose=False, save_cpu_ram=True)
    assert ours["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    same = fidelity.domain_metrics(a, a, reference, CPU)
    assert abs(same["fid"]) < 1e-6


@pytest.mark.slow
def test_fidelity_reaches_the_run_record(generated, tmp_path):
    import shutil

    root = Path(shutil.copytree(generated["root"], tmp_path / "copy"))  # the module's folders stay as built
    result = bench_cli("run", "--generator", "real", "--strategy", "concat", *MEASURED, cwd=root)
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in (root / "runs").glob("*/record.json")]
    with_set = [r for r in records if r["synthetic"]]
    assert with_set and with_set[0]["synthetic"]["fidelity"]["fid"] == generated["real"]["fid"]


@pytest.mark.slow
def test_leaderboard_shows_the_generator_table(generated, tmp_path):
    # the sets' own folder: under xdist this test may run where no run has used a set (each worker builds
    # `generated` for itself), and a set shows in the leaderboard whether or not a run used it
    result = bench_cli("leaderboard", "--runs-dir", str(generated["root"] / "runs"), "--out", str(tmp_path / "lb.md"),
                       "--synthetic-dir", str(generated["root"] / "synthetic"))
    assert result.returncode == 0, result.stderr
    board = (tmp_path / "lb.md").read_text()
    assert "### Synthetic sets" in board and "FID vs train" in board and "*floor: held-out real*" in board
    row = next(line for line in board.split("### Synthetic sets")[1].splitlines() if line.startswith("| `real-"))
    assert f"{generated['real']['fid']:.2f}" in row and f"{generated['real']['val']['fid']:.2f}" in row
    assert "CAS ratio" in board and "label consistency" in board


def test_the_reference_depends_only_on_dataset_and_split():
    from bench import config

    a = fidelity.reference_config(config.build(overrides=("classifier.name=resnet34", "train.epochs=3", "seed=4",
                                                          "generator.name=real", "strategy.name=concat")))
    b = fidelity.reference_config(config.build())
    assert a.hash() == b.hash()
    c = fidelity.reference_config(config.build(overrides=("split.name=paper",)))
    assert c.hash() != b.hash()


@pytest.mark.slow
def test_a_weak_reference_is_labelled_and_flagged(generated, tmp_path):
    """The tests' 1-epoch reference classifier is too weak to trust: the set's fidelity says so, and so
    does the leaderboard, which labels the reference run as what it is."""
    ddpm = generated["ddpm"]
    assert ddpm["reference_val_f1_macro@tuned"] < 0.25 and "too weak to trust" in ddpm["reference_warning"]
    assert len(ddpm["reference_weights"]) == 16  # the digest of its weights: which training measured the set
    assert "warning: the fidelity reference classifier" in generated["ddpm_stdout"]
    result = bench_cli("leaderboard", "--runs-dir", str(generated["root"] / "runs"), "--out", str(tmp_path / "b.md"),
                       "--synthetic-dir", str(generated["root"] / "synthetic"), "--no-plots")
    board = (tmp_path / "b.md").read_text()
    assert result.returncode == 0 and "(fidelity reference)" in board and "**Warning:** the fidelity reference" in board


@pytest.mark.slow
def test_an_edited_fidelity_file_is_measured_again(generated, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(generated["root"], root)
    path = next((root / "synthetic").glob("real-*/fidelity-*.json"))
    path.write_text(path.read_text().replace('"fid": ', '"fid": 1'))  # a hand edit
    result = bench_cli("generate", "--generator", "real", *MEASURED, cwd=root)
    assert result.returncode == 0 and "does not match its checksum" in result.stdout
    assert json.loads(path.read_text())["fid"] == generated["real"]["fid"]


def test_a_cas_ratio_is_shown_only_where_the_real_sets_cas_is_clear_of_no_skill():
    clear = fidelity.cas_ratios(own=0.10, real=0.40, no_skill=0.10)
    assert clear["cas_ratio"] == pytest.approx(0.25) and clear["cas_skill_ratio"] == pytest.approx(0.0)  # no skill
    assert fidelity.cas_ratios(own=0.40, real=0.40, no_skill=0.10)["cas_skill_ratio"] == pytest.approx(1.0)
    near = fidelity.cas_ratios(own=0.13, real=0.13, no_skill=0.08)  # the old CAS of the real set: 0.130
    assert near["cas_ratio"] is None and near["cas_skill_ratio"] is None
    assert "within 0.1 of the no-skill 0.080" in near["cas_note"]


def test_no_skill_is_every_class_predicted_for_every_image():
    from bench.evaluate.metrics import no_skill_f1

    labels = np.zeros((100, 28), dtype=np.uint8)
    labels[:50, 0] = 1  # prevalence 0.5: F1 2/3
    labels[:10, 1] = 1  # prevalence 0.1: F1 2/11
    assert no_skill_f1(labels) == pytest.approx((2 / 3 + 2 / 11) / 28, abs=1e-6)


@pytest.mark.slow
def test_memorisation_tells_copies_from_new_images():
    """The train role's own images are all memorised; fresh images of the true process about the percentile."""
    from bench import config
    from bench.data.splits import make_split

    cfg = config.build(overrides=("dataset.n_images=600", "dataset.resolution=32"))
    data = cfg.dataset.create().load()
    split = make_split(data.ids, data.labels, cfg.split)
    roles = {role: data.subset(split.indices(role)) for role in ("train", "val", "test")}
    train = roles["train"]

    def features(images):  # a stand-in for the reference's features: 8 x 8 average-pooled pixels
        x = torch.from_numpy(np.asarray(images.take(np.arange(len(images))))).float()
        return torch.nn.functional.avg_pool2d(x, 4).reshape(len(images), -1)

    copies = train.subset(np.arange(100))
    assert fidelity.memorisation(copies, roles, features, features(train)) == {
        "percentile": 5, "heldout_images": len(roles["val"]) + len(roles["test"]), "features": 1.0, "pixels": 1.0}
    generator = config.choice("generator", "oracle").create()
    generator.fit(train, seed=0, device=CPU, dataset=cfg.dataset.create())
    fresh_images = generator.sample(train.labels[:300], resolution=32, seed=0, device=CPU)
    from bench.data.images import LabelledImages

    fresh = LabelledImages([f"f{i}" for i in range(300)], train.labels[:300], fresh_images, "fresh")
    shares = fidelity.memorisation(fresh, roles, features, features(train))
    assert shares["features"] < 0.15 and shares["pixels"] < 0.15
