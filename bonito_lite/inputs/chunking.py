"""Cutting a document's text into passages that fit Bonito's prompt.

The rules, in order:

* Paragraphs (runs of lines separated by blank lines) are merged into one passage while the
  passage stays within ``chunk_tokens``, counted by the caller's ``count_tokens``. A form
  feed (a page break in plain text) ends the paragraph and the passage: none spans it. In
  text that form feeds paginate, the running headers, footers and page numbers at the pages'
  edges are left out (see ``_without_page_furniture``).
* In Markdown, a heading (a ``#`` line outside a fenced code block, a line underlined with
  ``===`` or ``---``, an ``<h1>``-``<h6>`` paragraph) starts a new passage, and belongs to the
  passage it starts. A heading is not a passage by itself: headings in a
  row share one passage; if the paragraph after a heading does not fit beside it, that
  paragraph's first sentences do (and if not even its first sentence does, its first lines
  or words); a heading with no text after it joins the passage before it. Structured
  documents (PDF, DOCX, ODT, HTML) arrive as ``Block``s instead, their headings flagged by their
  readers; they follow the same rules, with offsets into their blocks joined by a blank line.
* A paragraph longer than ``chunk_tokens`` is split at sentence ends (not after an
  abbreviation, initials or a list item's number, nor before a small letter; a table's or a
  list's lines are its units), a sentence longer than that at line breaks, a line longer
  than that at whitespace, and a "word" longer than that between characters. The pieces are
  packed into passages the same way paragraphs are, the first of them filling what the open
  passage has left.
* Nothing is truncated or dropped except the whitespace between passages, and what is left
  out as not the document's text: page furniture; in Markdown, what a rendered page does not
  show as text (front matter, a table of contents, paragraphs that are only markup: badges,
  HTML tags, comments, link definitions, a thematic break; comments at the edges of a
  paragraph with text). The headings right above a table of contents or a row of badges go
  with it; other markup right under a heading stays in its passage. Every passage is
  stripped, and ``text[char_start:char_end] == passage.text`` for the text it was cut from.
* The only passage that may exceed ``chunk_tokens`` is a single character the counter calls
  longer than that.

Text arrives as an iterable of string chunks of any size and passages leave as soon as they are
complete, so a file of any size is cut in bounded memory: a paragraph that grows past
``PARAGRAPH_CHAR_LIMIT`` characters is handed on in parts, cut at its last sentence end (else at
whitespace), and no passage grows beyond that many characters whatever the counter says.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import string
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

DEFAULT_CHUNK_TOKENS = 384

# A paragraph with no blank line for this many characters is far beyond any passage a real
# tokenizer allows (384 tokens are a few thousand characters), so it is cut here to keep memory
# bounded; the same bound caps a passage for counters that call a huge "word" one token.
PARAGRAPH_CHAR_LIMIT = 1 << 20

# ATX heading: up to three spaces, one to six '#', then whitespace or the end of the line.
_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|\n|$)")
# Fenced code block delimiter; '#' lines inside a fence are code comments, not headings.
# CommonMark's rules: three or more backticks (with no backtick after them on the line:
# "```x``` y" is inline code) or tildes; a fence closes at the same character, at least
# as many, and nothing else on the line.
_FENCE = re.compile(r" {0,3}(`{3,}(?=[^`]*$)|~{3,})", re.DOTALL)
# An HTML comment block opens at a line's start (CommonMark); inline "<!--" in text does not.
_COMMENT_OPEN = re.compile(r" {0,3}<!--")


def _opens_comment(line: str) -> bool:
    """Whether the line opens an HTML comment that it does not close ("<!-->" closes itself)."""
    opened = _COMMENT_OPEN.match(line)
    return opened is not None and "-->" not in line[opened.end() - 2 :]


# A sentence ends after '.', '!', '?' or an ellipsis (then any closing quotes or brackets) when
# whitespace follows, or after a CJK full stop, which needs no space after it.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s)|[\u3002\uff01\uff1f]+")
_WORD = re.compile(r"\S+")
# Splits text after each line end: a newline, or a form feed (a page break in plain text).
_AFTER_LINE_END = re.compile(r"(?<=[\n\f])")
# A line's text without its surrounding whitespace.
_LINE = re.compile(r"\S(?:[^\n]*\S)?")


@dataclass(frozen=True)
class Passage:
    """One piece of a document, with where it came from.

    ``char_start`` and ``char_end`` index the document's text as read (see
    ``bonito_lite.inputs.documents`` for what "as read" means for files, stdin and table rows).
    """

    text: str
    source: str
    index: int
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Block:
    """A paragraph (or table row) or a heading of a structured document, as its reader found it."""

    text: str = field(repr=False)
    heading: bool = False


# What stands between two blocks in the text that offsets index.
BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class _Span:
    """A stripped, non-empty stretch of the document, ready to be packed into passages."""

    start: int
    text: str
    # The exact whitespace between the previous span and this one; None when it was too long
    # to keep, which forbids joining the two.
    gap: str | None
    new_section: bool = False
    # A piece of a paragraph too long for one passage, not a whole paragraph or block.
    part: bool = False
    # A form feed (a page break) in the gap: no passage spans it (as none starts on one PDF
    # page and goes on past the end of a sentence on the next), except to give a heading at
    # the foot of a page the text it heads.
    page_break: bool = False
    # Not the document's text (a Markdown table of contents, markup): in no passage, and none spans it.
    left_out: bool = False
    # Left out with the marked headings right above it: a table of contents' title, or the
    # document's over a row of badges, which would otherwise be a passage by themselves. (A
    # first line that only looks like a title may be a sentence, and stays.)
    takes_heading: bool = False
    # Short markup left out (a comment, a "<div>") that stays in the passage of a marked
    # heading right above it, so that the heading goes on to the text under it.
    holdable: bool = False


def split_passages(
    text: str | Iterable[str],
    source: str,
    *,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    markdown: bool = True,
) -> Iterator[Passage]:
    """Cut one document (a string, or its text as an iterable of chunks) into passages.

    Without ``markdown`` (plain text), ``#`` lines and code fences are paragraph text.
    """
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be at least 1")
    chunks = [text] if isinstance(text, str) else text
    spans = _without_page_furniture(_paragraph_spans(chunks, markdown))
    yield from _packed(_markdown_left_out(spans) if markdown else spans, source, count_tokens, chunk_tokens)


def split_blocks(
    blocks: Iterable[Block],
    source: str,
    *,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> Iterator[Passage]:
    """Cut a structured document (its paragraphs and headings) into passages.

    Offsets index the blocks' text joined by ``BLOCK_SEPARATOR``. A heading block starts a new
    passage, as a Markdown heading does; blank lines inside a block separate paragraphs;
    nothing else is special (a ``#`` at the start of a block is text, not a heading).
    """
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be at least 1")
    yield from _packed(_block_spans(blocks), source, count_tokens, chunk_tokens)


def _packed(
    spans: Iterable[_Span], source: str, count_tokens: Callable[[str], int], chunk_tokens: int
) -> Iterator[Passage]:
    fits = _Fits(count_tokens, chunk_tokens)
    packer = _Packer(source, fits)
    # The last finished passage is held back: headings at the very end may still join it.
    held: Passage | None = None
    after_left_out = False
    for span in spans:
        if span.left_out and span.holdable and packer.holds_markup(span):
            continue
        if span.left_out:
            if packer.heading_only and packer.marked_heading and span.takes_heading:
                passage = packer.discard_headings()
            else:
                passage = packer.flush()
            if passage is not None:
                if held is not None:
                    yield held
                held = passage
            after_left_out = True
            continue
        if after_left_out:
            span, after_left_out = replace(span, gap=None), False  # no passage reaches across it
        if packer.joins(span) and fits(packer.text + span.gap + span.text):
            packer.add(span)  # the common case, settled with one count
            continue
        # A heading alone makes a poor passage: when the paragraph after it is too long to
        # join whole, its first sentences join the heading and the rest goes on (and when
        # even its first sentence is too long to, its first lines or words do).
        split_whole = packer.heading_only and not span.new_section and packer.joins(span)
        for piece in _pieces(span, fits, packer, keep_whole=not split_whole):
            passage = packer.add(piece)
            if passage is not None:
                if held is not None:
                    yield held
                held = passage
    last_gap, headings_only = packer.gap_before, packer.heading_only
    passage = packer.flush()
    if passage is not None and held is not None and headings_only and last_gap is not None:
        joined = held.text + last_gap + passage.text
        if fits(joined):
            passage, held = Passage(joined, source, held.index, held.char_start, passage.char_end), None
    if held is not None:
        yield held
    if passage is not None:
        yield passage


class _Fits:
    """Whether a candidate passage is within the budget; also how many characters likely are.

    Packing asks about the same candidate more than once (does it join? does it fit alone?);
    tokenizing is the expensive part, so recent answers are kept. The characters per token
    of the last count give the first guess when a long paragraph is cut, so that finding the
    longest run of sentences that fits takes a few counts near the answer rather than a
    gallop from one sentence up.
    """

    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int) -> None:
        self.count_tokens = count_tokens
        self.chunk_tokens = chunk_tokens
        self.chars_per_token: float | None = None
        self._cached = functools.lru_cache(maxsize=8)(self._fits)

    def __call__(self, candidate: str) -> bool:
        return self._cached(candidate)

    def _fits(self, candidate: str) -> bool:
        if len(candidate) > PARAGRAPH_CHAR_LIMIT:
            return False
        tokens = self.count_tokens(candidate)
        if tokens > 0 and len(candidate) > 0:
            self.chars_per_token = len(candidate) / tokens
        return tokens <= self.chunk_tokens

    def chars_left(self, used: int) -> int | None:
        """About how many more characters fit after ``used`` ones; None before any count."""
        if self.chars_per_token is None:
            return None
        return int(self.chunk_tokens * self.chars_per_token) - used


class _Packer:
    """Greedy packing: each piece joins the open passage if the result still fits."""

    def __init__(self, source: str, fits: Callable[[str], bool]) -> None:
        self.source = source
        self.fits = fits
        self.index = 0
        self.start = 0
        self.text = ""
        self.heading_only = False
        self.marked_heading = False  # the open passage holds a heading its document marks as one
        self.title_chars = 0
        # The whitespace between the previous passage and the open one (None: too long to keep).
        self.gap_before: str | None = None

    def joins(self, piece: _Span) -> bool:
        # A heading starts a passage unless the open one holds only headings so far.
        return (
            bool(self.text)
            and (not piece.new_section or self.heading_only)
            and (not piece.page_break or (self.heading_only and self.marked_heading))
            and piece.gap is not None
        )

    def add(self, piece: _Span) -> Passage | None:
        if self.joins(piece):
            candidate = self.text + piece.gap + piece.text
            if self.fits(candidate):
                self.text = candidate
                self.heading_only = self.heading_only and piece.new_section
                self.marked_heading = self.marked_heading or piece.new_section
                return None
        finished = self.flush()
        self.start, self.text = piece.start, piece.text
        # A document's (or a PDF page's) first line, when it looks like a title that nothing
        # marks as a heading (a PDF's title, a Word title in the Normal style), is treated as
        # one: the heading after it joins it, and so does the paragraph after that, instead
        # of leaving the title a passage by itself. Only the first: later in a document such
        # a line is as likely a signature or a caption, which should not head the next section.
        self.heading_only = piece.new_section or (self.index == 0 and not piece.part and _title_line(piece.text))
        # Only a marked heading reaches across a page break: a first line that merely looks
        # like a title may be a sentence the break cut.
        self.marked_heading = piece.new_section
        # A first line taken for a title, unmarked: it stays when the headings after it go.
        self.title_chars = 0 if piece.new_section or not self.heading_only else len(piece.text)
        self.gap_before = None if piece.page_break else piece.gap
        return finished

    def holds_markup(self, piece: _Span) -> bool:
        """Keep markup right under a heading in the heading's passage (a comment, a ``<div>``),
        which still waits for the text under them, rather than leave the heading alone; True
        if it was kept."""
        if not (self.heading_only and self.marked_heading and self.joins(piece)):
            return False
        candidate = self.text + piece.gap + piece.text
        if not self.fits(candidate):
            return False
        self.text = candidate
        return True

    def discard_headings(self) -> Passage | None:
        """Drop the open passage's marked headings; a first line only taken for a title before
        them is a passage of its own (it may be a sentence). Nothing joins either."""
        title, self.text = self.text[: self.title_chars], ""
        self.heading_only, self.marked_heading = False, False
        if not title:
            return None
        self.text = title
        return self.flush()

    def flush(self) -> Passage | None:
        if not self.text:
            return None
        passage = Passage(self.text, self.source, self.index, self.start, self.start + len(self.text))
        self.index += 1
        self.text = ""
        return passage


_TITLE_MAX_WORDS = 12
# Chinese or Japanese has no spaces to count words by: a title is a few characters.
_TITLE_MAX_UNSPACED = 24


def _title_line(text: str) -> bool:
    """One short line that ends without punctuation and is no list item or table row (a
    Word or HTML table's row is its cells joined by " | ")."""
    return (
        "\n" not in text
        and " | " not in text
        and "\t" not in text
        and len(text.split()) <= _TITLE_MAX_WORDS
        and len(_UNSPACED.findall(text)) <= _TITLE_MAX_UNSPACED
        and text[-1] not in ".!?,;:\u2026|\u3002\uff01\uff1f\uff0c\uff1a\uff1b\u3001"
        and any(c.isalpha() for c in text)
        and not _STRUCTURED_LINE.match(text)
    )


class _Room:
    """Whether a candidate first piece of a span still fits in the open passage.

    Used until the span's first piece is out, so that a span too long for one passage first
    fills what the open passage has left (a heading keeps the start of its section).
    """

    def __init__(self, packer: _Packer, span: _Span) -> None:
        self.prefix = packer.text + span.gap if packer.joins(span) else None
        self.fits = packer.fits
        # Under a heading with nothing else yet, a first sentence too long to join it is cut
        # (at lines, then words) rather than leave the heading a passage by itself.
        self.fill_down = self.prefix is not None and packer.heading_only

    def fits_first(self, candidate: str) -> bool:
        return self.prefix is not None and self.fits(self.prefix + candidate)


def _pieces(span: _Span, fits: Callable[[str], bool], packer: _Packer, keep_whole: bool = True) -> Iterator[_Span]:
    """The span itself if it fits (and may be kept whole), else runs of its sentences, lines,
    words or characters, the first filling what the open passage has left."""
    if keep_whole and fits(span.text):
        yield span
        return
    text = span.text
    room = _Room(packer, span)
    previous_end = None
    for start, end in _split(text, 0, len(text), fits, room, 0):
        if previous_end is None:
            yield _Span(span.start + start, text[start:end], span.gap, span.new_section, True, span.page_break)
            room.prefix = None
        else:
            yield _Span(span.start + start, text[start:end], text[previous_end:start], part=True)
        previous_end = end


def _sentence_units(text: str, start: int, end: int) -> tuple[list[int], list[int]]:
    if _line_structured(text, start, end):
        # A table's or a list's lines are its units: a period inside a cell or an item
        # ("Stop after this many passages. | none |") ends no sentence of the text.
        return _matched_units(_LINE)(text, start, end)
    starts, ends = [], []
    previous = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if not _ends_sentence(text, match, end):
            continue
        _add_stripped(text, previous, match.end(), starts, ends)
        previous = match.end()
    _add_stripped(text, previous, end, starts, ends)
    return starts, ends


# Abbreviations a period follows inside a sentence ("Dr. Lee", "cf. page 3"), and those
# that do so before a number ("Fig. 2", "No. 5": "the answer is no. Then" ends one).
_ABBREVIATIONS = frozenset("al approx cf dept dr e.g i.e jr mr mrs ms prof sr vs".split())
_NUMBER_ABBREVIATIONS = frozenset("fig figs no nos p pp vol".split())
_WORD_BEFORE = re.compile(r"(\S+)\Z")
# A list item's number or letter at the start of a line: "4." or "b)".
_ITEM_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:\d{1,3}|[A-Za-z])\Z")
_NEXT_CHARACTER = re.compile(r"\s*(\S)")
# Scripts written without spaces between words: kana, CJK ideographs, Hangul syllables.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "u.s", "e.g": letters, not "2.5"
# A numbered or lettered list item's start: "4. ", "b) ".
_ITEM_START = r"(?:\d{1,3}|[A-Za-z])[.)][ \t]"
_LIST_LINE = re.compile(rf"[ \t]*{_ITEM_START}")


def _after_list_start(text: str, position: int) -> bool:
    """Whether the number (or letter) at the start of the line holding ``position`` numbers a
    list item rather than ending a sentence wrapped before it ("rose by\n12. The board").

    It does when the paragraph starts with it, when the line before opens a list (ends in
    ':'), when it follows the last item's number ("2." after "1.", however that item wrapped),
    or when it is "1." and a "2." starts a line soon after.
    """
    line_start = text.rfind("\n", 0, position)
    if line_start <= 0:
        return True  # the paragraph starts with it
    previous = text[text.rfind("\n", 0, line_start) + 1 : line_start].rstrip()
    if previous.endswith(":") or _LIST_LINE.match(previous):
        return True
    marker = text[line_start + 1 : position].strip()
    if not marker.isdigit():
        return False
    number = int(marker)
    earlier = _ITEM_NUMBERS.findall(text, max(0, line_start - 2000), line_start)
    if earlier and int(earlier[-1]) == number - 1:
        return True
    return number == 1 and re.search(r"\n[ \t]*2[.)][ \t]", text[position : position + 2000]) is not None


_ITEM_NUMBERS = re.compile(r"(?:^|\n)[ \t]*(\d{1,3})[.)][ \t]")


def _ends_sentence(text: str, match: re.Match, end: int) -> bool:
    """Whether a '.', '!' or '?' followed by whitespace ends a sentence.

    Not after an abbreviation or initials ("e.g.", "Dr.", "U.S.", "J."), not after a list
    item's number at a line start ("4."), and not before a small letter ("i.e. the
    maximum"), which goes on with the same sentence.
    """
    mark = match.group(0)
    if not mark.startswith(".") or mark.startswith(".."):
        return True  # "!", "?", an ellipsis, a CJK stop
    before = text[max(0, match.start() - 40) : match.start()]
    if _ITEM_MARKER.search(before) and _after_list_start(text, match.start()):
        return False
    word = _WORD_BEFORE.search(before)
    if word is not None:
        token = word.group(1).lstrip("(\"'\u201c\u2018[").casefold()
        # "J." and "U.S." are initials; "e.g." is in the list without its last period.
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()) or _INITIALS.fullmatch(token):
            return False
    following = _NEXT_CHARACTER.match(text, match.end(), end)
    if following is None:
        return True
    if word is not None and token in _NUMBER_ABBREVIATIONS and following.group(1).isdigit():
        return False
    return not following.group(1).islower()


