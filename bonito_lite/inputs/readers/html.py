"""HTML files (``.html``, ``.htm``), read with BeautifulSoup over lxml from the docs extra,
parsed whole in memory.

The text of ``body``, with scripts, styles, forms and hidden elements (``hidden``,
``aria-hidden``, an inline ``display: none``) left out, and
page-level ``header``, ``footer`` and ``aside`` (those outside ``article`` and ``main``) too;
``h1``-``h6`` are headings, an ordered list's items carry their numbers ("1.", "b."), a
table row is one paragraph with its cells joined by `` | ``
(a cell's own paragraphs too, unless it is a layout cell: long, or holding a heading,
table or listing). Soft hyphens and zero-width spaces are dropped, line numbers of code
listings too.
Navigation is left out by what an element is, whichever tool made the page: ``nav`` and
``role="navigation"``; class and id names that documentation generators give it
(``nav-panel``, ``breadcrumbs``, ``sidebar``, ``menu-bar``, ``skip-link``, ``headerlink``...;
never an element holding the page's ``main`` or ``article``); "Skip to ..." links and a
heading's own link shown as a sign (``#``, the pilcrow); and blocks whose text is mostly
links (texinfo's "Next: ..., Previous: ..., Up: ..." bars, link lists, index tables; inside
``main`` or ``article``, never a table or a header; never a paragraph that reads as a
sentence; a layout table or wrapper that holds the page's prose beside a menu in a block or
cell of its own is walked into, and the menu left out alone), with a heading (not ``h1``)
that has nothing else under it; never a wrapper
that holds most of the page's text, and never the page's one ``h1``, kept from a header
left out around it. The encoding is taken from
the file (BOM, ``<meta charset>``; Latin-1 and ASCII labels read as windows-1252, as browsers
do); without one, a page that is valid UTF-8 is UTF-8; any other is read in the legacy
encoding browsers of its language default to, where it names a language written in the Latin
alphabet (``lang="pl"``: ISO-8859-2), else windows-1252, as browsers read undeclared Western
pages, unless its text is not Western: then it is skipped, naming the encoding it looks like.
A page that only redirects to another (a meta refresh) holds no text a reader sees, and is
skipped.
"""

from __future__ import annotations

import codecs
import functools
import html as html_entities
import os
import re
import unicodedata
import warnings
from collections.abc import Iterator
from pathlib import Path

from ...errors import UnreadableDocumentError, one_line
from ..chunking import Block
from .base import Document, Reader, WarnOnce, list_number
from .text import BINARY_SNIFF_BYTES, ENCODING_SAMPLE_BYTES, guess_encoding


def _documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    yield Document(source, "blocks", path, _blocks=functools.partial(read_html, path, source), _notes=notes)


