"""`bench --help`, shell completion and `bench options` answer without importing torch or any plugin.

Times live in benchmarks/startup.py; these tests check what makes the commands quick: which modules a
command imports, and that plugin listings come from a cache that a changed or broken plugin invalidates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("torch", "timm", "torchmetrics", "torchvision", "diffusers", "bench.api")

# Runs the CLI in a fresh interpreter and prints which heavy modules it imported (after the command's output).
PROBE = textwrap.dedent("""
    import sys
    from bench.cli import cli
    try:
        cli.main(sys.argv[1:])
    except SystemExit:
        pass
    print("IMPORTED:" + ",".join(m for m in {heavy!r} if m in sys.modules))
""").format(heavy=HEAVY)


def _bench(*args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], env={**os.environ, **(env or {})},
                            capture_output=True, text=True, timeout=300)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("IMPORTED:"), result.stdout + result.stderr
    return result, [m for m in last.removeprefix("IMPORTED:").split(",") if m]


def _completion(words: str) -> dict:
    return {"_BENCH_COMPLETE": "bash_complete", "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """A plugin-metadata cache of this test's own (the user cache folder holds it)."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("args", [("--help",), ("run", "--help"), ("sweep", "--help"), ("--version",)])
def test_help_imports_no_torch_and_no_plugin(args, cache):
    result, imported = _bench(*args)
    assert result.returncode == 0 and ("Usage" in result.stdout or "synthloc-bench" in result.stdout)
    assert imported == [], f"bench {' '.join(args)} imported {imported}"


def test_completion_and_options_import_nothing_heavy_once_plugins_were_read(cache):
    _bench("list")  # the first listing after an install reads every plugin once (imports them)
    for words in ("bench ru", "bench run --generator dd", "bench run train.l", "bench run generator.gu"):
        result, imported = _bench(env=_completion(words))
        assert imported == [], f"completing {words!r} imported {imported}"
        assert result.stdout.strip(), f"no completion for {words!r}"
    result, imported = _bench(env=_completion("bench run generator.gu"))
    assert "generator.guidance_scale=" in result.stdout
    for args in (("options", "generator", "edm"), ("options",), ("list",)):
        result, imported = _bench(*args)
        assert result.returncode == 0 and imported == [], f"bench {' '.join(args)} imported {imported}"
    assert "classifier-free guidance" in _bench("options", "generator", "edm")[0].stdout


def test_options_of_an_unknown_plugin_is_one_line_without_imports(cache):
    result, imported = _bench("options", "generator", "nope")
    assert "unknown generator 'nope'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert imported == []


PLUGIN = '''
from dataclasses import dataclass
from bench.api import Generator, option

class Tiny(Generator):
    """{description}"""

    @dataclass
    class Options:
        {field}: int = option(1, "a tiny option")

    def sample(self, labels, *, resolution, seed, device):
        raise NotImplementedError
'''


def _plugin_site(root: Path) -> Path:
    """A real distribution on a path entry: a module and its dist-info with an entry point."""
    site = root / "site"
    info = site / "tiny_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.generators]\ntiny-gen = tiny_plugin:Tiny\n")
    return site


@pytest.mark.slow
def test_a_changed_or_broken_plugin_is_read_again_and_a_damaged_cache_is_ignored(tmp_path, cache):
    site = _plugin_site(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    module = site / "tiny_plugin.py"
    module.write_text(PLUGIN.format(description="First description.", field="level"))
    first = _bench("options", "generator", "tiny-gen", env=env)[0].stdout
    assert "First description." in first and "generator.level" in first

    module.write_text(PLUGIN.format(description="Second, longer description.", field="depth"))
    second, imported = _bench("options", "generator", "tiny-gen", env=env)
    assert "Second, longer description." in second.stdout and "generator.depth" in second.stdout
    assert "generator.level" not in second.stdout and "torch" in imported  # read again: it was imported

    module.write_text("raise ImportError('tiny_plugin needs a package that is not installed')\n")
    listed = _bench("list", env=env)[0].stdout
    line = next(line for line in listed.splitlines() if "tiny-gen" in line)
    assert "BROKEN" in line and "needs a package that is not installed" in line
    refused = _bench("options", "generator", "tiny-gen", env=env)[0]
    assert "tiny-gen" in refused.stderr and "broken" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    completed = _bench(env={**env, **_completion("bench run --generator ti")})[0]
    assert completed.returncode == 0 and "tiny-gen" in completed.stdout and not completed.stderr  # listed, no trace
    completed = _bench(env={**env, **_completion("bench run generator.gu")})[0]
    assert "generator.guidance_scale=" in completed.stdout and not completed.stderr

    (cached,) = cache.glob("plugins-*.json")
    cached.write_text('{"format": 1, "entries": {')  # damaged: ignored, then rewritten
    assert "tiny-gen" in _bench("list", env=env)[0].stdout
    assert "tiny-gen" in "".join(json.loads(cached.read_text())["entries"])


def test_an_unwritable_cache_folder_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("BENCH_CACHE_DIR", str(blocker / "cache"))
    result, _ = _bench("options", "strategy", "concat")
    assert result.returncode == 0 and "strategy.ratio" in result.stdout, result.stderr
