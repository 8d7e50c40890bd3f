"""Reading PDF, DOCX and HTML files into paragraphs and headings, with the docs extra.

Each format is read by a library made for it (``pip install "bonito-lite[docs]"``): pypdf,
python-docx, and BeautifulSoup over lxml. They are imported only when such a file is read, so
the rest of bonito-lite works without them.

A reader yields ``Block``s: paragraphs (a table row is one, its cells joined by `` | ``) and
headings, which start new passages as Markdown headings do. Passage offsets index the blocks'
text joined by a blank line (``chunking.BLOCK_SEPARATOR``); ``Document.read_text()`` returns it.

* PDF: every page is its own document, named ``path#page=N`` (N counts physical pages from 1,
  the convention of PDF open parameters, so ``file.pdf#page=3`` opens at the right page), and
  a page break always ends a passage: no passage spans pages, so its page is exact. A page's
  text is what pypdf extracts from it, cleaned as a reader skips things: page numbers and
  running headers and footers (lines at a page's top or bottom that repeat, or carry the
  page's number, on the pages around it) are dropped, and a word hyphenated across a line
  end is joined again ("manip-" + "ulation" → "manipulation"). Table-of-contents and index
  pages (mostly dot-leader or page-number lines) are not read. A line equal to an outline
  (bookmark) title pointing at that page is a heading, also with its section number
  ("2.1 Syntax" for the bookmark "Syntax"). Pages are read one at a time from the open file,
  with a few pages around each held to tell its headers and footers.
* DOCX: body paragraphs and tables in order; paragraphs in a ``Title`` or ``Heading N`` style
  (or a style based on one, or with an outline level) are headings. Headers, footers,
  footnotes, comments and text boxes are left out.
* HTML: the text of ``body``, with scripts, styles, forms and hidden elements left out, and
  page-level ``header``, ``footer`` and ``aside`` (those outside ``article`` and ``main``) too;
  ``h1``-``h6`` are headings. Navigation is left out by what an element is, whichever tool
  made the page: ``nav`` and ``role="navigation"``; class and id names that documentation
  generators give it (``nav-panel``, ``breadcrumbs``, ``sidebar``, ``menu-bar``,
  ``skip-link``, ``headerlink``...; never an element holding the page's ``main`` or
  ``article``); "Skip to ..." links and a heading's own link shown as a sign (``#``, the
  pilcrow); and blocks whose text is mostly links (texinfo's
  "Next: ..., Previous: ..., Up: ..." bars, link lists, index tables). The encoding is taken
  from the file (BOM, ``<meta charset>``); without one, a page that is valid UTF-8 is UTF-8,
  and any other is windows-1252, as browsers read undeclared Western pages.

DOCX and HTML files are parsed whole in memory, as their libraries work; PDFs are not.

A file that cannot be read (corrupt, encrypted with a password, a PDF without a text layer)
raises ``UnreadableDocumentError``, which skips it with a warning.
"""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UnreadableDocumentError, one_line
from .chunking import Block

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


def read_pdf_pages(path: Path, source: str, warn: Callable[[str], None]) -> Iterator[tuple[int, list[Block]]]:
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

        def page_texts() -> Iterator[tuple[int, str]]:
            nonlocal with_text, failed
            for index in range(n_pages):
                try:
                    text = reader.pages[index].extract_text()
                except MemoryError:
                    raise
                except Exception as error:
                    failed += 1
                    warn(
                        f"{source}#page={index + 1}: text could not be extracted "
                        f"({one_line(error, named=True)}); skipped."
                    )
                    continue
                if text.strip():
                    with_text += 1
                    yield index, text

        for index, lines in _without_furniture(page_texts(), titles):
            if _contents_or_index(lines):
                log.info("%s#page=%d: a table of contents or an index; skipped.", source, index + 1)
                continue
            text = _HYPHENATED.sub("", "".join(lines))
            if text.strip():
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
    wanted = [_SECTION_NUMBER.sub("", title, count=1) for title in titles]
    body_start = position = 0
    for line in text.splitlines(keepends=True):
        if wanted and (key := _SECTION_NUMBER.sub("", _normalised(line), count=1)) in wanted:
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


