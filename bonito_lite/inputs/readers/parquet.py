"""Parquet tables (``.parquet``), read a row group at a time and only the text column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ...errors import InputError, one_line
from . import tables
from .base import Columns


def _columns(path: Path, source: str) -> Columns:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{source}: not a readable Parquet file ({one_line(error)}).") from None
    return Columns(schema.names, {column.name: str(column.type) for column in schema if not _text(column.type)})


def _text(kind) -> bool:
    import pyarrow as pa

    # A column of nulls only has type null: no text, which reading reports as a warning.
    # A dictionary-encoded one (pandas' category) holds text when its values do.
    if pa.types.is_dictionary(kind):
        return _text(kind.value_type)
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
        or getattr(pa.types, "is_string_view", lambda _: False)(kind)
    )


def _column_values(path: Path, source: str, column: str) -> Iterator[object]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as table:
        # One row group at a time and only the one column: memory follows the row group.
        for group in range(table.num_row_groups):
            yield from table.read_row_group(group, columns=[column]).column(0).to_pylist()


READER = tables.reader((".parquet",), _columns, _column_values)
