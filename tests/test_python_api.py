"""The Python API from a fresh interpreter: the README's notebook example, run as written."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO, TINY

import bench
from bench.config import RunConfig
from bench.errors import BenchError


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- python-api -->", 1)[1]
    return re.search(r"```python\n(.*?)```", block, re.S).group(1)


@pytest.mark.slow
def test_the_readme_example_runs_in_a_fresh_interpreter(tmp_path):
    result = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "runs").is_dir() and "test macro F1" in result.stdout


def test_options_arrive_in_every_form_and_agree():
    overrides = dict(item.split("=", 1) for item in TINY)
    a = bench.configure(generator="real", strategy="concat", dataset__n_images=160, overrides=overrides)
    b = bench.configure({"generator": "real", "strategy": {"name": "concat"}}, overrides=overrides)
    c = bench.configure(a)
    d = bench.configure(generator="real", strategy="concat", overrides=list(TINY))  # the CLI's key=value form
    assert isinstance(a, RunConfig) and a.hash() == b.hash() == c.hash() == d.hash()
    assert bench.configure(preset="controlled").train.epochs == 10
    assert bench.configure(epochs=3).train.epochs == 3


@pytest.mark.slow
def test_run_returns_the_record_and_load_runs_a_frame(tmp_path):
    overrides = dict(item.split("=", 1) for item in TINY)
    record = bench.run(overrides=overrides, runs_dir=tmp_path / "runs", synthetic_dir=tmp_path / "synthetic")
    assert record["metrics"]["test"]["f1_macro@tuned"] >= 0 and (record["run_dir"] / "done").exists()
    again = bench.run(overrides=overrides, runs_dir=tmp_path / "runs")
    assert again["reused"] and again["run_id"] == record["run_id"]
    frame = bench.load_runs(tmp_path / "runs")
    assert list(frame["run"]) == [record["run_id"]] and "test:f1_macro@tuned" in frame


def test_bad_input_is_a_bench_error():
    with pytest.raises(BenchError, match="unknown generator"):
        bench.configure(generator="nope")
    with pytest.raises(BenchError, match="expected a dict"):
        bench.configure(overrides="train.lr=3e-4")
    with pytest.raises(BenchError, match="expected key=value"):
        bench.configure(overrides=["train.lr"])
