"""What several subcommands share: the runtime options (defined once), config assembly, the metrics table."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from bench import config


def runs_dir_option(help: str = "Where run folders are written."):  # noqa: A002 - click's own name
    return click.option("--runs-dir", default="runs", show_default=True, help=help)


synthetic_dir_option = click.option("--synthetic-dir", default="synthetic", show_default=True,
                                    help="Where synthetic sets are kept.")
device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
inception_option = click.option("--inception-weights", metavar="PATH",
                                help="Inception-v3 weights for the RGB-composite FID.")
preset_option = click.option("--preset", metavar="NAME", help="Named config layer under the file, flags and "
                             "overrides (`bench presets` lists them).")
config_option = click.option("--config", "config_file", metavar="FILE", help="YAML or TOML config file.")
overrides_argument = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")


def config_from_cli(config_file, flags, overrides, preset=None) -> config.RunConfig:
    return config.build(Path(config_file) if config_file else None, flags, tuple(overrides), preset)


def summary_table(metrics: dict) -> str:
    from bench.evaluate.metrics import SUMMARY_KEYS

    roles = [r for r in ("val", "test", "gap") if r in metrics]
    rows = [[key] + [f"{metrics[r][key]:.4f}" for r in roles] for key in SUMMARY_KEYS]
    return tabulate(rows, ["metric", *("val - test" if r == "gap" else r for r in roles)], tablefmt="simple")
