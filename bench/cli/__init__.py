"""The `bench` command line (click). User errors print one line `bench: error: ...` and exit 2."""

from __future__ import annotations

import signal
import sys

import click

from bench.cli import data, plugins, report, run, sweep
from bench.errors import BenchError
from bench.version import __version__

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
            click.echo("bench: interrupted; finished epochs and sampled chunks are kept, the same command resumes",
                       err=True)
            sys.exit(130)
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
