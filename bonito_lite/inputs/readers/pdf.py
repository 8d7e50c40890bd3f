"""PDF files (``.pdf``), read with pypdf from the docs extra, a page at a time.

Every page is its own document, named ``path#page=N`` (N counts physical pages from 1, the
convention of PDF open parameters, so ``file.pdf#page=3`` opens at the right page), and a
passage starts on the page it names: a page break ends a passage, except that a sentence the
break cuts is finished from the top of the next page, which is read from the sentence after. A page's
text is what pypdf extracts from it, cleaned as a reader skips things: page numbers and
running headers and footers (lines at a page's top or bottom that repeat, or carry the
page's number, on the pages around it) are dropped, except the first page's first line,
where the document's title stands (later pages often repeat it); a line that ends a sentence
short of the lines around it ends a paragraph (pypdf writes none apart); a word hyphenated across a line
end is joined again ("manip-" + "ulation" → "manipulation"), unless it is a compound whose
hyphen belongs there (one with another hyphen before the line end, or written with the
hyphen elsewhere on the page), the soft hyphens Chrome prints are not spaces, and typographic
ligatures ("ﬁ") are spelt out. Table-of-
contents and index pages (mostly lines that end in a page number of this document after a dot
leader, in page or alphabetical order, or after an index entry's comma; on a page titled
"Contents", also page numbers in order without a leader) are not read, with one warning
listing them. A line (or two or three) equal to an outline (bookmark) title pointing at that
page, or to a heading a tagged PDF's structure tree marks (``pdf_structure``), is a heading,
also with its section number ("2.1 Syntax" for the bookmark "Syntax"). Pages are read one at
a time from the open file,
with a few pages around each held to tell its headers and footers.

A file that cannot be read (corrupt, encrypted with a password, without a text layer) is
skipped with a warning.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import UnreadableDocumentError, one_line
from ..chunking import PAGE_NUMBER, Block
from .base import Document, Reader, WarnOnce
from .pdf_structure import heading_texts, tagged_headings

log = logging.getLogger(__name__)


def _documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    """One document per page with text, read a page at a time; an unreadable file warns."""
    try:
        for number, blocks in read_pages(path, source, notes.warn):
            yield Document(
                f"{source}#page={number}",
                "blocks",
                path,
                _blocks=functools.partial(iter, tuple(blocks)),
                _notes=notes,
            )
    except UnreadableDocumentError as error:
        notes.skip(source, str(error))


READER = Reader(suffixes=(".pdf",), documents=_documents, extra="docs", libraries=("pypdf",))


def read_pages(path: Path, source: str, warn: Callable[[str], None]) -> Iterator[tuple[int, list[Block]]]:
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
        tagged = tagged_headings(reader, source)
        with_text = failed = 0

        def page_texts() -> Iterator[tuple[int, str]]:
            nonlocal with_text, failed
            for index in range(n_pages):
                try:
                    text, headings = _page_text(reader.pages[index], tagged.get(index, []))
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
                    # A tagged heading counts as a bookmark's title does (read before the
                    # stages below look at this page's titles).
                    known = titles.setdefault(index, [])
                    bookmarked = Counter(known)  # a heading both bookmarked and tagged counts once
                    for title in headings:
                        if bookmarked[title]:
                            bookmarked[title] -= 1
                        else:
                            known.append(title)
                    yield index, text.translate(_LIGATURES)

        contents: list[int] = []

        def body_texts() -> Iterator[tuple[int, str]]:
            for index, lines in _without_furniture(page_texts(), titles):
                if _contents_or_index(lines, n_pages):
                    contents.append(index + 1)
                else:
                    yield index, "".join(lines)

        try:
            for index, text, elsewhere in _sentences_finished(body_texts(), titles):
                # The page's titles are evidence too: a bookmark "Long-term planning" set as
                # "Long-" / "term planning" keeps its hyphen.
                text = _paragraphs_apart(_rejoined(text, "\n".join([elsewhere, *titles.get(index, ())])))
                if text.strip():
                    yield index + 1, _page_blocks(text, titles.get(index, ()))
        finally:
            # One line for them all (an index can run to dozens of pages), also when reading
            # stops early (--limit).
            if contents:
                warn(f"{source}: {_page_list(contents)} read as a table of contents or an index; skipped.")
        if n_pages == 0:
            raise UnreadableDocumentError(f"{source}: a PDF without pages; skipped.")
        if with_text == 0 and failed == 0:
            raise UnreadableDocumentError(
                f"{source}: no text layer on any of its {n_pages} pages (a scan?); skipped. "
                "Add one with OCR first (e.g. ocrmypdf in.pdf out.pdf)."
            )
        if with_text < n_pages:
            log.info("%s: %d of %d pages have no text.", source, n_pages - with_text, n_pages)


# The quotes and brackets that may close a sentence after its mark.
_CLOSING = r"\"'\u201d\u2019)\]"
# A page's text ends a sentence, or the words that lead into a list, when it ends in one of
# these, maybe with closing quotes or brackets.
_ENDS_SENTENCE = re.compile(rf"[.!?:;\u2026][{_CLOSING}]*\s*\Z")
# Where a sentence may end on the next page: a full stop, question or exclamation mark
# (maybe with closing quotes or brackets) before a space, or a colon or semicolon at a
# line's end ("...at hand:" above a list).
_SENTENCE_MARK = re.compile(rf"[.!?\u2026][{_CLOSING}]*(?=\s|\Z)|[:;](?=[ \t]*(?:\n|\Z))")
# A full stop after these ends no sentence: "Fig. 3", "Dr. Smith", "J. Smith", "e.g. the".
_ABBREVIATION = re.compile(
    r"(?:\b(?:figs?|eqs?|nos?|vol|pp?|sec|ch|cf|vs|approx|dr|mrs?|ms|prof|st|e\.g|i\.e)|\b[A-Z])\.\Z", re.IGNORECASE
)
# The rest of a sentence is looked for in this many lines, and characters, at the top of the
# next page: past that, the top of the page is a list, a table, code or verse, which stays
# where it is. (A page whose text all finishes the sentence joins the page before; the
# joined text then ends a sentence, so no more pages join it.)
_CARRIED_LINES = 3
_CARRIED_CHARS = 600
# A line set out as code or a table row is: indented, or with a run of spaces inside.
_SET_OUT = re.compile(r"^[ \t]|\S[ \t]{3,}\S")


def _sentences_finished(
    pages: Iterator[tuple[int, str]], titles: dict[int, list[str]]
) -> Iterator[tuple[int, str, str]]:
    """``(index, text, elsewhere)``: the pages' texts, each sentence that a page break cuts
    finished on the page it starts on, with the rest of the pages it took words from.

    A page that stops mid-sentence (no full stop, question mark, colon... at its end, and
    no heading there) followed by a page that goes on in small letters ("...found in
    previous" / "directories, each ...") gets the top of that page up to the end of the
    sentence: a passage is then a reader's sentences, not a half-sentence at a page's foot
    and its other half at the next one's top, and its record still names the page where it
    starts. The next page is read from the sentence after; a page that is all the rest of
    the sentence is read with the page before. Only pages in a row are joined (not across a
    skipped contents page or a page without text). ``elsewhere`` is the text left on the
    pages words were taken from: a word hyphenated across the break is a compound if one of
    them writes it with its hyphen.
    """
    held: tuple[int, str, str] | None = None
    last = -2  # the index of the last page read into ``held``
    for index, text in pages:
        if held is not None and index == last + 1:
            taken = _rest_of_sentence(held[1], text, titles.get(last, ()), titles.get(index, ()))
            if taken:
                rest = text[taken:]
                held = (held[0], f"{held[1].rstrip()}\n{text[:taken].strip()}\n", f"{held[2]}\n{rest}")
                last = index
                if not rest.strip():
                    continue
                text = rest.lstrip()
        if held is not None:
            yield held
        held, last = (index, text, ""), index
    if held is not None:
        yield held


def _rest_of_sentence(
    before: str, after: str, before_titles: list[str] | tuple[str, ...], after_titles: list[str] | tuple[str, ...]
) -> int:
    """How many characters at the start of ``after`` finish the sentence ``before`` breaks off in (0: none)."""
    tail = before.rstrip()
    if not tail or _ENDS_SENTENCE.search(tail[-8:]):
        return 0
    last_line = tail[tail.rfind("\n") + 1 :]
    lead = len(after) - len(after.lstrip())
    if not after[lead : lead + 1].islower() or _SET_OUT.search(last_line) or _heading(last_line, before_titles):
        return 0
    # The search stops at a line's end, where a space follows whatever it finds.
    limit = lead
    for _ in range(_CARRIED_LINES):
        newline = after.find("\n", limit)
        limit = len(after) if newline < 0 else newline + 1
    end = next(
        (
            mark.end()
            for mark in _SENTENCE_MARK.finditer(after, lead, limit)
            if not (mark.group().startswith(".") and _ABBREVIATION.search(after, max(0, mark.start() - 8), mark.end()))
            and not (mark.group()[0] in ".!?\u2026" and after[mark.end() : mark.end() + 40].lstrip()[:1].islower())
        ),
        0,
    )
    if end - lead > _CARRIED_CHARS:
        return 0
    lines = after[lead:end].rstrip().split("\n")
    # Prose runs over a page break in full lines: a shorter line before the sentence's end
    # is a list item or a figure's labels ("s1", "ptr"), an indented or spaced-out one code
    # or a table, and a heading starts text of its own; none of them finishes the page before.
    if any(
        _SET_OUT.search(line) or _heading(line, after_titles) or (n < len(lines) - 1 and len(line) < len(last_line) / 2)
        for n, line in enumerate(lines)
    ):
        return 0
    return end


def _heading(line: str, titles: list[str] | tuple[str, ...]) -> bool:
    """Whether ``line`` is one of the page's outline titles, with or without its section number."""
    key = _heading_key(line)
    return any(_heading_key(title) == key for title in titles)


def _heading_key(*lines: str) -> str:
    """What a heading set on ``lines`` is matched by: its words without the section number
    the first line opens with, and without any space. A title drawn in several runs (a
    superscript, an italic word, a line end) comes out of pypdf with spaces in other places
    than its bookmark writes them; no two headings differ only by their spaces."""
    first, *rest = (_normalised(line) for line in lines)
    return _WHITESPACE.sub("", " ".join([_SECTION_NUMBER.sub("", first, count=1), *rest]))


_WHITESPACE = re.compile(r"\s+")


# Chrome (Skia) writes each place a word may break (a soft hyphen; CSS `hyphens: auto`) as a
# space glyph marked with the ActualText U+00AD, which pypdf, reading glyphs and not
# ActualText, extracts as a space: "in ter na tion al". The spaces such a span shows are
# left out (the text shown between them then runs on as one word; where the word did break,
# the hyphen drawn at the line end stays and is joined as any other). Other producers mark
# the visible hyphen itself so, which is kept: only a space is left out, a simple font's
# "( )" or Skia's glyph 3, the space of its subset fonts.
_SOFT_HYPHEN_SPAN = re.compile(
    rb"/Span\s*<<\s*/ActualText\s*(?:<\s*FEFF00AD\s*>|\(\\376\\377\\000\\255\))\s*>>\s*BDC(.{0,400}?)EMC",
    re.DOTALL | re.IGNORECASE,
)
_SHOWN_SPACE = re.compile(
    rb"(?:\(\x20\)|<\s*(?:00)?(?:03|20)\s*>)\s*Tj|\[\s*(?:\(\x20\)|<\s*(?:00)?(?:03|20)\s*>)\s*\]\s*TJ"
)


def _page_text(page, headings: list[list[int]]) -> tuple[str, list[str]]:
    """The page's text as pypdf extracts it, without the spaces Chrome marks as soft hyphens,
    and the text of each of its tagged ``headings`` (given by their MCIDs), normalised."""
    from pypdf.generic import DecodedStreamObject, NameObject

    contents = page.get_contents()
    data = contents.get_data() if contents is not None else b""
    if b"/ActualText" in data:
        cleaned = _SOFT_HYPHEN_SPAN.sub(
            lambda span: span.group(0)[: span.start(1) - span.start(0)] + _SHOWN_SPACE.sub(b"", span.group(1)) + b"EMC",
            data,
        )
        if cleaned != data:
            # Only this reader's copy of the page changes; the file is never written.
            stream = DecodedStreamObject()
            stream.set_data(cleaned)
            page[NameObject("/Contents")] = stream
    if not headings:
        return page.extract_text(), []
    text, shown = heading_texts(page, headings)
    return text, [title for title in map(_normalised, shown) if title]


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
    """The page's text, cut around the lines that match its outline titles or tagged
    headings (each used once; a title set on up to ``_HEADING_LINES`` lines matches them together)."""
    blocks: list[Block] = []
    wanted = [_heading_key(title) for title in titles]
    lines = text.splitlines(keepends=True)
    body_start = position = number = 0
    while number < len(lines):
        taken = 0
        for count in range(1, min(_HEADING_LINES, len(lines) - number) + 1) if wanted else ():
            if (key := _heading_key(*lines[number : number + count])) in wanted:
                wanted.remove(key)
                taken = count
                break
        if taken:
            heading = "".join(lines[number : number + taken])
            if text[body_start:position].strip():
                blocks.append(Block(text[body_start:position]))
            blocks.append(Block(heading.strip(), heading=True))
            body_start = position + len(heading)
        else:
            taken = 1
        position += sum(len(line) for line in lines[number : number + taken])
        number += taken
    if text[body_start:].strip():
        blocks.append(Block(text[body_start:]))
    return blocks


# pypdf writes a page's lines one under the other, with no blank line between paragraphs. A
# paragraph's last line is seldom full: a line that ends a sentence well short of the longer
# of the lines around it (this share of it), followed by one that starts as a sentence does,
# ends a paragraph, and a blank line is put after it, so that passages are cut between
# paragraphs. Lines of a list, an address, a table or code are about as long as each other.
_SHORT_LINE_SHARE = 0.7
# A page of fewer lines than this (a slide, a title page) tells too little: left as it is.
_PARAGRAPH_LINES = 4
_ENDS_PARAGRAPH = re.compile(rf"[.!?\u2026\u3002\uff01\uff1f\u0964][{_CLOSING}\u300d]*[ \t]*$")
_OPENS_PARAGRAPH = "\"'(\u201c\u2018\u00bf\u00a1\u2022\u2013*-\u300c"


def _paragraphs_apart(text: str) -> str:
    """``text`` with a blank line after each line that ends a paragraph (see ``_SHORT_LINE_SHARE``)."""
    lines = text.split("\n")
    lengths = [len(line.strip()) for line in lines]
    if sum(1 for length in lengths if length) < _PARAGRAPH_LINES:
        return text
    out = []
    for number, line in enumerate(lines):
        out.append(line)
        following = lines[number + 1].lstrip()[:1] if number + 1 < len(lines) else ""
        around = max(lengths[number - 1] if number else 0, lengths[number + 1] if following else 0)
        if (
            following
            and 0 < lengths[number] < _SHORT_LINE_SHARE * around
            and _ENDS_PARAGRAPH.search(line)
            and (
                (following.isalpha() and not following.islower())
                or following.isdigit()
                or following in _OPENS_PARAGRAPH
            )
        ):
            out.append("")
    return "\n".join(out)


# A heading is looked for on this many lines together at most (a long title wraps).
_HEADING_LINES = 3


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


# A section number before a heading's title: "2.1 ", "4. ", "A.2 ", "IV. ", "Chapter 3: ".
# Anchored: unanchored, "simple parsing" lost the "e " that ends its first word.
_SECTION_NUMBER = re.compile(
    r"^(?:(?:chapter|section|appendix|part)\s+)?(?:\d+(?:\.\d+)*|[a-z](?:\.\d+)*|[ivxlc]+)[.:)]?\s+"
)
# A word broken at a line end: a letter, a hyphen (or soft hyphen), the line end, a letter
# (in any script; join() checks it is a small one, or a capital going on a word in capitals).
_HYPHENATED = re.compile(r"(?<=[^\W\d_])([-\u00ad\u2010])[ \t]*\n[ \t]*(?=[^\W\d_])")
_WORD_BEFORE = re.compile(r"[\w\-\u2010]+\Z")
_WORD_AFTER = re.compile(r"\w+")
_COMPOUND = re.compile(r"\w+(?:[-\u2010]\w+)+")
# Typographic ligatures as the letters they join (U+FB00-FB06: ff, fi, fl, ffi, ffl, st).
_LIGATURES = {code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFB00, 0xFB07)}


