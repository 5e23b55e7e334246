"""Third-party plugins: real packages built and pip-installed, found through entry points only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, TINY, bench_cli, folders

# pip builds and installs real packages; every check runs a real `bench` process. One worker runs the module, so
# the packages are built once, and never by two workers at once in the example's own source folder
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("plugin_package")]

BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "bench-broken-plugin"
version = "0.0.1"

[project.entry-points."bench.generators"]
broken-gen = "bench_broken_plugin:Broken"
picky-gen = "bench_picky_plugin:Picky"
legacy-gen = "bench_legacy_plugin:Legacy"

[tool.setuptools]
py-modules = ["bench_broken_plugin", "bench_picky_plugin", "bench_legacy_plugin"]
"""

# Options that validate with a plain ValueError (no bench.api.require): still one line for the user.
PICKY_PLUGIN = '''
from dataclasses import dataclass
import numpy as np
from bench.api import Generator

class Picky(Generator):
    """Validates its options with a plain ValueError."""

    @dataclass
    class Options:
        level: int = 1

        def __post_init__(self):
            if self.level > 3:
                raise ValueError(f"level {self.level} is too high for this generator")

    def sample(self, labels, *, resolution, seed, device):
        return np.zeros((len(labels), 4, resolution, resolution), dtype=np.uint8)
'''

# A plugin written against 0.1, when require and runtime_field lived in bench.config.
LEGACY_PLUGIN = '''
from dataclasses import dataclass
import numpy as np
from bench.api import Generator
from bench.config import OptionError, require, runtime_field

class Legacy(Generator):
    """Imports its helpers from bench.config, as 0.1 plugins did."""

    @dataclass
    class Options:
        level: int = 1
        cache: str = runtime_field(default="")

        def __post_init__(self):
            require(self.level >= 0, "level", "must be >= 0")

    def sample(self, labels, *, resolution, seed, device):
        return np.zeros((len(labels), 4, resolution, resolution), dtype=np.uint8)
'''


def pip_install(source: Path, target: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                             "--no-build-isolation", "--target", str(target), str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """PYTHONPATH holding the example package and a broken one, both built and installed by pip."""
    target = tmp_path_factory.mktemp("site")
    pip_install(REPO / "examples" / "bench-plugin-example", target)
    broken = tmp_path_factory.mktemp("broken-src")
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "bench_broken_plugin.py").write_text("import a_module_that_does_not_exist\n")
    (broken / "bench_picky_plugin.py").write_text(PICKY_PLUGIN)
    (broken / "bench_legacy_plugin.py").write_text(LEGACY_PLUGIN)
    pip_install(broken, target)
    assert list(target.glob("bench_plugin_example-*.dist-info"))
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def test_installed_plugins_appear_in_bench_list(plugin_env, tmp_path):
    result = bench_cli("list", cwd=tmp_path, env=plugin_env)
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:4]) for line in result.stdout.splitlines()}
    assert ("generator", "toy-blobs", "bench-plugin-example", "ok") in rows
    assert ("classifier", "toy-cnn", "bench-plugin-example", "ok") in rows
    broken = next(line for line in result.stdout.splitlines() if "broken-gen" in line)
    assert "bench-broken-plugin" in broken and "BROKEN" in broken and "a_module_that_does_not_exist" in broken
    assert ("classifier", "resnet18", "synthloc-bench", "ok") in rows  # the broken plugin breaks nothing else


def test_bench_options_lists_a_third_party_plugins_options_with_their_help(plugin_env, tmp_path):
    result = bench_cli("options", "generator", "toy-blobs", cwd=tmp_path, env=plugin_env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("generator.blob_radius"))
    assert "float" in line and "0.08" in line and "blob radius as a fraction" in line
    plain = bench_cli("options", "classifier", "toy-cnn", cwd=tmp_path, env=plugin_env).stdout
    assert next(line for line in plain.splitlines() if line.startswith("classifier.width")).rstrip().endswith("—")


def test_a_third_party_generator_and_classifier_run_through_bench_run(plugin_env, tmp_path):
    result = bench_cli("run", "--generator", "toy-blobs", "--strategy", "concat", "--classifier", "toy-cnn",
                       *TINY, "--runs-dir", "runs", cwd=tmp_path, env=plugin_env)
    assert result.returncode == 0, result.stderr
    run_dir = next(r for r in folders(tmp_path / "runs") if "toy-blobs" in (r / "config.json").read_text())
    assert (run_dir / "done").exists()  # beside it: the fidelity reference run
    config = (run_dir / "config.json").read_text()
    assert '"name": "toy-blobs"' in config and '"name": "toy-cnn"' in config and '"blob_radius": 0.08' in config
    assert "synthetic set:" in (run_dir / "log.txt").read_text()


def test_using_a_broken_plugin_is_one_clear_line(plugin_env, tmp_path):
    result = bench_cli("run", "--generator", "broken-gen", "--strategy", "concat", cwd=tmp_path, env=plugin_env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [textwrap.shorten(result.stderr.strip(), 10_000)]
    assert "generator 'broken-gen' from bench-broken-plugin is broken: ModuleNotFoundError" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_plain_value_error_in_plugin_options_is_one_line(plugin_env, tmp_path):
    result = bench_cli("run", "--generator", "picky-gen", "--strategy", "concat", "generator.level=5",
                       cwd=tmp_path, env=plugin_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("bench: error: generator: level 5 is too high for this generator "
                                     "(options given: level=5)")
    assert not (tmp_path / "runs").exists()


def test_names_that_moved_to_bench_api_still_work_with_a_deprecation_warning(plugin_env, tmp_path):
    result = bench_cli("run", "--generator", "legacy-gen", "--strategy", "concat", "generator.level=-1",
                       cwd=tmp_path, env={**plugin_env, "PYTHONWARNINGS": "always::DeprecationWarning"})
    assert result.returncode == 2 and "bench: error: generator.level: must be >= 0 (got '-1')" in result.stderr
    assert "bench.config.require moved to bench.api.require" in result.stderr


def test_contract_tests_leave_broken_plugins_out(plugin_env, tmp_path):
    """With a broken plugin installed, the registry's contract cases are the working plugins only."""
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             str(REPO / "tests" / "test_registry.py")], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, **plugin_env}, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "test_generator_contract[picky-gen]" in result.stdout  # installed and working: a contract case
    assert "broken-gen" not in result.stdout


def test_the_documented_plugin_example_works_as_written(tmp_path):
    """Build a package from docs/plugins.md's two snippets, pip-install it, list it and run it."""
    import re

    readme = (REPO / "docs" / "plugins.md").read_text()
    code = re.search(r"```python\n# my_plugins/blur.py\n(.*?)```", readme, re.S).group(1)
    entry = re.search(r"```toml\n# pyproject.toml of your package\n(.*?)```", readme, re.S).group(1)
    src = tmp_path / "src"
    (src / "my_plugins").mkdir(parents=True)
    (src / "my_plugins" / "__init__.py").write_text("")
    (src / "my_plugins" / "blur.py").write_text(code)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "my-plugins"\nversion = "0.1"\n[tool.setuptools]\npackages = ["my_plugins"]\n' + entry)
    pip_install(src, tmp_path / "site")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    listed = bench_cli("list", "--kind", "generator", cwd=tmp_path, env=env)
    assert any(line.split()[:4] == ["generator", "blurred-copies", "my-plugins", "ok"]
               for line in listed.stdout.splitlines()), listed.stdout
    result = bench_cli("run", "--generator", "blurred-copies", "--strategy", "concat", "generator.sigma=2",
                       *TINY, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
