"""CSV tables (``.csv``): the first line names the columns; read a row at a time."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ...errors import InputError, one_line
from . import tables
from .base import Columns
from .text import check_utf8_file


def _columns(path: Path, source: str) -> Columns | None:
    try:
        with open(path, encoding="utf-8-sig", newline="") as text:
            header = next(_csv_reader(text), None)
    except csv.Error as error:
        raise InputError(f"{source}: not valid CSV ({one_line(error)}).") from None
    return None if header is None else Columns(header)


def _column_values(path: Path, source: str, column: str) -> Iterator[object]:
    check_utf8_file(path, source)
    try:
        with open(path, encoding="utf-8-sig", newline="") as text:
            reader = _csv_reader(text)
            header = next(reader, None)
            if header is None or column not in header:
                return
            position = header.index(column)
            for record in reader:
                yield record[position] if position < len(record) else None
    except csv.Error as error:
        raise InputError(one_line(error)) from None


def _csv_reader(text: TextIO):
    # Documents in cells are often longer than the csv module's default 128 KiB field limit
    # (a process-wide setting; raising it harms no other reader).
    csv.field_size_limit(2**31 - 1)
    return csv.reader(text)


READER = tables.reader((".csv",), _columns, _column_values)
