"""OpenDocument text files (``.odt``: LibreOffice, OpenOffice, and Word's "Save as ODT"), read
with lxml from the docs extra.

An ``.odt`` is a zip whose ``content.xml`` holds the body: headings (``text:h``, and
paragraphs in the Title style), paragraphs, lists and tables, in order, read as the docx
reader reads Word's: a table row as one paragraph with its cells joined by `` | `` (an empty
cell between two with text keeps its place), a list item as its paragraphs. The text is what
LibreOffice shows with tracked changes accepted (insertions are in the body; deletions only in
the change log, which is not read), with its spaces, tabs and line breaks. Headers and footers
(in ``styles.xml``), footnotes and endnotes, comments, text boxes and frames, hidden text
(Font > Hidden, hidden sections and paragraphs), ruby readings, scripts, soft hyphens and
zero-width characters, the table of contents and indexes are left out; a cell merged into
the one before it is no cell of its own. List numbers and bullets are left out. A damaged or
password-protected file is skipped with a warning.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...errors import UnreadableDocumentError, one_line
from ..chunking import Block
from .base import Document, Reader, WarnOnce, table_row


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
    _TEXT + "ruby-text",  # a reading above the text, which Word's reader leaves out too
    _TEXT + "number",  # a list or chapter number (list numbers are left out)
    _TEXT + "script",
    _OFFICE + "annotation",  # a comment
}
# Containers of block elements, read through; and of a table's rows.
_SECTIONS = {
    _TEXT + "section",
    _TEXT + "list",
    _TEXT + "list-item",
    _TEXT + "list-header",
    _TEXT + "numbered-paragraph",
}
_ROW_GROUPS = {_TABLE + "table-header-rows", _TABLE + "table-rows", _TABLE + "table-row-group"}
# The paragraph styles that make a paragraph a heading, by their display name's root.
_HEADING_STYLES = ("Title", "Heading")
# The body of a long book is a few tens of MB of XML; more is a zip bomb, not read into memory.
_MOST_PART_BYTES = 512 * 2**20
# LibreOffice's widest sheet, and the most spaces one text:s writes: a larger count is a
# damaged (or hostile) file, and no more is written.
_MOST_COLUMNS = 16384
_MOST_SPACES = 1024
# A style's parent chain is short in any real document; the bound only guards a looping one.
_STYLE_DEPTH = 16
# Characters that are no text a reader reads (as the HTML reader drops them): a soft hyphen,
# zero-width spaces and joiners, a byte-order mark.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def read_odt(path: Path, source: str) -> Iterator[Block]:
    """Body headings (flagged), paragraphs, list items and table rows of an .odt file, in order."""
    from lxml import etree

    try:
        with zipfile.ZipFile(path) as archive:
            # No entities are resolved and nothing is fetched: the file is the user's, not trusted.
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
            parts = {name: _part(archive, name, source, parser) for name in ("META-INF/manifest.xml", "styles.xml")}
            manifest = parts["META-INF/manifest.xml"]
            if manifest is not None and manifest.find(f".//{_MANIFEST}encryption-data") is not None:
                raise UnreadableDocumentError(f"{source}: encrypted with a password; skipped. Save a copy without it.")
            content = _part(archive, "content.xml", source, parser)
        if content is None:
            raise KeyError("There is no item named 'content.xml' in the archive")
        body = content.find(f"{_OFFICE}body/{_OFFICE}text")
        if body is None:
            raise UnreadableDocumentError(f"{source}: an .odt without a text body; skipped.")
        # The named styles of styles.xml and the body's automatic ones: styles.xml's own
        # automatic styles belong to headers and footers, and may reuse the body's names.
        named = parts["styles.xml"].find(_OFFICE + "styles") if parts["styles.xml"] is not None else None
        styles = _Styles(tree for tree in (named, content.find(_OFFICE + "automatic-styles")) if tree is not None)
        # Read whole before the first block is handed on: a damaged attribute is found here.
        blocks = list(_blocks(body, styles))
    except (UnreadableDocumentError, MemoryError):
        raise
    except Exception as error:  # a damaged zip, a missing part, bad XML, a damaged number
        raise UnreadableDocumentError(
            f"{source}: not a readable .odt ({one_line(error, named=True)}); skipped."
        ) from None
    yield from blocks


def _part(archive: zipfile.ZipFile, name: str, source: str, parser):
    """A part of the zip parsed, None when the file has none; one that unpacks too large is refused."""
    if name not in archive.namelist():
        return None
    size = archive.getinfo(name).file_size
    if size > _MOST_PART_BYTES:
        raise UnreadableDocumentError(
            f"{source}: its {name} unpacks to {size / 2**20:.0f} MB, more than any document holds; skipped."
        )
    from lxml import etree

    return etree.fromstring(archive.read(name), parser)


class _Styles:
    """What the document's styles say about its text: which paragraph styles are Title or
    Heading styles (or based on one), and which paragraph and text styles hide their text
    (Font > Hidden writes ``text:display="none"``)."""

    def __init__(self, trees: Iterable) -> None:
        parent: dict[tuple[str, str], str | None] = {}
        display: dict[tuple[str, str], str] = {}
        shown: dict[tuple[str, str], str | None] = {}  # text:display, where a style sets it
        for tree in trees:
            for style in tree.iter(_STYLE + "style"):
                family, name = style.get(_STYLE + "family"), style.get(_STYLE + "name")
                if family not in ("paragraph", "text") or name is None:
                    continue
                key = (family, name)
                parent[key] = style.get(_STYLE + "parent-style-name")
                display[key] = (style.get(_STYLE + "display-name") or name).replace("_20_", " ")
                properties = style.find(_STYLE + "text-properties")
                shown[key] = properties.get(_TEXT + "display") if properties is not None else None
        self.headings: set[str] = set()
        self.hidden: set[tuple[str, str]] = set()
        for key in parent:
            chain = list(self._chain(key, parent))
            roots = [display.get(link, link[1]) for link in chain if link[0] == "paragraph"]
            if any(root == word or root.startswith(word + " ") for root in roots for word in _HEADING_STYLES):
                self.headings.add(key[1])
            # The nearest style that says decides: a child may show what its parent hides.
            if next((shown[link] for link in chain if shown.get(link) is not None), None) == "none":
                self.hidden.add(key)

    @staticmethod
    def _chain(key: tuple[str, str], parent: dict[tuple[str, str], str | None]) -> Iterator[tuple[str, str]]:
        family, name = key
        for _ in range(_STYLE_DEPTH):
            yield family, name
            following = parent.get((family, name))
            if following is None:
                return
            name = following

    def is_hidden(self, element, family: str) -> bool:
        return (family, element.get(_TEXT + "style-name")) in self.hidden


def _blocks(parent, styles: _Styles) -> Iterator[Block]:
    for element in parent:
        tag = element.tag
        if tag in (_TEXT + "h", _TEXT + "p"):
            if styles.is_hidden(element, "paragraph"):
                continue
            text = _inline_text(element, styles)
            if tag == _TEXT + "h" or element.get(_TEXT + "style-name") in styles.headings:
                if text.strip():
                    yield Block(text.strip(), heading=True)
            elif text.strip():
                yield Block(text)
        elif tag == _TABLE + "table":
            yield from _table_rows(element, styles)
        elif tag in _SECTIONS and element.get(_TEXT + "display") != "none":
            yield from _blocks(element, styles)


def _rows(parent) -> Iterator:
    """A table's rows in order, through its header rows, rows and row groups."""
    for child in parent:
        if child.tag == _TABLE + "table-row":
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _rows(child)


