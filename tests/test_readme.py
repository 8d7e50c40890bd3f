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
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| ([^|]+?) \|$", _section("Task types"), flags=re.M)
    assert rows == [(t.alias, t.short, t.full_name) for t in TASK_TYPES]


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev]"' in README and '-e ".[dev]"' in ci
    assert re.search(r"^\s+pytest$", README, flags=re.M) and re.search(r"^pytest$", ci, flags=re.M)


def test_the_map_of_the_package_names_every_module_and_only_modules_that_exist():
    package = Path(__file__).resolve().parents[1] / "bonito_lite"
    section = _section("Where things live")
    tree = section.split("Where to change what")[0]
    named = set(re.findall(r"\b(\w+(?:\*)?\.py|\w+/)", tree))
    folders = {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert {f"{name}/" for name in folders} <= named
    # Modules at the top and in the folders the map lists file by file (review/ is one app).
    modules = {p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    modules |= {
        p.name
        for name in ("inputs", "engines", "models")
        for p in (package / name).glob("*.py")
        if p.name != "__init__.py"
    }
    covered = {m for m in modules if m in named or any(n.endswith("*.py") and m.startswith(n[:-4]) for n in named)}
    assert covered == modules, f"modules missing from the README's map: {sorted(modules - covered)}"
    for path in re.findall(r"`((?:inputs|engines|models)/\w+\.py)", section):
        assert (package / path).is_file(), path
