"""The Kaggle-layout reader on real HPA files and on damaged copies: one line naming file and row."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from bench.data.kaggle import read_image, read_labels_csv
from bench.datasets.hpa_kaggle import HPAKaggle
from bench.errors import BenchError


def test_real_sample_loads_in_hpa_channel_order(shared_hpa):
    root = shared_hpa / "sample"
    data = HPAKaggle(HPAKaggle.Options(path=str(root), resolution=512)).load()
    assert len(data) == 4
    first = data.ids[0]
    for channel, color in enumerate(("red", "green", "blue", "yellow")):
        plane = np.asarray(Image.open(root / "train" / f"{first}_{color}.png").convert("L"))
        assert np.array_equal(data.take([0])[0, channel], plane)
    assert data.labels[data.ids.index("000a6c98-bb9b-11e8-b2b9-ac1f6b6435d0")].nonzero()[0].tolist() == [0, 1, 2, 7]


def test_downsizing_averages_areas(shared_hpa):
    full = read_image(shared_hpa / "sample" / "train", "837e738c-bba8-11e8-b2ba-ac1f6b6435d0", 512)
    small = read_image(shared_hpa / "sample" / "train", "837e738c-bba8-11e8-b2ba-ac1f6b6435d0", 128)
    assert small.shape == (4, 128, 128)
    assert abs(float(small.mean()) - float(full.mean())) < 1.0


@pytest.fixture
def copy(shared_hpa, tmp_path):
    shutil.copytree(shared_hpa / "sample", tmp_path / "hpa")
    return tmp_path / "hpa"


@pytest.mark.parametrize("csv_text,message", [
    ("\ufeffId,Target\na,1\n", "byte-order mark"),
    ("Id\na\n", "is not the expected ['Id', 'Target']"),
    ("Id,Target\na,1\na,2\n", "row 3: duplicate id 'a'"),
    ("Id,Target\na,28\n", "row 2: label '28' is not a class id 0..27"),
    ("Id,Target\na,\n", "row 2: empty Target"),
    ("Id,Target\na,1 x\n", "row 2: label 'x'"),
    ("Id,Target\n../etc,1\n", "row 2: id '../etc' is not a plain file-name stem"),
    ("Id,Target\nsub/a,1\n", "row 2: id 'sub/a' is not a plain file-name stem"),
    ("Id,Target\na,1,2\n", "row 2: expected 2 columns"),
    ("Id,Target\n", "no rows after the header"),
])
def test_bad_csv(tmp_path, csv_text, message):
    path = tmp_path / "train.csv"
    path.write_text(csv_text, encoding="utf-8")
    with pytest.raises(BenchError) as err:
        read_labels_csv(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def _load(root, **options):
    return HPAKaggle(HPAKaggle.Options(path=str(root), **{"resolution": 64, "workers": 1, **options})).load()


def test_missing_channel_file_unless_the_subset_is_asked_for(copy):
    full = _load(copy)
    victim = next((copy / "train").glob("*_yellow.png"))
    victim.unlink()
    with pytest.raises(BenchError, match=f"{victim.name}: missing channel file .*pass dataset.subset=true"):
        _load(copy)
    part = _load(copy, subset=True)
    assert len(part) == 3 and part.is_subset and victim.name.split("_")[0] not in part.ids
    assert part.fingerprint != full.fingerprint


def test_truncated_png_and_skip_bad(copy, capsys):
    full = _load(copy)
    victim = next((copy / "train").glob("*_green.png"))
    victim.write_bytes(victim.read_bytes()[:500])
    with pytest.raises(BenchError, match=f"{victim.name}: unreadable or truncated PNG"):
        _load(copy)
    skipped = _load(copy, skip_bad=True)
    assert len(skipped) == 3 and skipped.fingerprint != full.fingerprint
    assert f"skipped bad image {victim.name.split('_')[0]}" in capsys.readouterr().out


def test_wrong_mode(copy):
    victim = next((copy / "train").glob("*_red.png"))
    Image.new("RGB", (512, 512)).save(victim)
    with pytest.raises(BenchError, match="image mode 'RGB'; expected 8-bit grayscale 'L'"):
        _load(copy)


def test_not_square(copy):
    victim = next((copy / "train").glob("*_blue.png"))
    Image.new("L", (512, 300)).save(victim)
    with pytest.raises(BenchError, match="size 512x300; expected a square image"):
        _load(copy)


def test_channels_of_different_sizes(copy):
    victim = next((copy / "train").glob("*_yellow.png"))
    Image.new("L", (256, 256)).save(victim)
    with pytest.raises(BenchError, match=f"{victim.name}: size 256px differs from the 512px of"):
        _load(copy)


def test_images_smaller_than_the_resolution(copy):
    with pytest.raises(BenchError, match="size 512x512 is smaller than the requested 1024px"):
        _load(copy, resolution=1024)


def test_missing_folder(tmp_path):
    with pytest.raises(BenchError, match="not a folder; expected the Kaggle layout: .*train.csv"):
        _load(tmp_path / "nowhere")


def test_an_empty_folder_names_the_kaggle_layout(tmp_path):
    with pytest.raises(BenchError, match=r"no train.csv; expected the Kaggle layout: .*train.csv \(Id,Target\) and "):
        _load(tmp_path)


def test_a_missing_or_unreadable_train_folder_is_said_to_be_one(copy):
    shutil.rmtree(copy / "train")
    with pytest.raises(BenchError, match=r"train: missing folder; expected the Kaggle layout"):
        _load(copy)


def test_a_jpeg_named_png_is_refused(copy):
    victim = next((copy / "train").glob("*_green.png"))
    Image.open(victim).save(victim, format="JPEG")
    with pytest.raises(BenchError, match=f"{victim.name}: a JPEG file, not a PNG"):
        _load(copy)


def test_a_bad_image_leaves_no_preallocated_cache_behind(copy, tmp_path):
    victim = next((copy / "train").glob("*_green.png"))
    victim.write_bytes(victim.read_bytes()[:500])
    with pytest.raises(BenchError, match=r"truncated PNG .*\(pass dataset.skip_bad=true to skip bad images\)"):
        _load(copy, cache_dir=str(tmp_path / "cache"))
    assert not list((tmp_path / "cache").rglob("images.u8"))


def test_each_command_names_its_own_option_to_skip_bad_images(copy, tmp_path):
    from conftest import bench_cli

    victim = next((copy / "train").glob("*_green.png"))
    victim.write_bytes(victim.read_bytes()[:500])
    result = bench_cli("data", "prepare", str(copy), "--resolution", "32", "--workers", "1", "--cache-dir",
                       str(tmp_path / "cache"))
    assert result.returncode == 2 and result.stderr.strip().endswith("(pass --skip-bad to skip bad images)")


def test_a_non_utf8_byte_is_reported_by_row(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"Id,Target\na,1\nb\xe9,2\n")
    with pytest.raises(BenchError, match=r"train.csv row 3: byte 0xe9 at column 2 is not UTF-8"):
        read_labels_csv(path)


@pytest.mark.parametrize("ending", ["\n\n", "\n\n\n", "\r\n\r\n"])
def test_blank_lines_at_the_end_are_accepted(tmp_path, ending):
    path = tmp_path / "train.csv"
    path.write_bytes(("Id,Target\na,1\nb,2 3" + ending).encode())
    ids, labels = read_labels_csv(path)
    assert ids == ["a", "b"] and labels[1].nonzero()[0].tolist() == [2, 3]


def test_cache_is_reused_and_a_killed_build_resumes_byte_identical(tmp_path, monkeypatch):
    import numpy as np

    from bench.data import image_cache
    from bench.data.kaggle import write_layout
    from bench.datasets.synthetic_cells import SyntheticCells

    data = SyntheticCells(SyntheticCells.Options(n_images=150, resolution=32)).load()
    write_layout(tmp_path / "kaggle", data.ids, data.labels, data.take(np.arange(150)))
    options = dict(resolution=32, cache_dir=str(tmp_path / "cache-a"))
    whole = _load(tmp_path / "kaggle", **options)
    assert whole.fingerprint == data.fingerprint  # the same content as the embedded dataset
    folder = next((tmp_path / "cache-a").glob("*/r32"))
    assert {p.name for p in folder.iterdir()} == {"images.u8", "progress.json", "manifest.json"}

    calls = {"n": 0}
    real_decode = image_cache._decode

    def dies_in_the_second_chunk(job):
        calls["n"] += 1
        if calls["n"] == 100:
            raise KeyboardInterrupt
        return real_decode(job)

    monkeypatch.setattr(image_cache, "_decode", dies_in_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        _load(tmp_path / "kaggle", resolution=32, cache_dir=str(tmp_path / "cache-b"))
    partial = next((tmp_path / "cache-b").glob("*/r32"))
    assert not (partial / "manifest.json").exists()
    assert '"done": 64' in (partial / "progress.json").read_text()
    monkeypatch.setattr(image_cache, "_decode", real_decode)
    resumed = _load(tmp_path / "kaggle", resolution=32, cache_dir=str(tmp_path / "cache-b"))
    assert resumed.fingerprint == whole.fingerprint
    assert (partial / "images.u8").read_bytes() == (folder / "images.u8").read_bytes()


def test_a_cache_damaged_after_writing_is_said_and_decoded_again(tmp_path, capsys):
    import numpy as np

    from bench.data.kaggle import write_layout
    from bench.datasets.synthetic_cells import SyntheticCells

    data = SyntheticCells(SyntheticCells.Options(n_images=150, resolution=32)).load()
    write_layout(tmp_path / "kaggle", data.ids, data.labels, data.take(np.arange(150)))
    options = dict(resolution=32, cache_dir=str(tmp_path / "cache"))
    whole = _load(tmp_path / "kaggle", **options)
    cache = next((tmp_path / "cache").glob("*/r32/images.u8"))
    good = cache.read_bytes()
    with open(cache, "r+b") as fh:  # two bytes of row 70 (the second chunk) flipped in place
        fh.seek(70 * 4 * 32 * 32 + 100)
        fh.write(bytes(255 - b for b in good[70 * 4 * 32 * 32 + 100:70 * 4 * 32 * 32 + 102]))
    capsys.readouterr()
    again = _load(tmp_path / "kaggle", **options)
    err = capsys.readouterr().err
    assert f"image cache {cache} is damaged from row 64 on" in err and "decoding rows 64.. again" in err
    assert again.fingerprint == whole.fingerprint and cache.read_bytes() == good
    _load(tmp_path / "kaggle", **options)  # checked and stamped: quiet
    assert "damaged" not in capsys.readouterr().err


def test_cache_larger_than_free_disk_is_refused_up_front(tmp_path):
    from bench.data import image_cache

    with pytest.raises(BenchError, match=r"image cache needs .* GiB at .*, only .* GiB free"):
        image_cache._check_disk(tmp_path, 2**62)
