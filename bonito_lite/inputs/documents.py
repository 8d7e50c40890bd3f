"""Finding the user's documents and reading them, without copying their text anywhere.

Inputs are files, folders (searched recursively for supported files, hidden entries skipped,
in sorted order; linked and unreadable subfolders are named in a warning, not followed), glob
patterns, and ``-`` for standard input. A folder or a pattern never yields a file bonito-lite
wrote (see ``_OwnFiles``); naming one is an ``InputError``.

* ``.txt``, ``.md``, ``.markdown`` and ``.text`` files are documents; each is cut into passages.
  ``#`` lines are headings in Markdown files (and on standard input and in table cells, whose
  format is not known), not in plain ``.txt`` and ``.text`` files.
* ``.jsonl``, ``.json``, ``.csv`` and ``.parquet`` files are tables: each row whose
  ``context_col`` holds text is one document, named ``path#row=N`` (N counts rows from 0; in
  JSON Lines, blank lines are not rows). Rows where that column is missing, null, empty or not
  text are skipped and counted in one warning per file. A ``.json`` file must be a list of
  objects; large tables belong in JSON Lines or Parquet, which are read a row (or a row group)
  at a time.
* ``.pdf``, ``.docx``, ``.html`` and ``.htm`` files are structured documents, read with the docs
  extra (``pip install "bonito-lite[docs]"``) into paragraphs and headings; each page of a PDF
  is one document, named ``path#page=N``. ``bonito_lite.inputs.formats`` says what is read
  from each format and what their offsets index. Naming such a file without the extra is an
  ``InputError`` with the install command; a folder or pattern skips them with one warning. An
  old Word ``.doc`` file is an ``InputError`` when named, a warning when found in a folder.

Text is read as UTF-8. For text files and standard input, a leading byte-order mark is
dropped and every ``\\r\\n`` and lone ``\\r`` becomes ``\\n``, so passage offsets index exactly
the string ``open(path, encoding="utf-8-sig").read()`` returns. A table row's offsets index the
cell's string as stored.

Problems with the inputs as given (a missing path, an unsupported file type, a folder with no
supported files, a column that is not there) raise ``InputError`` before any work starts;
a table that a folder or a pattern found, without the column or not a table at all, is
skipped with a warning instead, and named in ``DocumentSet.skipped``. A
problem found while reading one file only skips that file, with a warning naming it: a binary
file (a NUL byte in its first 8 KiB), a file that is not valid UTF-8 (the warning names its
likely encoding when there is enough non-ASCII text to tell), an empty file. Standard
input is checked as it streams; if it turns out not to be UTF-8, the passages before the bad
byte are kept and the rest is skipped with a warning.

Files are read in blocks, so memory stays flat whatever their size (PDFs a page at a time;
DOCX and HTML files are parsed whole, as their libraries do). Standard input can be read
only once, so its text is kept in memory after the first reading for the next one.
"""

from __future__ import annotations

import codecs
import csv
import functools
import glob
import io
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import InputError, UnreadableDocumentError, one_line
from ..export import FORMATS as EXPORT_SUFFIXES
from ..record import CONTEXT, INPUT, OUTPUT, TASK_TYPE, UNIT
from ..sinks import MANIFEST_SUFFIX, OUTPUT_SUFFIX, manifest_path, sibling_path
from . import formats
from .chunking import (
    BLOCK_SEPARATOR,
    DEFAULT_CHUNK_TOKENS,
    Block,
    Passage,
    split_blocks,
    split_passages,
)

log = logging.getLogger(__name__)

STDIN = "-"
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
PLAIN_TEXT_SUFFIXES = (".txt", ".text")
TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + TABLE_SUFFIXES + formats.FORMAT_SUFFIXES

_BLOCK_BYTES = 1 << 20
# Like git and grep: a NUL byte near the start means the file is not text.
_BINARY_SNIFF_BYTES = 8192
_COLUMNS_SHOWN = 20