def _rejoined(text: str, elsewhere: str = "") -> str:
    """``text`` with words broken at a line end joined again, keeping a compound's hyphen.

    A typesetter's hyphen ("manip-" + "ulation") and a compound's ("follow-" + "up") look
    the same at a line end; the compound shows itself by a hyphen before the break
    ("intake-management-" + "form": TeX breaks a word that has a hyphen only there) or by
    being written with its hyphen elsewhere on the page (or in ``elsewhere``: the rest of the
    page a sentence's end was taken from). A soft hyphen is always a typesetter's.
    """
    compounds: set[str] | None = None
    words: set[str] | None = None

    def join(match: re.Match) -> str:
        nonlocal compounds, words
        if match.group(1) == "\u00ad":
            return ""
        head = _WORD_BEFORE.search(text, max(0, match.start() - 80), match.start())
        tail = _WORD_AFTER.match(text, match.end())
        head_text = head.group(0) if head else ""
        tail_text = tail.group(0) if tail else ""
        if head_text.isupper() and tail_text.isupper():
            # "OP-" + "TIONAL" is a word in capitals, "HIV-" + "AIDS" two: joined only when
            # the page writes the whole word elsewhere.
            if words is None:
                words = {word.casefold() for word in _WORD_AFTER.findall(f"{text}\n{elsewhere}")}
            last = head_text.rsplit("-", 1)[-1]
            return "" if f"{last}{tail_text}".casefold() in words else match.group(0)
        # "non-" + "English": a capital after the break is a compound's second word.
        if not tail_text[:1].islower():
            return match.group(0)
        if "-" in head_text or "\u2010" in head_text:
            return match.group(1)
        if compounds is None:
            compounds = {word.casefold() for word in _COMPOUND.findall(f"{text}\n{elsewhere}")}
        last = head_text.rsplit("-", 1)[-1]
        if tail and f"{last}{match.group(1)}{tail.group(0)}".casefold() in compounds:
            return match.group(1)
        return ""

    return _HYPHENATED.sub(join, text)