# A page that sends the browser on before anyone could read it is a redirect, not a document:
# documentation generators leave one at every old address (rustdoc, mdBook, Hugo's aliases,
# Jekyll's redirect_from, Sphinx and MkDocs redirect plugins), all with a delay of 0; "you
# will be redirected in 5 seconds" pages wait a few. A longer delay is a page shown first.
_REDIRECT_MOST_SECONDS = 5
# Where the head is: a refresh and the page's language are looked for in the first bytes only.
_HEAD_BYTES = 8192
_META_TAG = re.compile(rb"<meta\s[^>]*>", re.IGNORECASE)
_COMMENTS = re.compile(rb"<!--.*?(?:-->|$)", re.DOTALL)
# What a browser does not take as the page's own meta tags: a refresh for browsers without
# scripts (a page that has them shows its text), and markup inside scripts, styles and the like.
_NOT_THE_PAGES_OWN = re.compile(
    rb"<(noscript|script|style|textarea|template|svg|xmp)\b(?:[^<>]*/>|.*?(?:</\1\s*>|$))", re.DOTALL | re.IGNORECASE
)
_URL_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_ATTRIBUTE = re.compile(rb"""(?<![\w:-])([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
# The refresh's content as HTML reads it: a delay, then a URL (``url=`` optional, quotes too).
_REFRESH = re.compile(r"\s*(\d+)(?:\.[\d.]*)?\s*[;,]?\s*(?:url\s*=\s*)?[\"']?([^\"']*)", re.IGNORECASE)


def redirect_target(path: Path) -> str | None:
    """Where an HTML page sends its reader within seconds (``<meta http-equiv="refresh"
    content="0; url=...">``), a page whose text no reader sees: its target as a path beside
    it, or a URL; None for any other page (one that reloads itself, too)."""
    try:
        with open(path, "rb") as handle:
            return _redirect_in(handle.read(_HEAD_BYTES), path)
    except OSError:
        return None


def _head(data: bytes) -> bytes:
    """The start of a page as a browser looks for its head's tags in it: comments, and markup
    inside scripts, styles and the like, left out."""
    return _NOT_THE_PAGES_OWN.sub(b"", _COMMENTS.sub(b"", data[:_HEAD_BYTES]))


def _attributes(tag: bytes) -> dict[bytes, str]:
    """A start tag's attributes, names lower-cased; of an attribute written twice, the first,
    as browsers keep it."""
    attributes: dict[bytes, str] = {}
    for match in _ATTRIBUTE.finditer(tag):
        attributes.setdefault(match[1].lower(), (match[2] or match[3] or match[4] or b"").decode("latin-1"))
    return attributes


def _redirect_in(data: bytes, path: Path) -> str | None:
    for tag in _META_TAG.finditer(_head(data)):
        attributes = _attributes(tag[0])
        if attributes.get(b"http-equiv", "").strip().lower() != "refresh":
            continue
        refresh = _REFRESH.match(html_entities.unescape(attributes.get(b"content", "")))
        delay = refresh[1].lstrip("0") if refresh else ""
        target = refresh[2].strip() if refresh else ""
        if target and len(delay) <= 2 and int(delay or 0) <= _REDIRECT_MOST_SECONDS:
            if _URL_SCHEME.match(target) or target.startswith("/"):
                return one_line(target)
            # "?lang=en" or "#top" alone: the page itself, reloaded.
            page = re.split(r"[?#]", target)[0]
            beside = os.path.normpath(path.parent / page)
            return None if not page or beside == os.path.normpath(path) else one_line(beside)
    return None


READER = Reader(
    suffixes=(".html", ".htm"),
    documents=_documents,
    extra="docs",
    libraries=("bs4", "lxml"),
    redirect=redirect_target,
)


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
    # consent tools' banners whose names say neither "cookie" nor "banner"
    "cc-window",
    "onetrust-banner-sdk",
    # code listings' line numbers (Pygments' table and inline styles, Rouge, Prism,
    # highlightjs-line-numbers): "1import json" is not the code
    "linenos",
    "lineno",
    "linenodiv",
    "line-numbers-rows",
    "hljs-ln-numbers",
    # wiki and documentation furniture inside the content: MediaWiki's [edit] links, tagline,
    # banners, contents box, navigation boxes, reference back-links and "Retrieved from" line;
    # footnote back-links (Python-Markdown, pandoc); page metadata (Confluence, GitHub wikis,
    # MkDocs Material), Confluence's expand toggles and Notion's page icon
    "mw-editsection",
    "mw-jump-link",
    "sitesub",
    "sitenotice",
    "contentsub",
    "toc",
    "toctitle",
    "navbox",
    "vertical-navbox",
    "mw-cite-backlink",
    "printfooter",
    "footnote-backref",
    "footnote-back",
    "page-metadata",
    "gh-header-meta",
    "md-source-file",
    "expand-control",
    "page-header-icon",
    # rustdoc's "1.0.0 · Source" beside each item (and, before 1.60's redesign, its title)
    "rightside",
    "out-of-band",
}
# Readers' comments under a post and the form to write one (WordPress, Disqus): not the
# document's text, nor its author's. WordPress writes each comment as an article, so these go
# even around articles (not around the page's main). Not a bare "comments": documentation
# generators give that id to a section about comments in code.
_COMMENT_NAMES = {"comments-area", "comment-list", "commentlist", "comment-respond", "disqus_thread"}
# A cookie or consent banner: one of these words with one of the next in its names
# ("cookie-notice", "gdpr_popup", "cookieConsent"); a privacy policy's own "cookies" section
# or a "consent-form" is text.
_BANNER_TOPICS = {"cookie", "cookies", "consent", "gdpr"}
# Names that are a banner by themselves (consent tools': Cookiebot, CookieConsent...).
_BANNER_NAMES = {"cookiebanner", "cookieconsent", "cookienotice", "cookiebot"}
_BANNER_KINDS = {"banner", "bar", "notice", "popup", "modal", "dialog", "container", "overlay", "box", "alert"}
# Page-level only (outside main and article): texinfo's "header" div is its navigation bar.
_PAGE_LEVEL_WORDS = {"header", "footer", "copyright", "colophon"}
# A heading so named is a page's or a post's title (Bootstrap's "page-header").
_TITLE_WORDS = {"header"}
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_WORDS = re.compile(r"[^\W_]+")
# A link to its own heading shown as one sign (Node.js's "#", Sphinx's pilcrow, "§").
_PERMALINK_SIGNS = {"#", "\u00b6", "\u00a7", "\U0001f517", "\u2693"}
_SKIP_LINK = re.compile(r"\s*(?:skip|jump)\s+(?:to|navigation)\b", re.IGNORECASE)
# A block whose text is at least this share link text, over two links or more, is navigation.
_LINK_DENSITY = 0.5
# A block of mostly plain text with this many visible characters (a sentence or two), one
# sentence ended in it, is the page's own text.
_PROSE_CHARS = 100
_SENTENCE_END = re.compile(r"[.!?][\"')\]\u2019\u201d]*(?:\s|$)")
# ... unless it is a paragraph with this many words outside its links: a sentence whose
# links are the names it mentions ("Please use fs.stat() or fs.access() instead.").
_PROSE_WORDS = 4
# A table cell with this much text or less, and no table, listing or heading inside, is one
# cell of a row, whatever paragraphs it is written in (Sphinx puts a <p> in every cell).
_CELL_TEXT = 400
_CELL_BLOCKS = _HEADINGS | {"table", "pre"}
# Characters that only tell a browser where it may break a line (soft hyphen, zero-width
# space, word joiner, zero-width no-break space): inside a word they would split it.
_BREAK_HINTS = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
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
_ROW_HOLDERS = {"tr", "table", "thead", "tbody", "tfoot"}
_SPACES = re.compile(r"[ \t\n\r\f]+")
# As for text files: NUL bytes near the start mean binary, unless a BOM says UTF-16 or UTF-32.
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def read_html(path: Path, source: str) -> Iterator[Block]:
    """The readable text of an .html file as paragraphs and headings, boilerplate left out."""
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    if b"\0" in data[:BINARY_SNIFF_BYTES] and not data.startswith(_UTF16_32_BOMS):
        raise UnreadableDocumentError(f"{source}: looks binary (NUL bytes), not HTML; skipped.")
    if (target := _redirect_in(data, path)) is not None:
        raise UnreadableDocumentError(
            f"{source}: a page that only redirects to {target} (no text a reader sees); read that page instead; skipped."
        )
    try:
        with warnings.catch_warnings():
            # BeautifulSoup's advice to programmers (the text looks like a URL or a file name,
            # XHTML parsed as HTML) is no concern of a user, and would break the terminal's lines.
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(_markup(data, source), "lxml")
    except (MemoryError, UnreadableDocumentError):
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
        self.item_start = False  # a cell separator came last: the next text's leading space is layout
        self.separators: set[int] = set()  # where in ``parts`` the cell separators are
        self.pending_label: str | None = None  # a list item's number, waiting for the item's text

    def add(self, text: str, heading: bool, preformatted: bool = False) -> None:
        text = text.translate(_BREAK_HINTS)
        text = text if preformatted else _SPACES.sub(" ", text)
        if (self.item_start or self.pending_label) and not preformatted:
            # The source's line breaks around a cell's or an item's text (a table written one
            # tag a line) are no part of it: "Alice | 42", not "Alice  |  42".
            text = text.lstrip(" ")
        if text:
            self.item_start = False
            if self.pending_label is not None:
                self.parts.append(f"{self.pending_label} ")
                self.pending_label = None
        self.parts.append(text)
        self.heading = self.heading or heading
        self.preformatted = self.preformatted or preformatted

    def label(self, label: str) -> None:
        """A list item's number: put before the item's first text, in whatever block it comes
        ("<li><p>Step</p>" is "1. Step", one paragraph)."""
        self.pending_label = label

    def cell_separator(self, heading: bool) -> None:
        """`` | `` before a cell; the space at the end of the cell before it dropped, unless that
        cell was empty (an empty data cell keeps its place: "Alice |  | 42")."""
        if not self.item_start:
            while self.parts and self.parts[-1].isspace() and self.parts[-1] != "\n":
                self.parts.pop()
            if self.parts and not self.preformatted:
                self.parts[-1] = self.parts[-1].rstrip(" ")
        self.separators.add(len(self.parts))
        self.parts.append(" | ")
        self.item_start = True
        self.heading = self.heading or heading

    def space(self) -> None:
        """A space between two paragraphs of one table cell, unless one is there already."""
        if self.parts and not self.parts[-1][-1:].isspace():
            self.parts.append(" ")

    def line_break(self, heading: bool) -> None:
        self.parts.append("\n")
        self.heading = self.heading or heading

    def flush(self) -> Iterator[Block]:
        # A separator at either end (the cell beside it starts or ends a block of its own) is
        # no text; a "|" the page writes is.
        first, last = 0, len(self.parts)
        while first < last and (first in self.separators or self.parts[first].isspace() or not self.parts[first]):
            first += 1
        while last > first and (
            last - 1 in self.separators or self.parts[last - 1].isspace() or not self.parts[last - 1]
        ):
            last -= 1
        text = "".join(self.parts[first:last])
        if not self.preformatted:
            text = re.sub(r" *\n *", "\n", text)  # spaces around a <br> are layout, not text
        text = text.strip()
        if text:
            yield Block(text, heading=self.heading)
        self.parts, self.heading, self.preformatted, self.item_start = [], False, False, False
        self.separators = set()


def _markup(data: bytes, source: str) -> str | bytes:
    """The page decoded where this reader decides how: windows-1252 (declared by one of its
    labels, or a page that names no encoding and is not UTF-8) and UTF-8 (a page that names
    none); the bytes, for BeautifulSoup to decode, where the page names another encoding.

    Guessing from the bytes goes wrong on short pages (a Latin-1 "François" read as
    "Franþois"); browsers read such a page as UTF-8 when it is valid UTF-8, else as
    windows-1252. A UTF-8 page with a stray byte or two is still UTF-8. A page whose text
    is in another script in a legacy encoding that does not say so (Shift-JIS, Big5,
    Windows-1251) is skipped, as a text file would be, naming the encoding it looks like:
    read as windows-1252 it would be mojibake. (Between the encodings of the Latin alphabet
    guesses are unreliable on a page's worth of text, so those are read as windows-1252,
    unless the page names its language: a Polish one as ISO-8859-2, as the browsers it was
    written for read it.)
    """
    from bs4.dammit import EncodingDetector

    _, bom = EncodingDetector.strip_byte_order_mark(data)
    if bom is not None:
        return data
    if declared := EncodingDetector.find_declared_encoding(data, is_html=True):
        # The encoding standard browsers follow reads these labels as windows-1252, whose
        # 0x80-0x9f bytes are the curly quotes, dashes and euro sign such pages mean.
        return _windows_1252(data) if declared.strip().lower() in _WINDOWS_1252_LABELS else data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        decoded = data.decode("utf-8", errors="replace")
        stray = decoded.count("\ufffd")
        if sum(not c.isascii() for c in decoded) - stray >= _UTF8_EVIDENCE * stray:
            return decoded  # a stray byte or two shown as U+FFFD, as browsers do
        # The page's text, not its styles and scripts, which may fill its first 64 KB.
        sample = _TAG.sub(b" ", _NOT_THE_PAGES_OWN.sub(b"", data))[:ENCODING_SAMPLE_BYTES]
        # Read in its language's encoding, a page in a language of the Latin alphabet reads as
        # one; a page whose letters then run together is in another script, whatever its
        # language says (lang="ku" on Kurdish written in Arabic letters).
        hinted = _LATIN_LANGUAGE_ENCODINGS.get(_page_language(data))
        if hinted and _western(_single_byte(sample, hinted)):
            return _single_byte(data, hinted)
        if not _western(_windows_1252(sample)):
            guess = guess_encoding(sample)
            if guess is not None and _latin(sample.decode(guess, errors="replace")):
                guess = None  # a guess that reads it as Latin letters after all is no guess
            advice = (
                f"it looks like {guess}; convert it first, e.g. iconv -f {guess} -t UTF-8"
                if guess
                else "its encoding could not be told; convert it to UTF-8 first, e.g. iconv -f ENCODING -t UTF-8"
            )
            raise UnreadableDocumentError(f"{source}: not UTF-8 and names no encoding; {advice}; skipped.") from None
        return _windows_1252(data)


def _windows_1252(data: bytes) -> str:
    """Bytes decoded as windows-1252 as browsers decode it. (BeautifulSoup, asked for
    windows-1252, returned no text at all for a page holding a byte Python's codec leaves
    unassigned: 0x81, 0x8d, 0x8f, 0x90, 0x9d.)"""
    return _single_byte(data, "cp1252")


def _single_byte(data: bytes, codec: str) -> str:
    """Bytes decoded in a single-byte encoding as the encoding standard browsers follow
    decodes it: a byte Python's ``codec`` leaves unassigned is the C1 control of its number
    (0x80-0x9f) or U+FFFD (windows-1257's 0xa1 and 0xa5, which the standard leaves unassigned
    too)."""
    return codecs.charmap_decode(data, "strict", _decoding_table(codec))[0]


@functools.cache
def _decoding_table(codec: str) -> str:
    """The 256 characters the bytes of ``codec`` stand for, as :func:`_single_byte` reads them."""
    return "".join(
        bytes([byte]).decode(codec, errors="ignore") or (chr(byte) if byte < 0xA0 else "\ufffd") for byte in range(256)
    )


def _page_language(data: bytes) -> str | None:
    """The language a page says it is in, lower-case, without its region (``<html
    lang="cs-CZ">``: "cs"; else the first of ``<meta http-equiv="Content-Language">``), or
    None where its tag names a script other than the Latin alphabet ("az-Cyrl"). An HTML
    page's ``xml:lang`` says nothing: browsers read only ``lang`` there."""
    head = _head(data)
    tag = _HTML_START_TAG.search(head)
    language = _attributes(tag[0]).get(b"lang") if tag else None
    if not language:
        for meta in _META_TAG.finditer(head):
            attributes = _attributes(meta[0])
            if attributes.get(b"http-equiv", "").strip().lower() == "content-language":
                language = attributes.get(b"content", "").split(",")[0]
                break
    subtags = re.split(r"[-_]", language.strip().lower()) if language else [""]
    if len(subtags) > 1 and len(subtags[1]) == 4 and subtags[1] != "latn":
        return None
    return subtags[0] or None


_HTML_START_TAG = re.compile(rb"<html\s[^>]*>", re.IGNORECASE)
# The HTML Standard's suggested default encodings for user locales, for the languages written
# in the Latin alphabet whose default is not windows-1252: a page in one of them that names no
# encoding was written for browsers that default to it. (Those of other scripts are judged by
# their bytes: their defaults were never the only legacy encoding in use, KOI8-R beside
# windows-1251.)
_LATIN_LANGUAGE_ENCODINGS = {
    **dict.fromkeys(("cs", "hr", "sk"), "cp1250"),
    **dict.fromkeys(("hu", "pl", "sl"), "iso8859_2"),
    **dict.fromkeys(("az", "ku", "tr"), "cp1254"),
    **dict.fromkeys(("et", "lt", "lv"), "cp1257"),
    "vi": "cp1258",
}


# A page with this many characters of valid UTF-8 beyond ASCII for each invalid byte is UTF-8
# with a stray byte (pasted from a Latin-1 file), not in a legacy encoding.
_UTF8_EVIDENCE = 4


def _western(text: str) -> bool:
    """Whether text read as windows-1252 (or another single-byte encoding of the Latin
    alphabet) reads as a European language written in it. Its letters beyond ASCII stand
    alone or in pairs among ASCII ones ("Größere", "été", "ação", "już"); Hebrew,
    Cyrillic, Greek, Chinese or Japanese bytes read so make runs of them ("çáøä öåã÷ú"),
    whatever English or URLs stand beside them. Too few such characters to tell: Western."""
    beyond = sum(not c.isascii() and not c.isspace() for c in text)
    in_runs = sum(map(len, _BEYOND_ASCII_RUN.findall(text)))
    return beyond < _FOREIGN_EVIDENCE or in_runs <= _WESTERN_RUN_SHARE * beyond


def _latin(text: str) -> bool:
    """Whether most letters beyond ASCII are letters of the Latin alphabet."""
    letters = [c for c in text if c.isalpha() and not c.isascii()]
    return sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) * 2 >= len(letters)


