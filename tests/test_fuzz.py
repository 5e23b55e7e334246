"""Fuzzed parsers (hypothesis): every input ends in a result or one clear line, never a traceback.

In-process parsers must raise `BenchError` (the CLI turns it into one line and exit code 2); the
CLI itself must exit 0 or 2 with at most one line on stderr.
"""

from __future__ import annotations

import contextlib
import io
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import config
from bench.cli import cli
from bench.data.kaggle import read_labels_csv
from bench.data.labels import NUM_CLASSES, parse_target
from bench.errors import BenchError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.one_of(st.text(max_size=40), st.none(), st.integers(), st.floats()))
def test_label_strings(text):
    try:
        vector = parse_target(text, where="train.csv row 2")
    except BenchError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("train.csv row 2: ")
        return
    assert vector.shape == (NUM_CLASSES,) and vector.sum() >= 1
    assert sorted({int(t) for t in text.split()}) == np.flatnonzero(vector).tolist()


ROW_TEXT = st.text(alphabet=string.printable + "é\x00\ufeff", max_size=30)


@FUZZ
@given(st.lists(st.lists(ROW_TEXT, min_size=0, max_size=3), max_size=6), st.booleans())
def test_csv_rows(tmp_path, rows, header):
    lines = (["Id,Target"] if header else []) + [",".join(row) for row in rows]
    path = tmp_path / "train.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        ids, labels = read_labels_csv(path)
    except BenchError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert len(ids) == len(set(ids)) == len(labels) >= 1


CONFIG_KEYS = st.sampled_from(["train", "split", "synthetic", "classifier", "strategy", "generator", "dataset",
                               "seed", "trian", "epochs", ""])
CONFIG_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.floats(allow_nan=True), st.text(max_size=12)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(["epochs", "lr", "name", "ratio", "form", "x",
                                                                "pretrained", "init", "select", "loss"]),
                                               children, max_size=3)),
    max_leaves=8)


@FUZZ
@given(st.dictionaries(CONFIG_KEYS, CONFIG_VALUES, max_size=4))
def test_config_mappings(raw):
    try:
        cfg = config.resolve(raw)
    except BenchError as exc:
        assert "\n" not in str(exc)
        return
    assert len(cfg.hash()) == 64


@FUZZ
@given(st.text(max_size=80), st.sampled_from([".yaml", ".toml", ".json"]))
def test_config_files(tmp_path, text, suffix):
    path = tmp_path / f"c{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        config.build(path)
    except BenchError as exc:
        assert "\n" not in str(exc)


def run_cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.main(args=args)
        except SystemExit as exc:
            return exc.code, err.getvalue()
    return 0, err.getvalue()


OPTION = st.sampled_from(["--seed", "--epochs", "--strategy", "--generator", "--classifier", "--dataset", "--preset",
                          "--config", "--bogus", "train.epochs", "seed", "--pretrained"])
TOKEN = st.one_of(st.text(alphabet=string.ascii_letters + string.digits + "=.-_/ ", max_size=12),
                  st.integers(-3, 100).map(str))


@FUZZ
@given(st.lists(st.one_of(OPTION, TOKEN), max_size=5))
def test_cli_options(args):
    code, stderr = run_cli(["run", "--dry-run", *args])
    assert code in (0, 2), (args, code, stderr)
    assert "Traceback" not in stderr
    if code == 2:
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("bench: error: ")


@pytest.mark.parametrize("args", [["run", "--epochs", "0"], ["run", "--seed", "-1"], ["presets", "x"],
                                  ["run", "--dry-run", "train.epochs=abc"], ["generate"]])
def test_cli_bad_options_examples(args):
    code, stderr = run_cli(args)
    assert code == 2 and len(stderr.strip().splitlines()) == 1