# Headers and footers are looked for in this many non-blank lines at a page's top and bottom,
_EDGE_LINES = 2
# among the pages this far before and after it (chapters change their running headers).
_NEIGHBOUR_PAGES = 4
# A line at the edge of this many neighbouring pages (same words, any numbers) is furniture.
_REPEATS = 2
# With only one neighbour (a two-page document), a header or footer needs this many words.
_PAIRED_HEADER_WORDS = 3
_NUMBER_AT_EDGE = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_DIGITS = re.compile(r"\d+")
# Table-of-contents and index lines: a dot leader, or an entry's comma (after a word, not
# inside a number such as "12,480"), before a page number.
_REFERENCE_LINE = re.compile(
    r"(?:(?P<leader>(?:\.\s?){4,})|[^\s\d],)\s*(?P<page>\d{1,4}|[ivxlc]{1,6})(?:\s*[,\u2013-]\s*\d{1,4})*\s*$",
    re.IGNORECASE,
)
# A contents line set without a leader ("1 Introduction 3", LaTeX's chapter lines): a word,
# then space, then the page number. Counted only on a page titled as contents.
_BARE_REFERENCE_LINE = re.compile(r"[^\W\d_][^\w\s]?\s+(?P<page>\d{1,4})\s*$")


@dataclass
class _PageEdges:
    """A page's lines, and what its top and bottom lines look like, to compare with others'."""

    index: int
    lines: list[str]
    keys: dict[int, str]  # edge line number → its words with numbers as "#", if it has letters
    offsets: dict[int, set[int]]  # edge line number → page index minus a number at its start or end
    # edge line number → its place among the page's filled lines from the top and from the bottom
    places: dict[int, tuple[int, int]] = field(default_factory=dict)

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
        places = {n: (filled.index(n), len(filled) - 1 - filled.index(n)) for n in edges}
        return cls(index, lines, keys, offsets, places)

    def furniture(self, neighbours: list[_PageEdges], headings: list[str]) -> set[int]:
        """The edge lines that are page numbers, running headers or footers; never a heading."""
        found, numbered, bare_number = set(), set(), False
        for n, offsets in self.offsets.items():
            line = _normalised(self.lines[n])
            if _heading_key(line) in headings:
                continue
            # A number that counts pages as the neighbours' edge numbers do is a page number.
            counted = sum(1 for page in neighbours if offsets & page.all_offsets) >= _REPEATS
            if not counted and len(neighbours) == 1:
                counted = self._paired_header(n, line, neighbours[0])
            bare = PAGE_NUMBER.fullmatch(line)
            if bare and (counted or not bare.group(1).isdigit() or int(bare.group(1)) == self.index + 1):
                found.add(n)
                bare_number = True
            elif offsets and counted:
                numbered.add(n)  # a running header or footer that carries the page number
            elif (
                n in self.keys
                and not self._title_line(n)
                and (
                    sum(1 for page in neighbours if self.keys[n] in page.keys.values()) >= _REPEATS
                    or (len(neighbours) == 1 and self._paired_line(n, line, neighbours[0]))
                )
            ):
                found.add(n)
        # A page has one number: beside a line that is only that, a numbered line is text.
        return found if bare_number else found | numbered

    def _title_line(self, n: int) -> bool:
        """The first line of the document's first page: where its title stands, which later
        pages often repeat as their running header or footer ("Widget Manual"). Dropping it
        there would lose what the document is; a header that the first page carries too is
        then read once, one short line. (Asked only of lines whose number, if any, does not
        count the pages.)"""
        return self.index == 0 and self.places[n][0] == 0

    def _paired_header(self, n: int, line: str, other: _PageEdges) -> bool:
        """In a two-page document, one neighbour is too little to tell a header from text
        ("Step 1" above "Step 2"): a line counts the pages only if it carries the page's own
        number, has a few words, and its words stand at an edge of the other page too."""
        return (
            -1 in self.offsets[n]  # the page's index minus its number: page 1 says 1
            and len(line.split()) >= _PAIRED_HEADER_WORDS
            and n in self.keys
            and self.keys[n] in other.keys.values()
            and bool(self.offsets[n] & other.all_offsets)
        )

    def _paired_line(self, n: int, line: str, other: _PageEdges) -> bool:
        """In a two-page document, a line without the page's number is a running header or
        footer when the other page has the same words at the same edge (top or bottom) and
        they are a few words, not a lone "Notes" that both pages may start with."""
        from_top, from_bottom = self.places[n]
        return len(line.split()) >= _PAIRED_HEADER_WORDS and any(
            key == self.keys[n]
            and ((other.places[m][0] == from_top < _EDGE_LINES) or (other.places[m][1] == from_bottom < _EDGE_LINES))
            for m, key in other.keys.items()
        )

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
        headings = [_heading_key(title) for title in titles.get(page.index, ())]
        dropped = page.furniture([other for other in window if other is not page], headings)
        yield page.index, [line for n, line in enumerate(page.lines) if n not in dropped]
        position += 1
        if position > _NEIGHBOUR_PAGES:
            window.popleft()
            position -= 1