def _line_structured(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is lines of a table ("| a | b |") or a list ("- a", "1. a")."""
    lines = [line for line in text[start:end].split("\n") if line.strip()]
    return len(lines) >= 2 and all(_STRUCTURED_LINE.match(line) for line in lines)


_STRUCTURED_LINE = re.compile(rf"[ \t]*(?:\||[-*+\u2022][ \t]|{_ITEM_START})")


def _matched_units(pattern: re.Pattern) -> Callable[[str, int, int], tuple[list[int], list[int]]]:
    """Units that are the matches of ``pattern`` (lines, words)."""

    def units(text: str, start: int, end: int) -> tuple[list[int], list[int]]:
        starts, ends = [], []
        for match in pattern.finditer(text, start, end):
            starts.append(match.start())
            ends.append(match.end())
        return starts, ends

    return units


def _character_units(text: str, start: int, end: int) -> tuple[range, range]:
    return range(start, end), range(start + 1, end + 1)


# From coarse to fine: a unit that does not fit is cut into units of the next kind.
_UNITS = (_sentence_units, _matched_units(_LINE), _matched_units(_WORD), _character_units)


def _add_stripped(text: str, start: int, end: int, starts: list[int], ends: list[int]) -> None:
    segment = text[start:end]
    lead = len(segment) - len(segment.lstrip())
    kept = len(segment.rstrip())
    if kept > lead:
        starts.append(start + lead)
        ends.append(start + kept)


def _split(
    text: str, start: int, end: int, fits: Callable[[str], bool], room: _Room, level: int
) -> Iterator[tuple[int, int]]:
    """``(start, end)`` runs covering ``text[start:end]``'s non-space, each the longest that fits.

    Galloping then bisecting keeps the number of counts logarithmic in the number of units, so
    a sentence of a million words costs a few dozen counts per passage, not a million.
    """
    starts, ends = _UNITS[level](text, start, end)
    finest = level + 1 == len(_UNITS)
    i, n = 0, len(starts)
    while i < n:
        # run() and guess() are called only within this pass of the loop, so reading the
        # current i is what they mean (B023 warns of closures kept past their iteration).

        def run(k: int) -> str:
            return text[starts[i] : ends[i + k - 1]]  # noqa: B023

        def guess(used: int) -> int:
            # The run whose length is closest to what the last count says is left.
            left = fits.chars_left(used) if isinstance(fits, _Fits) else None
            if left is None:
                return 1
            return bisect.bisect_right(ends, starts[i] + left, i, n) - i  # noqa: B023

        taken = 0
        if room.prefix is not None:
            taken = _longest_run(lambda k: room.fits_first(run(k)), n - i, guess(len(room.prefix)))
            # Down to words, never into a word: one that fits a passage alone stays whole
            # (but a run of Chinese or Japanese, one "word" to whitespace, is cut between
            # its characters).
            if not taken and room.fill_down and not finest and (level + 2 < len(_UNITS) or _UNSPACED.search(run(1))):
                yield from _split(text, starts[i], ends[i], fits, room, level + 1)
                i += 1
                continue
        if not taken:
            if not finest and not fits(run(1)):
                yield from _split(text, starts[i], ends[i], fits, room, level + 1)
                i += 1
                continue
            # A single character is kept whole even if the counter calls it too long.
            taken = _longest_run(lambda k: fits(run(k)), n - i, guess(0)) or 1
        yield starts[i], ends[i + taken - 1]
        i += taken


def _longest_run(run_fits: Callable[[int], bool], available: int, guess: int = 1) -> int:
    """The largest k <= available with run_fits(k), assuming longer runs fit less; 0 if none.

    The search starts at ``guess`` and gallops up or down from it, so a good guess settles
    it in two or three calls. Whatever the guess, the k returned is one that was checked.
    """
    if available < 1:
        return 0
    guess = min(max(guess, 1), available)
    if run_fits(guess):
        good, bad, step = guess, available + 1, 1
        while good < available:
            k = min(good + step, available)
            if run_fits(k):
                good, step = k, step * 2
            else:
                bad = k
                break
    else:
        bad, step = guess, 1
        while True:
            k = bad - step
            if k < 1:
                if bad == 1 or not run_fits(1):
                    return 0
                good = 1
                break
            if run_fits(k):
                good = k
                break
            bad, step = k, step * 2
    while bad - good > 1:
        middle = (good + bad) // 2
        if run_fits(middle):
            good = middle
        else:
            bad = middle
    return good


def _lines(chunks: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """``(part, complete)``: each line with its ``\\n`` (or form feed, which also ends a line);
    a line too long to hold comes in parts."""
    pending = ""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        if "\n" in chunk or "\f" in chunk:
            lines = _AFTER_LINE_END.split(pending)
            pending = lines.pop()
            for line in lines:
                yield line, True
        if len(pending) > PARAGRAPH_CHAR_LIMIT:
            yield pending, False
            pending = ""
    if pending:
        yield pending, True


def _block_spans(blocks: Iterable[Block]) -> Iterator[_Span]:
    """The paragraphs and headings of structured blocks, with offsets into their text joined by ``BLOCK_SEPARATOR``."""
    offset = 0
    gap: str | None = ""  # whitespace since the last span, across block boundaries
    for number, block in enumerate(blocks):
        if number:
            gap = _joined_gap(gap, BLOCK_SEPARATOR)
            offset += len(BLOCK_SEPARATOR)
        text = block.text
        if block.heading:
            stripped = text.strip()
            lead = len(text) - len(text.lstrip())
            spans = [_Span(lead, stripped, text[:lead], True)] if stripped else []
        else:
            spans = _paragraph_spans([text], markdown=False)
        end = None
        for span in spans:
            page_break = span.page_break
            if end is None:  # the block's first span: the gap runs back into earlier blocks
                span_gap = None if span.gap is None else _joined_gap(gap, span.gap)
                page_break = page_break or (gap is not None and "\f" in gap)
            else:
                span_gap = span.gap
            yield _Span(offset + span.start, span.text, span_gap, span.new_section, page_break=page_break)
            end = span.start + len(span.text)
        gap = _joined_gap(gap, text) if end is None else _joined_gap("", text[end:])
        offset += len(text)


def _joined_gap(gap: str | None, more: str) -> str | None:
    if gap is None or len(gap) + len(more) > PARAGRAPH_CHAR_LIMIT:
        return None
    return gap + more


def _paragraph_spans(chunks: Iterable[str], markdown: bool = True) -> Iterator[_Span]:
    """Paragraphs and heading lines of the text, stripped, with their offsets and gaps.

    Without ``markdown``, ``#`` lines and code fences are plain paragraph text.
    """
    builder = _ParagraphBuilder()
    at_line_start = True
    fence: str | None = None  # the delimiter of the open code block
    in_comment = False  # inside an HTML comment ("<!--" ... "-->"), where '#' lines are text
    comment_paragraphs = 0  # blank lines inside it: past _COMMENT_SPANS it is read as text
    lines = _lines(chunks)
    if markdown:
        front_matter, lines = _front_matter(lines)
        if front_matter:
            for part in front_matter:
                builder.append(part)
            yield from builder.flush(left_out=True)
    for part, complete in lines:
        if at_line_start and complete:
            if part.isspace():
                yield from builder.flush()
                builder.skip(part)
                comment_paragraphs += in_comment
                in_comment = in_comment and comment_paragraphs < _COMMENT_SPANS
                continue
            delimiter = _FENCE.match(part) if markdown and not in_comment else None
            if in_comment:
                in_comment = "-->" not in part
            elif delimiter and fence is None:
                fence = delimiter.group(1)
            elif delimiter and _closes(fence, delimiter.group(1), part[delimiter.end() :]):
                fence = None
            elif markdown and fence is None and _opens_comment(part):
                in_comment, comment_paragraphs = True, 0
            elif markdown and fence is None and _HEADING.match(part):
                yield from builder.flush()
                builder.append(part)
                yield from builder.flush(new_section=True)
                continue
            elif markdown and fence is None and _setext_heading(builder.parts, part):
                builder.append(part)
                yield from builder.flush(new_section=True)
                continue
        builder.append(part)
        at_line_start = complete
        if complete and part.endswith("\f"):
            yield from builder.flush()  # a form feed (a page break) ends the paragraph
        elif builder.length > PARAGRAPH_CHAR_LIMIT:
            yield from builder.cut()
    yield from builder.flush()


# A Markdown file's metadata block, as Jekyll, Hugo, Obsidian and pandoc write it: YAML
# between "---" lines (or closed by "..."), or TOML between "+++" lines, opening on the
# file's first line, every line inside it one that YAML or TOML writes (a key, a list item,
# an indented value, a comment, a table). Only this many lines are looked at for its end: a
# longer block, or a line of prose inside it, makes the "---" a thematic break over text.
_FRONT_MATTER_CLOSERS = {"---": ("---", "..."), "+++": ("+++",)}
_FRONT_MATTER_LINE = re.compile(
    r"""\#.*                                  # a comment
        | [^\s:#\-][^:\n]{0,80}:(?:[ \t].*)?   # key: value
        | [\w"'.-]+[ \t]*=.*                   # key = value (TOML)
        | -(?:[ \t].*)?                        # - list item
        | \[.*\]                               # [table] (TOML)
    """,
    re.VERBOSE,
)
_FRONT_MATTER_LINES = 200


def _front_matter(lines: Iterator[tuple[str, bool]]) -> tuple[list[str], Iterator[tuple[str, bool]]]:
    """The file's metadata block (its lines) and the lines after it; ``[]`` and all the
    lines when it has none."""
    held: list[tuple[str, bool]] = []
    closers: tuple[str, ...] = ()
    for part, complete in lines:
        held.append((part, complete))
        line = part.rstrip()
        if not complete or len(held) > _FRONT_MATTER_LINES:
            break
        if len(held) == 1:
            closers = _FRONT_MATTER_CLOSERS.get(line, ())
            if not closers:
                break
        elif line in closers:
            return [held_part for held_part, _ in held], lines
        elif line and line[0] not in " \t" and not _FRONT_MATTER_LINE.fullmatch(line):
            break  # neither blank, nor an indented value, nor a line YAML or TOML writes
    return [], itertools.chain(held, lines)


# A setext heading's underline ("Title" over "=====" or "-----"), under one line of text
# that is no list item, table row, quote or HTML. Under a paragraph of several lines a
# "---" is more often a separator its writer put without a blank line than a heading.
_SETEXT_UNDERLINE = re.compile(r" {0,3}(?:=+|-+)[ \t]*[\n\f]?")
_NOT_SETEXT_TEXT = re.compile(rf" {{4}}|[ \t]*(?:[>|<]|[-*+\u2022][ \t]|{_ITEM_START}|(?:[-*_=][ \t]*){{3,}}$)")


def _setext_heading(held: list[str], underline: str) -> bool:
    """Whether ``underline`` makes the one line ``held`` a setext heading."""
    return (
        len(held) == 1
        and _SETEXT_UNDERLINE.fullmatch(underline) is not None
        and not held[0].isspace()
        and _NOT_SETEXT_TEXT.match(held[0]) is None
        and not held[0].endswith("\f")
    )


# Running headers and footers of text paginated by form feeds (RFCs, printed reports): a
# one-line paragraph at a page's top or bottom, no longer than this, that stands at an edge
# of this many of the pages within this many before and after it.
_FURNITURE_LINE_CHARS = 120
_FURNITURE_REPEATS = 2
_FURNITURE_PAGES = 4
# In a text of two or three pages one other page has to do, at the same edge, for a line
# of this many words or more.
_FURNITURE_WORDS = 3
# A "page" of more paragraphs or characters than these is not a printed page: the text is
# not paginated, and the rest of it is read as it is (so that only a few pages are held).
_PAGE_SPANS = 200
_PAGE_CHARS = 100_000
_NUMBERS = re.compile(r"\d+")
# Where a number may count pages: at either end of the line, after "page", or as "N of M"
# ("Chapter 3", "[Page 3]", "3 / 12"), not inside text ("Question 3 (10 marks)", "row 3 5 kg").
_PAGE_COUNTER = re.compile(
    r"^[^\w]*(\d{1,4})\b|\b(\d{1,4})[^\w]*$|\bpage\s+(\d{1,4})\b|\b(\d{1,4})\s*(?:of|/)\s*\d{1,4}\b", re.I
)
# A line that is only a page's number: "7", "- 7 -", "Page 7", "Page 7 of 12", "xiv" (also
# the PDF reader's test of its pages' edges).
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
PAGE_NUMBER = re.compile(
    rf"(?:page\s+)?[-\u2013\u2014]?\s*(\d{{1,4}}|{_ROMAN})\s*[-\u2013\u2014]?(?:\s*(?:of|/)\s*\d{{1,4}})?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _EdgeLine:
    """A page's first or last paragraph, as running headers and footers are compared."""

    text: str  # its words, spaces collapsed
    key: str  # the same with numbers as "#"
    # The page's index minus each of its numbers that may count pages (None for the others):
    # the same on two pages when it does.
    counts: tuple[int | None, ...]

    @classmethod
    def of(cls, span: _Span, page: int) -> _EdgeLine | None:
        """None for what a header or footer never is: several lines, a long line, a heading,
        a sentence, a line without letters that is not a page number, one word alone."""
        text = " ".join(span.text.split())
        if "\n" in span.text or len(text) > _FURNITURE_LINE_CHARS or span.new_section:
            return None
        bare = (match := PAGE_NUMBER.fullmatch(text)) is not None and match.group(1).isdigit()
        if not bare and (
            text[-1] in ".!?"
            or not any(c.isalpha() for c in text)
            or (len(text.split()) < 2 and not _NUMBERS.search(text))
        ):
            return None
        counters = {m.start(g) for m in _PAGE_COUNTER.finditer(text) for g in range(1, 5) if m.group(g)}
        counts = tuple(
            page - int(number.group()) if number.start() in counters else None for number in _NUMBERS.finditer(text)
        )
        return cls(text, _NUMBERS.sub("#", text), counts)

    def repeats(self, other: _EdgeLine | None) -> bool:
        """The same words, and the same numbers or a number in the same place that counts
        the pages alike ("Postel  [Page 3]" on the page after "Postel  [Page 2]")."""
        return (
            other is not None
            and other.key == self.key
            and (other.text == self.text or any(a == b is not None for a, b in zip(self.counts, other.counts)))
        )


def _without_page_furniture(spans: Iterable[_Span]) -> Iterator[_Span]:
    """The spans of a text without the running headers, footers and page numbers of its
    pages, when form feeds paginate it, as a reader skips them ("RFC 793  Transmission
    Control Protocol  September 1981", "Postel  [Page 3]").

    A page's first or last paragraph is furniture when it is one short line that repeats
    (same words; same numbers, or numbers that count the pages) at an edge of two or more of
    the pages around it, or is the page's own number ("- 3 -" on the third page). Headings,
    sentences and a word alone are never furniture, and the first page's first line, where a
    title stands, is kept. A span after one left out joins nothing before it (the text
    between is in no passage). The first page streams through; later pages are held a few
    at a time to compare their edges.
    """
    pages: deque[list[_Span]] = deque()  # held pages, the last one still being read
    before: deque[tuple[_EdgeLine | None, _EdgeLine | None]] = deque(maxlen=_FURNITURE_PAGES)
    handed_on = 0  # pages handed on so far: the index of pages[0]
    held_chars = 0
    cut = False  # the last span handed on was left out: the next joins nothing across it
    # The first page streams through but for its latest span, which may turn out to be its
    # foot: held alone as the first page when a page break comes. Its first line is its
    # title, kept, but compared with the other pages' edges.
    first_top: _EdgeLine | None = None
    first_spans = 0
    last: _Span | None = None

    def edges(page: list[_Span], index: int) -> tuple[_EdgeLine | None, _EdgeLine | None]:
        if index == 0:
            foot = _EdgeLine.of(page[-1], 0) if first_spans > 1 else None
            return first_top, foot
        return _EdgeLine.of(page[0], index), _EdgeLine.of(page[-1], index) if len(page) > 1 else None

    def hand_on() -> Iterator[_Span]:
        nonlocal cut, handed_on, held_chars
        page, index = pages.popleft(), handed_on
        handed_on += 1
        held_chars -= sum(len(span.text) for span in page)
        around = [*before, *(edges(later, index + n) for n, later in enumerate(list(pages)[:_FURNITURE_PAGES], 1))]
        top, bottom = edges(page, index)
        dropped = set()
        for n, line, edge in ((0, top, 0), (len(page) - 1, bottom, 1)):
            if line is None or not around or (index == 0 and edge == 0):
                continue
            bare = PAGE_NUMBER.fullmatch(line.text)
            repeats = sum(any(line.repeats(other) for other in pair) for pair in around)
            if (
                repeats >= _FURNITURE_REPEATS
                or (bare is not None and bare.group(1).isdigit() and int(bare.group(1)) == index + 1)
                or (
                    len(around) <= _FURNITURE_REPEATS
                    and len(line.key.split()) >= _FURNITURE_WORDS
                    and any(line.repeats(pair[edge]) for pair in around)
                )
            ):
                dropped.add(n)
        before.append((top, bottom))
        for n, span in enumerate(page):
            if n in dropped:
                cut = True
                continue
            if cut:
                span, cut = replace(span, gap=None, page_break=True), False
            yield span

    gave_up = False
    for span in spans:
        if gave_up:
            yield span
            continue
        if span.page_break and (pages or last is not None):
            if last is not None:
                pages.append([last])
                held_chars += len(last.text)
                last = None
            pages.append([])
        if not pages:
            if last is not None:
                yield last
            else:
                first_top = _EdgeLine.of(span, 0)
            last = span
            first_spans += 1
            continue
        pages[-1].append(span)
        held_chars += len(span.text)
        if len(pages[-1]) > _PAGE_SPANS or held_chars > _PAGE_CHARS * (_FURNITURE_PAGES + 2):
            gave_up = True
            while pages:
                yield from hand_on()
        # A page is judged once the pages after it that it is compared with are complete.
        while len(pages) > _FURNITURE_PAGES + 1:
            yield from hand_on()
    if last is not None:
        yield last
    while pages:
        yield from hand_on()


# A Markdown table of contents: list items that are each one link to a heading of the page
# ("- [Install](#install)"), three or more, or a wiki's contents marker ("[[_TOC_]]", "[TOC]").
_CONTENTS_ITEM = re.compile(r"\s*(?:[-*+]|\d{1,3}[.)])\s+\[[^\]\n]+\]\(#[^)\s]*\)\s*")
# Fewer items are as likely a sentence's list that links to where each is explained
# ("two ways to install pip: ensurepip, get-pip.py").
_CONTENTS_ITEMS = 3
_CONTENTS_MARKER = re.compile(r"\[\[_?toc_?\]\]|\[toc\]|\$\{toc\}", re.IGNORECASE)

# What a rendered Markdown page does not show as text: comments, link reference definitions
# ("[docs]: https://..."; not footnotes, "[^1]: ..."), badges (an image inside a link,
# "[![CI](ci.svg)](ci)" or "[![CI]][ci]", or a shields.io or "badge" image), HTML tags and
# blank entities; inline code is shown, markup and all. An image alone is a figure: its
# description stands for it. What is left must be more than ASCII punctuation (a "---" rule).
# The lengths are bounded so that no pattern takes quadratic time on a long run of "![".
_LINK_DEFINITION = re.compile(
    r"^ {0,3}\[(?!\^)[^\[\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$", re.MULTILINE
)
_TARGET = r"(?:\([^)\n]{0,2000}\)|\[[^\]\n]{0,300}\])"  # a link's "(url)" or "[reference]"
_BADGE = re.compile(
    rf"\[\s{{0,20}}!\[[^\]\n]{{0,300}}\]{_TARGET}?\s{{0,20}}\]{_TARGET}"
    r"|!\[[^\]\n]{0,300}\]\((?=[^)\n]{0,2000}(?:shields\.io|badge))[^)\n]{0,2000}\)",
    re.IGNORECASE,
)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BLANK_ENTITY = re.compile(r"&(?:nbsp|ensp|emsp|thinsp|zwnj|zwj);|&#(?:160|8203|x[aA]0|x200[bB]);")
_BACKTICKS = re.compile(r"`+")
# A character a page shows as text: neither space nor ASCII punctuation.
_SHOWN = re.compile(rf"[^\s{re.escape(string.punctuation)}]")
# Where markup that hides text can start: a tag or comment, a link definition or badge, an
# entity, a code span (which shows it).
_MARKUP_STARTS = "<[&`!"
# A paragraph longer than this that shows any letter is text: rows of badges, logos and link
# definitions are shorter (and the checks stay cheap on a paragraph of a megabyte).
_MARKUP_MAX_CHARS = 20_000
# An HTML comment that opens at a line's start runs on to its "-->" across blank lines
# (CommonMark); the paragraphs inside are held until it closes, at most this many, and read
# as text if it has not closed by then (a stray "<!--" should not hide the rest of a file).
_COMMENT_SPANS = 50
# Markup of at most this many characters right under a heading stays in its passage.
_HOLDABLE_CHARS = 200


def _shows_no_text(text: str) -> bool:
    """Whether a Markdown paragraph is only markup: nothing but ASCII punctuation is shown."""
    if _SHOWN.search(text) is None:
        return True
    if len(text) > _MARKUP_MAX_CHARS or not any(character in text for character in _MARKUP_STARTS):
        return False  # text, and no markup that could hide it: most paragraphs
    shown = _without_comments(_without_code_spans(text))
    for pattern in (_LINK_DEFINITION, _BADGE, _TAG, _BLANK_ENTITY):
        shown = pattern.sub(" ", shown)
    return _SHOWN.search(shown) is None


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Where the inline code spans are: a run of backticks opens one that the next run as
    long closes (CommonMark). In one pass, where a pattern would take quadratic time over runs
    that close nothing."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    closer: list[int | None] = [None] * len(runs)
    latest: dict[int, int] = {}  # by length, the first run after the one looked at
    for n in range(len(runs) - 1, -1, -1):
        length = runs[n][1] - runs[n][0]
        closer[n], latest[length] = latest.get(length), n
    spans, n = [], 0
    while n < len(runs):
        end = closer[n]
        if end is None:
            n += 1
            continue
        spans.append((runs[n][0], runs[end][1]))
        n = end + 1
    return spans


def _without_code_spans(text: str) -> str:
    """``text`` with each inline code span a word."""
    parts, position = [], 0
    for start, end in _code_spans(text):
        parts += [text[position:start], " code "]
        position = end
    return "".join(parts) + text[position:]


def _comment_end(text: str, opened: int, end: int | None = None) -> int:
    """Where the comment opened at ``opened`` ends (after its "-->"), or -1. "<!-->" and
    "<!--->" are whole comments (CommonMark)."""
    closed = text.find("-->", opened + 2, end)
    return -1 if closed < 0 else closed + 3


def _without_comments(text: str) -> str:
    """``text`` without its closed HTML comments (one unclosed is text here)."""
    parts, position = [], 0
    while (start := text.find("<!--", position)) >= 0 and (end := _comment_end(text, start)) >= 0:
        parts.append(text[position:start])
        position = end
    return " ".join([*parts, text[position:]])


# A heading written in HTML ('<h1 align="center">Quarry</h1>'), as READMEs centre their titles.
_HTML_HEADING = re.compile(r"<h([1-6])\b[^<>]*>[^\n]*?</h\1\s*>", re.IGNORECASE)
_LINE_START_COMMENT = re.compile(r"(?:^|\n) {0,3}<!--")


def _unclosed_comment(text: str) -> int | None:
    """Where the HTML comment starts that opens at a line's start of the paragraph and does
    not close in it; None when there is none."""
    if "<!--" not in text:
        return None
    position = 0
    for match in _LINE_START_COMMENT.finditer(text):
        opened = match.end() - 4
        if opened < position:
            continue  # inside a comment that closed
        if (position := _comment_end(text, opened)) < 0:
            return opened
    return None


def _shown_part(span: _Span, start: int, end: int) -> _Span:
    """The span from ``start`` to ``end`` (after a comment's end, before another's start),
    without the closed comments at its edges, nor the space beside them; it joins nothing
    across what was cut off before it. A comment inside a code span is code, and stays."""
    text = span.text
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    base = start
    codes = _code_spans(text[base:end]) if "`" in text[base:end] else []
    code_ends = [b for _, b in codes]

    def in_code(first: int, last: int) -> bool:
        n = bisect.bisect_right(code_ends, first - base)  # the first code span ending after ``first``
        return n < len(codes) and codes[n][0] < last - base

    # Closed comments at the end, then at the start; never all of the text.
    while text.endswith("-->", start, end) and (opened := text.rfind("<!--", start, end)) > start:
        if text.find("-->", opened + 2, end - 3) >= 0 or in_code(opened, end):
            break
        last = opened
        while last > start and text[last - 1].isspace():
            last -= 1
        if last == start:
            break
        end = last
    while text.startswith("<!--", start, end) and (closed := _comment_end(text, start, end)) > 0:
        if in_code(start, closed):
            break
        first = closed
        while first < end and text[first].isspace():
            first += 1
        if first >= end:
            break
        start = first
    return _sliced(span, start, end)


def _shown_from(span: _Span, start: int) -> _Span:
    """The span from ``start`` (after a comment's end), without the space there; it joins
    nothing across what was cut off before it."""
    text = span.text
    while start < len(text) and text[start].isspace():
        start += 1
    return _sliced(span, start, len(text))


def _sliced(span: _Span, start: int, end: int) -> _Span:
    """``span.text[start:end]`` as a span; one that lost its start joins nothing before it."""
    if start == 0:
        return replace(span, text=span.text[:end])
    return replace(span, start=span.start + start, text=span.text[start:end], gap=None)


def _markdown_left_out(spans: Iterable[_Span]) -> Iterator[_Span]:
    """Markdown spans, with what a reader of the rendered page does not read as its text
    marked as left out: a table of contents, a paragraph that is only markup (a row of
    badges, a logo in HTML, link definitions, a thematic break), HTML comments (a paragraph
    with text loses those at its edges). Never in code: a fenced block, whose blank lines
    make it several spans, or an indented one; never a heading."""
    fence: str | None = None  # the delimiter of the code block open at the span's start
    # Inside an HTML comment not yet closed: its spans, each as read if it never closes and
    # as it is if it does.
    comment: list[tuple[_Span, _Span]] | None = None
    cut_after = False  # the last span handed on lost its end: the next joins nothing across it

    def handed(*versions: _Span) -> list[_Span]:
        """The versions of the next span to hand on, joining nothing if the last lost its end."""
        nonlocal cut_after
        was, cut_after = cut_after, False
        return [replace(version, gap=None) for version in versions] if was else list(versions)

    for span in spans:
        start = 0  # where the span's shown text starts: after a comment that closes in it
        if comment is not None:
            closed = span.text.find("-->")
            if closed < 0 and len(comment) < _COMMENT_SPANS:
                comment.append((span, replace(span, left_out=True)))
                continue
            if closed < 0:  # never closed: a stray "<!--"; what followed it is text
                yield from (as_read for as_read, _ in comment)
            else:
                yield from (hidden for _, hidden in comment)
                start, cut_after = closed + 3, True
            comment = None
        text = span.text[start:]
        in_code = fence is not None
        in_comment = False  # a line inside a comment opened in this span is no fence
        for line in text.splitlines() if "`" in text or "~" in text else ():
            if in_comment:
                in_comment = "-->" not in line
            elif fence is None and _opens_comment(line):
                in_comment = True
            elif delimiter := _FENCE.match(line):
                in_code = True
                if fence is None:
                    fence = delimiter.group(1)
                elif _closes(fence, delimiter.group(1), line[delimiter.end() :]):
                    fence = None
        # The span is stripped: its first line's indentation ends the gap before it.
        indented = start == 0 and span.gap is not None and len(span.gap.rsplit("\n", 1)[-1].expandtabs(4)) >= 4
        if span.new_section or in_code or indented:
            # Code shows its markup; after a comment that closes in it, the rest is read.
            [shown_span] = handed(span if start == 0 else _shown_from(span, start))
            if shown_span.text:
                yield shown_span
            continue
        opened = _unclosed_comment(text)
        shown = text if opened is None else text[:opened]
        if start == 0 and opened is None and text[0] == "<" and _HTML_HEADING.fullmatch(text):
            yield from handed(replace(span, new_section=True))
        elif start == 0 and opened is None and _table_of_contents(span.text):
            yield from handed(replace(span, left_out=True, takes_heading=True))
        elif _shows_no_text(shown):
            badges = _BADGE.search(shown) is not None
            short = opened is None and len(span.text) <= _HOLDABLE_CHARS
            hidden = replace(span, left_out=True, takes_heading=badges, holdable=short and not badges)
            if opened is None:
                yield from handed(hidden)
            else:
                as_read = span if start == 0 else _shown_from(span, start)
                comment = [tuple(handed(as_read, hidden))]
        elif not start and opened is None and "<!--" not in shown:
            yield from handed(span)  # most paragraphs
        else:
            part = _shown_part(span, start, start + len(shown))
            if opened is not None:
                as_read = span if start == 0 else _shown_from(span, start)
                as_read, part = handed(as_read, part)
                comment = [(as_read, part)]
                continue
            yield from handed(part)
            cut_after = part.start + len(part.text) < span.start + len(span.text)
    if comment:
        yield from (as_read for as_read, _ in comment)


def _table_of_contents(text: str) -> bool:
    if _CONTENTS_MARKER.fullmatch(text) is not None:
        return True
    if "](#" not in text:  # every item links to a heading of the page
        return False
    lines = text.splitlines()
    return len(lines) >= _CONTENTS_ITEMS and all(_CONTENTS_ITEM.fullmatch(line) for line in lines)


def _closes(fence: str | None, delimiter: str, rest: str) -> bool:
    return fence is not None and delimiter[0] == fence[0] and len(delimiter) >= len(fence) and not rest.strip()


class _ParagraphBuilder:
    """Accumulates one paragraph's raw lines and the whitespace since the last span."""

    def __init__(self) -> None:
        self.offset = 0  # document offset of the first raw character held (or of the next one)
        self.parts: list[str] = []
        self.length = 0
        self.gap: list[str] = []
        self.gap_length = 0

    def append(self, part: str) -> None:
        self.parts.append(part)
        self.length += len(part)

    def skip(self, whitespace: str) -> None:
        """Whitespace outside any paragraph: it only separates spans."""
        self._add_gap(whitespace)
        self.offset += len(whitespace)

    def _add_gap(self, whitespace: str) -> None:
        self.gap_length += len(whitespace)
        if self.gap_length <= PARAGRAPH_CHAR_LIMIT:
            self.gap.append(whitespace)

    def flush(self, new_section: bool = False, left_out: bool = False) -> Iterator[_Span]:
        raw = "".join(self.parts)
        self.parts, self.length = [], 0
        yield from self._emit(raw, new_section, left_out)

    def cut(self) -> Iterator[_Span]:
        """Hand on the paragraph so far up to its last sentence end (else whitespace)."""
        raw = "".join(self.parts)
        cut = 0
        for match in _SENTENCE_END.finditer(raw):
            cut = match.end()
        if cut == 0 or raw[:cut].isspace():
            stripped = raw.rstrip()
            last_space = max((m.end() for m in re.finditer(r"\s+\S", stripped)), default=0)
            cut = last_space - 1 if last_space > 0 else len(raw)
        yield from self._emit(raw[:cut], False)
        rest = raw[cut:]
        self.parts, self.length = ([rest], len(rest)) if rest else ([], 0)

    def _emit(self, raw: str, new_section: bool, left_out: bool = False) -> Iterator[_Span]:
        stripped = raw.strip()
        if not stripped:
            self.skip(raw)
            return
        lead = len(raw) - len(raw.lstrip())
        self._add_gap(raw[:lead])
        gap = "".join(self.gap) if self.gap_length <= PARAGRAPH_CHAR_LIMIT else None
        yield _Span(
            self.offset + lead,
            stripped,
            gap,
            new_section,
            page_break=gap is not None and "\f" in gap,
            left_out=left_out,
        )
        trailing = raw[lead + len(stripped) :]
        self.gap, self.gap_length = [], 0
        self._add_gap(trailing)
        self.offset += len(raw)
