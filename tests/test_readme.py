"""The README's facts that the code also states stay in step with the code."""

import re
from pathlib import Path

from bonito_lite.task_types import TASK_TYPES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    """The README's text under a level-2 heading, up to the next one."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", README, flags=re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def test_readme_task_type_table_matches_the_task_type_table():
    rows = re.findall(
        r"^\| `([^`]+)` \| `([^`]+)` \| ([^|]+?) \|$", _section("Task types"), flags=re.M
    )
    assert rows == [(t.alias, t.short, t.full_name) for t in TASK_TYPES]


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev]"' in README and '-e ".[dev]"' in ci
    assert re.search(r"^\s+pytest$", README, flags=re.M) and re.search(r"^pytest$", ci, flags=re.M)
