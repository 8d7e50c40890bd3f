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


def test_the_example_files_the_readme_names_are_shipped():
    root = Path(__file__).resolve().parents[1]
    named = set(re.findall(r"\bexamples/[\w./-]*\w", README))
    assert "examples/docs/report.pdf" in named
    assert all((root / name).exists() for name in named), sorted(n for n in named if not (root / n).exists())


def test_the_docs_examples_read_as_a_reader_would():
    from bonito_lite.inputs.documents import find_documents, iter_passages

    folder = Path(__file__).resolve().parents[1] / "examples" / "docs"
    files = [str(folder / name) for name in ("report.pdf", "handbook.docx", "page.html")]
    passages = list(iter_passages(find_documents(files), count_tokens=lambda text: len(text.split())))
    by_file: dict[str, list[str]] = {}
    for passage in passages:
        by_file.setdefault(Path(passage.source.split("#")[0]).name, []).append(passage.text)
    report, handbook, page = by_file["report.pdf"], by_file["handbook.docx"], by_file["page.html"]
    # The running header and page numbers are gone, the title joins the first section, and
    # a word broken at a line end is whole again.
    assert not any("October 2026" in text for text in report)
    assert re.match(r"Harbor Street pilot: report to the town council\s+Summary\s+The town council", report[0])
    assert [p.source.rsplit("#", 1)[1] for p in passages if p.source.startswith(files[0])] == [
        "page=1",
        "page=1",
        "page=2",
        "page=2",
    ]
    assert "the evening deliveries" in " ".join(report)
    # Word's title, headings and table.
    assert handbook[0].startswith("Millbrook library: lending handbook\n\n")
    assert any(text.startswith("Loans\n\n") and "Late fee per day" in text for text in handbook)
    # The page's navigation, cookie banner and footer hold no passage text.
    assert page[0].startswith("Deploying the storefront\n\n")
    joined = " ".join(page)
    assert "quarry rollback" in joined
    assert not any(word in joined for word in ("cookies", "Teams", "Copyright"))
