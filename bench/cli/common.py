"""What several subcommands share: the runtime options (defined once), config assembly, the metrics table."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate


def runs_dir_option(help: str = "Where run folders are written."):  # click's own name
    return click.option("--runs-dir", default="runs", show_default=True, help=help)


synthetic_dir_option = click.option("--synthetic-dir", default="synthetic", show_default=True,
                                    help="Where synthetic sets are kept.")
device_option = click.option("--device", default="auto", show_default=True,
                             help="auto (a CUDA GPU, else Apple MPS, else the CPU), cpu, cuda, cuda:N or mps.")
threads_option = click.option("--threads", type=click.IntRange(min=1), default=None,
                               help="CPU threads for torch (default: torch's, one per core; OMP_NUM_THREADS sets it "
                                    "too). On a busy machine fewer threads can be much faster.")
inception_option = click.option("--inception-weights", metavar="PATH",
                                help="Inception-v3 weights for the RGB-composite FID.")
preset_option = click.option("--preset", metavar="NAME", help="Named config layer under the file, flags and "
                             "overrides (`bench presets` lists them).")
config_option = click.option("--config", "config_file", metavar="FILE", help="YAML or TOML config file.")
def complete_plugin(kind: str):
    """Shell completion of a plugin flag: the installed plugins of that kind."""
    def complete(ctx, param, incomplete: str) -> list[str]:
        from bench import registry
        return [name for name in registry.names(kind) if name.startswith(incomplete)]
    return complete


def option_keys() -> list[str]:
    """Every KEY of a KEY=VALUE override: config sections' options, `seed`, and every installed plugin's options
    (under its kind: `generator.width`), each once."""
    import dataclasses

    from bench import config, registry
    keys = {"seed"} | {f"{kind}.name" for kind in config.PLUGIN_SECTIONS}
    keys |= {f"{name}.{f.name}" for name, cls in config.SECTION_TYPES.items() for f in dataclasses.fields(cls)}
    for kind in config.PLUGIN_SECTIONS:
        keys |= {f"{kind}.{o['name']}" for info in registry.summaries(kind) for o in info.options}
    return sorted(keys)


def complete_override(ctx, param, incomplete: str):
    """Shell completion of KEY=VALUE: config keys (`train.lr=`), then a Literal option's values."""
    from click.shell_completion import CompletionItem
    if "=" in incomplete:
        return []
    return [CompletionItem(f"{key}=") for key in option_keys() if key.startswith(incomplete)]


overrides_argument = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...",
                                    shell_complete=complete_override)


def config_from_cli(config_file, flags, overrides, preset=None):
    """The RunConfig of a command's config file, flags and KEY=VALUE overrides."""
    from bench import config
    return config.build(Path(config_file) if config_file else None, flags, tuple(overrides), preset)


def summary_table(metrics: dict) -> str:
    from bench.evaluate.metrics import SUMMARY_KEYS

    roles = [r for r in ("val", "test", "gap") if r in metrics]
    rows = [[key] + [f"{metrics[r][key]:.4f}" for r in roles] for key in SUMMARY_KEYS]
    return tabulate(rows, ["metric", *("val - test" if r == "gap" else r for r in roles)], tablefmt="simple")
