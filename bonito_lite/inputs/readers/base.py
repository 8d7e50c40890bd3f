"""What a reader declares, and the documents it yields."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..chunking import BLOCK_SEPARATOR, Block

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One input unit: a text file, standard input, one row of a table, a DOCX, ODT or HTML file,
    or one page of a PDF.

    ``source`` names it in records: the path as given, ``-`` for standard input, or
    ``path#row=N`` for a table row. The text is read only when asked for.
    """

    source: str
    # "file", "stdin", "text" (a table row or a string given directly), or "blocks" (a DOCX,
    # ODT or HTML file read by its format's reader, or a PDF page with its blocks already read)
    kind: str
    path: Path | None = None
    # Kept out of repr so that logging a document never prints its content.
    text: str | None = field(default=None, repr=False)
    # Whether ``#`` lines are headings: not in a plain-text file.
    markdown: bool = True
    # How the text is read, by the reader that found the document: chunks of text, or blocks.
    _chunks: Callable[[], Iterator[str]] | None = field(default=None, repr=False, compare=False)
    _blocks: Callable[[], Iterator[Block]] | None = field(default=None, repr=False, compare=False)
    _notes: WarnOnce | None = field(default=None, repr=False, compare=False)

    def text_chunks(self) -> Iterator[str]:
        """The document's text in order, in chunks of any size (see ``readers.text`` for decoding).

        Raises ``UnreadableDocumentError`` for a binary or non-UTF-8 file before yielding
        anything, and for standard input at the first bad byte.
        """
        if self._blocks is not None:
            return _separated(block.text for block in self._blocks())
        if self._chunks is not None:
            return self._chunks()
        return iter([self.text or ""])

    def blocks(self) -> Iterator[Block] | None:
        """A structured document's paragraphs and headings; None for plain text."""
        return None if self._blocks is None else self._blocks()

    def read_text(self) -> str:
        """The whole text at once; passages' offsets index this string."""
        return "".join(self.text_chunks())

    def warn(self, message: str) -> None:
        """Log a warning about this document, once per run even when inputs are read twice."""
        (self._notes or WarnOnce()).warn(message)

    def skip(self, message: str) -> None:
        """Warn that this document is skipped; a whole file (not a table's row) is counted as one."""
        notes = self._notes or WarnOnce()
        if self.kind in ("file", "blocks") and self.path is not None:
            notes.skip(self.source, message)
        else:
            notes.warn(message)


class WarnOnce:
    """Inputs are read more than once per run (counting, then generating); warn once, and
    remember the files skipped while reading (in the order they were met)."""

    def __init__(self) -> None:
        self.said: set[str] = set()
        self.skipped: dict[str, None] = {}

    def warn(self, message: str) -> None:
        if message not in self.said:
            self.said.add(message)
            log.warning("%s", message)

    def skip(self, source: str, message: str) -> None:
        """Warn that the file ``source`` is skipped, and count it among the run's skipped files."""
        self.skipped[source] = None
        self.warn(message)


@dataclass(frozen=True)
class Columns:
    """A table's column names (from its header, its schema or its first record), and the
    columns typed as something other than text, with their type."""

    names: Sequence[str]
    not_text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    """One kind of file: its suffixes, the extra its libraries come with, and how it is read.

    ``documents(path, source, column, notes)`` yields the file's documents; warnings about
    them go through ``notes``. A table also has ``columns(path, source)``: what its first
    record holds (None when it has none), read before any work to check the text column.
    """

    suffixes: tuple[str, ...]
    documents: Callable[[Path, str, str, WarnOnce], Iterator[Document]]
    columns: Callable[[Path, str], Columns | None] | None = None
    # The extra to install for the libraries this reader imports (by their import names).
    extra: str | None = None
    libraries: tuple[str, ...] = ()
    # Where a file of this kind that only sends its reader on to another (an HTML redirect
    # page) sends them; None for a document. Folder scans pass such files over.
    redirect: Callable[[Path], str | None] | None = None

    def missing_extra(self, suffix: str) -> str | None:
        """The one-line hint when reading ``suffix`` files needs libraries that are not installed."""
        for module in self.libraries:
            try:
                importlib.import_module(module)
            except ImportError:
                return f"reading {suffix} needs the {self.extra} extra: {install_command(self.extra)}"
        return None


def install_command(extra: str) -> str:
    return f'pip install "bonito-lite[{extra}]"'


def _separated(texts: Iterable[str]) -> Iterator[str]:
    """Block texts with the separator between them: the text a structured document's offsets index."""
    for number, text in enumerate(texts):
        if number:
            yield BLOCK_SEPARATOR
        yield text


_ROMAN_NUMERALS = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


# Past these a letter or Roman numeral grows with the number (a "start" of 26 million would
# be a million letters): shown as decimals instead.
_MOST_LETTERS = 26 * 10
_MOST_ROMAN = 3999


def table_row(cells: Sequence[str]) -> Block | None:
    """A table row as one paragraph, its cells joined by `` | ``: the empty cells at its ends
    left out, an empty cell between two with text kept in its place (a value beside the wrong
    label otherwise); None for a row without text."""
    filled = [number for number, text in enumerate(cells) if text]
    return Block(" | ".join(cells[filled[0] : filled[-1] + 1])) if filled else None


def list_number(number: int, fmt: str, alphabetic: bool = False) -> str:
    """A list item's number in a format named as Word names them (``decimal``, ``lowerLetter``,
    ``upperRoman``...; HTML's ``type`` letters map onto them); others as decimals.

    Past z, Word repeats the letter (aa, bb); with ``alphabetic`` letters count on as
    browsers count them (CSS's alphabetic system: z, aa, ab ... az, ba).
    """
    if fmt in ("lowerLetter", "upperLetter") and alphabetic and number > 0:
        letters = ""
        while number:
            number, letter = divmod(number - 1, 26)
            letters = chr(ord("a") + letter) + letters
        return letters.upper() if fmt == "upperLetter" else letters
    if fmt in ("lowerLetter", "upperLetter") and number <= _MOST_LETTERS:
        letters = chr(ord("a") + (number - 1) % 26) * ((number - 1) // 26 + 1) if number > 0 else str(number)
        return letters.upper() if fmt == "upperLetter" else letters
    if fmt in ("lowerRoman", "upperRoman") and 0 < number <= _MOST_ROMAN:
        roman, rest = "", number
        for value, numeral in _ROMAN_NUMERALS:
            count, rest = divmod(rest, value)
            roman += numeral * count
        return roman.upper() if fmt == "upperRoman" else roman
    if fmt == "decimalZero":
        return f"{number:02d}"
    return str(number)
