"""Word files (``.docx``), read with python-docx from the docs extra, parsed whole in memory.

Body paragraphs and tables in order, a table row as one paragraph with its cells joined by
`` | ``; paragraphs in a ``Title`` or ``Heading N`` style (or a style based on one, or with
an outline level) are headings. Headers, footers, footnotes, comments and text boxes are
left out. A damaged or password-protected file is skipped with a warning. Old binary Word
files (``.doc``) are not read: no small library reads them well.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

from ...errors import UnreadableDocumentError, one_line
from ..chunking import Block
from .base import Document, Reader, WarnOnce

OLD_WORD_SUFFIX = ".doc"


def old_word_message(source: str, skipped: bool = False) -> str:
    return (
        f"{source}: old Word format (.doc) is not read{'; skipped' if skipped else ''}; "
        "save it as .docx (in Word, or: soffice --headless --convert-to docx FILE)."
    )


def _documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    yield Document(source, "blocks", path, _blocks=functools.partial(read_docx, path, source), _notes=notes)


# lxml comes with python-docx.
READER = Reader(suffixes=(".docx",), documents=_documents, extra="docs", libraries=("docx",))


_HEADING_STYLE = re.compile(r"(?:Title|Heading \d)")
# A style's base chain is short in any real document; the bound only guards a looping one.
_STYLE_DEPTH = 16


def read_docx(path: Path, source: str) -> Iterator[Block]:
    """Body paragraphs (headings flagged) and table rows of a .docx file, in order."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        body = list(document.iter_inner_content())
    except MemoryError:
        raise
    except Exception as error:  # a damaged zip, missing parts, bad XML
        raise UnreadableDocumentError(
            f"{source}: not a readable .docx ({one_line(error, named=True)}); skipped. "
            "Password-protected files must be saved without the password."
        ) from None
    for item in body:
        if isinstance(item, Table):
            yield from _table_rows(item)
            continue
        text = item.text
        if text.strip():
            yield Block(text, heading=_is_heading(item))


def _table_rows(table) -> Iterator[Block]:
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is listed once per grid column it covers.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            yield Block(" | ".join(cells))


def _is_heading(paragraph) -> bool:
    from docx.oxml.ns import qn

    if _outline_level(paragraph._p.pPr, qn) is not None:
        return True
    style = paragraph.style
    for _ in range(_STYLE_DEPTH):
        if style is None:
            return False
        if _HEADING_STYLE.fullmatch(style.name or "") or _outline_level(style.element.pPr, qn) is not None:
            return True
        style = style.base_style
    return False


def _outline_level(properties, qn) -> int | None:
    """A paragraph's outline level 0-8 (shown in Word's navigation pane), if it has one."""
    if properties is None:
        return None
    level = properties.find(qn("w:outlineLvl"))
    if level is None:
        return None
    try:
        value = int(level.get(qn("w:val")))
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= 8 else None  # 9 means body text