@dataclass(frozen=True)
class Document:
    """One input unit: a text file, standard input, one row of a table, a DOCX or HTML file,
    or one page of a PDF.

    ``source`` names it in records: the path as given, ``-`` for standard input, or
    ``path#row=N`` for a table row. The text is read only when asked for.
    """

    source: str
    # "file", "stdin", "text" (a table row or a string given directly), or "blocks" (a DOCX or
    # HTML file read by its format's reader, or a PDF page with its blocks already read)
    kind: str
    path: Path | None = None
    # Kept out of repr so that logging a document never prints its content.
    text: str | None = field(default=None, repr=False)
    _blocks: tuple[Block, ...] | None = field(default=None, repr=False, compare=False)
    _stdin: _StdinText | None = field(default=None, repr=False, compare=False)
    _notes: _WarnOnce | None = field(default=None, repr=False, compare=False)

    def text_chunks(self) -> Iterator[str]:
        """The document's text in order, in chunks of any size (see the module for decoding).

        Raises ``UnreadableDocumentError`` for a binary or non-UTF-8 file before yielding
        anything, and for standard input at the first bad byte.
        """
        if self.kind == "file":
            return _file_chunks(self.path, self.source)
        if self.kind == "blocks":
            return _separated(block.text for block in self.blocks())
        if self.kind == "stdin":
            return iter(self._stdin)
        return iter([self.text or ""])

    @property
    def markdown(self) -> bool:
        """Whether ``#`` lines are headings: not in a plain-text file."""
        return self.path is None or self.path.suffix.lower() not in PLAIN_TEXT_SUFFIXES

    def blocks(self) -> Iterator[Block] | None:
        """A structured document's paragraphs and headings; None for plain text."""
        if self.kind != "blocks":
            return None
        if self._blocks is not None:
            return iter(self._blocks)
        return formats.read_blocks(self.path, self.source)

    def read_text(self) -> str:
        """The whole text at once; passages' offsets index this string."""
        return "".join(self.text_chunks())

    def warn(self, message: str) -> None:
        """Log a warning about this document, once per run even when inputs are read twice."""
        (self._notes or _WarnOnce()).warn(message)


class DocumentSet:
    """The checked inputs of one run; iterating it (as often as needed) yields ``Document``s."""

    def __init__(self, inputs: Sequence[_Input], context_col: str, skipped: Sequence[str] = ()) -> None:
        self.inputs = tuple(inputs)
        self.context_col = context_col
        # Files a folder or a pattern found that are not tables of text (one warning each).
        self.skipped = tuple(skipped)
        self._notes = _WarnOnce()

    def __iter__(self) -> Iterator[Document]:
        for item in self.inputs:
            if item.kind in ("file", "stdin"):
                yield Document(item.source, item.kind, item.path, _stdin=item.stdin, _notes=self._notes)
            elif item.kind == formats.PDF_SUFFIX:
                yield from _pdf_pages(item, self._notes)
            elif item.kind in formats.FORMAT_SUFFIXES:
                yield Document(item.source, "blocks", item.path, _notes=self._notes)
            else:
                yield from _table_rows(item, self.context_col, self._notes)


def find_documents(
    inputs: Sequence[str],
    *,
    context_col: str = "text",
    stdin: TextIO | None = None,
) -> DocumentSet:
    """Resolve files, folders, globs and ``-`` into documents, checking them before any work.

    Raises ``InputError`` (one line) for a missing path, a pattern that matches nothing, a
    folder without supported files, an unsupported file type, an unreadable file, a file
    bonito-lite wrote, or a table without ``context_col`` (the message lists its columns).
    A folder or a pattern passes over bonito-lite's own files in silence, and skips a table it
    cannot use with one warning each (``DocumentSet.skipped`` names them). Reading happens
    on iteration.
    """
    if not inputs:
        raise InputError("no input given; name files, folders, glob patterns, or - for stdin.")
    found: list[_Input] = []
    seen: set[str] = set()
    for given in inputs:
        if given == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                stream = stdin if stdin is not None else sys.stdin
                found.append(_Input(STDIN, "stdin", None, _StdinText(stream)))
            continue
        for item in _expand(given):
            key = os.path.realpath(item.path)
            if key not in seen:
                seen.add(key)
                found.append(item)
    kept: list[_Input] = []
    skipped: list[str] = []
    for item in found:
        if item.kind in TABLE_SUFFIXES:
            try:
                _check_table(item, context_col)
            except _OwnFileError:
                if item.named:
                    raise
                continue
            except InputError as error:
                if item.named:
                    raise
                log.warning("%s", _skipped_message(str(error)))
                skipped.append(item.source)
                continue
        kept.append(item)
    if not kept and skipped:
        raise InputError(
            f"no table among the inputs has a {context_col!r} column (see the warnings above); "
            "choose the text column with --context-col."
        )
    return DocumentSet(kept, context_col, skipped)


