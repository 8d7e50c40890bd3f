"""What every cut of a text must keep: passages that are slices of it, in order, with nothing
between them but space (or, in text paginated by form feeds, its page furniture)."""

from __future__ import annotations

import re

from bonito_lite.inputs import chunking
from bonito_lite.inputs.chunking import Passage


def assert_faithful(text: str, passages: list[Passage], source: str = "doc.md", page_furniture: bool = False) -> None:
    """Offsets point at the text, passages are stripped, in order, and cover every non-space
    (with ``page_furniture``, but for short lines beside a form feed: running headers and
    footers, at most two at each page break)."""

    def assert_only_space(between: str, last_page: bool = False) -> None:
        if between == "" or between.isspace():
            return
        lines = [line for line in re.split(r"[\n\f]", between) if line.strip()]
        breaks = between.count("\f") + (last_page and "\f" in text)
        assert page_furniture and breaks, "text between passages was dropped"
        assert len(lines) <= 2 * breaks
        assert all(len(line.strip()) <= chunking._FURNITURE_LINE_CHARS for line in lines)

    previous_end = 0
    for number, passage in enumerate(passages):
        assert passage.index == number
        assert passage.source == source
        assert text[passage.char_start : passage.char_end] == passage.text
        assert passage.text and passage.text == passage.text.strip()
        assert_only_space(text[previous_end : passage.char_start])
        previous_end = passage.char_end
    assert_only_space(text[previous_end:], last_page=True)


def assert_nothing_lost_but_page_furniture(text: str, passages: list[Passage]) -> None:
    """All of the text but its space is in the passages, in order; where form feeds paginate
    it, but for what its pages' edges may lose (a few short lines a page)."""
    got = "".join("".join(p.text.split()) for p in passages)
    whole = "".join(text.split())
    if "\f" not in text:
        assert got == whole
        return
    rest = iter(whole)
    assert all(c in rest for c in got), "passages are not the text in order"
    assert len(whole) - len(got) <= 2 * (text.count("\f") + 1) * chunking._FURNITURE_LINE_CHARS