# Three or more characters beyond ASCII in a row, and the share of such characters in them
# past which a text is not Western European (Western text in 14 languages: at most 0.2;
# every other script, even Big5 and Shift-JIS with half their second bytes ASCII: 0.3 and up).
_BEYOND_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]{3,}")
_WESTERN_RUN_SHARE = 0.3
# Characters beyond ASCII needed before a page is judged not Western (four Japanese characters
# are eight).
_FOREIGN_EVIDENCE = 8


# Tags, left out of the sample whose encoding is guessed: their ASCII letters would hide how
# few of its letters are Western.
_TAG = re.compile(rb"<[^<>]*>")


# The WHATWG encoding standard's labels of windows-1252.
_WINDOWS_1252_LABELS = {
    "ansi_x3.4-1968",
    "ascii",
    "cp1252",
    "cp819",
    "csisolatin1",
    "ibm819",
    "iso-8859-1",
    "iso-ir-100",
    "iso8859-1",
    "iso88591",
    "iso_8859-1",
    "iso_8859-1:1987",
    "l1",
    "latin1",
    "us-ascii",
    "windows-1252",
    "x-cp1252",
}


def _html_blocks(root) -> Iterator[Block]:
    from bs4 import NavigableString
    from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

    skipped_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    stats = _LinkStats(root, skipped_strings)
    numbers = _ListNumbers()
    headings_1 = root.find_all("h1", limit=2)
    title = headings_1[0] if len(headings_1) == 1 else None
    current = _BlockText()
    # Walked with an explicit stack: deeply nested pages must not hit Python's recursion limit.
    # Entries: (node, leaving, inside <pre>, inside a heading, inside an article or main,
    # inside a table cell read as one line of its row).
    stack = [(root, False, False, False, False, False)]
    while stack:
        node, leaving, pre, heading, in_content, in_cell = stack.pop()
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
        if _navigation(node, in_content, stats) or (
            not in_content and (name in _PAGE_LEVEL or node.get("role") in _PAGE_LEVEL_ROLES)
        ):
            # A page's one h1 is its title, also inside a header left out as furniture
            # (pandoc's title block, Bootstrap's page-header, Confluence's main-header).
            if title is not None and node is not title and _title_inside(node, title, in_content, stats):
                stack.append((title, False, pre, heading, in_content, in_cell))
            continue
        if name in _HEADINGS and name != "h1" and _titles_only_left_out(node, in_content, stats):
            continue
        if name == "br":
            current.line_break(heading)
            continue
        # (Never in code, whose highlighters name their spans "token tag".)
        if not pre and _set_apart(node) and _set_apart(previous := node.previous_sibling) and previous.name == name:
            current.space()
        # Between cells, once a cell with text came and while one is still to come: an empty
        # cell of a data table keeps its place ("Alice |  | 42"); a layout table's image and
        # spacer cells around the text add none.
        if name in _CELLS and stats.separated(node):
            current.cell_separator(heading)
        pre = pre or name == "pre"
        heading = heading or name in _HEADINGS
        in_content = in_content or name in _CONTENT or node.get("role") == "main"
        if name in _CELLS:
            in_cell = stats.text_of(node) <= _CELL_TEXT and node.find(_CELL_BLOCKS) is None
        if name in _BLOCKS and in_cell:
            current.space()
        elif name in _BLOCKS:
            yield from current.flush()
            stack.append((node, True, pre, heading, in_content, in_cell))
        if name == "li" and (number := numbers.of(node)) is not None:
            current.label(number)
        stack.extend((child, False, pre, heading, in_content, in_cell) for child in reversed(node.contents))
    yield from current.flush()


