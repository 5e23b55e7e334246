"""How a configuration dataclass (a config section or a plugin's `Options`) validates and marks its fields.

Plugins use these through `bench.api`; the core through this module. No other import of the core.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


class OptionError(ValueError):
    """Raised by an options dataclass's __post_init__ for a value out of range: (field, message)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field_name, self.message = field_name, message


def require(condition: bool, field_name: str, message: str) -> None:
    """Raise OptionError(field_name, message) unless `condition` holds (use in __post_init__)."""
    if not condition:
        raise OptionError(field_name, message)


def runtime_field(**kwargs):
    """An option that says where or how to run, not what is measured: recorded, but not hashed."""
    return field(metadata={"runtime": True, **kwargs.pop("metadata", {})}, **kwargs)


def identity(obj) -> dict:
    """A dataclass as a dict without its runtime fields: what a run id is computed from."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if not f.metadata.get("runtime")}


@dataclass
class NoOptions:
    """A plugin without options."""
