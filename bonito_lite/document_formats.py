"""Reading PDF, DOCX and HTML files into paragraphs and headings, with the docs extra.

Each format is read by a library made for it (``pip install "bonito-lite[docs]"``): pypdf,
python-docx, and BeautifulSoup over lxml. They are imported only when such a file is read, so
the rest of bonito-lite works without them.

A reader yields ``Block``s: paragraphs (a table row is one, its cells joined by `` | ``) and
headings, which start new passages as Markdown headings do. Passage offsets index the blocks'
text joined by a blank line (``chunking.blocks_text``); ``Document.read_text()`` returns it.

* PDF: every page is its own document, named ``path#page=N`` (N counts physical pages from 1,
  the convention of PDF open parameters, so ``file.pdf#page=3`` opens at the right page), and
  a page break always ends a passage: no passage spans pages, so its page is exact. A page's
  text is what pypdf extracts from it; a line equal to an outline (bookmark) title pointing at
  that page is a heading. Pages are read one at a time from the open file.
* DOCX: body paragraphs and tables in order; paragraphs in a ``Title`` or ``Heading N`` style
  (or a style based on one, or with an outline level) are headings. Headers, footers,
  footnotes, comments and text boxes are left out.
* HTML: the text of ``body``, with scripts, styles, navigation, forms and hidden elements left
  out, and page-level ``header``, ``footer`` and ``aside`` (those outside ``article`` and
  ``main``) too; ``h1``-``h6`` are headings. The encoding is taken from the file (BOM,
  ``<meta charset>``), else detected.

DOCX and HTML files are parsed whole in memory, as their libraries work; PDFs are not.

A file that cannot be read (corrupt, encrypted with a password, a PDF without a text layer)
raises ``UnreadableDocumentError``, which skips it with a warning.
"""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from pathlib import Path
from typing import Callable, Iterator

from .chunking import Block
from .errors import InputError, UnreadableDocumentError, one_line

log = logging.getLogger(__name__)

PDF_SUFFIX = ".pdf"
DOCX_SUFFIX = ".docx"
HTML_SUFFIXES = (".html", ".htm")
FORMAT_SUFFIXES = (PDF_SUFFIX, DOCX_SUFFIX) + HTML_SUFFIXES
# Old binary Word files: python-docx cannot read them, and no small library does well.
OLD_WORD_SUFFIX = ".doc"

INSTALL_EXTRA = 'pip install "bonito-lite[docs]"'
# The modules each format needs, as imported (lxml comes with python-docx).
_LIBRARIES = {
    PDF_SUFFIX: ("pypdf",),
    DOCX_SUFFIX: ("docx",),
    ".html": ("bs4", "lxml"),
    ".htm": ("bs4", "lxml"),
}