# A section number before a heading's title: "2.1 ", "4. ", "A.2 ", "IV. ", "Chapter 3: ".
_SECTION_NUMBER = re.compile(
    r"(?:(?:chapter|section|appendix|part)\s+)?(?:\d+(?:\.\d+)*|[a-z](?:\.\d+)*|[ivxlc]+)[.:)]?\s+"
)
# A word broken at a line end: a letter, a hyphen (or soft hyphen), the line end, a small letter.
_HYPHENATED = re.compile(r"(?<=[^\W\d_])[-\u00ad\u2010][ \t]*\n[ \t]*(?=[a-z\u00df-\u00ff])")

# Headers and footers are looked for in this many non-blank lines at a page's top and bottom,
_EDGE_LINES = 2
# among the pages this far before and after it (chapters change their running headers).
_NEIGHBOUR_PAGES = 4
# A line at the edge of this many neighbouring pages (same words, any numbers) is furniture.
_REPEATS = 2
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_PAGE_NUMBER = re.compile(
    rf"(?:page\s+)?[-\u2013\u2014]?\s*(\d{{1,4}}|{_ROMAN})\s*[-\u2013\u2014]?"
    r"(?:\s*(?:of|/)\s*\d{1,4})?",
    re.IGNORECASE,
)
_NUMBER_AT_EDGE = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_DIGITS = re.compile(r"\d+")
# Table-of-contents and index lines: a dot leader, or an entry's comma, before a page number.
_REFERENCE_LINE = re.compile(
    r"(?:(?:\.\s?){4,}|\S,)\s*(?:\d{1,4}|[ivxlc]{1,6})(?:\s*[,\u2013-]\s*\d{1,4})*\s*$", re.IGNORECASE
)


@dataclass
class _PageEdges:
    """A page's lines, and what its top and bottom lines look like, to compare with others'."""

    index: int
    lines: list[str]
    keys: dict[int, str]  # edge line number → its words with numbers as "#", if it has letters
    offsets: dict[int, set[int]]  # edge line number → page index minus a number at its start or end

    @classmethod
    def of(cls, index: int, text: str) -> _PageEdges:
        lines = text.splitlines(keepends=True)
        filled = [n for n, line in enumerate(lines) if line.strip()]
        edges = sorted(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))
        keys, offsets = {}, {}
        for n in edges:
            line = _normalised(lines[n])
            if any(c.isalpha() for c in line):
                keys[n] = _DIGITS.sub("#", line)
            numbers = {int(a or b) for a, b in _NUMBER_AT_EDGE.findall(line)}
            offsets[n] = {index - number for number in numbers}
        return cls(index, lines, keys, offsets)

    def furniture(self, neighbours: list[_PageEdges], headings: list[str]) -> set[int]:
        """The edge lines that are page numbers, running headers or footers; never a heading."""
        found, numbered, bare_number = set(), set(), False
        for n, offsets in self.offsets.items():
            line = _normalised(self.lines[n])
            if _SECTION_NUMBER.sub("", line, count=1) in headings:
                continue
            # A number that counts pages as the neighbours' edge numbers do is a page number.
            counted = sum(1 for page in neighbours if offsets & page.all_offsets) >= _REPEATS
            bare = _PAGE_NUMBER.fullmatch(line)
            if bare and (counted or not bare.group(1).isdigit() or int(bare.group(1)) == self.index + 1):
                found.add(n)
                bare_number = True
            elif offsets and counted:
                numbered.add(n)  # a running header or footer that carries the page number
            elif n in self.keys and sum(1 for page in neighbours if self.keys[n] in page.keys.values()) >= _REPEATS:
                found.add(n)
        # A page has one number: beside a line that is only that, a numbered line is text.
        return found if bare_number else found | numbered

    @property
    def all_offsets(self) -> set[int]:
        return set().union(*self.offsets.values())