_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!important\s*)?(?:;|$)")


class _ListNumbers:
    """The numbers a browser shows before the items of an ordered list: "1.", or "c." for
    ``type="a"``, from ``start`` (counting down with ``reversed``), reset by an item's ``value``."""

    _FORMATS = {"1": "decimal", "a": "lowerLetter", "A": "upperLetter", "i": "lowerRoman", "I": "upperRoman"}

    def __init__(self) -> None:
        self._lists: dict[int, dict[int, str]] = {}  # by list: item -> its number, shown

    def of(self, item) -> str | None:
        parent = item.parent
        if parent is None or parent.name != "ol":
            return None
        if id(parent) not in self._lists:
            self._lists[id(parent)] = self._numbered(parent)
        return self._lists[id(parent)].get(id(item))

    def _numbered(self, ordered) -> dict[int, str]:
        items = [item for item in ordered.find_all("li", recursive=False) if not _hidden(item)]
        step = -1 if ordered.has_attr("reversed") else 1
        number = _integer(ordered.get("start"), len(items) if step < 0 else 1) - step
        numbers = {}
        for item in items:
            number = _integer(item.get("value"), number + step)
            fmt = self._FORMATS.get(item.get("type") or ordered.get("type") or "1", "decimal")
            numbers[id(item)] = f"{list_number(number, fmt, alphabetic=True)}."
        return numbers


