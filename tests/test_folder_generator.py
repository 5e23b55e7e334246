"""`folder`: images made outside the harness, benchmarked end to end, in both layouts; and every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY, bench_cli
from PIL import Image

from bench.data.kaggle import write_labels_csv, write_layout
from bench.datasets.synthetic_cells import SyntheticCells

N = 24


@pytest.fixture(scope="module")
def made():
    """Images someone made elsewhere: here rendered by another seed of the embedded dataset, at 32 px."""
    data = SyntheticCells(SyntheticCells.Options(n_images=N, resolution=32, seed=7)).load()
    return [f"img{i:03d}" for i in range(N)], data.labels, data.take(np.arange(N))


def files_layout(folder, made, formats=(".png", ".tif", ".npy")):
    """One 4-channel file per image (formats in turn) and labels.csv."""
    ids, labels, images = made
    folder.mkdir(parents=True)
    for k, (image_id, image) in enumerate(zip(ids, images)):
        suffix = formats[k % len(formats)]
        if suffix == ".npy":
            np.save(folder / f"{image_id}.npy", image if k % 2 else np.moveaxis(image, 0, -1))
        else:
            Image.fromarray(np.moveaxis(image, 0, -1), mode="RGBA").save(folder / f"{image_id}{suffix}")
    write_labels_csv(folder / "labels.csv", ids, labels)
    return folder


def generate(tmp_path, folder, *extra):
    return bench_cli("generate", "--generator", "folder", f"generator.path={folder}", *TINY, *extra,
                     "--synthetic-dir", str(tmp_path / "synthetic"), "--runs-dir", str(tmp_path / "runs"))


def the_set(tmp_path):
    (manifest,) = (tmp_path / "synthetic").glob("folder-*/manifest.json")
    return manifest.parent


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["kaggle", "files"])
def test_a_folder_made_elsewhere_is_benchmarked_reused_and_rebuilt_when_it_changes(made, tmp_path, layout):
    ids, labels, images = made
    folder = tmp_path / "made"
    if layout == "kaggle":
        write_layout(folder, ids, labels, images)
    else:
        files_layout(folder, made)
    first = generate(tmp_path, folder)
    assert first.returncode == 0, first.stderr
    assert f"reads the {N} labelled images of {folder}" in first.stdout and "label consistency" in first.stdout
    built = the_set(tmp_path)
    assert np.array_equal(np.load(built / "images.npy"), images)  # the images as they are, in CSV order
    assert (built / "grid.png").exists() and list(built.glob("fidelity-*.json"))
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["n_images"] == N and manifest["generator"]["path"] == str(folder)
    if layout == "kaggle":  # reading is the layout's own; reuse and rebuild are the same for both: checked once
        return
    again = generate(tmp_path, folder)
    assert f"reusing synthetic set {built}" in again.stdout
    changed = folder / f"{ids[0]}.png"
    brighter = np.asarray(Image.open(changed)).copy()
    brighter[:8] = 255
    Image.fromarray(brighter).save(changed)
    rebuilt = generate(tmp_path, folder)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"the source files of generator folder changed since set {built} was built" in rebuilt.stdout
    new = {p.parent for p in (tmp_path / "synthetic").glob("folder-*/manifest.json")} - {built}
    assert len(new) == 1 and not np.array_equal(np.load(new.pop() / "images.npy"), images)


def test_an_image_of_another_size_is_refused_unless_resize_is_asked(made, tmp_path):
    from bench.api import read_image_folder

    ids, labels, images = made
    folder = tmp_path / "big"
    folder.mkdir()
    for image_id, image in zip(ids, images):
        np.save(folder / f"{image_id}.npy", np.kron(image, np.ones((1, 2, 2), dtype=np.uint8)))  # 64 px
    write_labels_csv(folder / "labels.csv", ids, labels)
    from bench.errors import BenchError

    with pytest.raises(BenchError, match=r"img000.npy: 64 px, the dataset's images are 32 px; pass generator.resize"):
        read_image_folder(folder, "", 32, resize=False)
    _, small = read_image_folder(folder, "", 32, resize=True)
    assert np.array_equal(small, images)  # 2 x 2 blocks averaged back


def _bad(folder, made, case):
    ids, labels, images = made
    files_layout(folder, made, formats=(".npy",))
    if case == "an image whose id is not in the CSV":
        np.save(folder / "stray.npy", images[0])
        return "stray.npy: id 'stray' has no row in"
    if case == "a CSV row without its image":
        (folder / f"{ids[3]}.npy").unlink()
        return f"labels.csv row 5: no image for id '{ids[3]}'"
    if case == "a wrong channel count":
        Image.fromarray(np.moveaxis(images[1][:3], 0, -1), mode="RGB").save(folder / f"{ids[1]}.png")
        (folder / f"{ids[1]}.npy").unlink()
        return f"{ids[1]}.png: image mode 'RGB' (3 channels); expected 4 channels"
    if case == "a non-image file":
        (folder / "notes.txt").write_text("made with my model")
        return "notes.txt: not an image file of this layout"
    if case == "a label outside 0-27":
        (folder / "labels.csv").write_text("Id,Target\n" + "".join(f"{i},28\n" for i in ids))
        return "labels.csv row 2: label '28' is not a class id 0..27"
    if case == "a corrupt image":
        (folder / f"{ids[2]}.npy").write_bytes(b"\x93NUMPY garbage")
        return f"{ids[2]}.npy: not a readable .npy array"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["an image whose id is not in the CSV", "a CSV row without its image",
                                  "a wrong channel count", "a non-image file", "a label outside 0-27",
                                  "a corrupt image"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(made, tmp_path, case):
    expected = _bad(tmp_path / "made", made, case)
    result = generate(tmp_path, tmp_path / "made")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in result.stderr and result.stderr.count("\n") == 1, result.stderr
    synthetic = tmp_path / "synthetic"
    assert not synthetic.exists() or not [p for p in synthetic.rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert not synthetic.exists() or not list(synthetic.glob("folder-*")) and not list(synthetic.glob(".train/*"))


def test_a_folder_is_required():
    result = bench_cli("generate", "--generator", "folder", *TINY)
    assert result.returncode == 2 and "generator.path: name the folder of images" in result.stderr