def _without_furniture(
    pages: Iterator[tuple[int, str]], titles: dict[int, list[str]]
) -> Iterator[tuple[int, list[str]]]:
    """Each page's lines without its page number and running header and footer.

    A page is judged against the pages around it, so only those few are held in memory;
    a line that matches one of its outline titles is a heading, whatever its number.
    """
    window: deque[_PageEdges] = deque()
    position = 0  # the page of the window to hand on next
    exhausted = False
    while True:
        while not exhausted and len(window) - position <= _NEIGHBOUR_PAGES:
            try:
                window.append(_PageEdges.of(*next(pages)))
            except StopIteration:
                exhausted = True
        if position >= len(window):
            return
        page = window[position]
        headings = [_SECTION_NUMBER.sub("", title, count=1) for title in titles.get(page.index, ())]
        dropped = page.furniture([other for other in window if other is not page], headings)
        yield page.index, [line for n, line in enumerate(page.lines) if n not in dropped]
        position += 1
        if position > _NEIGHBOUR_PAGES:
            window.popleft()
            position -= 1


def _contents_or_index(lines: list[str]) -> bool:
    """Whether a page is mostly entries that point at pages (a table of contents, an index)."""
    filled = [line for line in lines if line.strip()]
    references = sum(1 for line in filled if _REFERENCE_LINE.search(line.rstrip()))
    return references >= 3 and references >= 0.4 * len(filled)


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


# ---------------------------------------------------------------------------------------------
# HTML