def _integer(value, default: int) -> int:
    try:
        return int(str(value).strip()) if value is not None else default
    except ValueError:
        return default


def _is_navigation_element(node) -> bool:
    return node.name == "nav" or node.get("role") in _NAVIGATION_ROLES


def _title_inside(node, title, in_content: bool, stats: _LinkStats) -> bool:
    """Whether the page's title sits in ``node`` (a header left out), reached through nothing
    that is navigation, hidden or a banner itself; ``node`` itself no navigation or banner."""
    if _is_navigation_element(node) or node.name == "aside" or _banner(_name_words(node)):
        return False
    for element in (title, *title.parents):
        if element is node:
            return True
        if element.name in _DROPPED or _hidden(element) or element.name == "aside":
            return False
        if element is not title and _navigation(element, in_content, stats):
            return False
    return False


def _hidden(node) -> bool:
    return (
        node.has_attr("hidden")
        or node.get("aria-hidden") == "true"
        or bool(_HIDDEN_STYLE.search(node.get("style", "").lower()))
        or _flavour_not_shown(node)
    )


# Node.js's documentation writes many examples twice, as ES modules (class "mjs") and as
# CommonJS ("cjs"), one after the other behind a checkbox; its style sheet shows the ES
# modules when the box is checked and CommonJS when it is not. Read both, and every such
# example says the same thing twice.
_FLAVOURS = {"mjs", "cjs"}
_FLAVOUR_TOGGLES = ("js-flavor-toggle", "js-flavor-selector")


