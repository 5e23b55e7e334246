"""The layout as a contract: one direction of dependency, no import cycles, plugins see `bench.api` only.

The import graph is read from the source with `ast` (imports inside functions included), so a lazy
import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGES = ("bench", "baselines", "generators")
PLUGIN_PACKAGES = ("baselines", "generators", "bench.datasets")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that `name` imports, resolved to the deepest known module."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if not all(t in known for t in targets):  # names defined in `base` itself, not its submodules
                targets.append(base)
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def _layer(module: str) -> str:
    """The sub-package a module belongs to: bench.data, bench.train, ..., or a top-level module of bench."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bench" and len(parts) > 1 else parts[0]


def test_no_import_cycle_between_modules(graph):
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_import_cycle_between_sub_packages(graph):
    layers: dict[str, set[str]] = {}
    for module, targets in graph.items():
        layers.setdefault(_layer(module), set()).update(_layer(t) for t in targets if _layer(t) != _layer(module))
    assert _cycle(layers) is None, " -> ".join(_cycle(layers))


def _is_plugin(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PLUGIN_PACKAGES)


def test_plugins_import_bench_api_only(graph):
    wrong = {module: sorted(t for t in targets if t.startswith("bench") and not _is_plugin(t)
                            and not (t == "bench.api" or t.startswith("bench.api.")))
             for module, targets in graph.items() if _is_plugin(module)}
    assert not {m: t for m, t in wrong.items() if t}


def test_the_core_never_imports_a_plugin_by_name(graph):
    wrong = {module: sorted(t for t in targets if _is_plugin(t))
             for module, targets in graph.items() if not _is_plugin(module)}
    assert not {m: t for m, t in wrong.items() if t}


def test_bench_api_sits_below_the_core(graph):
    """bench.api builds on the leaf modules and bench.data only, so every core package can use it."""
    allowed = {"bench.api", "bench.data", "bench.errors", "bench.files", "bench.options", "bench.progress"}
    used = {_layer(t) for module, targets in graph.items() if module.startswith("bench.api") for t in targets}
    assert used <= allowed, used - allowed


def test_the_code_is_clean_under_the_projects_ruff_configuration():
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the [test] extra)")
    result = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
