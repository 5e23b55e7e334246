"""Every option has help (field metadata), `bench options` prints it, and the shell completes names and keys."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bench_cli

from bench import config, registry
from bench.options import describe_fields


def _option_classes():
    for kind in registry.KINDS:
        for name in registry.names(kind):
            options = getattr(registry.get(kind, name), "Options", None)
            if options is not None and dataclasses.is_dataclass(options) and registry.get(kind, name).__module__.split(
                    ".")[0] in ("bench", "baselines", "generators"):
                yield f"{kind} {name}", options
    yield from ((f"config {name}", cls) for name, cls in config.SECTION_TYPES.items())


@pytest.mark.parametrize("label, cls", list(_option_classes()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_built_in_option_has_help(label, cls):
    missing = [o["name"] for o in describe_fields(cls) if len(o["help"]) < 10]
    assert not missing, f"{label}: options without help text: {missing}"


def test_bench_options_prints_type_default_allowed_and_help():
    result = bench_cli("options", "generator", "edm")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("generator.guidance_scale"))
    assert "float" in line and "1.5" in line and "classifier-free guidance" in line
    train = bench_cli("options", "config", "train").stdout
    line = next(line for line in train.splitlines() if line.startswith("train.optimizer"))
    assert "adamw, adam, sgd" in line
    everything = bench_cli("options").stdout
    for heading in ("config section `train`", "generator `ddpm`", "classifier `resnet18`", "strategy `mix_rep`",
                    "dataset `synthetic-cells`", "generator `none`"):
        assert heading in everything


@pytest.mark.parametrize("args, message", [
    (("generator", "nope"), "unknown generator 'nope'"),
    (("config", "nope"), "unknown config section 'nope'"),
    (("widgets",), "'widgets' is not one of"),
])
def test_options_of_something_unknown_is_one_line_exit_2(args, message):
    result = bench_cli("options", *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _complete(words: str) -> list[str]:
    env = {**os.environ, "_BENCH_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    exe = Path(sys.executable).with_name("bench")
    out = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=120).stdout
    return [line.split(",", 1)[1] for line in out.splitlines() if "," in line]


def _complete_in_process(words: str) -> list[str]:
    """The same completions through click's API in this process (a `bench` start-up costs seconds)."""
    from click.shell_completion import BashComplete

    from bench.cli import cli

    parts = words.split()[1:]
    args, incomplete = (parts, "") if words.endswith(" ") else (parts[:-1], parts[-1])
    return [item.value for item in BashComplete(cli, {}, "bench", "_BENCH_COMPLETE").get_completions(args, incomplete)]


def test_shell_completion_offers_plugins_and_config_keys():
    assert set(_complete("bench run --generator dd")) == {"ddpm", "ddpm-unet"}  # as a shell asks: a real process
    assert set(_complete_in_process("bench run --generator dd")) == {"ddpm", "ddpm-unet"}
    assert "train.lr=" in _complete_in_process("bench run train.l")
    assert "generator.guidance_scale=" in _complete_in_process("bench run generator.gu")
    assert "leaderboard" in _complete_in_process("bench lea")
