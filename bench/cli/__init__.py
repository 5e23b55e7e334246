"""The `bench` command line (click). User errors print one line `bench: error: ...` and exit 2."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from bench import interrupts
from bench.cli import data, plugins, report, run, sweep
from bench.errors import BenchError
from bench.files import DiskFull, is_disk_full
from bench.interrupts import Terminated
from bench.version import __version__

EXIT_USER_ERROR = 2


class BenchGroup(click.Group):
    """A click group whose user errors are one line on stderr and exit code 2, never a traceback."""

    def main(self, args=None, prog_name=None, **extra):
        interrupts.install()
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
            click.echo(f"bench: terminated (SIGTERM); {interrupts.what_is_kept()}", err=True)
            sys.exit(128 + signal.SIGTERM)
        except (KeyboardInterrupt, click.exceptions.Abort):
            click.echo(f"bench: interrupted; {interrupts.what_is_kept()}", err=True)
            sys.exit(130)
        except OSError as exc:  # a full disk where no writer of ours saw it (a library's own file, a folder)
            if not is_disk_full(exc):
                raise
            click.echo(f"bench: error: {DiskFull(Path(exc.filename or '.').parent)}", err=True)
            sys.exit(EXIT_USER_ERROR)
        interrupts.ignore()  # the command has finished: a signal now changes nothing, and the exit says so
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=BenchGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthloc-bench")
def cli():
    """synthloc-bench: do diffusion-generated images help multi-label protein localization classifiers?"""


for command in (plugins.list_plugins, plugins.presets_cmd, plugins.options_cmd,
                run.run_cmd, run.generate_cmd, sweep.sweep_cmd, sweep.ladder_cmd,
                report.leaderboard_cmd, report.archive_cmd, data.data_group, report.submit_cmd,
                report.record_kaggle_cmd):
    cli.add_command(command)


def main() -> None:
    cli.main()