def _page_list(numbers: list[int]) -> str:
    """``[2, 3, 4, 9]`` → ``"pages 2-4, 9"``."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    parts = [f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs]
    return ("pages " if len(numbers) > 1 else "page ") + ", ".join(parts)


def _contents_or_index(lines: list[str], n_pages: int) -> bool:
    """Whether a page is mostly entries that point at pages (a table of contents, an index).

    Dot leaders also set out price lists and fee tables; a table of contents points at its
    pages in order and an index lists its entries in alphabetical order, so leader lines in
    neither order (most often a list of prices) are not counted, and no line counts whose
    number is past the document's last page (a price of 45 in a 3-page leaflet).
    """
    filled = [line.rstrip() for line in lines if line.strip()]
    # A page titled as one may point past this file's pages: an extract of a longer manual.
    titled = any(_CONTENTS_TITLE.fullmatch(line.strip()) for line in filled[:3])
    found = [
        (line, match)
        for line in filled
        if (match := _REFERENCE_LINE.search(line)) and (titled or not _past_the_end(match.group("page"), n_pages))
    ]
    leaders = [(line[: m.start()].strip().casefold(), m.group("page")) for line, m in found if m.group("leader")]
    pages = [int(page) for _, page in leaders if page.isdigit()]
    if len(leaders) >= 3 and not (_mostly_ascending(pages) or _mostly_ascending([entry for entry, _ in leaders])):
        found = [(line, m) for line, m in found if not m.group("leader")]
    if titled:
        # Without leaders, only the title and page numbers in order tell contents from a table.
        bare = [
            (line, match)
            for line in filled
            if not _REFERENCE_LINE.search(line) and (match := _BARE_REFERENCE_LINE.search(line))
        ]
        if len(bare) >= 3 and _mostly_ascending([int(m.group("page")) for _, m in bare]):
            found += bare
    return len(found) >= 3 and len(found) >= 0.4 * len(filled)


_CONTENTS_TITLE = re.compile(
    r"(?:table of )?contents|index|inhalt|inhaltsverzeichnis|sommaire|table des mati[eè]res|[ií]ndice", re.IGNORECASE
)


def _past_the_end(page: str, n_pages: int) -> bool:
    # Printed numbers start at 1 after unnumbered front matter, so they stay within the count.
    return page.isdigit() and int(page) > n_pages


def _mostly_ascending(values: list) -> bool:
    """Whether at most a quarter of the steps from one value to the next go down."""
    falls = sum(1 for before, after in zip(values, values[1:]) if after < before)
    return len(values) >= 2 and falls <= (len(values) - 1) // 4