_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Never the document's text.
_DROPPED = {
    "head",
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "canvas",
    "iframe",
    "object",
    "embed",
    "nav",
    "form",
    "button",
    "select",
    "textarea",
    "dialog",
}
# Page furniture when they belong to the page; inside an article they are part of it.
_PAGE_LEVEL = {"header", "footer", "aside"}
_PAGE_LEVEL_ROLES = {"banner", "contentinfo", "complementary"}
_NAVIGATION_ROLES = {"navigation", "search"}
_CONTENT = {"article", "main"}
# Words in class and id names that documentation generators (texinfo, Sphinx and its themes,
# mdBook, MkDocs, Docusaurus, Hugo themes) give to navigation: "nav-panel", "wy-breadcrumbs",
# "sphinxsidebar", "menu-bar", "skip-link", "skipToContent_x1".
_NAVIGATION_WORDS = {
    "nav",
    "navbar",
    "navigation",
    "navheader",
    "navfooter",
    "navlinks",
    "breadcrumb",
    "breadcrumbs",
    "sidebar",
    "sphinxsidebar",
    "menu",
    "menubar",
    "toolbar",
    "pagination",
    "pager",
    "skip",
    "skiplink",
    "backtotop",
    # the pilcrow links beside headings and definitions (Sphinx, texinfo, anchor.js)
    "headerlink",
    "permalink",
    "copiable",
    "anchorjs",
}
# Whole names of one generator's furniture, and of text kept off the screen.
_FURNITURE_NAMES = {
    "mdbook-help-container",
    "mdbook-help-popup",  # mdBook's keyboard-shortcuts panel
    "hidden",
    "sr-only",
    "visually-hidden",
    "screen-reader-text",
}
# Page-level only (outside main and article): texinfo's "header" div is its navigation bar.
_PAGE_LEVEL_WORDS = {"header", "footer"}
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# A link to its own heading shown as one sign (Node.js's "#", Sphinx's pilcrow, "§").
_PERMALINK_SIGNS = {"#", "\u00b6", "\u00a7", "\U0001f517", "\u2693"}
_SKIP_LINK = re.compile(r"\s*skip\s+(?:to|navigation)\b", re.IGNORECASE)
# A block whose text is at least this share link text, over two links or more, is navigation.
_LINK_DENSITY = 0.5
# Elements that start and end a block of text (a paragraph).
_BLOCKS = (
    _HEADINGS
    | _PAGE_LEVEL
    | _CONTENT
    | {
        "address",
        "blockquote",
        "body",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "hr",
        "html",
        "legend",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
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
            soup = BeautifulSoup(data, "lxml", from_encoding=_undeclared_encoding(data))
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


def _undeclared_encoding(data: bytes) -> str | None:
    """The encoding of a page that names none (no BOM, no ``<meta charset>``); None if it does.

    Guessing from the bytes goes wrong on short pages (a Latin-1 "François" read as
    "Franþois"); browsers read such a page as UTF-8 when it is valid UTF-8, else windows-1252.
    """
    from bs4.dammit import EncodingDetector

    _, bom = EncodingDetector.strip_byte_order_mark(data)
    if bom is not None or EncodingDetector.find_declared_encoding(data, is_html=True):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "windows-1252"
    return "utf-8"


def _html_blocks(root) -> Iterator[Block]:
    from bs4 import NavigableString
    from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

    skipped_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    stats = _LinkStats(root, skipped_strings)
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
        if name in _DROPPED or _hidden(node) or _navigation(node, in_content, stats):
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
        in_content = in_content or name in _CONTENT or node.get("role") == "main"
        if name in _BLOCKS:
            yield from current.flush()
            stack.append((node, True, pre, heading, in_content))
        stack.extend((child, False, pre, heading, in_content) for child in reversed(node.contents))
    yield from current.flush()


def _hidden(node) -> bool:
    return node.has_attr("hidden") or node.get("aria-hidden") == "true"


class _LinkStats:
    """For every element: its visible text's length, the part of it inside links, how many
    links, and whether it holds the page's main content; counted once, bottom up."""

    def __init__(self, root, skipped_strings) -> None:
        from bs4 import NavigableString

        self.of: dict[int, tuple[int, int, int, bool]] = {}
        stack = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if not leaving:
                stack.append((node, True))
                stack.extend(
                    (child, False)
                    for child in node.contents
                    if not isinstance(child, NavigableString) and child.name not in _DROPPED
                )
                continue
            text = linked = links = 0
            content = node.name in _CONTENT or node.get("role") == "main"
            for child in node.contents:
                if isinstance(child, NavigableString):
                    if not isinstance(child, skipped_strings):
                        text += len(child) - sum(1 for c in child if c.isspace())
                elif child.name not in _DROPPED:
                    c_text, c_linked, c_links, c_content = self.of[id(child)]
                    text, linked, links = text + c_text, linked + c_linked, links + c_links
                    content = content or c_content
            if node.name == "a" and node.has_attr("href"):
                linked, links = text, links + 1
            self.of[id(node)] = (text, linked, links, content)

    def mostly_links(self, node) -> bool:
        text, linked, links, content = self.of.get(id(node), (0, 0, 0, False))
        return not content and links >= 2 and linked >= _LINK_DENSITY * text

    def holds_content(self, node) -> bool:
        return self.of.get(id(node), (0, 0, 0, False))[3]


def _navigation(node, in_content: bool, stats: _LinkStats) -> bool:
    """Whether an element is navigation, by its role, its class and id names, or its links."""
    if node.get("role") in _NAVIGATION_ROLES or "breadcrumb" in node.get("aria-label", "").lower():
        return True
    names = [*node.get("class", ()), node.get("id") or ""]
    lowered = {name.lower() for name in names}
    words = {word.lower() for name in names for word in _NAME_WORDS.findall(name)}
    words |= {re.sub(r"[-_]", "", name) for name in lowered}  # "back-to-top" → "backtotop"
    if not stats.holds_content(node) and (
        words & _NAVIGATION_WORDS or lowered & _FURNITURE_NAMES or (not in_content and words & _PAGE_LEVEL_WORDS)
    ):
        return True
    if node.name == "a" and node.get("href", "").startswith("#"):
        text = node.get_text().strip()
        if text in _PERMALINK_SIGNS or _SKIP_LINK.match(text):
            return True
    return node.name in _LINK_BLOCKS and stats.mostly_links(node)


# Elements judged by their share of link text: those that hold a block of text or a list.
_LINK_BLOCKS = {
    "div",
    "p",
    "ul",
    "ol",
    "dl",
    "table",
    "section",
    "header",
    "footer",
    "aside",
    "center",
}
