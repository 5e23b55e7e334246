"""`bench list` (installed plugins), `bench presets` (named configurations), `bench options` (every option)."""

from __future__ import annotations

import click
from tabulate import tabulate

from bench import registry
from bench.errors import BenchError


@click.command("list")
@click.option("--kind", type=click.Choice(sorted(registry.KINDS)), help="Only plugins of this kind.")
def list_plugins(kind):
    """Every installed plugin: kind, name, providing distribution, status and description."""
    rows = []
    for k in sorted(registry.KINDS) if kind is None else [kind]:
        for info in registry.summaries(k):
            status = "ok" if info.error is None else "BROKEN"
            rows.append([info.kind, info.name, info.distribution, status, info.error or info.description])
    click.echo(tabulate(rows, ["kind", "name", "distribution", "status", "description"], tablefmt="simple"))


@click.command("presets")
def presets_cmd():
    """Named configurations: the paper's notebooks (`paper/...`) and `controlled`."""
    from bench.config import presets

    rows = [[name, description] for name, description in presets.available().items()]
    click.echo(tabulate(rows, ["preset", "description"], tablefmt="simple", maxcolwidths=[None, 100]))


CONFIG = "config"  # `bench options config [SECTION]`: the config sections, not a plugin kind


def _option_rows(prefix: str, described: list[dict]) -> list[list]:
    """Table rows of `bench.options.describe_fields` output (defaults as text or values)."""
    from bench.plugin_metadata import default_text
    rows = []
    for o in described:
        notes = " (runtime: recorded, not hashed)" if o["runtime"] else ""
        rows.append([f"{prefix}.{o['name']}", o["type"], default_text(o["default"]), ", ".join(o["allowed"]) or "",
                     (o["help"] or "—") + notes])
    return rows


def _config_sections() -> dict[str, type]:
    from bench.config import SECTION_TYPES
    return dict(SECTION_TYPES)


@click.command("options")
@click.argument("kind", required=False, type=click.Choice(sorted(registry.KINDS) + [CONFIG]))
@click.argument("name", required=False)
def options_cmd(kind, name):
    """Every option of the config sections and installed plugins: type, default, allowed values, help.

    `bench options` lists all; `bench options generator` every generator's; `bench options generator edm`
    one plugin's; `bench options config train` one config section's. Set any of them as KEY=VALUE
    (`bench run generator.width=32 train.lr=3e-4`) or in a config file.
    """
    headers = ["option", "type", "default", "allowed", "help"]
    widths = [None, None, None, 30, 70]
    blocks = []
    if kind in (None, CONFIG):
        sections = _config_sections()
        if name is not None and name not in sections:
            raise BenchError(f"unknown config section {name!r}; valid: {', '.join(sections)}")
        from bench.options import describe_fields
        for section, cls in sections.items():
            if name in (None, section):
                blocks.append((f"config section `{section}`", _option_rows(section, describe_fields(cls))))
        if name is None:
            blocks.append(("run", [["seed", "int", 0, "", "run seed: initialisation, data order, augmentation "
                                    "(a synthetic set has its own, synthetic.seed)"]]))
    for k in sorted(registry.KINDS) if kind is None else ([] if kind == CONFIG else [kind]):
        if name is not None:
            registry.check_name(k, name)  # an unknown name: one line, exit 2
        for plugin in [s for s in registry.summaries(k) if name in (None, s.name)]:
            if plugin.error is not None:
                registry.get(k, plugin.name)  # a broken plugin: the one line a run would give
            blocks.append((f"{k} `{plugin.name}`: {plugin.description}", _option_rows(k, list(plugin.options))))
    for title, rows in blocks:
        click.echo(title)
        click.echo(tabulate(rows, headers, tablefmt="simple", maxcolwidths=widths) if rows else "  (no options)")
        click.echo("")