def _flavour_not_shown(node) -> bool:
    flavour = _FLAVOURS.intersection(node.get("class", ()))
    if not flavour:
        return False
    toggle = node.find_previous_sibling("input", class_=_FLAVOUR_TOGGLES)
    if toggle is None:
        return False
    return flavour != {"mjs" if toggle.has_attr("checked") else "cjs"}


class _LinkStats:
    """For every element: its visible text's length, the part of it inside links, how many
    links, and whether it holds the page's main content; counted once, bottom up."""

    def __init__(self, root, skipped_strings) -> None:
        from bs4 import NavigableString

        self.of: dict[int, tuple[int, int, int, bool]] = {}
        self.separated_cells: set[int] = set()
        self._prose: set[int] = set()  # elements that hold a block of mostly plain text
        self._sentences: set[int] = set()  # elements whose text ends a sentence somewhere
        self._root = root
        stack = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if not leaving:
                stack.append((node, True))
                stack.extend(
                    (child, False)
                    for child in node.contents
                    if not isinstance(child, NavigableString) and child.name not in _DROPPED and not _hidden(child)
                )
                continue
            text = linked = links = 0
            content = node.name in _CONTENT or node.get("role") == "main"
            for child in node.contents:
                if isinstance(child, NavigableString):
                    if not isinstance(child, skipped_strings):
                        text += len(child) - sum(1 for c in child if c.isspace())
                        if _SENTENCE_END.search(child):
                            self._sentences.add(id(node))
                elif child.name not in _DROPPED and not _hidden(child):
                    c_text, c_linked, c_links, c_content = self.of[id(child)]
                    text, linked, links = text + c_text, linked + c_linked, links + c_links
                    content = content or c_content
                    if id(child) in self._sentences:
                        self._sentences.add(id(node))
                    if id(child) in self._prose or (
                        child.name in _PROSE_BLOCKS
                        and id(child) in self._sentences
                        and c_text >= _PROSE_CHARS
                        and c_linked < _LINK_DENSITY * c_text
                    ):
                        self._prose.add(id(node))
            if node.name == "a" and node.has_attr("href"):
                linked, links = text, links + 1
            self.of[id(node)] = (text, linked, links, content)
            if node.name in _ROW_HOLDERS:  # a row, or a table whose cells lxml left without one
                self._mark_separators(node)

    def mostly_links(self, node) -> bool:
        text, linked, links, content = self.of.get(id(node), (0, 0, 0, False))
        return not content and links >= 2 and linked >= _LINK_DENSITY * text

    def has_text(self, node) -> bool:
        return self.text_of(node) > 0

    def most_text(self, node) -> bool:
        """Whether an element holds half the page's visible text or more."""
        return self.text_of(node) * 2 >= self.page_text > 0

    @property
    def page_text(self) -> int:
        return self.text_of(self._root)

    def text_of(self, node) -> int:
        """How many visible characters an element holds, spaces not counted."""
        return self.of.get(id(node), (0, 0, 0, False))[0]

    def _mark_separators(self, row) -> None:
        """Which cells of ``row`` a separator goes before: a cell with text came before, and
        this one or a later one has text (one pass over the row, not one per cell)."""
        cells = [
            child
            for child in row.find_all(_CELLS, recursive=False)
            if not _hidden(child) and not _names(child) & _FURNITURE_NAMES
        ]
        later = [False] * (len(cells) + 1)
        for index in range(len(cells) - 1, -1, -1):
            later[index] = later[index + 1] or self.has_text(cells[index])
        seen_text = False
        for index, cell in enumerate(cells):
            if seen_text and later[index]:
                self.separated_cells.add(id(cell))
            seen_text = seen_text or self.has_text(cell)

    def separated(self, cell) -> bool:
        return id(cell) in self.separated_cells

    def holds_content(self, node) -> bool:
        return self.of.get(id(node), (0, 0, 0, False))[3]

    def holds_prose(self, node) -> bool:
        """Whether an element holds a block of mostly plain text (of a sentence or two, at
        least one of them ended, less than half of it in links): the page's own text beside
        its links. A title page's short lines (a release, a copyright, an address) are not one."""
        return id(node) in self._prose

    def loose_links(self, node) -> int:
        """How many links an element holds outside its blocks: in its own text, or in inline
        elements (a menu of links set one per line with ``<br>``)."""
        return sum(
            self.of.get(id(child), (0, 0, 0, False))[2]
            for child in node.find_all(True, recursive=False)
            if child.name not in _BLOCKS and child.name not in _CELLS
        )

    def in_link_table(self, cell) -> bool:
        """Whether a cell belongs to a table that is mostly links: a layout table walked into
        for the page's text beside its menu, whose menu cell is then judged on its own."""
        table = cell.find_parent("table")
        return table is not None and self.mostly_links(table)


