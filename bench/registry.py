"""Plugin discovery through entry points. Built-ins and third-party plugins take the same path.

A plugin that fails to import is kept as *broken* with its error: `bench list` shows it, and using
it by name fails with that error; it never breaks the other plugins.

For a notebook, `register(kind, name)` adds a class defined in this Python session (as a decorator,
like timm's `@register_model`). Its runs record that the plugin is no installed distribution, and the
leaderboard marks them; an installed plugin of the same name is used instead, with a warning.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from bench import plugin_metadata
from bench.errors import BenchError

# kind: (entry-point group, base class in bench.api); bench.api (and torch) is imported when a plugin is loaded
KINDS: dict[str, tuple[str, str]] = {
    "dataset": ("bench.datasets", "Dataset"),
    "generator": ("bench.generators", "Generator"),
    "classifier": ("bench.classifiers", "Classifier"),
    "strategy": ("bench.strategies", "Strategy"),
}


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    distribution: str
    target: str
    plugin: type | None
    error: str | None

    @property
    def description(self) -> str:
        from bench.api import describe
        return describe(self.plugin) if self.plugin else ""


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "?"


def _load(kind: str, ep: EntryPoint) -> PluginInfo:
    from bench import api
    base = getattr(api, KINDS[kind][1])
    plugin, error = None, None
    try:
        loaded = ep.load()
        if not (isinstance(loaded, type) and issubclass(loaded, base)):
            error = f"{ep.value} is not a subclass of bench.api.{base.__name__}"
        else:
            plugin = loaded
    except Exception as exc:  # any failure of a plugin's import marks it broken
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return PluginInfo(kind, ep.name, _distribution(ep), ep.value, plugin, error)


@cache
def _entry_points(kind: str) -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=KINDS[kind][0]):
        found.setdefault(ep.name, [])
        if all(other.value != ep.value for other in found[ep.name]):  # same dist seen twice on sys.path
            found[ep.name].append(ep)
    return found


SESSION = "(this Python session)"  # the distribution of a plugin registered with `register`
_session: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}


def register(kind: str, name: str, plugin: type | None = None) -> Callable[[type], type] | type:
    """Register `plugin` (a subclass of the kind's `bench.api` base defined in this session) as `name`; without
    `plugin`, a decorator: `@bench.register("strategy", "my_mix")`."""
    if plugin is None:
        return lambda cls: register(kind, name, cls)
    if kind not in KINDS:
        raise BenchError(f"unknown plugin kind {kind!r}; valid: {', '.join(KINDS)}")
    from bench import api
    base = getattr(api, KINDS[kind][1])
    if not (isinstance(plugin, type) and issubclass(plugin, base)):
        raise BenchError(f"register({kind!r}, {name!r}): {plugin!r} is not a subclass of bench.api.{base.__name__}")
    if not name or not isinstance(name, str) or any(c in name for c in " =/\\"):
        raise BenchError(f"register({kind!r}, {name!r}): a plugin name is a non-empty word (no spaces, '=' or '/')")
    earlier = _session[kind].get(name)
    if earlier is not None and earlier is not plugin:
        raise BenchError(f"{kind} {name!r} is already registered in this session (by {earlier.__module__}."
                         f"{earlier.__qualname__}); register the new class under another name, or restart the session")
    if name in _entry_points(kind):
        print(f"warning: {kind} {name!r} is an installed plugin ({_distributions(_entry_points(kind)[name])}); "
              f"runs use it, not {plugin.__qualname__} registered in this session: register that under another name",
              file=sys.stderr)
    _session[kind][name] = plugin
    return plugin


def origin(kind: str, name: str) -> dict:
    """Where a plugin comes from, for the run record: its distribution and version, or this Python session."""
    if name not in _entry_points(kind) and name in _session[kind]:
        cls = _session[kind][name]
        return {"distribution": SESSION, "class": f"{cls.__module__}.{cls.__qualname__}"}
    from importlib.metadata import PackageNotFoundError, version
    eps = _entry_points(kind).get(name, [])
    dist = _distribution(eps[0]) if eps else "?"
    try:
        return {"distribution": dist, "version": version(dist), "target": eps[0].value}
    except (PackageNotFoundError, ValueError, IndexError):
        return {"distribution": dist}


def names(kind: str) -> list[str]:
    return sorted(set(_entry_points(kind)) | set(_session[kind]))


def discover(kind: str) -> list[PluginInfo]:
    """Every plugin of a kind, loaded, broken ones included."""
    infos = []
    for name, eps in sorted(_entry_points(kind).items()):
        if len(eps) > 1:
            infos.append(PluginInfo(kind, name, _distributions(eps), "", None, _several(eps)))
        else:
            infos.append(_load(kind, eps[0]))
    return infos


def _distributions(eps: list[EntryPoint]) -> str:
    return ", ".join(sorted(_distribution(ep) for ep in eps))


def _several(eps: list[EntryPoint]) -> str:
    return f"name registered by several distributions: {_distributions(eps)}"


def summaries(kind: str) -> list[plugin_metadata.PluginSummary]:
    """Every plugin of a kind as listings show it, broken ones included, importing only plugins changed since they
    were last read (`bench.plugin_metadata`)."""
    single = [(kind, name, _distribution(eps[0]), eps[0].value, eps[0])
              for name, eps in _entry_points(kind).items() if len(eps) == 1]
    found = {s.name: s for s in plugin_metadata.summaries(single, lambda ep: _load(kind, ep))}
    for name, eps in _entry_points(kind).items():
        if len(eps) > 1:
            found[name] = plugin_metadata.PluginSummary(kind, name, _distributions(eps), "", "", (), _several(eps))
    for name, plugin in _session[kind].items():
        if name not in found:
            target = f"{plugin.__module__}.{plugin.__qualname__}"
            found[name] = plugin_metadata.summarise(PluginInfo(kind, name, SESSION, target, plugin, None))
    return [found[name] for name in sorted(found)]


def check_name(kind: str, name: str) -> None:
    """A one-line error, listing the valid names, unless `name` is an installed plugin of `kind` (imports nothing)."""
    if kind not in KINDS:
        raise BenchError(f"unknown plugin kind {kind!r}; valid: {', '.join(KINDS)}")
    if name not in _entry_points(kind) and name not in _session[kind]:
        valid = names(kind)
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BenchError(f"unknown {kind} {name!r}{hint}; valid: {', '.join(valid) or '(none installed)'}")


def get(kind: str, name: str) -> type:
    """The plugin class registered as `name`, or a one-line error listing the valid names."""
    check_name(kind, name)
    if name not in _entry_points(kind):
        return _session[kind][name]
    eps = _entry_points(kind)[name]
    if len(eps) > 1:
        raise BenchError(f"{kind} {name!r} is registered by several distributions: {_distributions(eps)}; "
                         f"uninstall one")
    info = _load(kind, eps[0])
    if info.plugin is None:
        raise BenchError(f"{kind} {name!r} from {info.distribution} is broken: {info.error}")
    return info.plugin


def fits(generator: type, strategy: type) -> bool:
    """Whether a generator and a strategy make a run: a strategy uses synthetic images exactly when the
    generator makes them (the one compatibility rule; `bench run` and `bench sweep` both apply it)."""
    return generator.produces_images == strategy.needs_synthetic
