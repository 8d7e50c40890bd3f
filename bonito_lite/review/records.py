"""A JSONL file read a record at a time: line offsets found as far as they are needed.

A review opens on the first example of a 100,000-line output at once: nothing is parsed
before the first screen, and the rest of the file is indexed (byte offsets of its lines,
and the ``unit`` of each) only as far as the reviewer moves, or by :meth:`RecordFile.index_all`
in the background.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from ..record import TASK_TYPE, UNIT

# Bytes read per step while looking for line ends.
_BLOCK = 1 << 20
# json.dumps writes the unit as the last field: ``..., "unit": "0123456789abcdef"}``.
_UNIT_MARK = f'"{UNIT}": "'.encode()
# Task type names are plain words: no quote or backslash to unescape.
_TASK_TYPE = re.compile(f'"{TASK_TYPE}": "([^"\\\\]*)"'.encode())


class RecordFile:
    """The whole lines of a JSONL file, by position; a half-written last line is not one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "rb")
        self._starts: list[int] = []  # byte offset of each whole line found so far
        self._ends: list[int] = []
        self._scanned = 0  # bytes looked at so far
        self._line_start = 0  # where the line being scanned began
        self._complete = False
        self._lock = threading.Lock()  # the background indexer and the screen share the handle
        self._cache: dict[int, dict[str, Any] | None] = {}

    def close(self) -> None:
        self._handle.close()

    @property
    def complete(self) -> bool:
        """True once every line of the file has been found."""
        return self._complete

    @property
    def known(self) -> int:
        """Lines found so far: the count once :attr:`complete`."""
        return len(self._starts)

    def has(self, position: int) -> bool:
        """True when line ``position`` exists, scanning only as far as it."""
        with self._lock:
            while len(self._starts) <= position and not self._complete:
                self._scan_block()
            return position < len(self._starts)

    def index_all(self, stop: threading.Event | None = None) -> int:
        """Find every line (stopping early when ``stop`` is set); return the count."""
        while not self._complete and not (stop is not None and stop.is_set()):
            with self._lock:
                self._scan_block()
        return len(self._starts)

    def __len__(self) -> int:
        self.index_all()
        return len(self._starts)

    def raw(self, position: int) -> bytes:
        """The bytes of line ``position``, without its newline; IndexError past the end."""
        if not self.has(position):
            raise IndexError(position)
        with self._lock:
            self._handle.seek(self._starts[position])
            return self._handle.read(self._ends[position] - self._starts[position])

    def record(self, position: int) -> dict[str, Any] | None:
        """Line ``position`` as a JSON object; None when it is not one (a damaged line)."""
        if position not in self._cache:
            try:
                value = json.loads(self.raw(position))
            except ValueError:
                value = None
            record = value if isinstance(value, dict) else None
            if len(self._cache) > 256:  # a few screens' worth, never the file
                self._cache.clear()
            self._cache[position] = record
            return record
        return self._cache.get(position)

    def unit(self, position: int) -> str | None:
        """The ``unit`` of line ``position``, read from the line's end without parsing it all."""
        line = self.raw(position).rstrip()
        mark = line.rfind(_UNIT_MARK)
        if mark >= 0:
            start = mark + len(_UNIT_MARK)
            end = line.find(b'"', start)
            if end > start and line[end:] == b'"}':
                return line[start:end].decode("ascii", "replace")
        record = self.record(position)  # the unit is not last: parse the line
        unit = record.get(UNIT) if record else None
        return unit if isinstance(unit, str) else None

    def task_type(self, position: int) -> str | None:
        """The ``task_type`` of line ``position``, found in the line without parsing it all."""
        found = _TASK_TYPE.search(self.raw(position))
        if found is not None:
            return found.group(1).decode("utf-8", "replace")
        record = self.record(position)
        task_type = record.get(TASK_TYPE) if record else None
        return task_type if isinstance(task_type, str) else None

    def _scan_block(self) -> None:
        """Read one block past what was scanned and note the whole lines that end in it."""
        start = self._scanned
        self._handle.seek(start)
        block = self._handle.read(_BLOCK)
        if not block:
            self._complete = True  # whatever follows the last newline is a half line
            return
        offset = 0
        while (newline := block.find(b"\n", offset)) >= 0:
            end = start + newline
            # A line that began in an earlier block is long, so not blank.
            blank = self._line_start >= start and not block[offset:newline].strip()
            if not blank:
                self._starts.append(self._line_start)
                self._ends.append(end)
            self._line_start = end + 1
            offset = newline + 1
        self._scanned = start + len(block)
