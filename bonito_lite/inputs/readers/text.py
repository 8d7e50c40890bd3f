"""Text files (``.txt``, ``.md``, ``.markdown``, ``.text``) and standard input, and the UTF-8
decoding that the other text-based readers share.

Each text file is one document, cut into passages. ``#`` lines are headings in Markdown files
(and on standard input and in table cells, whose format is not known), not in plain ``.txt``
and ``.text`` files.

Text is read as UTF-8. For text files and standard input, a leading byte-order mark is
dropped and every ``\\r\\n`` and lone ``\\r`` becomes ``\\n``, so passage offsets index exactly
the string ``open(path, encoding="utf-8-sig").read()`` returns.

A binary file (a NUL byte in its first 8 KiB), a file that is not valid UTF-8 (the warning
names its likely encoding when there is enough non-ASCII text to tell) is skipped whole
with a warning naming it. Standard input is checked as it streams; if it turns out not to be
UTF-8, the passages before the bad byte are kept and the rest is skipped with a warning.
Files are read in blocks, so memory stays flat whatever their size. Standard input can be
read only once, so its text is kept in memory after the first reading for the next one.
"""

from __future__ import annotations

import codecs
import functools
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ...errors import UnreadableDocumentError
from .base import Document, Reader, WarnOnce

STDIN = "-"
# Plain text: a "#" line is text, not a heading.
PLAIN_SUFFIXES = (".txt", ".text")

_BLOCK_BYTES = 1 << 20
# Like git and grep: a NUL byte near the start means the file is not text.
BINARY_SNIFF_BYTES = 8192
# Enough bytes to tell an encoding by, few enough to guess in milliseconds.
ENCODING_SAMPLE_BYTES = 1 << 16
# Below this many non-ASCII bytes any guess at an encoding is a coin toss: none is named.
_ENCODING_EVIDENCE_BYTES = 8


def _documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    yield Document(
        source,
        "file",
        path,
        markdown=path.suffix.lower() not in PLAIN_SUFFIXES,
        _chunks=functools.partial(_file_chunks, path, source),
        _notes=notes,
    )


READER = Reader(suffixes=(".txt", ".md", ".markdown", ".text"), documents=_documents)


def stdin_document(stdin: StdinText, notes: WarnOnce) -> Document:
    return Document(STDIN, "stdin", _chunks=stdin.__iter__, _notes=notes)


def _file_chunks(path: Path, source: str) -> Iterator[str]:
    with open(path, "rb") as binary:
        check_not_binary(binary.read(BINARY_SNIFF_BYTES), source)
        binary.seek(0)
        check_utf8(binary, source)
        binary.seek(0)
        yield from _decoded(binary, source)


def check_not_binary(head: bytes | str, source: str) -> None:
    if isinstance(head, bytes) and head.startswith(_UTF16_BOMS):
        # What Windows Notepad long saved as "Unicode".
        encoding = "UTF-32" if head.startswith(_UTF32_BOMS) else "UTF-16"
        raise UnreadableDocumentError(
            f"{source}: {encoding} text (it starts with a {encoding} byte-order mark); skipped. "
            f"Convert it first, e.g. iconv -f {encoding} -t UTF-8 {shlex.quote(source)} > converted.txt"
        )
    if (b"\0" if isinstance(head, bytes) else "\0") in head:
        raise UnreadableDocumentError(
            f"{source}: looks binary (NUL bytes), or is UTF-16; skipped. Save it as UTF-8 text."
        )


_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff", *_UTF32_BOMS)


