"""Bad input on the command line: one line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from conftest import bench_cli

from bench.cli import cli


def invoke(args, cwd):
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        os.chdir(before)
    return result, sorted(p.name for p in cwd.iterdir())


@pytest.mark.parametrize("args,message", [
    (["run", "--generator", "nope"], "unknown generator 'nope'"),
    (["run", "--classifier", "resnet19"], "did you mean 'resnet18'"),
    (["run", "--strategy", "concat"], "strategy 'concat' needs synthetic images"),
    (["run", "train.epochs=abc"], "train.epochs: expected int, got 'abc'"),
    (["run", "train.nope=1"], "unknown config key train.nope"),
    (["run", "noequals"], "expected key=value"),
    (["run", "--config", "missing.yaml"], "cannot read config missing.yaml"),
    (["run", "--epochs", "0"], "Invalid value for '--epochs'"),
    (["run", "--seed", "x"], "Invalid value for '--seed'"),
    (["run", "--bogus"], "No such option"),
    (["run", "--device", "tpu"], "--device 'tpu'"),
    (["run", "--runs-dir", "afile/runs", "dataset.n_images=10"], "runs folder afile/runs"),
    (["leaderboard", "--runs-dir", "missing"], "runs folder missing does not exist"),
    (["nosuchcommand"], "No such command"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    (tmp_path / "afile").write_text("not a folder")
    result, written = invoke(args, tmp_path)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert "runs" not in written and "leaderboard" not in written


def test_unreadable_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: [}\n")
    result, written = invoke(["run", "--config", str(bad)], tmp_path)
    assert result.exit_code == 2 and "is not valid" in result.stderr and "runs" not in written


def test_dry_run_prints_the_resolved_config(tmp_path):
    result, written = invoke(["run", "--dry-run", "--epochs", "3", "classifier.name=resnet34"], tmp_path)
    assert result.exit_code == 0
    assert "epochs: 3" in result.output and "name: resnet34" in result.output and "runs" not in written
    assert "# dry run: configuration, folders, device (" in result.output  # cpu here, cuda where a GPU is


SYNTHETIC = ["--generator", "edm", "--strategy", "concat"]
MISTAKES = [  # (args, the one line both a dry run and a run give, skip reason or None)
    (["--strategy", "mix_rep"], "strategy 'mix_rep' needs synthetic images", None),
    (["--device", "cuda"], "CUDA is not available on this machine; ", "a CUDA GPU is present"),
    (["--device", "cuda:x"], "--device 'cuda:x': expected auto, cpu, cuda, cuda:N or mps", None),
    (["--runs-dir", "afile/runs"], "runs folder afile/runs", None),
    ([*SYNTHETIC, "--synthetic-dir", "afile/sets"], "synthetic folder afile/sets", None),
    (["--logger", "wandb"], "--logger wandb needs the `wandb` extra", "wandb is installed"),
    (["--dataset", "hpa-kaggle", "dataset.path=nowhere"], "dataset.path nowhere: not a folder", None),
    (["train.precision=fp16", "--device", "cpu"], "train.precision=fp16 needs a CUDA GPU", None),
    ([*SYNTHETIC, "--inception-weights", "none.pt"], "--inception-weights none.pt: no such file", None),
    (["--generator", "oracle", "--strategy", "concat", "--dataset", "hpa-kaggle", "dataset.path=nowhere"],
     "generator 'oracle' needs a dataset that can render", None),
]


def _applies(skip: str | None) -> bool:
    import importlib.util

    import torch

    present = {"a CUDA GPU is present": torch.cuda.is_available(),
               "wandb is installed": importlib.util.find_spec("wandb") is not None}
    return not (skip and present[skip])


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("args, message, skip", MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_dry_run_refuses_what_the_run_refuses_with_the_same_line(tmp_path, args, message, skip, dry):
    if not _applies(skip):
        pytest.skip(skip)
    (tmp_path / "afile").write_text("not a folder")
    result, written = invoke(["run", *(["--dry-run"] if dry else []), *args], tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.output
    assert written == ["afile"]  # nothing written: no runs/, no synthetic/, no lock


def test_a_device_refusal_says_what_to_use_instead(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    result, _ = invoke(["run", "--dry-run", "--device", "cuda:0"], tmp_path)
    assert "use --device cpu" in result.stderr or "use --device mps" in result.stderr


def test_list_shows_kind_name_distribution_and_description(tmp_path):
    result, _ = invoke(["list"], tmp_path)
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if " resnet18 " in line)
    assert row.split()[:4] == ["classifier", "resnet18", "synthloc-bench", "ok"] and "ResNet-18" in row


def test_the_console_script_itself(tmp_path):
    bad = bench_cli("run", "--generator", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("bench: error:")
    assert bench_cli("--version", cwd=tmp_path).stdout.startswith("synthloc-bench, version")


def test_suggested_commands_write_under_the_results_folder_and_keep_existing_files(tmp_path):
    from conftest import bench_cli

    small = ("dataset.n_images=40", "dataset.resolution=32")
    first = bench_cli("data", "preview", *small, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    picture = tmp_path / "runs" / "previews" / "synthetic-cells.png"
    assert picture.read_bytes().startswith(b"\x89PNG") and not (tmp_path / "docs").exists()
    again = bench_cli("data", "preview", *small, cwd=tmp_path)
    assert again.returncode == 2 and "exists; pass --force to replace it" in again.stderr
    assert bench_cli("data", "preview", *small, "--force", cwd=tmp_path).returncode == 0
    (tmp_path / "runs").mkdir(exist_ok=True)
    board = bench_cli("leaderboard", cwd=tmp_path)
    assert board.returncode == 0 and (tmp_path / "runs" / "leaderboard" / "README.md").exists()
    assert not (tmp_path / "leaderboard").exists()
