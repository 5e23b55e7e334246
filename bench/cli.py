"""The `bench` command line (click). User errors print one line `bench: error: ...` and exit 2."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click
import yaml
from tabulate import tabulate

from bench import __version__, config as config_mod, registry
from bench.errors import BenchError

EXIT_USER_ERROR = 2


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (what SLURM sends on pre-emption)."""


def _terminated(signum, frame):
    raise Terminated


class BenchGroup(click.Group):
    """A click group whose user errors are one line on stderr and exit code 2, never a traceback."""

    def main(self, args=None, prog_name=None, **extra):
        signal.signal(signal.SIGTERM, _terminated)
        try:
            result = super().main(args=args, prog_name=prog_name or "bench", standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.ClickException as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            click.echo(f"bench: error: {exc.format_message()}{where}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except BenchError as exc:
            click.echo(f"bench: error: {exc}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except Terminated:
            click.echo("bench: terminated (SIGTERM); finished epochs and files are kept, the same command resumes",
                       err=True)
            sys.exit(128 + signal.SIGTERM)
        except (KeyboardInterrupt, click.exceptions.Abort):
            click.echo("bench: interrupted", err=True)
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=BenchGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthloc-bench")
def cli():
    """synthloc-bench: do diffusion-generated images help multi-label protein localization classifiers?"""


@cli.command("list")
@click.option("--kind", type=click.Choice(sorted(registry.KINDS)), help="Only plugins of this kind.")
def list_plugins(kind):
    """Every installed plugin: kind, name, providing distribution, status and description."""
    rows = []
    for k in sorted(registry.KINDS) if kind is None else [kind]:
        for info in registry.discover(k):
            status = "ok" if info.error is None else "BROKEN"
            rows.append([info.kind, info.name, info.distribution, status, info.error or info.description])
    click.echo(tabulate(rows, ["kind", "name", "distribution", "status", "description"], tablefmt="simple"))


def _config_from_cli(config_file, flags, overrides, preset=None):
    return config_mod.build(Path(config_file) if config_file else None, flags, tuple(overrides), preset)


@cli.command("presets")
def presets_cmd():
    """Named configurations: the paper's notebooks (`paper/...`) and `controlled`."""
    from bench import presets

    rows = [[name, description] for name, description in presets.available().items()]
    click.echo(tabulate(rows, ["preset", "description"], tablefmt="simple", maxcolwidths=[None, 100]))


PRESET_HELP = "Named config layer under the file, flags and overrides (`bench presets` lists them)."


@cli.command("run", context_settings={"ignore_unknown_options": False})
@click.option("--dataset", help="Dataset plugin (default synthetic-cells).")
@click.option("--generator", help="Generator plugin (default none).")
@click.option("--strategy", help="Strategy plugin (default none).")
@click.option("--classifier", help="Classifier plugin (default resnet18).")
@click.option("--seed", type=click.IntRange(min=0), help="Run seed (default 0).")
@click.option("--epochs", type=click.IntRange(min=1), help="Shortcut for train.epochs.")
@click.option("--preset", metavar="NAME", help=PRESET_HELP)
@click.option("--pretrained", is_flag=True, default=None,
              help="ImageNet weights (classifier.pretrained=true); classifier.weights=PATH for a local file.")
@click.option("--config", "config_file", metavar="FILE", help="YAML or TOML config file.")
@click.option("--runs-dir", default="runs", show_default=True, help="Where run folders are written.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--synthetic-dir", default="synthetic", show_default=True, help="Where synthetic sets are kept.")
@click.option("--inception-weights", metavar="PATH", help="Inception-v3 weights for the RGB-composite FID.")
@click.option("--force", is_flag=True, help="Run again even if this exact run already finished.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
def run_cmd(dataset, generator, strategy, classifier, seed, epochs, preset, pretrained, config_file, runs_dir, device,
            synthetic_dir, inception_weights, force, dry_run, overrides):
    """Train and evaluate one configuration; write runs/<hash>/ (reused when it already finished).

    Overrides address any config key, e.g. `train.lr=3e-4 dataset.n_images=500 classifier.pretrained=true`.
    """
    flags = {"dataset.name": dataset, "generator.name": generator, "strategy.name": strategy,
             "classifier.name": classifier, "seed": seed, "train.epochs": epochs, "classifier.pretrained": pretrained}
    cfg = _config_from_cli(config_file, flags, overrides, preset)
    if dry_run:
        click.echo(yaml.safe_dump(cfg.to_dict(), sort_keys=False), nl=False)
        return
    from bench import distributed
    from bench.runner import Runtime, execute

    try:  # under torchrun, every process runs this; rank 0 speaks
        outcome = execute(cfg, Runtime(Path(runs_dir), device, force, Path(synthetic_dir), inception_weights),
                          say=click.echo)
    finally:
        distributed.finish()
    if distributed.from_env().is_main:
        click.echo(_summary_table(outcome.metrics))
        click.echo(f"record: {outcome.run_dir}")


@cli.command("generate")
@click.option("--generator", required=True, help="Generator plugin.")
@click.option("--dataset", help="Dataset plugin (default synthetic-cells).")
@click.option("--preset", metavar="NAME", help=PRESET_HELP)
@click.option("--config", "config_file", metavar="FILE", help="YAML or TOML config file.")
@click.option("--synthetic-dir", default="synthetic", show_default=True, help="Where synthetic sets are kept.")
@click.option("--runs-dir", default="runs", show_default=True, help="Where the reference run (for FID) is kept.")
@click.option("--inception-weights", metavar="PATH", help="Inception-v3 weights for the RGB-composite FID.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
def generate_cmd(generator, dataset, preset, config_file, synthetic_dir, runs_dir, inception_weights, device,
                 overrides):
    """Train a generator on the train role, write its synthetic set and its fidelity (reused when they exist)."""
    from bench.runner import Runtime, load_data, pick_device, synthetic_for

    cfg = _config_from_cli(config_file, {"generator.name": generator, "dataset.name": dataset}, overrides, preset)
    if not registry.get("generator", cfg.generator.name).produces_images:
        raise BenchError(f"generator {cfg.generator.name!r} makes no images; nothing to generate")
    runtime = Runtime(Path(runs_dir), device, False, Path(synthetic_dir), inception_weights)
    data, split, roles = load_data(cfg)
    synthetic, scores = synthetic_for(cfg, data, split, roles, runtime, pick_device(device), click.echo)
    click.echo(f"{len(synthetic)} synthetic images at {synthetic.resolution}px; domain FID {scores['fid']:.3f}, "
               f"KID {scores['kid']:.5f}, CAS macro F1 {scores['cas_f1_macro@tuned']:.4f}")


def _summary_table(metrics: dict) -> str:
    from bench.metrics import SUMMARY_KEYS

    roles = [r for r in ("val", "test", "gap") if r in metrics]
    rows = [[key] + [f"{metrics[r][key]:.4f}" for r in roles] for key in SUMMARY_KEYS]
    return tabulate(rows, ["metric", *("val - test" if r == "gap" else r for r in roles)], tablefmt="simple")


@cli.command("sweep")
@click.argument("grid_file", metavar="GRID.yaml")
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="local: jobs on this machine (one per GPU, or --parallel); slurm: job arrays through submitit.")
@click.option("--status", "show_status", is_flag=True, help="Print done / running / failed / missing and exit.")
@click.option("--runs-dir", default="runs", show_default=True, help="Where run folders are written.")
@click.option("--synthetic-dir", default="synthetic", show_default=True, help="Where synthetic sets are kept.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--partition", help="SLURM partition.")
@click.option("--time-min", type=click.IntRange(min=1), default=240, show_default=True, help="SLURM time limit.")
@click.option("--gpus", type=click.IntRange(min=0), default=0, show_default=True, help="SLURM GPUs per job.")
@click.option("--cpus", type=click.IntRange(min=1), default=2, show_default=True, help="SLURM CPUs per job.")
@click.option("--mem-gb", type=click.IntRange(min=1), default=16, show_default=True, help="SLURM memory per job.")
@click.option("--array-parallelism", type=click.IntRange(min=1), default=64, show_default=True,
              help="Most array tasks running at once.")
@click.option("--wait", is_flag=True, help="slurm: wait until every submitted job has ended, then report.")
@click.option("--parallel", type=click.IntRange(min=1),
              help="local: jobs at once (default one per visible GPU, else 1); on a CPU each gets cores/N threads.")
def sweep_cmd(grid_file, launcher, show_status, runs_dir, synthetic_dir, device, partition, time_min, gpus, cpus,
              mem_gb, array_parallelism, wait, parallel):
    """Run (or show) every job of a grid: datasets x generators x strategies x classifiers x presets x seeds."""
    from bench import sweep

    jobs = sweep.expand(sweep.load_grid(Path(grid_file)))
    if show_status:
        states = [sweep.state(job, Path(runs_dir)) for job in jobs]
        rows = [[job.label, state, job.run_id[:16]] for job, state in zip(jobs, states)]
        click.echo(tabulate(rows, ["job", "state", "run folder"], tablefmt="simple"))
        counts = {s: states.count(s) for s in ("done", "running", "failed", "missing")}
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
        return
    common = ["--runs-dir", runs_dir, "--synthetic-dir", synthetic_dir, "--device", device]
    if launcher == "slurm":
        slurm = {"slurm_partition": partition, "timeout_min": time_min, "gpus_per_node": gpus or None,
                 "cpus_per_task": cpus, "mem_gb": mem_gb, "slurm_array_parallelism": array_parallelism}
        submitted = sweep.run_slurm(jobs, common, slurm, Path(runs_dir) / ".submitit", click.echo)
        if wait and submitted:
            click.echo(f"waiting for {len(submitted)} SLURM jobs (logs in {Path(runs_dir) / '.submitit'})")
            sweep.wait_slurm(submitted)
            _report_sweep(jobs, common, grid_file)
        return
    import torch

    gpus_here = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    failed = sweep.run_local(jobs, common, click.echo, gpus_here, parallel or 1)
    if failed:
        raise BenchError(f"{failed} job(s) failed; `bench sweep {grid_file} --status` lists them, "
                         f"running the sweep again retries them")


def _report_sweep(jobs, common: list[str], grid_file) -> None:
    """After a waited-for SLURM sweep: done / not done from the run folders (the only ground truth)."""
    from bench import sweep

    missing, _ = sweep.pending(jobs, common)
    click.echo(f"sweep: {len(jobs) - len(missing)} of {len(jobs)} jobs done")
    if missing:
        raise BenchError(f"{len(missing)} job(s) did not finish (first: {missing[0].label}); logs under "
                         f"{sweep.runs_dir(common) / '.submitit'}; `bench sweep {grid_file} --launcher slurm` "
                         f"resubmits them")


@cli.command("leaderboard")
@click.option("--runs-dir", default="runs", show_default=True, help="Folder of run folders.")
@click.option("--out", default="leaderboard/README.md", show_default=True, help="Markdown file to write.")
@click.option("--no-plots", is_flag=True, help="Markdown only, no PNG figures.")
@click.option("--synthetic-dir", default="synthetic", show_default=True,
              help="Where the synthetic sets are (their sample grids are copied beside the markdown).")
def leaderboard_cmd(runs_dir, out, no_plots, synthetic_dir):
    """Render the leaderboard markdown from every finished run."""
    from bench.leaderboard import load_runs, render, sections
    from bench.leaderboard_plots import draw
    from bench.records import write_text

    if not Path(runs_dir).is_dir():
        raise BenchError(f"runs folder {runs_dir} does not exist: run `bench run` first")
    frame = load_runs(Path(runs_dir))
    try:
        figures = {} if frame.empty or no_plots else {
            stem: draw(section, Path(runs_dir), Path(out).parent, stem, Path(synthetic_dir))
            for stem, section in sections(frame)}
        write_text(Path(out), render(frame, figures))
    except OSError as exc:
        raise BenchError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out} ({len(frame)} finished runs)")


@cli.group("data")
def data_group():
    """Dataset utilities."""


@data_group.command("export")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--dataset", default="synthetic-cells", show_default=True, help="Dataset plugin to export.")
@click.argument("overrides", nargs=-1, metavar="[dataset.KEY=VALUE]...")
def export_cmd(out, dataset, overrides):
    """Write a dataset in the Kaggle layout: OUT/train.csv and OUT/train/<Id>_<color>.png."""
    from bench.kaggle_layout import write_layout

    cfg = _config_from_cli(None, {"dataset.name": dataset}, overrides)
    data = registry.get("dataset", cfg.dataset.name)(cfg.dataset.options).load()
    try:
        write_layout(Path(out), data.ids, data.labels, [data.take([i])[0] for i in range(len(data))])
    except OSError as exc:
        raise BenchError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {len(data)} images ({data.resolution}px) to {out}/train.csv and {out}/train/")


@data_group.command("prepare")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--resolution", type=click.IntRange(16, 4096), default=512, show_default=True,
              help="Side of the cached images (512 is Kaggle's; 256 and 128 are 4x and 16x smaller).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Decoding processes; 0 = one per core.")
@click.option("--subset", is_flag=True, help="Use only the ids whose four channel files are present.")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable images (listed), changing the fingerprint.")
@click.option("--cache-dir", help="Where to put the cache (default $BENCH_CACHE_DIR or ~/.cache/synthloc-bench).")
def prepare_cmd(path, resolution, workers, subset, skip_bad, cache_dir):
    """Decode a Kaggle-layout folder once into a verified uint8 memory map; resumable when killed.

    `bench run --dataset hpa-kaggle dataset.path=PATH dataset.resolution=S` then reads the cache.
    """
    cfg = _config_from_cli(None, {"dataset.name": "hpa-kaggle", "dataset.path": path, "dataset.resolution": resolution,
                                  "dataset.workers": workers, "dataset.subset": subset, "dataset.skip_bad": skip_bad,
                                  "dataset.cache_dir": cache_dir}, ())
    data = registry.get("dataset", "hpa-kaggle")(cfg.dataset.options).load()
    click.echo(f"{len(data)} images at {data.resolution}px cached and verified; fingerprint {data.fingerprint[:16]}")


@data_group.command("preview")
@click.option("--out", default="docs/synthetic-cells.png", show_default=True, help="PNG to write.")
@click.option("--resolution", type=click.IntRange(16, 1024), default=128, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def preview_cmd(out, resolution, seed):
    """One synthetic-cells image per class (composite above the green channel)."""
    import numpy as np

    from bench.datasets.synthetic_cells import render_field
    from bench.hpa import CLASS_NAMES, NUM_CLASSES
    from bench.preview import save_class_grid

    images = [render_field(np.eye(NUM_CLASSES, dtype=np.uint8)[c], resolution, seed, 0) for c in range(NUM_CLASSES)]
    save_class_grid(images, [f"{c}: {n}" for c, n in enumerate(CLASS_NAMES)], Path(out))
    click.echo(f"wrote {out}")


@cli.command("submit")
@click.argument("run")
@click.option("--data", "data_path", required=True, help="Kaggle folder with sample_submission.csv and test/.")
@click.option("--out", help="CSV to write (default RUN/submission.csv).")
@click.option("--runs-dir", default="runs", show_default=True, help="Where to look RUN up by id prefix.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Decoding processes.")
def submit_cmd(run, data_path, out, runs_dir, device, workers):
    """Write the Kaggle submission (Id,Predicted) of a finished run: eval mode, tuned thresholds, argmax fallback."""
    from bench.runner import pick_device
    from bench.submit import find_run, write_submission

    folder = find_run(run, Path(runs_dir))
    target = Path(out) if out else folder / "submission.csv"
    write_submission(folder, Path(data_path), target, pick_device(device), workers)
    click.echo(f"wrote {target}; ids and order match {Path(data_path) / 'sample_submission.csv'}")


@cli.command("record-kaggle")
@click.argument("run")
@click.option("--public", type=float, help="Kaggle public leaderboard macro F1.")
@click.option("--private", type=float, help="Kaggle private leaderboard macro F1.")
@click.option("--runs-dir", default="runs", show_default=True, help="Where to look RUN up by id prefix.")
def record_kaggle_cmd(run, public, private, runs_dir):
    """Store Kaggle's hidden-test scores in a run's record (shown by the leaderboard)."""
    from bench.submit import find_run, record_kaggle

    folder = find_run(run, Path(runs_dir))
    click.echo(f"{folder}/kaggle.json: {record_kaggle(folder, public, private)}")


def main() -> None:
    cli.main()
