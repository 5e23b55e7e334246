"""`bench leaderboard`, `bench submit` (a Kaggle submission of a finished run) and `bench record-kaggle`."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli.common import device_option, runs_dir_option
from bench.errors import BenchError


@click.command("leaderboard")
@click.option("--runs-dir", default="runs", show_default=True, help="Folder of run folders.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json", "latex"]), default="markdown",
              show_default=True, help="markdown: the full leaderboard with figures; csv / json: one row per "
              "configuration (mean and std of every metric); latex: a booktabs table per section.")
@click.option("--out", help="File to write, figures beside it (default RUNS_DIR/leaderboard/README.md, or "
                            "leaderboard.csv/.json/.tex there; the committed one is regenerated with --out "
                            "leaderboard/README.md); `-` prints to stdout.")
@click.option("--no-plots", is_flag=True, help="Markdown only, no PNG figures.")
@click.option("--synthetic-dir", default="synthetic", show_default=True,
              help="Where the synthetic sets are: their fidelity is tabled and their sample grids copied beside the "
                   "markdown, whether or not a run used them.")
@click.option("--name", help="Only the runs tagged with this `bench run --name`.")
def leaderboard_cmd(runs_dir, fmt, out, no_plots, synthetic_dir, name):
    """Render the leaderboard from every finished run (markdown, CSV, JSON or LaTeX)."""
    from bench.files import write_text
    from bench.report import export
    from bench.report.fidelity_tables import load_sets, set_folders
    from bench.report.leaderboard import render
    from bench.report.plots import draw
    from bench.report.runs_frame import load_runs, sections

    if not Path(runs_dir).is_dir():
        raise BenchError(f"runs folder {runs_dir} does not exist: run `bench run` first")
    default = "README.md" if fmt == "markdown" else f"leaderboard.{export.EXTENSIONS[fmt]}"
    out = out or str(Path(runs_dir) / "leaderboard" / default)
    frame = load_runs(Path(runs_dir), set_folders=set_folders(Path(synthetic_dir)))
    if name is not None:
        tags = sorted(set(frame["name"]) - {""}) if not frame.empty else []
        if name not in tags:
            raise BenchError(f"no finished run in {runs_dir} is named {name!r} "
                             f"({'names there: ' + ', '.join(tags) if tags else 'no run there has a name'}); "
                             f"tag runs with `bench run --name`")
        frame = frame[frame["name"] == name]
    if fmt != "markdown":
        if frame.empty:
            raise BenchError(f"no finished runs in {runs_dir}: nothing to export")
        text = {"csv": export.to_csv, "json": export.to_json, "latex": export.to_latex}[fmt](frame, Path(runs_dir))
        if out == "-":
            click.echo(text, nl=False)
            return
        try:
            write_text(Path(out), text)
        except OSError as exc:
            raise BenchError(f"cannot write {out}: {exc.strerror or exc}") from None
        click.echo(f"wrote {out} ({len(frame)} finished runs, {fmt})")
        return
    sets = load_sets(Path(synthetic_dir))
    if out == "-":
        click.echo(render(frame, {}, sets, Path(runs_dir)), nl=False)
        return
    try:
        figures = {} if frame.empty or no_plots else {
            stem: draw(section, Path(runs_dir), Path(out).parent, stem, Path(synthetic_dir), sets)
            for stem, section in sections(frame)}
        write_text(Path(out), render(frame, figures, sets, Path(runs_dir)))
    except OSError as exc:
        raise BenchError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out} ({len(frame)} finished runs)")


@click.command("archive")
@click.option("--runs-dir", default="runs", show_default=True, help="Folder of run folders.")
@click.option("--synthetic-dir", default="synthetic", show_default=True, help="Folder of synthetic sets.")
@click.option("--to", "dest", default="leaderboard", show_default=True,
              help="Where the slim copies go (DEST/runs, DEST/synthetic).")
@click.option("--images", "images", multiple=True, metavar="PATTERN",
              help="Also archive the images (compressed, images.npz) of the sets whose folder name matches, e.g. "
                   "'latent-*'; a set folder copied back into a synthetic folder is then used as built. Repeatable.")
def archive_cmd(runs_dir, synthetic_dir, dest, images):
    """Copy every finished run's and measured set's records (no weights; images only with --images) where they
    can be committed, so the leaderboard is regenerated from them: bench leaderboard --runs-dir DEST/runs
    --synthetic-dir DEST/synthetic --out DEST/README.md."""
    from bench.runs.archive import archive

    if not Path(runs_dir).is_dir():
        raise BenchError(f"runs folder {runs_dir} does not exist: nothing to archive")
    try:
        counts = archive(Path(runs_dir), Path(synthetic_dir), Path(dest), images=images)
    except OSError as exc:
        raise BenchError(f"cannot archive into {dest}: {exc.strerror or exc}") from None
    click.echo(f"archived {counts['runs']} new runs ({counts['runs kept']} already there) and {counts['sets']} new "
               f"sets ({counts['sets kept']} already there; {counts['measurements joined']} new fidelity files joined "
               f"them) in {dest}; regenerate the leaderboard with: bench "
               f"leaderboard --runs-dir {Path(dest) / 'runs'} --synthetic-dir {Path(dest) / 'synthetic'} "
               f"--out {Path(dest) / 'README.md'}")
    differing = counts["runs differing"] + counts["sets differing"]
    if differing:
        raise BenchError(f"{counts['runs differing']} runs and {counts['sets differing']} sets were not archived: "
                         f"the archive holds other images under their names (said above)")


@click.command("submit")
@click.argument("run")
@click.option("--data", "data_path", required=True, help="Kaggle folder with sample_submission.csv and test/.")
@click.option("--out", help="CSV to write (default RUN/submission.csv).")
@runs_dir_option("Where to look RUN up by id prefix.")
@device_option
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Decoding processes.")
def submit_cmd(run, data_path, out, runs_dir, device, workers):
    """Write the Kaggle submission (Id,Predicted) of a finished run: eval mode, tuned thresholds, argmax fallback."""
    from bench.records import find_run
    from bench.report.submission import write_submission
    from bench.runs.preflight import pick_device

    folder = find_run(run, Path(runs_dir))
    target = Path(out) if out else folder / "submission.csv"
    write_submission(folder, Path(data_path), target, pick_device(device), workers)
    click.echo(f"wrote {target}; ids and order match {Path(data_path) / 'sample_submission.csv'}")


@click.command("record-kaggle")
@click.argument("run")
@click.option("--public", type=float, help="Kaggle public leaderboard macro F1.")
@click.option("--private", type=float, help="Kaggle private leaderboard macro F1.")
@runs_dir_option("Where to look RUN up by id prefix.")
def record_kaggle_cmd(run, public, private, runs_dir):
    """Store Kaggle's hidden-test scores in a run's record (shown by the leaderboard)."""
    from bench.records import find_run
    from bench.report.submission import record_kaggle

    folder = find_run(run, Path(runs_dir))
    click.echo(f"{folder}/kaggle.json: {record_kaggle(folder, public, private)}")
