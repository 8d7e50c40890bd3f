"""Cutting a document's text into passages that fit Bonito's prompt.

The rules, in order:

* Paragraphs (runs of lines separated by blank lines) are merged into one passage while the
  passage stays within ``chunk_tokens``, counted by the caller's ``count_tokens``.
* A Markdown ATX heading (a ``#`` line outside a fenced code block) starts a new passage, and
  belongs to the passage it starts.
* A paragraph longer than ``chunk_tokens`` is split at sentence ends, a sentence longer than
  that at whitespace, and a "word" longer than that between characters. The pieces are packed
  into passages the same way paragraphs are.
* Nothing is truncated or dropped except the whitespace between passages. Every passage is
  stripped, and ``text[char_start:char_end] == passage.text`` for the text it was cut from.
* The only passage that may exceed ``chunk_tokens`` is a single character the counter calls
  longer than that.

Text arrives as an iterable of string chunks of any size and passages leave as soon as they are
complete, so a file of any size is cut in bounded memory: a paragraph that grows past
``PARAGRAPH_CHAR_LIMIT`` characters is handed on in parts, cut at its last sentence end (else at
whitespace), and no passage grows beyond that many characters whatever the counter says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

DEFAULT_CHUNK_TOKENS = 384

# A paragraph with no blank line for this many characters is far beyond any passage a real
# tokenizer allows (384 tokens are a few thousand characters), so it is cut here to keep memory
# bounded; the same bound caps a passage for counters that call a huge "word" one token.
PARAGRAPH_CHAR_LIMIT = 1 << 20

# ATX heading: up to three spaces, one to six '#', then whitespace or the end of the line.
_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|\n|$)")
# Fenced code block delimiter; '#' lines inside a fence are code comments, not headings.
_FENCE = re.compile(r" {0,3}(?:```|~~~)")
# A sentence ends after '.', '!', '?' or an ellipsis (then any closing quotes or brackets) when
# whitespace follows, or after a CJK full stop, which needs no space after it.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s)|[\u3002\uff01\uff1f]+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Passage:
    """One piece of a document, with where it came from.

    ``char_start`` and ``char_end`` index the document's text as read (see
    ``bonito_lite.documents`` for what "as read" means for files, stdin and table rows).
    """

    text: str
    source: str
    index: int
    char_start: int
    char_end: int


@dataclass(frozen=True)
class _Span:
    """A stripped, non-empty stretch of the document, ready to be packed into passages."""

    start: int
    text: str
    # The exact whitespace between the previous span and this one; None when it was too long
    # to keep, which forbids joining the two.
    gap: str | None
    new_section: bool = False


def split_passages(
    text: str | Iterable[str],
    source: str,
    *,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> Iterator[Passage]:
    """Cut one document (a string, or its text as an iterable of chunks) into passages."""
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be at least 1")
    chunks = [text] if isinstance(text, str) else text

    def fits(candidate: str) -> bool:
        return len(candidate) <= PARAGRAPH_CHAR_LIMIT and count_tokens(candidate) <= chunk_tokens

    packer = _Packer(source, fits)
    for span in _paragraph_spans(chunks):
        for piece in _pieces(span, fits):
            passage = packer.add(piece)
            if passage is not None:
                yield passage
    passage = packer.flush()
    if passage is not None:
        yield passage


class _Packer:
    """Greedy packing: each piece joins the open passage if the result still fits."""

    def __init__(self, source: str, fits: Callable[[str], bool]) -> None:
        self.source = source
        self.fits = fits
        self.index = 0
        self.start = 0
        self.text = ""

    def add(self, piece: _Span) -> Passage | None:
        if self.text and not piece.new_section and piece.gap is not None:
            candidate = self.text + piece.gap + piece.text
            if self.fits(candidate):
                self.text = candidate
                return None
        finished = self.flush()
        self.start, self.text = piece.start, piece.text
        return finished

    def flush(self) -> Passage | None:
        if not self.text:
            return None
        passage = Passage(self.text, self.source, self.index, self.start, self.start + len(self.text))
        self.index += 1
        self.text = ""
        return passage


def _pieces(span: _Span, fits: Callable[[str], bool]) -> Iterator[_Span]:
    """The span itself if it fits, else its sentences, words or characters, packed to fit."""
    if fits(span.text):
        yield span
        return
    text = span.text
    previous_end = None
    for start, end in _split_to_fit(text, fits):
        if previous_end is None:
            yield _Span(span.start + start, text[start:end], span.gap, span.new_section)
        else:
            yield _Span(span.start + start, text[start:end], text[previous_end:start])
        previous_end = end


def _split_to_fit(text: str, fits: Callable[[str], bool]) -> Iterator[tuple[int, int]]:
    for start, end in _sentences(text):
        if fits(text[start:end]):
            yield start, end
            continue
        words = list(_WORD.finditer(text, start, end))
        yield from _pack(
            text,
            [w.start() for w in words],
            [w.end() for w in words],
            fits,
            split_unit=lambda a, b: _pack(text, range(a, b), range(a + 1, b + 1), fits),
        )


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    previous = 0
    for match in _SENTENCE_END.finditer(text):
        yield from _stripped(text, previous, match.end())
        previous = match.end()
    yield from _stripped(text, previous, len(text))


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    segment = text[start:end]
    lead = len(segment) - len(segment.lstrip())
    kept = len(segment.rstrip())
    if kept > lead:
        yield start + lead, start + kept


def _pack(
    text: str,
    starts: Sequence[int],
    ends: Sequence[int],
    fits: Callable[[str], bool],
    split_unit: Callable[[int, int], Iterator[tuple[int, int]]] | None = None,
) -> Iterator[tuple[int, int]]:
    """Runs of consecutive units (``text[starts[i]:ends[j]]``), each the longest that fits.

    Galloping then bisecting keeps the number of counts logarithmic in the number of units, so
    a sentence of a million words costs a few dozen counts per passage, not a million. A unit
    that does not fit on its own goes to ``split_unit``; without one, it is kept whole.
    """
    i, n = 0, len(starts)
    while i < n:
        def run_fits(k: int) -> bool:
            return fits(text[starts[i]:ends[i + k - 1]])

        if split_unit is not None and not run_fits(1):
            yield from split_unit(starts[i], ends[i])
            i += 1
            continue
        remaining = n - i
        good, bad = 1, remaining + 1
        while good < remaining:
            k = min(2 * good, remaining)
            if run_fits(k):
                good = k
            else:
                bad = k
                break
        while bad - good > 1:
            middle = (good + bad) // 2
            if run_fits(middle):
                good = middle
            else:
                bad = middle
        yield starts[i], ends[i + good - 1]
        i += good


def _lines(chunks: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """``(part, complete)``: each line with its ``\\n``; a line too long to hold comes in parts."""
    pending = ""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        if "\n" in chunk:
            lines = pending.split("\n")
            pending = lines.pop()
            for line in lines:
                yield line + "\n", True
        if len(pending) > PARAGRAPH_CHAR_LIMIT:
            yield pending, False
            pending = ""
    if pending:
        yield pending, True


def _paragraph_spans(chunks: Iterable[str]) -> Iterator[_Span]:
    """Paragraphs and heading lines of the text, stripped, with their offsets and gaps."""
    builder = _ParagraphBuilder()
    at_line_start = True
    in_fence = False
    for part, complete in _lines(chunks):
        if at_line_start and complete:
            if part.isspace():
                yield from builder.flush()
                builder.skip(part)
                continue
            if _FENCE.match(part):
                in_fence = not in_fence
            elif not in_fence and _HEADING.match(part):
                yield from builder.flush()
                builder.append(part)
                yield from builder.flush(new_section=True)
                continue
        builder.append(part)
        at_line_start = complete
        if builder.length > PARAGRAPH_CHAR_LIMIT:
            yield from builder.cut()
    yield from builder.flush()


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

    def flush(self, new_section: bool = False) -> Iterator[_Span]:
        raw = "".join(self.parts)
        self.parts, self.length = [], 0
        yield from self._emit(raw, new_section)

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

    def _emit(self, raw: str, new_section: bool) -> Iterator[_Span]:
        stripped = raw.strip()
        if not stripped:
            self.skip(raw)
            return
        lead = len(raw) - len(raw.lstrip())
        self._add_gap(raw[:lead])
        gap = "".join(self.gap) if self.gap_length <= PARAGRAPH_CHAR_LIMIT else None
        yield _Span(self.offset + lead, stripped, gap, new_section)
        trailing = raw[lead + len(stripped):]
        self.gap, self.gap_length = [], 0
        self._add_gap(trailing)
        self.offset += len(raw)