def _navigation(node, in_content: bool, stats: _LinkStats) -> bool:
    """Whether an element is navigation, by its role, its class and id names, or its links."""
    if node.get("role") in _NAVIGATION_ROLES or "breadcrumb" in node.get("aria-label", "").lower():
        return True
    lowered = _names(node)
    if lowered & _COMMENT_NAMES and node.find("main") is None and node.find(attrs={"role": "main"}) is None:
        return True
    words = _name_words(node)  # "back-to-top" → back, to, top and "backtotop"
    # Never the element that holds the page's main content; and words that say where a
    # sidebar or menu goes never take most of the page's text ("Layout--sidebarPosition-end",
    # "with-sidebar" on a layout wrapper).
    if not stats.holds_content(node) and (
        (
            (
                words & _NAVIGATION_WORDS
                or (
                    not in_content
                    and words & (_PAGE_LEVEL_WORDS - _TITLE_WORDS if node.name in _HEADINGS else _PAGE_LEVEL_WORDS)
                )
            )
            and not stats.most_text(node)
        )
        or lowered & _FURNITURE_NAMES
        or _banner(words)
    ):
        return True
    if node.name == "a" and node.get("href", "").startswith("#"):
        text = node.get_text().strip()
        if text in _PERMALINK_SIGNS or _SKIP_LINK.match(text):
            return True
    if node.name not in _LINK_BLOCKS and not (node.name in _CELLS and not in_content and stats.in_link_table(node)):
        return False
    # Inside the article, a table of links is data (wards and their doctors), and its header
    # is its title (a blog post's title links to the post itself).
    if in_content and node.name in ("table", "header"):
        return False
    if not stats.mostly_links(node):
        return False
    # A layout table or wrapper around both a site's menu and the page's text may be mostly
    # links as a whole (an old site's menu outweighs a short page): it is walked into, and
    # its menu left out on its own, when the menu is a block or a cell of its own (links
    # loose in the wrapper itself could not be told from its text).
    if stats.most_text(node) and stats.holds_prose(node) and stats.loose_links(node) < 2:
        return False
    # A paragraph that reads as a sentence around its links is text, and so is a block that
    # holds one (Google Docs writes each footnote as a div: "[1] See the <a>handbook</a>.").
    if node.name == "p":
        return not _sentence(node)
    # ...and half the block's text: a lead-in line over a list of links ("You might also
    # like:") does not make the links text.
    sentences = sum(stats.text_of(p) for p in node.find_all("p", limit=_SENTENCE_SEARCH) if _sentence(p))
    return sentences * 2 < stats.text_of(node)


