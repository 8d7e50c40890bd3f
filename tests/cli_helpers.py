"""What the command-line tests share: invoking the CLI and reading the JSONL it writes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bonito_lite.cli import cli


def run_cli(args: list[str], **kwargs) -> Result:
    """Invoke ``bonito-lite`` in this process; exceptions the CLI does not map propagate."""
    return CliRunner().invoke(cli, args, catch_exceptions=False, **kwargs)


def read_jsonl(path: Path, missing_ok: bool = False) -> list[dict]:
    """The records of a JSONL file; an absent file reads as none when ``missing_ok``."""
    if missing_ok and not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