def missing_extra(suffix: str) -> str | None:
    """The one-line hint when reading ``suffix`` files needs libraries that are not installed."""
    for module in _LIBRARIES.get(suffix, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            return f"reading {suffix} needs the docs extra: {INSTALL_EXTRA}"
    return None


def old_word_message(source: str, skipped: bool = False) -> str:
    return (
        f"{source}: old Word format (.doc) is not read{'; skipped' if skipped else ''}; "
        "save it as .docx (in Word, or: soffice --headless --convert-to docx FILE)."
    )


def read_blocks(path: Path, source: str) -> Iterator[Block]:
    """The blocks of a DOCX or HTML file, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == DOCX_SUFFIX:
        return read_docx(path, source)
    if suffix in HTML_SUFFIXES:
        return read_html(path, source)
    raise InputError(f"{source}: not a DOCX or HTML file.")


# ---------------------------------------------------------------------------------------------
# PDF


def read_pdf_pages(
    path: Path, source: str, warn: Callable[[str], None]
) -> Iterator[tuple[int, list[Block]]]:
    """``(page number from 1, blocks)`` for each page with text, one page at a time.

    Raises ``UnreadableDocumentError`` for a file that cannot be opened, is encrypted with a
    password, or has no text on any page (a scan); a page whose text cannot be extracted is
    skipped with a warning through ``warn``.
    """
    from pypdf import PasswordType, PdfReader

    # An open file, not a path: given a path, pypdf reads the whole file into memory first.
    with open(path, "rb") as stream:
        try:
            reader = PdfReader(stream)
            if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                raise UnreadableDocumentError(
                    f"{source}: encrypted with a password; skipped. Save a copy without it "
                    "(e.g. qpdf --decrypt --password=PASSWORD in.pdf out.pdf)."
                )
            n_pages = len(reader.pages)
        except (UnreadableDocumentError, MemoryError):
            raise
        except Exception as error:  # pypdf raises many kinds on a damaged file
            raise UnreadableDocumentError(
                f"{source}: not a readable PDF ({one_line(error, named=True)}); skipped."
            ) from None
        titles = _outline_titles(reader, source)
        with_text = failed = 0
        for index in range(n_pages):
            try:
                text = reader.pages[index].extract_text()
            except MemoryError:
                raise
            except Exception as error:
                failed += 1
                warn(f"{source}#page={index + 1}: text could not be extracted "
                     f"({one_line(error, named=True)}); skipped.")
                continue
            if not text.strip():
                continue
            with_text += 1
            yield index + 1, _page_blocks(text, titles.get(index, ()))
        if n_pages == 0:
            raise UnreadableDocumentError(f"{source}: a PDF without pages; skipped.")
        if with_text == 0 and failed == 0:
            raise UnreadableDocumentError(
                f"{source}: no text layer on any of its {n_pages} pages (a scan?); skipped. "
                "Add one with OCR first (e.g. ocrmypdf in.pdf out.pdf)."
            )
        if with_text < n_pages:
            log.info("%s: %d of %d pages have no text.", source, n_pages - with_text, n_pages)


def _outline_titles(reader, source: str) -> dict[int, list[str]]:
    """Outline (bookmark) titles by the index of the page they point at, in outline order."""
    titles: dict[int, list[str]] = {}
    try:
        pending = list(reversed(reader.outline))
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(reversed(item))
                continue
            page = reader.get_destination_page_number(item)
            title = _normalised(str(item.title or ""))
            if page is not None and page >= 0 and title:
                titles.setdefault(page, []).append(title)
    except MemoryError:
        raise
    except Exception as error:
        # The outline only places headings; the pages are still worth reading without it.
        log.info("%s: outline ignored (%s).", source, one_line(error, named=True))
        return {}
    return titles


def _page_blocks(text: str, titles: list[str] | tuple[str, ...]) -> list[Block]:
    """The page's text, cut around the lines that match its outline titles (each used once)."""
    blocks: list[Block] = []
    wanted = list(titles)
    body_start = position = 0
    for line in text.splitlines(keepends=True):
        if wanted and (key := _normalised(line)) in wanted:
            wanted.remove(key)
            if text[body_start:position].strip():
                blocks.append(Block(text[body_start:position]))
            blocks.append(Block(line.strip(), heading=True))
            body_start = position + len(line)
        position += len(line)
    if text[body_start:].strip():
        blocks.append(Block(text[body_start:]))
    return blocks


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------------------------------------
# DOCX


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
        if _HEADING_STYLE.fullmatch(style.name or "") or _outline_level(
            style.element.pPr, qn
        ) is not None:
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


# ---------------------------------------------------------------------------------------------
# HTML


_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Never the document's text.
_DROPPED = {
    "head", "script", "style", "noscript", "template", "svg", "math", "canvas", "iframe",
    "object", "embed", "nav", "form", "button", "select", "textarea", "dialog",
}
# Page furniture when they belong to the page; inside an article they are part of it.
_PAGE_LEVEL = {"header", "footer", "aside"}
_PAGE_LEVEL_ROLES = {"banner", "contentinfo", "complementary", "navigation", "search"}
_CONTENT = {"article", "main"}
# Elements that start and end a block of text (a paragraph).
_BLOCKS = _HEADINGS | _PAGE_LEVEL | _CONTENT | {
    "address", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "hr", "html", "legend", "li", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
}
_CELLS = {"td", "th"}
_SPACES = re.compile(r"[ \t\n\r\f]+")
# As for text files: NUL bytes near the start mean binary, unless a BOM says UTF-16 or UTF-32.
_BINARY_SNIFF_BYTES = 8192
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def read_html(path: Path, source: str) -> Iterator[Block]:
    """The readable text of an .html file as paragraphs and headings, boilerplate left out."""
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    if b"\0" in data[:_BINARY_SNIFF_BYTES] and not data.startswith(_UTF16_32_BOMS):
        raise UnreadableDocumentError(f"{source}: looks binary (NUL bytes), not HTML; skipped.")
    try:
        with warnings.catch_warnings():
            # BeautifulSoup's advice to programmers (the text looks like a URL or a file name,
            # XHTML parsed as HTML) is no concern of a user, and would break the terminal's lines.
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(data, "lxml")
    except MemoryError:
        raise
    except Exception as error:
        raise UnreadableDocumentError(
            f"{source}: not readable as HTML ({one_line(error, named=True)}); skipped."
        ) from None
    yield from _html_blocks(soup.body or soup)


class _BlockText:
    """The inline text gathered since the last block boundary."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.heading = False
        self.preformatted = False

    def add(self, text: str, heading: bool, preformatted: bool = False) -> None:
        self.parts.append(text if preformatted else _SPACES.sub(" ", text))
        self.heading = self.heading or heading
        self.preformatted = self.preformatted or preformatted

    def line_break(self, heading: bool) -> None:
        self.parts.append("\n")
        self.heading = self.heading or heading

    def flush(self) -> Iterator[Block]:
        text = "".join(self.parts)
        if not self.preformatted:
            text = re.sub(r" *\n *", "\n", text)  # spaces around a <br> are layout, not text
        text = text.strip()
        if text:
            yield Block(text, heading=self.heading)
        self.parts, self.heading, self.preformatted = [], False, False


def _html_blocks(root) -> Iterator[Block]:
    from bs4 import NavigableString
    from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

    skipped_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    current = _BlockText()
    # Walked with an explicit stack: deeply nested pages must not hit Python's recursion limit.
    # Entries: (node, leaving, inside <pre>, inside a heading, inside an article or main).
    stack = [(root, False, False, False, False)]
    while stack:
        node, leaving, pre, heading, in_content = stack.pop()
        if leaving:
            yield from current.flush()
            continue
        if isinstance(node, NavigableString):
            if isinstance(node, CData) or not isinstance(node, skipped_strings):
                current.add(str(node), heading, pre)
            continue
        name = node.name
        if name in _DROPPED or _hidden(node):
            continue
        if not in_content and (name in _PAGE_LEVEL or node.get("role") in _PAGE_LEVEL_ROLES):
            continue
        if name == "br":
            current.line_break(heading)
            continue
        if name in _CELLS and node.find_previous_sibling(_CELLS) is not None:
            current.add(" | ", heading)
        pre = pre or name == "pre"
        heading = heading or name in _HEADINGS
        in_content = in_content or name in _CONTENT
        if name in _BLOCKS:
            yield from current.flush()
            stack.append((node, True, pre, heading, in_content))
        stack.extend((child, False, pre, heading, in_content) for child in reversed(node.contents))
    yield from current.flush()


def _hidden(node) -> bool:
    return node.has_attr("hidden") or node.get("aria-hidden") == "true"