# Paragraphs of a mostly-link block looked at for a sentence (a link list has none; a long
# one is not searched to its end).
_SENTENCE_SEARCH = 20


def _sentence(paragraph) -> bool:
    """Whether a paragraph reads as prose by the words outside its links: a few of them, or
    two and an end of sentence ("Run <a>fs.stat()</a> or <a>fs.access()</a> instead.")."""
    words = _unlinked_words(paragraph)
    return words >= _PROSE_WORDS or (words >= 2 and paragraph.get_text().rstrip().endswith((".", "!", "?")))


def _titles_only_left_out(heading, in_content: bool, stats: _LinkStats) -> bool:
    """Whether all a heading has under it is navigation that is left out: a "Table of
    Contents" over the link list that was its contents, a "Search" over a form. The next
    element that shows anything is navigation, and the one after that is another heading,
    or there is none. (Never an h1: the page's title stays, whatever follows it.)"""
    from bs4 import NavigableString

    following = []
    for sibling in heading.next_siblings:
        if isinstance(sibling, NavigableString):
            if str(sibling).strip() and type(sibling) is NavigableString:
                return False  # text of its own under the heading
            continue
        if _hidden(sibling) or sibling.name in _DECORATION:
            continue  # an icon or a heading's own link: nothing under the heading either way
        following.append(sibling)
        if len(following) == 2:
            break
    if not following:
        return False  # the heading ends its wrapper: what it heads may come after the wrapper
    under = following[0]
    if not (under.name in _NAVIGATION_ELEMENTS or _navigation(under, in_content, stats)):
        return False
    return len(following) == 1 or following[1].name in _HEADINGS


# Left out as navigation by what they are; other left-out elements (a formula, a script) are
# not the headed section's emptiness.
_NAVIGATION_ELEMENTS = {"nav", "form", "dialog", "select"}
_DECORATION = {"svg", "script", "style", "template", "noscript"}


# Inline elements a page sets apart by their style, not by a space, and that a reader reads
# as separate words: tab labels (MkDocs' and Docusaurus' content tabs are <label>s), tags,
# badges, chips, labels (Bootstrap's "label label-info"), a Notion export's multi-select
# values ("selected-value"). Written side by side they would run together ("PythonJavaScript").
_SET_APART_WORDS = {"tag", "tags", "badge", "chip", "pill", "tab", "label", "labels", "selectedvalue"}


def _set_apart(node) -> bool:
    """Whether ``node`` is such an element (None and text are not)."""
    name = getattr(node, "name", None)
    return name == "label" or (name is not None and bool(_name_words(node) & _SET_APART_WORDS))


def _name_words(node) -> set[str]:
    """The words of an element's class names and id ("cookie-notice" → cookie, notice)."""
    names = [*node.get("class", ()), node.get("id") or ""]
    words = {word.lower() for name in names for word in _NAME_WORDS.findall(name)}
    return words | {re.sub(r"[-_]", "", name.lower()) for name in names}


def _names(node) -> set[str]:
    """An element's class names and id, lower-cased."""
    return {name.lower() for name in (*node.get("class", ()), node.get("id") or "")}


def _unlinked_words(node) -> int:
    """How many words of an element's text are outside its links."""
    count = 0
    for string in node.find_all(string=True):
        if not any(parent.name == "a" for parent in string.parents if parent is not node):
            count += len(_WORDS.findall(str(string)))
    return count


def _banner(words: set[str]) -> bool:
    # "cookie" and "cookies" are one topic (id="cookies" class="cookie-policy" is a section).
    topics = {word.removesuffix("s") for word in words & _BANNER_TOPICS}
    return bool(words & _BANNER_NAMES) or (bool(topics) and (bool(words & _BANNER_KINDS) or len(topics) > 1))


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
# Elements that may be a block of the page's own text beside its links.
_PROSE_BLOCKS = _LINK_BLOCKS | _CELLS | {"li", "dd", "dt", "blockquote", "address", "figcaption"}