def check_utf8(binary: io.BufferedIOBase, source: str) -> None:
    """Decode the whole file once before using it, so a bad byte skips the file whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    head = b""
    while block := binary.read(_BLOCK_BYTES):
        head = head or block[:ENCODING_SAMPLE_BYTES]
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(block)
        except UnicodeDecodeError as error:
            raise _not_utf8(source, consumed - pending + error.start, head) from None
        consumed += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise _not_utf8(source, consumed - len(decoder.getstate()[0]) + error.start, head) from None


def check_utf8_file(path: Path, source: str) -> None:
    """``check_utf8`` over a file by its path."""
    with open(path, "rb") as binary:
        check_utf8(binary, source)


def _not_utf8(source: str, offset: int, sample: bytes) -> UnreadableDocumentError:
    skipped = "the rest of it, from the sentence the byte is in, was skipped" if source == STDIN else "skipped"
    candidates = encoding_candidates(sample)
    if len(candidates) == 1:
        advice = f"It looks like {candidates[0]}; convert it first, e.g. iconv -f {candidates[0]} -t UTF-8."
    elif candidates:
        first, second = candidates
        advice = (
            f"It looks like {first} or {second} (too little text to tell which); see which shows it right, "
            f"e.g. iconv -f {first} -t UTF-8 FILE | head, then convert it."
        )
    else:
        advice = (
            "Its encoding could not be told; convert it to UTF-8 first, e.g. iconv -f ENCODING -t UTF-8 "
            "(windows-1252 for most Western text from Windows)."
        )
    return UnreadableDocumentError(
        f"{source}: not valid UTF-8 (decoding as UTF-8 failed at byte {offset}); {skipped}. {advice}"
    )


def guess_encoding(sample: bytes) -> str | None:
    """The likely legacy encoding of text that is not UTF-8, named as iconv knows it, or None."""
    candidates = encoding_candidates(sample)
    return candidates[0] if candidates else None


# Windows-1252, the legacy encoding of most Western European text, and the two that read
# the same bytes as other letters of the Latin alphabet (Central European).
_WESTERN = "cp1252"
_CENTRAL = ("cp1250", "iso8859_2")
# Western text is mostly ASCII letters with an accent here and there; Cyrillic or Greek bytes
# read as Windows-1252 are accented letters nearly throughout.
_WESTERN_ACCENTED_SHARE = 0.3


def encoding_candidates(sample: bytes) -> list[str]:
    """The one or two legacy encodings text that is not UTF-8 is likely in, most likely first.

    On a few sentences the detector is unreliable between the Latin-alphabet encodings (it
    took three sentences of French for Baltic DOS, CP775), and converting with the wrong one
    turns "crème" into another letter for good. So text that reads as Western European in
    Windows-1252 (accented letters, few of them) is named Windows-1252, and when the
    detector says Central European, both are named: "crème" in one is "crčme" in the other.
    """
    if sum(byte >= 0x80 for byte in sample) < _ENCODING_EVIDENCE_BYTES:
        return []
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    guess = None if best is None or best.encoding.startswith("utf") else best.encoding
    if _reads_as_western(sample):
        # German's umlauts and "ß" are the same bytes in both: then there is nothing to choose.
        differ = guess in _CENTRAL and sample.decode(guess, errors="replace") != sample.decode(_WESTERN)
        names = [_WESTERN, guess] if differ else [_WESTERN]
    else:
        names = [guess] if guess else []
    return [codecs.lookup(name).name.upper().replace("_", "-") for name in names]


def _reads_as_western(sample: bytes) -> bool:
    # The sample may start or end inside a character of the real encoding; Windows-1252 has
    # one byte per character, so only its five unassigned bytes fail here.
    try:
        text = sample.decode(_WESTERN)
    except UnicodeDecodeError:
        return False
    letters = [c for c in text if c.isalpha()]
    accented = [c for c in letters if not c.isascii()]
    others = [c for c in text if not c.isascii() and not c.isalpha()]
    # Windows-1252's punctuation (quotes, dashes, the euro sign) is Western too; "³" or "¹"
    # is Polish "ł" or "ą" read as Windows-1252.
    return (
        bool(letters)
        and len(accented) <= _WESTERN_ACCENTED_SHARE * len(letters)
        and all(
            c in "\u20ac\u201a\u201e\u2026\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u00a0\u00ab\u00bb\u00b0"
            for c in others
        )
    )


def _decoded(binary, source: str) -> Iterator[str]:
    """UTF-8 text with a leading BOM dropped and universal newlines, as ``open()`` reads it.

    At a bad byte, the text before it back to a line or sentence end is yielded and
    ``UnreadableDocumentError`` raised: the sentence it cuts short ("Meet at the caf") would
    be a passage no one wrote. So the text after the last such end is held back until the
    next one comes (or the end, or :data:`_HELD_CHARS` of it).
    """
    decoder = io.IncrementalNewlineDecoder(codecs.getincrementaldecoder("utf-8")(), translate=True)
    consumed = 0
    at_start = True
    held_text = ""
    while True:
        block = binary.read(_BLOCK_BYTES)
        held = len(decoder.getstate()[0])
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            text = decoder.decode(block[: max(error.start - held, 0)])
            if decoder.getstate()[1] & 1:  # a "\r" held back in case "\n" followed: a line end
                text += "\n"
            sample = block[max(error.start - ENCODING_SAMPLE_BYTES // 2, 0) :][:ENCODING_SAMPLE_BYTES]
            block = b""
            failed_at = consumed - held + error.start
        else:
            failed_at = None
        consumed += len(block)
        if text and at_start:
            text, at_start = text.removeprefix("\ufeff"), False
        text, held_text = held_text + text, ""
        if failed_at is not None:
            text = _to_last_boundary(text)
        elif block and len(text) < _HELD_CHARS:
            cut = _last_boundary_end(text)
            text, held_text = text[:cut], text[cut:]
        if text:
            yield text
        if failed_at is not None:
            raise _not_utf8(source, failed_at, sample)
        if not block:
            return


# Text held back waiting for a line or sentence end, at most: a file of one endless line
# is still read in bounded memory.
_HELD_CHARS = 1 << 20


_BOUNDARY = re.compile(r"(?:[.!?][\"'\u201d\u2019)\]]*[ \t]|[\u3002\uff01\uff1f]|\n)")


def _to_last_boundary(text: str) -> str:
    """``text`` up to its last line end or sentence end; "" if it has none."""
    return text[: _last_boundary_end(text)]


def _last_boundary_end(text: str) -> int:
    end = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
    return end


def _normalised(stream: TextIO) -> Iterator[str]:
    """A text stream already decoded by its owner, with the same newline and BOM handling."""
    newlines = io.IncrementalNewlineDecoder(None, translate=True)
    first = True
    while block := stream.read(_BLOCK_BYTES):
        if first:
            block = block.removeprefix("\ufeff")
            first = False
        text = newlines.decode(block)
        if text:
            yield text
    text = newlines.decode("", final=True)
    if text:
        yield text


class StdinText:
    """Standard input, streamed once and kept, so that later readings replay it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.chunks: list[str] = []
        self.reader: Iterator[str] | None = None
        self.done = False
        self.error: UnreadableDocumentError | None = None

    def __iter__(self) -> Iterator[str]:
        # A reading may stop early (--limit); the next one replays what was read, then reads on.
        position = 0
        while True:
            if position < len(self.chunks):
                yield self.chunks[position]
                position += 1
                continue
            if self.done:
                if self.error is not None:
                    raise self.error
                return
            if self.reader is None:
                self.reader = self._read()
            try:
                self.chunks.append(next(self.reader))
            except StopIteration:
                self.done = True
            except UnreadableDocumentError as error:
                self.error, self.done = error, True

    def _read(self) -> Iterator[str]:
        binary = getattr(self.stream, "buffer", None)
        if binary is None:
            chunks = _normalised(self.stream)
            first = next(chunks, "")
            check_not_binary(first[:BINARY_SNIFF_BYTES], STDIN)
            if first:
                yield first
            yield from chunks
            return
        head = binary.read(BINARY_SNIFF_BYTES)
        check_not_binary(head, STDIN)
        yield from _decoded(_Prepended(head, binary), STDIN)


class _Prepended:
    """A binary stream with bytes already read put back in front."""

    def __init__(self, head: bytes, rest) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.rest.read(size)
