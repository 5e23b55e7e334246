"""`bench data export | prepare | preview`: dataset utilities."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli.common import config_from_cli
from bench.errors import BenchError


@click.group("data")
def data_group():
    """Dataset utilities."""


@data_group.command("export")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--dataset", default="synthetic-cells", show_default=True, help="Dataset plugin to export.")
@click.argument("overrides", nargs=-1, metavar="[dataset.KEY=VALUE]...")
def export_cmd(out, dataset, overrides):
    """Write a dataset in the Kaggle layout: OUT/train.csv and OUT/train/<Id>_<color>.png."""
    from bench.data.kaggle import write_layout

    cfg = config_from_cli(None, {"dataset.name": dataset}, overrides)
    data = cfg.dataset.create().load()
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
    cfg = config_from_cli(None, {"dataset.name": "hpa-kaggle", "dataset.path": path, "dataset.resolution": resolution,
                                  "dataset.workers": workers, "dataset.subset": subset, "dataset.skip_bad": skip_bad,
                                  "dataset.cache_dir": cache_dir}, ())
    from bench.data.kaggle_folder import load_kaggle_folder

    o = cfg.dataset.options  # validated as `bench run --dataset hpa-kaggle` would; the same cache folder
    data = load_kaggle_folder(o.path, resolution=o.resolution, subset=o.subset, skip_bad=o.skip_bad, workers=o.workers,
                              cache_dir=o.cache_dir, skip_hint="pass --skip-bad to skip bad images")
    click.echo(f"{len(data)} images at {data.resolution}px cached and verified; fingerprint {data.fingerprint[:16]}")


@data_group.command("preview")
@click.option("--dataset", default="synthetic-cells", show_default=True, help="Dataset plugin to preview.")
@click.option("--out", help="PNG to write (default RUNS_DIR/previews/<dataset>.png; an existing file is kept "
                            "unless --force).")
@click.option("--runs-dir", default="runs", show_default=True, help="Results folder for the default --out.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.argument("overrides", nargs=-1, metavar="[dataset.KEY=VALUE]...")
def preview_cmd(dataset, out, runs_dir, force, overrides):
    """One image per class (composite above the green channel): the image with the fewest other labels."""
    import numpy as np

    from bench.data.labels import CLASS_NAMES
    from bench.data.preview import save_class_grid

    cfg = config_from_cli(None, {"dataset.name": dataset}, overrides)
    target = Path(out) if out else Path(runs_dir) / "previews" / f"{cfg.dataset.name}.png"
    if target.exists() and not force:
        raise BenchError(f"{target} exists; pass --force to replace it, or --out another file")
    data = cfg.dataset.create().load()
    images, titles = [], []
    for c, name in enumerate(CLASS_NAMES):
        carriers = np.flatnonzero(data.labels[:, c])
        if len(carriers):
            images.append(data.take([carriers[np.argmin(data.labels[carriers].sum(axis=1))]])[0])
            titles.append(f"{c}: {name}")
    save_class_grid(images, titles, target)
    click.echo(f"wrote {target} ({len(images)} of {len(CLASS_NAMES)} classes present)")