def _table_rows(table, styles: _Styles) -> Iterator[Block]:
    for row in _rows(table):
        cells: list[str] = []
        for cell in row:
            if cell.tag != _TABLE + "table-cell":
                continue  # a covered cell is merged into the one before it or above it
            text = " ".join(" ".join(block.text.split()) for block in _blocks(cell, styles))
            # Empty cells keep their places; the run of them that fills a row out to the
            # sheet's last column is trimmed by table_row.
            repeat = min(_count(cell.get(_TABLE + "number-columns-repeated")), _MOST_COLUMNS - len(cells))
            cells.extend([text] * repeat)
            if len(cells) >= _MOST_COLUMNS:
                break
        if (row_block := table_row(cells)) is not None:
            yield row_block


def _count(value: str | None) -> int:
    """A repeat count as ODF writes one (at least 1); ``ValueError`` for a damaged one."""
    return max(int(value), 1) if value is not None else 1


# In a paragraph's text, a run of white space is one space and leading space is none (ODF
# 1.3, 6.1.2); the spaces, tabs and line breaks a writer means are elements of their own.
_WHITE_SPACE = re.compile(r"[ \t\r\n]+")


def _inline_text(element, styles: _Styles) -> str:
    """The text of a paragraph as LibreOffice shows it: spans and links read through,
    ``text:s`` as its spaces, tabs and line breaks as themselves, left-out elements skipped."""
    parts: list[str] = []
    # Whether the text so far ends in white space the collapsing rule counts (the paragraph's
    # start does): a space after it is dropped.
    after_space = True

    def written(text: str) -> None:
        nonlocal after_space
        text = _WHITE_SPACE.sub(" ", text.translate(_INVISIBLE))
        if after_space and text.startswith(" "):
            text = text[1:]
        if text:
            parts.append(text)
            after_space = text.endswith(" ")

    def meant(text: str) -> None:
        nonlocal after_space
        parts.append(text)
        after_space = False

    def walk(node) -> None:
        if node.text:
            written(node.text)
        for child in node:
            tag = child.tag
            if (
                isinstance(tag, str)
                and tag not in _LEFT_OUT
                # Drawings (frames with text boxes, images and captions, shapes and their
                # groups) are left out whole: their text is not the paragraph's.
                and not tag.startswith(_DRAW)
                and not styles.is_hidden(child, "text")
            ):
                if tag == _TEXT + "s":
                    meant(" " * min(_count(child.get(_TEXT + "c")), _MOST_SPACES))
                elif tag == _TEXT + "tab":
                    meant("\t")
                elif tag == _TEXT + "line-break":
                    meant("\n")
                else:
                    walk(child)
            if child.tail:
                written(child.tail)

    walk(element)
    return "".join(parts)
