"""`bench list` (installed plugins) and `bench presets` (named configurations)."""

from __future__ import annotations

import click
from tabulate import tabulate

from bench import registry


@click.command("list")
@click.option("--kind", type=click.Choice(sorted(registry.KINDS)), help="Only plugins of this kind.")
def list_plugins(kind):
    """Every installed plugin: kind, name, providing distribution, status and description."""
    rows = []
    for k in sorted(registry.KINDS) if kind is None else [kind]:
        for info in registry.discover(k):
            status = "ok" if info.error is None else "BROKEN"
            rows.append([info.kind, info.name, info.distribution, status, info.error or info.description])
    click.echo(tabulate(rows, ["kind", "name", "distribution", "status", "description"], tablefmt="simple"))


@click.command("presets")
def presets_cmd():
    """Named configurations: the paper's notebooks (`paper/...`) and `controlled`."""
    from bench.config import presets

    rows = [[name, description] for name, description in presets.available().items()]
    click.echo(tabulate(rows, ["preset", "description"], tablefmt="simple", maxcolwidths=[None, 100]))
