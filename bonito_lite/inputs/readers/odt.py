"""OpenDocument text files (``.odt``: LibreOffice, OpenOffice, and Word's "Save as ODT"), read
with lxml from the docs extra.

An ``.odt`` is a zip whose ``content.xml`` holds the body: headings (``text:h``, and
paragraphs in the Title style), paragraphs, lists and tables, in order, read as the docx
reader reads Word's: a table row as one paragraph with its cells joined by `` | `` (an empty
cell between two with text keeps its place), a list item as its paragraphs. The text is what
LibreOffice shows with tracked changes accepted (insertions are in the body; deletions only in
the change log, which is not read), with its spaces, tabs and line breaks. Headers and footers
(in ``styles.xml``), footnotes and endnotes, comments, text boxes and frames, hidden text, the
table of contents and indexes are left out; a cell merged into the one before it is no cell of
its own. List numbers and bullets are left out. A damaged
or password-protected file is skipped with a warning.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ...errors import UnreadableDocumentError, one_line
from ..chunking import Block
from .base import Document, Reader, WarnOnce


def _documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    yield Document(source, "blocks", path, _blocks=functools.partial(read_odt, path, source), _notes=notes)


READER = Reader(suffixes=(".odt",), documents=_documents, extra="docs", libraries=("lxml",))

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_MANIFEST = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"

# Elements inside a paragraph whose text is not the body's as a reader reads it. (Outside
# paragraphs only the elements named below are read: the change log, where deleted text
# lives, the table of contents, indexes and declarations are not.)
_LEFT_OUT = {
    _TEXT + "note",  # a footnote or endnote, written where its mark is
    _TEXT + "hidden-text",
    _OFFICE + "annotation",  # a comment
    _DRAW + "frame",  # text boxes, images and their captions
    _DRAW + "custom-shape",
}
# Containers of block elements, read through.
_SECTIONS = {_TEXT + "section", _TEXT + "list", _TEXT + "list-item", _TEXT + "list-header", _TEXT + "soft-page-break"}
# The paragraph styles that make a paragraph a heading, by their display name's root.
_HEADING_STYLES = ("Title", "Heading")
# The body of a long book is a few tens of MB of XML; more is a zip bomb, not read into memory.
_MOST_CONTENT_BYTES = 512 * 2**20
# LibreOffice's widest sheet; a larger repeat count is a damaged file.
_MOST_COLUMNS = 16384
# A style's parent chain is short in any real document; the bound only guards a looping one.
_STYLE_DEPTH = 16


def read_odt(path: Path, source: str) -> Iterator[Block]:
    """Body headings (flagged), paragraphs, list items and table rows of an .odt file, in order."""
    from lxml import etree

    try:
        with zipfile.ZipFile(path) as archive:
            if _encrypted(archive, etree):
                raise UnreadableDocumentError(f"{source}: encrypted with a password; skipped. Save a copy without it.")
            size = archive.getinfo("content.xml").file_size
            if size > _MOST_CONTENT_BYTES:
                raise UnreadableDocumentError(
                    f"{source}: its text part unpacks to {size / 2**20:.0f} MB, more than any document holds; skipped."
                )
            # No entities are resolved and nothing is fetched: the file is the user's, not trusted.
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
            content = etree.fromstring(archive.read("content.xml"), parser)
            styles = (
                etree.fromstring(archive.read("styles.xml"), parser) if "styles.xml" in archive.namelist() else None
            )
    except (UnreadableDocumentError, MemoryError):
        raise
    except Exception as error:  # a damaged zip, a missing part, bad XML
        raise UnreadableDocumentError(
            f"{source}: not a readable .odt ({one_line(error, named=True)}); skipped."
        ) from None
    body = content.find(f"{_OFFICE}body/{_OFFICE}text")
    if body is None:
        raise UnreadableDocumentError(f"{source}: an .odt without a text body; skipped.")
    headings = _heading_styles([tree for tree in (styles, content) if tree is not None])
    yield from _blocks(body, headings)


def _encrypted(archive: zipfile.ZipFile, etree) -> bool:
    """Whether the manifest says the content is encrypted (a password-protected file)."""
    try:
        manifest = etree.fromstring(archive.read("META-INF/manifest.xml"), etree.XMLParser(resolve_entities=False))
    except KeyError:
        return False
    return manifest.find(f".//{_MANIFEST}encryption-data") is not None


def _heading_styles(trees) -> frozenset[str]:
    """The paragraph styles (by name) that are Title or Heading styles, or based on one."""
    parent: dict[str, str | None] = {}
    display: dict[str, str] = {}
    for tree in trees:
        for style in tree.iter(_STYLE + "style"):
            if style.get(_STYLE + "family") != "paragraph" or style.get(_STYLE + "name") is None:
                continue
            name = style.get(_STYLE + "name")
            parent[name] = style.get(_STYLE + "parent-style-name")
            display[name] = style.get(_STYLE + "display-name") or name
    found = set()
    for name in parent:
        current: str | None = name
        for _ in range(_STYLE_DEPTH):
            if current is None:
                break
            root = display.get(current, current).replace("_20_", " ")
            if any(root == word or root.startswith(word + " ") for word in _HEADING_STYLES):
                found.add(name)
                break
            current = parent.get(current)
    return frozenset(found)


def _blocks(parent, headings: frozenset[str]) -> Iterator[Block]:
    for element in parent:
        tag = element.tag
        if tag == _TEXT + "h" or (tag == _TEXT + "p" and element.get(_TEXT + "style-name") in headings):
            text = _inline_text(element).strip()
            if text:
                yield Block(text, heading=True)
        elif tag == _TEXT + "p":
            text = _inline_text(element)
            if text.strip():
                yield Block(text)
        elif tag == _TABLE + "table":
            yield from _table_rows(element, headings)
        elif tag in _SECTIONS or tag in (_TABLE + "table-rows", _TABLE + "table-header-rows"):
            yield from _blocks(element, headings)


def _table_rows(table, headings: frozenset[str]) -> Iterator[Block]:
    for row in table.iter(_TABLE + "table-row"):
        if row.getparent() is not table and row.getparent().getparent() is not table:
            continue  # a row of a table inside a cell: read into that cell
        cells = []
        for cell in row:
            if cell.tag != _TABLE + "table-cell":
                continue  # a covered cell is merged into the one before it or above it
            text = " ".join(" ".join(block.text.split()) for block in _blocks(cell, headings))
            # Empty cells keep their places (a value beside the wrong label otherwise); the
            # run of them that fills a row out to the sheet's last column is trimmed below.
            cells.extend([text] * min(int(cell.get(_TABLE + "number-columns-repeated") or 1), _MOST_COLUMNS))
        filled = [number for number, text in enumerate(cells) if text]
        if filled:
            yield Block(" | ".join(cells[filled[0] : filled[-1] + 1]))


# In a paragraph's text, a run of white space is one space (ODF 1.2, 6.1.2); the spaces,
# tabs and line breaks a writer means are elements of their own.
_WHITE_SPACE = re.compile(r"[ \t\r\n]+")


def _inline_text(element) -> str:
    """The text of a paragraph as LibreOffice shows it: spans and links read through,
    ``text:s`` as its spaces, tabs and line breaks as themselves, left-out elements skipped."""
    parts: list[str] = []

    def walk(node) -> None:
        if node.text:
            parts.append(_WHITE_SPACE.sub(" ", node.text))
        for child in node:
            tag = child.tag
            if isinstance(tag, str) and tag not in _LEFT_OUT:
                if tag == _TEXT + "s":
                    parts.append(" " * int(child.get(_TEXT + "c") or 1))
                elif tag == _TEXT + "tab":
                    parts.append("\t")
                elif tag == _TEXT + "line-break":
                    parts.append("\n")
                else:
                    walk(child)
            if child.tail:
                parts.append(_WHITE_SPACE.sub(" ", child.tail))

    walk(element)
    return "".join(parts)
