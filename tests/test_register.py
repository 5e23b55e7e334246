"""Plugins from Python: `bench.register(kind, name)` in a notebook-style script, recorded and marked as such."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import TINY

import bench
from bench.api import Strategy
from bench.errors import BenchError

SCRIPT = """
import json, sys
import torch
import bench
from bench.api import Strategy

@bench.register("strategy", "smoothed")
class Smoothed(Strategy):
    '''Real images only, their targets smoothed towards one half by a tenth.'''

    def loss(self, model, criterion, real_x, real_y, syn_x, syn_y, rng):
        return criterion(model(real_x), 0.9 * real_y + 0.05)

record = bench.run(strategy="smoothed", runs_dir=sys.argv[1],
                   overrides=dict(item.split("=") for item in sys.argv[2:]))
print(json.dumps(record["record"]["plugins"]["strategy"]))
"""


@pytest.fixture(autouse=True)
def _forget_session_plugins():
    """Registrations live as long as the process: this worker's other tests must not see these."""
    from bench import registry

    saved = {kind: dict(plugins) for kind, plugins in registry._session.items()}
    yield
    registry._session.clear()
    registry._session.update(saved)


@pytest.mark.slow  # a notebook-style script in a process of its own
def test_a_strategy_registered_in_a_script_runs_is_recorded_and_marked(tmp_path):
    script = tmp_path / "notebook.py"
    script.write_text(textwrap.dedent(SCRIPT))
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), *TINY], capture_output=True,
                            text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    origin = json.loads(result.stdout.strip().splitlines()[-1])
    assert origin == {"distribution": "(this Python session)", "class": "__main__.Smoothed"}
    from bench.report.leaderboard import render
    from bench.report.runs_frame import load_runs

    frame = load_runs(tmp_path / "runs")
    mine = frame[frame["strategy"] == "smoothed"]
    assert len(mine) == 1 and bool(mine["session_plugin"].iloc[0])
    assert "(plugin registered in a Python session, not installed)" in render(frame, {}, [], tmp_path / "runs")


class Twice(Strategy):
    """A strategy for the registration tests."""

    def loss(self, model, criterion, real_x, real_y, syn_x, syn_y, rng):
        return criterion(model(real_x), real_y)


def test_registering_a_name_twice_is_one_line():
    bench.register("strategy", "twice_test", Twice)

    class Other(Twice):
        """Another class."""

    with pytest.raises(BenchError, match="strategy 'twice_test' is already registered in this session"):
        bench.register("strategy", "twice_test", Other)
    assert bench.register("strategy", "twice_test", Twice) is Twice  # the same class again: harmless


def test_an_installed_plugin_of_the_same_name_wins_with_a_warning(capsys):
    from baselines.strategies.concat import Concat
    from bench import registry

    bench.register("strategy", "concat", Twice)
    assert "warning: strategy 'concat' is an installed plugin (synthloc-bench); runs use it" in capsys.readouterr().err
    assert registry.get("strategy", "concat") is Concat


@pytest.mark.parametrize("args,message", [
    (("strategy", "bad name", Twice), "a plugin name is a non-empty word"),
    (("strategy", "x_not_a_class", int), "is not a subclass of bench.api.Strategy"),
    (("widget", "x", Twice), "unknown plugin kind 'widget'"),
])
def test_bad_registrations_are_one_line(args, message):
    with pytest.raises(BenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bench.register(*args)


def test_parallel_seeds_refuse_a_session_plugin(tmp_path):
    bench.register("strategy", "twice_parallel", Twice)
    with pytest.raises(BenchError, match="strategy twice_parallel is registered in this Python session"):
        bench.run_seeds(seeds=[0, 1], parallel=2, strategy="twice_parallel", runs_dir=tmp_path,
                        overrides=dict(item.split("=") for item in TINY))
