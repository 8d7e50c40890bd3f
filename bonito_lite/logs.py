"""How the library's log records reach the terminal, the same way for every command.

The library only logs (``logging.getLogger(__name__)`` under ``bonito_lite``); the CLI
calls :func:`configure_logging` once per command. Warnings become ``Warning: ...`` lines
on stderr, without logger names; ``-v`` adds the informational lines, ``-q`` leaves errors
only. The Python API configures nothing: its caller's logging decides.
"""

from __future__ import annotations

import logging

import click


class _OneLineWarnings(logging.Handler):
    """Library warnings as ``Warning: ...`` lines on stderr, without logger names."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "Warning: " if record.levelno >= logging.WARNING else ""
        click.echo(prefix + record.getMessage(), err=True)


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Show the library's warnings (``verbose``: its information too; ``quiet``: errors only)."""
    logger = logging.getLogger(__package__)
    logger.handlers[:] = [_OneLineWarnings()]
    logger.propagate = False
    logger.setLevel(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)
    # pypdf logs every repair it makes to a damaged PDF; our own warning names the file once.
    logging.getLogger("pypdf").setLevel(logging.WARNING if verbose else logging.ERROR)
    # gguf's tokenizer reader warns about parts of tokenizer.json conversion does not use (such
    # as Llama 3's template for pairs of texts); what matters is checked by the converter.
    logging.getLogger("gguf").setLevel(logging.WARNING if verbose else logging.ERROR)
