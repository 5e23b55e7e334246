"""`bench run` (one configuration, start to finish) and `bench generate` (one synthetic set and its fidelity)."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli.common import (
    complete_plugin,
    config_from_cli,
    config_option,
    device_option,
    inception_option,
    overrides_argument,
    preset_option,
    runs_dir_option,
    summary_table,
    synthetic_dir_option,
    threads_option,
)
from bench.errors import BenchError


class SeedsOption(click.Option):
    """An option that takes every integer after it: `--seeds 0 1 2` (overrides after them hold an `=`)."""

    def add_to_parser(self, parser, ctx):
        super().add_to_parser(parser, ctx)
        name = self.opts[0]
        option = parser._long_opt.get(name)
        original = option.process

        def greedy(value, state):
            values = [value]
            while state.rargs and state.rargs[0].lstrip("-").isdigit() and not state.rargs[0].startswith("--"):
                values.append(state.rargs.pop(0))
            try:
                original([int(v) for v in values], state)
            except ValueError:
                raise click.BadParameter(f"{' '.join(values)}: expected integers, e.g. --seeds 0 1 2") from None

        option.process = greedy

    def type_cast_value(self, ctx, value):
        return None if value is None else list(value)


@click.command("run", context_settings={"ignore_unknown_options": False})
@click.option("--dataset", shell_complete=complete_plugin("dataset"), help="Dataset plugin (default synthetic-cells).")
@click.option("--generator", shell_complete=complete_plugin("generator"), help="Generator plugin (default none).")
@click.option("--strategy", shell_complete=complete_plugin("strategy"), help="Strategy plugin (default none).")
@click.option("--classifier", shell_complete=complete_plugin("classifier"),
              help="Classifier plugin (default resnet18).")
@click.option("--seed", type=click.IntRange(min=0), help="Run seed (default 0).")
@click.option("--seeds", cls=SeedsOption, help="Several run seeds, e.g. --seeds 0 1 2: one run per seed (finished "
                   "ones reused), then their mean and interval.")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --seeds: seeds run at once, each in a process of its own with its share of the cores.")
@click.option("--epochs", type=click.IntRange(min=1), help="Shortcut for train.epochs.")
@preset_option
@click.option("--pretrained", is_flag=True, default=None,
              help="ImageNet weights (classifier.pretrained=true); classifier.weights=PATH for a local file.")
@config_option
@runs_dir_option()
@device_option
@threads_option
@synthetic_dir_option
@inception_option
@click.option("--logger", "loggers", multiple=True, type=click.Choice(["tensorboard", "mlflow", "wandb"]),
              help="Mirror the run to an experiment tracker (repeatable); each needs its extra, e.g. "
                   "pip install -e \".[tensorboard]\".")
@click.option("--force", is_flag=True, help="Run again even if this exact run already finished.")
@click.option("--name", help="A tag of yours for this run (recorded; shown beside its configuration in the "
                             "leaderboard; `bench leaderboard --name` keeps only runs with it). Not part of the "
                             "run's identity.")
@click.option("--dry-run", is_flag=True, help="Check everything a run would refuse before it loads data (one line, "
                   "exit 2), print the resolved config, and exit without writing anything.")
@overrides_argument
def run_cmd(dataset, generator, strategy, classifier, seed, seeds, parallel, epochs, preset, pretrained, config_file,
            runs_dir, device, threads, synthetic_dir, inception_weights, loggers, force, name, dry_run, overrides):
    """Train and evaluate one configuration; write runs/<hash>/ (reused when it already finished).

    Overrides address any config key, e.g. `train.lr=3e-4 dataset.n_images=500 classifier.pretrained=true`.
    """
    flags = {"dataset.name": dataset, "generator.name": generator, "strategy.name": strategy,
             "classifier.name": classifier, "seed": seed, "train.epochs": epochs, "classifier.pretrained": pretrained}
    from bench.runs.preflight import Runtime, check_name, run_preflight

    cfg = config_from_cli(config_file, flags, overrides, preset)
    runtime = Runtime(Path(runs_dir), device, force, Path(synthetic_dir), inception_weights, loggers=tuple(loggers),
                      threads=threads, name=check_name(name))
    if seeds:  # checked before the dry run stops, so it refuses what the run would
        from bench.runs.seeds import check_seeds

        if seed is not None:
            raise BenchError("give --seed or --seeds, not both")
        check_seeds(seeds, parallel, force)
    if dry_run:  # the run's own checks, then stop: nothing is loaded, trained or written
        import yaml
        cfg, device_found = run_preflight(cfg, runtime, click.echo)
        click.echo(yaml.safe_dump(cfg.to_dict(), sort_keys=False), nl=False)
        click.echo(f"# dry run: configuration, folders, device ({device_found}), trackers and dataset check out; "
                   f"nothing was loaded or written (checks that need the images, such as empty split roles, "
                   f"come when the run loads them)")
        return
    if seeds:
        _run_seeds(cfg, seeds, runtime, parallel)
        return
    from bench import interrupts
    from bench.runs.execute import execute
    from bench.train import distributed

    try:  # under torchrun, every process runs this; rank 0 speaks
        outcome = execute(cfg, runtime, say=click.echo)
    finally:
        distributed.finish()
    if distributed.from_env().is_main:
        interrupts.completed(f"record: {outcome.run_dir}")
        click.echo(summary_table(outcome.metrics))
        click.echo(f"record: {outcome.run_dir}")


def _run_seeds(cfg, seeds: list[int], runtime, parallel: int) -> None:
    from bench import interrupts
    from bench.runs.preflight import run_preflight
    from bench.runs.seeds import run_seeds, summary

    cfg, _ = run_preflight(cfg, runtime, click.echo)
    folders = run_seeds(cfg, seeds, runtime, parallel, click.echo)
    interrupts.completed("records: " + " ".join(map(str, folders)))
    click.echo(summary(folders))
    click.echo("records: " + " ".join(map(str, folders)))


@click.command("generate")
@click.option("--generator", shell_complete=complete_plugin("generator"),
              help="Generator plugin (or the one named by --config / --preset).")
@click.option("--dataset", shell_complete=complete_plugin("dataset"), help="Dataset plugin (default synthetic-cells).")
@preset_option
@config_option
@synthetic_dir_option
@runs_dir_option("Where the reference run (for FID) is kept.")
@inception_option
@device_option
@threads_option
@overrides_argument
def generate_cmd(generator, dataset, preset, config_file, synthetic_dir, runs_dir, inception_weights, device, threads,
                 overrides):
    """Train a generator on the train role, write its synthetic set and its fidelity (reused when they exist)."""
    from bench.runs.execute import load_data, synthetic_for
    from bench.runs.preflight import Runtime, preflight
    from bench.synthetic import fidelity

    cfg = config_from_cli(config_file, {"generator.name": generator, "dataset.name": dataset}, overrides, preset)
    if not cfg.generator.plugin.produces_images:
        named = "" if generator else " (no --generator given, and none in --config / --preset)"
        raise BenchError(f"generator {cfg.generator.name!r}{named} makes no images; nothing to generate: "
                         f"name one with --generator, e.g. --generator edm")
    runtime = Runtime(Path(runs_dir), device, False, Path(synthetic_dir), inception_weights, threads=threads)
    found = preflight(cfg, runtime)
    data, split, roles = load_data(cfg)
    synthetic, scores = synthetic_for(cfg, data, split, roles, runtime, found, click.echo)
    click.echo(f"{len(synthetic)} synthetic images at {synthetic.resolution}px")
    click.echo(fidelity.summary(scores))
    if "reference_warning" in scores:
        click.echo(f"warning: {scores['reference_warning']}")
