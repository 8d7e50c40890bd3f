"""What every table reader shares: one document per row whose text column holds text.

Each row whose ``context_col`` holds text is one document, named ``path#row=N`` (N counts
rows from 0; in JSON Lines, blank lines are not rows). Rows where that column is missing,
null, empty or not text are skipped and counted in one warning per file. A table row's
offsets index the cell's string as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError, UnreadableDocumentError, one_line
from .base import Columns, Document, Reader, WarnOnce

# A row a reader could not read as a record (a JSON Lines line that is not an object): it
# still takes its row number, and is counted apart from the rows without text.
MALFORMED = object()

# A reader's rows: the column's value for every row, in order (None where a row lacks it).
Values = Callable[[Path, str, str], Iterator[object]]


def reader(suffixes: tuple[str, ...], columns: Callable[[Path, str], Columns | None], values: Values) -> Reader:
    """A table's reader from how it reads its first record's columns and its column's values."""

    def documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
        return _row_documents(values(path, source, column), source, column, notes)

    return Reader(suffixes=suffixes, documents=documents, columns=columns)


def _row_documents(values: Iterator[object], source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    """One document per row with text; skipped rows are counted and reported once per file."""
    counts = _RowCounts()
    try:
        for row, value in enumerate(values):
            if value is MALFORMED:
                counts.malformed += 1
                if counts.malformed == 1:
                    # Told when met: a run stopped by --limit never reaches the count at the end.
                    notes.warn(f"{source}#row={row}: not a JSON object; skipped.")
            elif isinstance(value, str) and value.strip():
                counts.used += 1
                yield Document(f"{source}#row={row}", "text", text=value, _notes=notes)
            else:
                counts.empty += 1
    except UnreadableDocumentError as error:
        if counts.used:
            notes.warn(str(error))
        else:
            notes.skip(source, str(error))
        return
    except InputError as error:
        notes.warn(f"{source}: reading stopped at row {counts.total}: {one_line(error)}")
    counts.report(source, column, notes)


@dataclass
class _RowCounts:
    used: int = 0
    empty: int = 0
    malformed: int = 0

    @property
    def total(self) -> int:
        return self.used + self.empty + self.malformed

    def report(self, source: str, column: str, notes: WarnOnce) -> None:
        if self.used == 0:
            notes.skip(source, f"{source}: no rows with text in column {column!r}; skipped.")
            return
        if self.empty:
            notes.warn(
                f"{source}: {self.empty} of {self.total} rows skipped "
                f"(column {column!r} missing, null, empty or not text)."
            )
        if self.malformed > 1:
            notes.warn(f"{source}: {self.malformed} rows in all skipped (not a JSON object).")


def json_type(value: object) -> str:
    """How JSON names the type of a decoded value."""
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
