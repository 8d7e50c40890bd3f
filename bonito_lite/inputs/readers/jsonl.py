"""JSON Lines tables (``.jsonl``): one JSON object per line, read a line at a time.

Lines end at ``\\n`` only (a JSON string cannot hold one); the first may start with a
byte-order mark. A line that is not a JSON object is skipped and counted (it still takes its
row number); the first record must be one. The columns are the keys of the first
:data:`COLUMN_RECORDS` records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ...errors import InputError
from . import tables
from .base import Columns
from .text import check_utf8_file

# Records whose keys make up the columns: a column that only later rows fill (the first
# records are headers or metadata) is still found, without reading a large file twice.
COLUMN_RECORDS = 1000


def _columns(path: Path, source: str) -> Columns | None:
    names: dict[str, None] = {}
    for count, (number, record) in enumerate(_values(path)):
        if count == 0 and isinstance(record, json.JSONDecodeError):
            raise InputError(
                f"{source} line {number}: not valid JSON ({record.msg}); a .jsonl file holds one JSON object per line."
            )
        if count == 0 and not isinstance(record, dict):
            raise InputError(
                f"{source} line {number}: expected a JSON object per line, found {tables.json_type(record)}."
            )
        if count == COLUMN_RECORDS:
            break
        if isinstance(record, dict):
            names.update(dict.fromkeys(record))
    return Columns(list(names)) if names else None


def _column_values(path: Path, source: str, column: str) -> Iterator[object]:
    check_utf8_file(path, source)
    for _, record in _values(path):
        yield record.get(column) if isinstance(record, dict) else tables.MALFORMED


def _values(path: Path) -> Iterator[tuple[int, object]]:
    """Each non-blank line's number (from 1) and its JSON value, or the ``JSONDecodeError``
    it raised: the one decoding of a line, for the check and for the rows."""
    with open(path, "rb") as binary:
        for number, raw in enumerate(binary, start=1):
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, error


READER = tables.reader((".jsonl",), _columns, _column_values)
