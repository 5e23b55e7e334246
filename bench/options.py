"""How a configuration dataclass (a config section or a plugin's `Options`) validates and marks its fields.

Plugins use these through `bench.api`; the core through this module. No other import of the core.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bench.identity import of_options


class OptionError(ValueError):
    """Raised by an options dataclass's __post_init__ for a value out of range: (field, message)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field_name, self.message = field_name, message


def require(condition: bool, field_name: str, message: str) -> None:
    """Raise OptionError(field_name, message) unless `condition` holds (use in __post_init__)."""
    if not condition:
        raise OptionError(field_name, message)


def option(default=dataclasses.MISSING, help: str = "", *, factory=None, runtime: bool = False,
           new: bool = False):
    """A config or plugin option with its help text (shown by `bench options`); `factory` for a mutable
    default; `runtime` for one that says where or how to run, not what is measured (recorded, not hashed);
    `new` for one added after runs were recorded: hashed only when set to another value than its default,
    so the run ids of configurations that do not use it stay what they were."""
    metadata = {"help": help, **({"runtime": True} if runtime else {}), **({"new": True} if new else {})}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def runtime_field(**kwargs):
    """An option that says where or how to run, not what is measured: recorded, but not hashed."""
    return field(metadata={"runtime": True, **kwargs.pop("metadata", {})}, **kwargs)


def help_of(f: dataclasses.Field) -> str:
    """An option's help text ('' when its author gave none)."""
    return f.metadata.get("help", "")


def identity(obj) -> dict:
    """A dataclass as a dict without its runtime fields (and its `new` fields at their defaults): what a run
    id is computed from (`bench.identity.of_options`)."""
    return of_options(obj)


@dataclass
class NoOptions:
    """A plugin without options."""


def _type_name(tp) -> tuple[str, list[str]]:
    """(type name, allowed values) of an option's annotation."""
    import typing
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return type(args[0]).__name__, [str(a) for a in args]
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in args if a is not type(None)]
        name, allowed = _type_name(inner[0]) if len(inner) == 1 else (" or ".join(map(str, inner)), [])
        return f"{name} or none", allowed
    if tp is bool:
        return "bool", ["true", "false"]
    return getattr(tp, "__name__", str(tp)), []


def describe_fields(cls) -> list[dict]:
    """Every option of a config or plugin dataclass: name, type, default, allowed values, help, runtime."""
    import typing
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        type_name, allowed = _type_name(hints.get(f.name, f.type))
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        out.append({"name": f.name, "type": type_name, "default": default, "allowed": allowed,
                    "help": help_of(f), "runtime": bool(f.metadata.get("runtime"))})
    return out
