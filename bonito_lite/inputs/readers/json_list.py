"""JSON tables (``.json``): a list of objects, one per row, loaded whole.

Large tables belong in JSON Lines or Parquet, which are read a row (or a row group) at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ...errors import InputError
from . import tables
from .base import Columns
from .text import check_utf8_file


def _columns(path: Path, source: str) -> Columns | None:
    records = _load(path, source)
    # Every record's keys: rows that lack the column are skipped one by one, not the file.
    names = dict.fromkeys(key for record in records if isinstance(record, dict) for key in record)
    return Columns(list(names)) if records else None


def _column_values(path: Path, source: str, column: str) -> Iterator[object]:
    check_utf8_file(path, source)
    for record in _load(path, source):
        yield record.get(column) if isinstance(record, dict) else None


def _load(path: Path, source: str) -> list[dict]:
    with open(path, encoding="utf-8-sig") as text:
        try:
            records = json.load(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{source}: not valid JSON ({error.msg}, line {error.lineno}).") from None
    if not isinstance(records, list) or (records and not isinstance(records[0], dict)):
        found = (
            tables.json_type(records)
            if not isinstance(records, list)
            else (f"a list of {tables.json_type(records[0])}s")
        )
        raise InputError(
            f"{source}: expected a JSON list of objects (one per row), found {found}; "
            "for large tables use JSON Lines (.jsonl)."
        )
    return records


READER = tables.reader((".json",), _columns, _column_values)
