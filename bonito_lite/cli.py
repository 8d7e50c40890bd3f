"""The command line: parses arguments and maps domain errors to one-line messages.

All work lives in the library modules; a command here only translates options into a
library call and a ``BonitoLiteError`` into ``Error: ...`` with its exit code.
"""

from __future__ import annotations

import functools
import os
import sys

import click

from . import __version__
from .errors import BonitoLiteError
from .task_types import TASK_TYPES

# Exit codes shared by every command.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _debug_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and root.obj and root.obj.get("debug")) or os.environ.get(
        "BONITO_LITE_DEBUG", ""
    ) not in ("", "0")


def handles_errors(command):
    """Turn a library error into a one-line message and its exit code (tracebacks with --debug)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BonitoLiteError as error:
            if _debug_enabled():
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            if _debug_enabled():
                raise
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bonito-lite")
@click.option(
    "--debug",
    is_flag=True,
    envvar="BONITO_LITE_DEBUG",
    help="Show tracebacks for errors (also BONITO_LITE_DEBUG=1).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Turn your own documents into instruction-tuning data with Bonito, offline.

    Example:

        bonito-lite generate notes.txt --task-type extractive_qa
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command(name="task-types")
def task_types_command() -> None:
    """List the 16 task types with their short forms and aliases."""
    width = max(len(t.alias) for t in TASK_TYPES)
    for task in TASK_TYPES:
        click.echo(f"{task.alias:<{width}}  {task.short:<14} {task.full_name}")


def main() -> None:
    cli(prog_name="bonito-lite")