def iter_passages(
    documents: Iterable[Document],
    *,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> Iterator[Passage]:
    """Cut each document into passages, in order; unreadable or empty documents are skipped
    with a warning naming them."""
    for document in documents:
        blocks = document.blocks()
        if blocks is not None:
            reader = _GuardedChunks(blocks)
            split = split_blocks
        else:
            reader = _GuardedChunks(document.text_chunks())
            split = functools.partial(split_passages, markdown=document.markdown)
        produced = 0
        for passage in split(reader, document.source, count_tokens=count_tokens, chunk_tokens=chunk_tokens):
            produced += 1
            yield passage
        if reader.error is not None:
            document.warn(str(reader.error))
        elif produced == 0:
            document.warn(f"{document.source}: no text; skipped.")


# ---------------------------------------------------------------------------------------------
# Finding inputs


@dataclass(frozen=True)
class _Input:
    source: str
    kind: str  # "file", "stdin", or a table or structured-document suffix
    path: Path | None
    stdin: _StdinText | None = None
    named: bool = True  # named by the user, not found by a folder or a pattern


class _OwnFileError(InputError):
    """A file bonito-lite wrote was named as an input."""


def _own_file_message(source: str) -> str:
    return (
        f"{source}: a file bonito-lite wrote (generated examples, rejects, a manifest or an "
        "export), not a document; name the documents it was made from."
    )


def _skipped_message(message: str) -> str:
    return message.rstrip(".") + "; skipped."


class _OwnFiles:
    """Recognises bonito-lite's own files by name, so that a folder scan never reads them.

    They are: files named like a default output (``*.bonito.jsonl`` and everything named
    after one), and, beside a manifest bonito-lite wrote, the output it describes and the
    files named after that output (rejects, exports, and ``<stem>.<word>.<ext>`` files that
    other commands write beside it). Folders are looked at once each.
    """

    _MARKER = Path(OUTPUT_SUFFIX).stem + "."  # ".bonito."
    _SIBLING = re.compile(r"[^./\\]+\.(?:jsonl|json|parquet|html|hf)", re.IGNORECASE)

    def __init__(self) -> None:
        self._outputs: dict[str, list[str]] = {}

    def __contains__(self, full: str) -> bool:
        folder, name = os.path.split(full)
        if self._MARKER in name.lower() and Path(name).suffix.lower() in _OWN_SUFFIXES:
            return True
        for output in self._outputs_in(folder):
            stem = sibling_path(Path(output), "").name
            if name in (output, manifest_path(Path(output)).name):
                return True
            if name.startswith(stem + ".") and (
                name in self._exports(output) or self._SIBLING.fullmatch(name[len(stem) + 1 :])
            ):
                return True
        return False

    @staticmethod
    def _exports(output: str) -> set[str]:
        return {sibling_path(Path(output), suffix).name for suffix in EXPORT_SUFFIXES.values()}

    def _outputs_in(self, folder: str) -> list[str]:
        if folder not in self._outputs:
            try:
                names = os.listdir(folder or ".")
            except OSError:
                names = []
            self._outputs[folder] = [
                name[: -len(MANIFEST_SUFFIX)]
                for name in names
                if name.endswith(MANIFEST_SUFFIX) and _is_manifest(os.path.join(folder, name))
            ]
        return self._outputs[folder]


# The kinds of file bonito-lite writes that a scan could mistake for inputs.
_OWN_SUFFIXES = (".jsonl", ".json", ".parquet", ".hf", ".html")
# Every manifest names the version that wrote it near its start.
_MANIFEST_KEY = b'"bonito_lite_version"'
# A generated record carries these; no document table needs all of them.
_RECORD_KEYS = frozenset({INPUT, OUTPUT, TASK_TYPE, CONTEXT, UNIT})


def _is_manifest(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return _MANIFEST_KEY in handle.read(4096)
    except OSError:
        return False


def _kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "file"
    if suffix in TABLE_SUFFIXES or suffix in formats.FORMAT_SUFFIXES:
        return suffix
    return None


def _supported_list() -> str:
    return ", ".join(SUPPORTED_SUFFIXES)


def is_pattern(given: str) -> bool:
    """Whether an input is a glob pattern rather than a path."""
    return any(magic in given for magic in _GLOB_MAGIC)


def pattern_base(given: str) -> str:
    """The part of an input before any glob character: ``docs/*.md`` → ``docs/``."""
    cut = min((given.find(magic) for magic in _GLOB_MAGIC if magic in given), default=len(given))
    return given[:cut]


_GLOB_MAGIC = "*?["


def _expand(given: str) -> Iterator[_Input]:
    path = Path(given)
    if path.is_dir():
        scan = _Scan()
        items = scan.files(scan.walk(given))
        if not items:
            raise InputError(
                scan.nothing_readable(
                    given,
                    f"{given}: no supported files in this folder ({_supported_list()}); "
                    "hidden files and folders are skipped.",
                )
            )
        scan.report(given)
        yield from items
        return
    if path.exists():
        kind = _kind_of(path)
        if kind is None:
            if path.suffix.lower() == formats.OLD_WORD_SUFFIX:
                raise InputError(formats.old_word_message(given))
            raise InputError(
                f"{given}: unsupported file type {path.suffix or '(no extension)'!r}; "
                f"bonito-lite reads {_supported_list()} (convert other formats to text first)."
            )
        if (hint := formats.missing_extra(kind)) is not None:
            raise InputError(f"{given}: {hint}")
        if given in _OwnFiles():
            raise _OwnFileError(_own_file_message(given))
        yield _checked_file(given, kind)
        return
    if is_pattern(given):
        matches = sorted(glob.glob(given, recursive=True))
        scan = _Scan()
        items: list[_Input] = []
        for match in matches:
            if os.path.isdir(match):
                items.extend(scan.files(scan.walk(match)))
            else:
                items.extend(scan.files([match]))
        if not items:
            what = "nothing" if not matches else "no supported files"
            raise InputError(
                scan.nothing_readable(given, f"{given}: the pattern matches {what} ({_supported_list()}).")
            )
        scan.report(given)
        yield from items
        return
    raise InputError(f"{given}: no such file or folder.")


class _Scan:
    """Files found by a folder or a pattern: unsupported ones and bonito-lite's own files are
    passed over in silence; old Word files, unreadable files, and folders that cannot be read
    or are links with a warning each; files whose format needs the missing docs extra with
    one warning for them all."""

    def __init__(self) -> None:
        self.hints: dict[str, str | None] = {}
        self.needs_extra: dict[str, int] = {}
        self.own = _OwnFiles()

    def files(self, paths: Iterable[str]) -> list[_Input]:
        items = []
        for full in paths:
            kind = _kind_of(Path(full))
            if kind is None:
                if Path(full).suffix.lower() == formats.OLD_WORD_SUFFIX:
                    log.warning("%s", formats.old_word_message(full, skipped=True))
                continue
            if full in self.own:
                continue
            if kind not in self.hints:
                self.hints[kind] = formats.missing_extra(kind)
            if self.hints[kind] is not None:
                self.needs_extra[kind] = self.needs_extra.get(kind, 0) + 1
                continue
            try:
                items.append(_checked_file(full, kind, named=False))
            except InputError as error:
                log.warning("%s", _skipped_message(str(error)))
        return items

    def walk(self, folder: str) -> Iterator[str]:
        """The supported files under ``folder``, in sorted order, hidden entries left out."""
        found: list[tuple[str, str]] = []

        def unreadable(error: OSError) -> None:
            log.warning("%s: folder cannot be read (%s); skipped.", error.filename, error.strerror)

        for root, dirs, files in os.walk(folder, onerror=unreadable):
            # Hidden folders (.git, .venv, ...) hold tooling, not the user's documents.
            kept = []
            for name in sorted(d for d in dirs if not d.startswith(".")):
                full = os.path.join(root, name)
                if os.path.islink(full):
                    # Not followed: a link can lead back up the tree, or out of it.
                    log.warning("%s: a link to a folder, not followed; name it to read it.", full)
                elif full not in self.own:  # an export saved as a dataset folder
                    kept.append(name)
            dirs[:] = kept
            for name in files:
                if name.startswith("."):
                    continue
                suffix = Path(name).suffix.lower()
                if _kind_of(Path(name)) is not None or suffix == formats.OLD_WORD_SUFFIX:
                    full = os.path.join(root, name)
                    found.append((os.path.relpath(full, folder), full))
        for _, full in sorted(found):
            yield full

    def _hint(self) -> str:
        suffixes = ", ".join(sorted(self.needs_extra))
        return f"reading {suffixes} needs the docs extra: {formats.INSTALL_EXTRA}"

    def nothing_readable(self, given: str, message: str) -> str:
        if not self.needs_extra:
            return message
        count = sum(self.needs_extra.values())
        return f"{given}: {count} file(s) found, but {self._hint()}"

    def report(self, given: str) -> None:
        if self.needs_extra:
            count = sum(self.needs_extra.values())
            log.warning("%s: %d file(s) skipped; %s", given, count, self._hint())


def _checked_file(source: str, kind: str, named: bool = True) -> _Input:
    if not os.access(source, os.R_OK):
        raise InputError(f"{source}: cannot be read (permission denied).")
    return _Input(source, kind, Path(source), named=named)


# ---------------------------------------------------------------------------------------------
# Reading text


def _file_chunks(path: Path, source: str) -> Iterator[str]:
    with open(path, "rb") as binary:
        _check_not_binary(binary.read(_BINARY_SNIFF_BYTES), source)
        binary.seek(0)
        _check_utf8(binary, source)
        binary.seek(0)
        yield from _decoded(binary, source)


def _check_not_binary(head: bytes | str, source: str) -> None:
    if (b"\0" if isinstance(head, bytes) else "\0") in head:
        raise UnreadableDocumentError(
            f"{source}: looks binary (NUL bytes), or is UTF-16; skipped. Save it as UTF-8 text."
        )


def _check_utf8(binary: io.BufferedIOBase, source: str) -> None:
    """Decode the whole file once before using it, so a bad byte skips the file whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    head = b""
    while block := binary.read(_BLOCK_BYTES):
        head = head or block[:_ENCODING_SAMPLE_BYTES]
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


# Enough bytes to tell an encoding by, few enough to guess in milliseconds.
_ENCODING_SAMPLE_BYTES = 1 << 16
# Below this many non-ASCII bytes any guess at an encoding is a coin toss: none is named.
_ENCODING_EVIDENCE_BYTES = 8


def _not_utf8(source: str, offset: int, sample: bytes) -> UnreadableDocumentError:
    skipped = "the rest of it was skipped" if source == STDIN else "skipped"
    encoding = guess_encoding(sample)
    advice = (
        f"It looks like {encoding}; convert it first, e.g. iconv -f {encoding} -t UTF-8."
        if encoding
        else "Its encoding could not be told; convert it to UTF-8 first."
    )
    return UnreadableDocumentError(
        f"{source}: not valid UTF-8 (decoding as UTF-8 failed at byte {offset}); {skipped}. {advice}"
    )


def guess_encoding(sample: bytes) -> str | None:
    """The likely legacy encoding of text that is not UTF-8, named as iconv knows it, or None."""
    if sum(byte >= 0x80 for byte in sample) < _ENCODING_EVIDENCE_BYTES:
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None or best.encoding.startswith("utf"):
        return None
    return codecs.lookup(best.encoding).name.upper().replace("_", "-")


def _decoded(binary, source: str) -> Iterator[str]:
    """UTF-8 text with a leading BOM dropped and universal newlines, as ``open()`` reads it.

    At a bad byte, the text before it is yielded and ``UnreadableDocumentError`` raised.
    """
    decoder = io.IncrementalNewlineDecoder(codecs.getincrementaldecoder("utf-8")(), translate=True)
    consumed = 0
    at_start = True
    while True:
        block = binary.read(_BLOCK_BYTES)
        held = len(decoder.getstate()[0])
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            text = decoder.decode(block[: max(error.start - held, 0)])
            sample = block[max(error.start - _ENCODING_SAMPLE_BYTES // 2, 0) :][:_ENCODING_SAMPLE_BYTES]
            block = b""
            failed_at = consumed - held + error.start
        else:
            failed_at = None
        consumed += len(block)
        if text and at_start:
            text, at_start = text.removeprefix("\ufeff"), False
        if text:
            yield text
        if failed_at is not None:
            raise _not_utf8(source, failed_at, sample)
        if not block:
            return


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


class _StdinText:
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
            _check_not_binary(first[:_BINARY_SNIFF_BYTES], STDIN)
            if first:
                yield first
            yield from chunks
            return
        head = binary.read(_BINARY_SNIFF_BYTES)
        _check_not_binary(head, STDIN)
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


def _separated(texts: Iterable[str]) -> Iterator[str]:
    """Block texts with the separator between them: the text a structured document's offsets index."""
    for number, text in enumerate(texts):
        if number:
            yield BLOCK_SEPARATOR
        yield text


def _pdf_pages(item: _Input, notes: _WarnOnce) -> Iterator[Document]:
    """One document per PDF page with text, read a page at a time; an unreadable file warns."""
    try:
        for number, blocks in formats.read_pdf_pages(item.path, item.source, notes.warn):
            yield Document(
                f"{item.source}#page={number}",
                "blocks",
                item.path,
                _blocks=tuple(blocks),
                _notes=notes,
            )
    except UnreadableDocumentError as error:
        notes.warn(str(error))


class _GuardedChunks:
    """Passes chunks on; an unreadable document ends the text early and keeps the error."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self.chunks = chunks
        self.error: UnreadableDocumentError | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self.chunks
        except UnreadableDocumentError as error:
            self.error = error


class _WarnOnce:
    """Inputs are read more than once per run (counting, then generating); warn once."""

    def __init__(self) -> None:
        self.said: set[str] = set()

    def warn(self, message: str) -> None:
        if message not in self.said:
            self.said.add(message)
            log.warning("%s", message)


# ---------------------------------------------------------------------------------------------
# Tables


def _columns_message(source: str, column: str, columns: Sequence[str]) -> InputError:
    shown = ", ".join(repr(str(c)) for c in list(columns)[:_COLUMNS_SHOWN])
    if len(columns) > _COLUMNS_SHOWN:
        shown += f", and {len(columns) - _COLUMNS_SHOWN} more"
    return InputError(
        f"{source}: no column {column!r} (columns: {shown or 'none'}); choose the text column with --context-col."
    )


def _check_table(item: _Input, column: str) -> None:
    """Check the shape and the column from the table's first record; rows are read later."""
    try:
        if item.kind == ".parquet":
            _check_parquet(item, column)
            return
        if item.kind == ".csv":
            with open(item.path, encoding="utf-8-sig", newline="") as text:
                header = next(_csv_reader(text), None)
            if header is not None and column not in header:
                raise _columns_message(item.source, column, header)
            return
        first = _first_json_record(item)
        if first is not None and _RECORD_KEYS <= first.keys():
            raise _OwnFileError(_own_file_message(item.source))
        if first is not None and column not in first:
            raise _columns_message(item.source, column, list(first))
    except UnicodeDecodeError:
        return  # reading it skips it with the not-UTF-8 warning
    except csv.Error as error:
        raise InputError(f"{item.source}: not valid CSV ({one_line(error)}).") from None


def _first_json_record(item: _Input) -> dict | None:
    if item.kind == ".json":
        records = _load_json_list(item)
        return records[0] if records else None
    for number, record in _jsonl_values(item.path):
        if isinstance(record, json.JSONDecodeError):
            raise InputError(
                f"{item.source} line {number}: not valid JSON ({record.msg}); "
                "a .jsonl file holds one JSON object per line."
            )
        if not isinstance(record, dict):
            raise InputError(
                f"{item.source} line {number}: expected a JSON object per line, found {_json_type(record)}."
            )
        return record
    return None


def _jsonl_values(path: Path) -> Iterator[tuple[int, object]]:
    """Each non-blank line's number (from 1) and its JSON value, or the ``JSONDecodeError``
    it raised. Lines end at ``\\n`` only (a JSON string cannot hold one); the first may start
    with a byte-order mark."""
    with open(path, "rb") as binary:
        for number, raw in enumerate(binary, start=1):
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, error


def _load_json_list(item: _Input) -> list[dict]:
    with open(item.path, encoding="utf-8-sig") as text:
        try:
            records = json.load(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{item.source}: not valid JSON ({error.msg}, line {error.lineno}).") from None
    if not isinstance(records, list) or (records and not isinstance(records[0], dict)):
        found = _json_type(records) if not isinstance(records, list) else (f"a list of {_json_type(records[0])}s")
        raise InputError(
            f"{item.source}: expected a JSON list of objects (one per row), found {found}; "
            "for large tables use JSON Lines (.jsonl)."
        )
    return records


def _json_type(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _check_parquet(item: _Input, column: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(item.path)
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{item.source}: not a readable Parquet file ({one_line(error)}).") from None
    if _RECORD_KEYS <= set(schema.names):
        raise _OwnFileError(_own_file_message(item.source))
    if column not in schema.names:
        raise _columns_message(item.source, column, schema.names)
    kind = schema.field(column).type
    # A column of nulls only has type null: no text, which reading reports as a warning.
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
        or getattr(pa.types, "is_string_view", lambda _: False)(kind)
    ):
        raise InputError(
            f"{item.source}: column {column!r} holds {kind}, not text; choose the text column with --context-col."
        )


def _table_rows(item: _Input, column: str, notes: _WarnOnce) -> Iterator[Document]:
    """One document per row with text; skipped rows are counted and reported once per file."""
    counts = _RowCounts()
    try:
        if item.kind != ".parquet":
            with open(item.path, "rb") as binary:
                _check_utf8(binary, item.source)
        values = _column_values(item, column, counts)
        for row, value in enumerate(values):
            if value is _MALFORMED:
                continue  # counted where it was read
            if isinstance(value, str) and value.strip():
                counts.used += 1
                yield Document(f"{item.source}#row={row}", "text", text=value, _notes=notes)
            else:
                counts.empty += 1
    except UnreadableDocumentError as error:
        notes.warn(str(error))
        return
    except (csv.Error, InputError) as error:
        notes.warn(f"{item.source}: reading stopped at row {counts.total}: {one_line(error)}")
    counts.report(item.source, column, notes)


@dataclass
class _RowCounts:
    used: int = 0
    empty: int = 0
    malformed: int = 0

    @property
    def total(self) -> int:
        return self.used + self.empty + self.malformed

    def report(self, source: str, column: str, notes: _WarnOnce) -> None:
        if self.used == 0:
            notes.warn(f"{source}: no rows with text in column {column!r}; skipped.")
            return
        if self.empty:
            notes.warn(
                f"{source}: {self.empty} of {self.total} rows skipped "
                f"(column {column!r} missing, null, empty or not text)."
            )
        if self.malformed:
            notes.warn(f"{source}: {self.malformed} lines skipped (not a JSON object).")


def _column_values(item: _Input, column: str, counts: _RowCounts) -> Iterator[object]:
    """The column's value for every row, in order (``None`` where a row lacks it)."""
    if item.kind == ".parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(item.path) as table:
            # One row group at a time and only the one column: memory follows the row group.
            for group in range(table.num_row_groups):
                yield from table.read_row_group(group, columns=[column]).column(0).to_pylist()
        return
    if item.kind == ".json":
        for record in _load_json_list(item):
            yield record.get(column) if isinstance(record, dict) else None
        return
    if item.kind == ".csv":
        with open(item.path, encoding="utf-8-sig", newline="") as text:
            reader = _csv_reader(text)
            header = next(reader, None)
            if header is None or column not in header:
                return
            position = header.index(column)
            for record in reader:
                yield record[position] if position < len(record) else None
        return
    for _, record in _jsonl_values(item.path):
        if isinstance(record, dict):
            yield record.get(column)
        else:
            counts.malformed += 1
            # Keep row numbers tied to the file's lines: a bad line still takes its number.
            yield _MALFORMED


_MALFORMED = object()


def _csv_reader(text: TextIO):
    # Documents in cells are often longer than the csv module's default 128 KiB field limit
    # (a process-wide setting; raising it harms no other reader).
    csv.field_size_limit(2**31 - 1)
    return csv.reader(text)
