"""`bench sweep GRID.yaml`: every job of a grid, locally or on SLURM, and `--status`; `bench ladder FROM TO`."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.common import device_option, overrides_argument, runs_dir_option, synthetic_dir_option
from bench.errors import BenchError


@click.command("sweep")
@click.argument("grid_file", metavar="GRID.yaml")
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="local: jobs on this machine (one per GPU, or --parallel); slurm: job arrays through submitit.")
@click.option("--status", "show_status", is_flag=True, help="Print done / running / failed / missing and exit.")
@runs_dir_option()
@synthetic_dir_option
@device_option
@click.option("--partition", help="SLURM partition.")
@click.option("--time-min", type=click.IntRange(min=1), default=240, show_default=True, help="SLURM time limit.")
@click.option("--gpus", type=click.IntRange(min=0), default=0, show_default=True,
              help="SLURM GPUs per job; with more than one, a run job starts one torchrun process per GPU.")
@click.option("--requeue-signal-s", type=click.IntRange(min=10), default=120, show_default=True,
              help="SLURM warns a job this long before its time limit; the job then requeues itself and the "
                   "requeued job resumes from the last finished epoch.")
@click.option("--max-requeues", type=click.IntRange(min=0), default=20, show_default=True,
              help="How often a job may requeue itself at its time limit (submitit's slurm_max_num_timeout; "
                   "each requeue resumes, so a run needs about its length / --time-min of them; pre-emptions "
                   "are not counted).")
@click.option("--cpus", type=click.IntRange(min=1), default=2, show_default=True, help="SLURM CPUs per job.")
@click.option("--mem-gb", type=click.IntRange(min=1), default=16, show_default=True, help="SLURM memory per job.")
@click.option("--array-parallelism", type=click.IntRange(min=1), default=64, show_default=True,
              help="Most array tasks running at once.")
@click.option("--logger", "loggers", multiple=True, type=click.Choice(["tensorboard", "mlflow", "wandb"]),
              help="Mirror every run to an experiment tracker (repeatable), as `bench run --logger`.")
@click.option("--wait", is_flag=True, help="slurm: wait until every submitted job has ended, then report.")
@click.option("--parallel", type=click.IntRange(min=1),
              help="local: jobs at once (default one per visible GPU, else 1); on a CPU each gets cores/N threads.")
@overrides_argument
def sweep_cmd(grid_file, launcher, show_status, runs_dir, synthetic_dir, device, partition, time_min, gpus,
              requeue_signal_s, max_requeues, cpus, mem_gb, array_parallelism, loggers, wait, parallel, overrides):
    """Run (or show) every job of a grid: datasets x generators x strategies x classifiers x presets x seeds.

    KEY=VALUE overrides after the grid file join the grid's own `overrides` for every job
    (`bench sweep sweeps/data-size.yaml split.train_fraction=0.25`)."""
    from bench.runs import launchers, sweep

    grid = sweep.load_grid(Path(grid_file))
    grid.overrides = [*grid.overrides, *overrides]
    jobs = sweep.expand(grid)
    if show_status:
        states = [sweep.state(job, Path(runs_dir)) for job in jobs]
        rows = [[job.label, state, job.run_id[:16]] for job, state in zip(jobs, states)]
        click.echo(tabulate(rows, ["job", "state", "run folder"], tablefmt="simple"))
        counts = {s: states.count(s) for s in ("done", "running", "failed", "missing")}
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
        return
    from bench.runs import tracking

    tracking.check(tuple(loggers))
    common = ["--runs-dir", runs_dir, "--synthetic-dir", synthetic_dir, "--device", device,
              *(a for name in loggers for a in ("--logger", name))]
    if launcher == "slurm":
        slurm = {"slurm_partition": partition, "timeout_min": time_min, "gpus_per_node": gpus or None,
                 "cpus_per_task": cpus, "mem_gb": mem_gb, "slurm_array_parallelism": array_parallelism,
                 "slurm_signal_delay_s": requeue_signal_s, "slurm_max_num_timeout": max_requeues}
        submitted = launchers.run_slurm(jobs, common, slurm, Path(runs_dir) / ".submitit", click.echo)
        if wait and submitted:
            click.echo(f"waiting for {len(submitted)} SLURM jobs (logs in {Path(runs_dir) / '.submitit'})")
            launchers.wait_slurm(submitted)
            _report_sweep(jobs, common, grid_file)
        return
    import torch

    gpus_here = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    failed = launchers.run_local(jobs, common, click.echo, gpus_here, parallel or 1)
    if failed:
        raise BenchError(f"{failed} job(s) failed; `bench sweep {grid_file} --status` lists them, "
                         f"running the sweep again retries them")


def _report_sweep(jobs, common: list[str], grid_file) -> None:
    """After a waited-for SLURM sweep: done / not done from the run folders (the only ground truth)."""
    from bench.runs import sweep

    missing, _ = sweep.pending(jobs, common)
    click.echo(f"sweep: {len(jobs) - len(missing)} of {len(jobs)} jobs done")
    if missing:
        raise BenchError(f"{len(missing)} job(s) did not finish (first: {missing[0].label}); logs under "
                         f"{sweep.runs_dir(common) / '.submitit'}; `bench sweep {grid_file} --launcher slurm` "
                         f"resubmits them")


@click.command("ladder")
@click.argument("from_preset", metavar="FROM")
@click.argument("to_preset", metavar="TO")
@click.option("--generator", help="Generator for both ends (e.g. ddpm; where a strategy uses synthetic images).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated run seeds.")
@click.option("--pretrained", is_flag=True,
              help="Keep ImageNet weights where a preset asks for them (needs them downloaded or cached); by default "
                   "both ends use classifier.pretrained=false classifier.init=random, and the ladder says so.")
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="Where the runs go, as for `bench sweep` (SLURM with its defaults: 240 min, 2 CPUs, 16 GB).")
@click.option("--parallel", type=click.IntRange(min=1), help="local: runs at once.")
@runs_dir_option()
@synthetic_dir_option
@device_option
@click.option("--dry-run", is_flag=True, help="List the rungs and their changes, run nothing.")
@overrides_argument
def ladder_cmd(from_preset, to_preset, generator, seeds, pretrained, launcher, parallel, runs_dir, synthetic_dir,
               device, dry_run, overrides):
    """Attribute the difference between two presets (or config files): run FROM, FROM with each differing
    setting switched to TO's value alone, and TO, for every seed; the leaderboard shows the ladder as one
    table, with the rung that moves the validation - test gap most."""
    from bench import config
    from bench.runs import ladder, launchers

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise BenchError(f"--seeds {seeds!r}: expected comma-separated integers, e.g. 0,1,2") from None
    extra = tuple(overrides)
    notes = []
    if not pretrained:
        extra += ("classifier.pretrained=false", "classifier.init=random")
        notes.append("offline: both ends with classifier.pretrained=false classifier.init=random (--pretrained keeps "
                     "the presets' ImageNet weights)")
    if overrides:
        notes.append("both ends with " + " ".join(f"`{item}`" for item in overrides))
    flags = {"generator.name": generator}
    ends = [config.normalise(config.build(Path(p) if Path(p).is_file() else None, flags, extra,
                                          None if Path(p).is_file() else p), lambda line: None)
            for p in (from_preset, to_preset)]
    steps = ladder.plan(*ends, click.echo)
    name = ladder.name_of(from_preset, to_preset, (generator, *overrides))
    rows = [[rung.name, ", ".join(f"{k}={v}" for k, v in rung.changes.items()) if rung.name != "TO" else "all"]
            for rung, _ in steps]
    click.echo(tabulate(rows, ["rung", "switched to TO's value"], tablefmt="simple", maxcolwidths=[None, 90]))
    for note in notes:
        click.echo(f"ladder: {note}")
    if dry_run:
        return
    folder = Path(runs_dir) / "ladders" / name
    jobs = ladder.jobs(steps, seed_list, folder)
    ladder.write_manifest(Path(runs_dir) / "ladders" / f"{name}.json", from_preset, to_preset, steps, seed_list,
                          notes)
    common = ["--runs-dir", runs_dir, "--synthetic-dir", synthetic_dir, "--device", device]
    if launcher == "slurm":
        slurm = {"timeout_min": 240, "cpus_per_task": 2, "mem_gb": 16, "slurm_max_num_timeout": 20}
        launchers.run_slurm(jobs, common, slurm, Path(runs_dir) / ".submitit", click.echo)
        return
    failed = launchers.run_local(jobs, common, click.echo, 0, parallel or 1)
    if failed:
        raise BenchError(f"{failed} ladder run(s) failed; the same command retries them")
    click.echo(f"ladder {name}: {len(jobs)} runs done; `bench leaderboard` shows it")
