"""What the command-line tests share: the sample document, invoking the CLI, checking its
one-line errors and reading the JSONL it writes."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from click.testing import CliRunner, Result

from bonito_lite.cli import cli

# The README's sample document, in the repository's examples folder.
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_notes.md"
# The line generate writes to stderr whenever it runs on the toy model.
TOY_NOTICE = "Using the bundled toy model"


def run_cli(args: list[str], **kwargs) -> Result:
    """Invoke ``bonito-lite`` in this process; exceptions the CLI does not map propagate."""
    return CliRunner().invoke(cli, args, catch_exceptions=False, **kwargs)


def read_jsonl(path: Path, missing_ok: bool = False) -> list[dict]:
    """The records of a JSONL file; an absent file reads as none when ``missing_ok``."""
    if missing_ok and not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_one_line_error(result: Result, exit_code: int, *needles: str, warnings_allowed: bool = False) -> str:
    """The command failed with ``exit_code`` and said so in exactly one ``Error:`` line."""
    assert result.exit_code == exit_code, result.output
    # A library error reaches the user as SystemExit; anything else escaped the CLI's handler.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    others = [line for line in lines if line not in errors and not line.startswith(TOY_NOTICE)]
    if warnings_allowed:
        others = [line for line in others if not line.startswith("Warning: ")]
    assert others == [], result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def default_sigint() -> None:
    """``preexec_fn`` for a child that Ctrl-C must reach, as it reaches a terminal user's process.

    A shell that starts jobs in the background (a CI runner, ``nohup ... &``) hands them
    SIGINT ignored, and children inherit that; Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
