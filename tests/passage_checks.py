"""What every cut of a text must keep: passages that are slices of it, in order, with nothing
between them but space (or, in text paginated by form feeds, its page furniture; in
Markdown, what a rendered page does not show as text)."""

from __future__ import annotations

import re
import string

from bonito_lite.inputs import chunking
from bonito_lite.inputs.chunking import Passage

# Markup a rendered Markdown page does not show as text, more loosely than the reader
# tells it: link definitions, comments (also cut off by the passages around them), tags,
# entities, anything in brackets (image descriptions, link text) and link targets.
_MARKUP = re.compile(
    r"^ {0,3}\[(?!\^)[^\]\n]*\]:[^\n]*$|<!--.*?(?:-->|\Z)|\A.*?-->|<[^<>]*>|&#?\w+;|\[[^\[\]]*\](?:\([^()]*\))?",
    re.DOTALL | re.MULTILINE,
)
# Headings go only with what is left out right below them that takes them: a table of
# contents or a row of badges, both of which open with a bracket after marks or tags
# ("- [Install](#install)", "<p>[![CI](ci.svg)](ci)").
_HEADINGS = re.compile(
    r"(?:^ {0,3}#{1,6}(?:[ \t].*)?$|^.*\n {0,3}(?:=+|-+)[ \t]*$|<h([1-6])\b.*?</h\1\s*>)"
    r"(?=(?:\W|<[^<>\n]*>|\d{1,3}[.)])*?\[)",
    re.MULTILINE | re.IGNORECASE,
)
_FRONT_MATTER = re.compile(r"(?:---|\+\+\+)[ \t]*\n.*?\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)", re.DOTALL)


def without_markup(markdown: str) -> str:
    """The text with its markup blanked (nested brackets taken from the inside out); lines
    left with nothing but ASCII punctuation are dropped."""
    previous = None
    markdown = _HEADINGS.sub(" ", markdown)
    while previous != markdown:
        previous, markdown = markdown, _MARKUP.sub(" ", markdown)
    return "\n".join(
        line
        for line in re.split(r"([\n\f])", markdown)
        if any(not (c.isspace() or c in string.punctuation) or c == "\f" for c in line)
    )


def assert_faithful(
    text: str, passages: list[Passage], source: str = "doc.md", page_furniture: bool = False, markdown: bool = False
) -> None:
    """Offsets point at the text, passages are stripped, in order, and cover every non-space
    (with ``page_furniture``, but for short lines beside a form feed: running headers and
    footers, at most two at each page break; with ``markdown``, but for paragraphs that show
    no text, and the file's front matter)."""

    def assert_only_space(between: str, last_page: bool = False, at_start: bool = False) -> None:
        if between == "" or between.isspace():
            return
        if markdown:
            if at_start and (front := _FRONT_MATTER.match(between)):
                between = between[front.end() :]
            between = without_markup(between)
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
        assert_only_space(text[previous_end : passage.char_start], at_start=number == 0)
        previous_end = passage.char_end
    assert_only_space(text[previous_end:], last_page=True, at_start=not passages)


def assert_nothing_lost_but_page_furniture(text: str, passages: list[Passage], newlines: bool = False) -> None:
    """All of the text but its space is in the passages, in order; where form feeds paginate
    it, but for what its pages' edges may lose (a few short lines a page); but for
    Markdown's markup that shows no text. With ``newlines``, the passages' offsets index the
    text with its line ends made ``\\n``, as a file or standard input is read."""
    read = text.replace("\r\n", "\n").replace("\r", "\n") if newlines else text
    source = passages[0].source if passages else ""
    assert_faithful(read, passages, source=source, page_furniture=True, markdown=True)
    if "\f" in text:
        got = "".join("".join(p.text.split()) for p in passages)
        assert len("".join(text.split())) - len(got) <= 2 * (text.count("\f") + 1) * chunking._FURNITURE_LINE_CHARS
