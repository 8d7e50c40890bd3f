"""Where records go: JSONL files appended and flushed line by line, stdout, manifests.

JSONL is the working format: one JSON object per line, written and flushed as soon as
it exists, so a stopped run loses nothing it finished.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from .errors import InputError, OutputExistsError


def rejected_path(output: Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.rejected.jsonl``."""
    return output.with_name(_stem_without_jsonl(output) + ".rejected.jsonl")


def manifest_path(output: Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.jsonl.manifest.json``."""
    return output.with_name(output.name + ".manifest.json")


def _stem_without_jsonl(path: Path) -> str:
    return path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.name


def check_output_writable(output: Path, overwrite: bool) -> None:
    """Refuse before any work starts: an existing output without --overwrite, a folder we cannot write."""
    if output.exists() and not overwrite:
        raise OutputExistsError(
            f"{output} already exists; pass --overwrite to replace it, or -o to write elsewhere."
        )
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"output folder {folder} does not exist; create it or choose another -o.")
    if not os.access(folder, os.W_OK):
        raise InputError(f"cannot write to {folder}; choose another -o.")


class JsonlWriter:
    """Appends one JSON object per line and flushes it, so each finished record is on disk."""

    def __init__(self, stream: IO[str], owns_stream: bool) -> None:
        self._stream = stream
        self._owns_stream = owns_stream
        self.count = 0

    @classmethod
    def open(cls, path: Path, overwrite: bool = False) -> "JsonlWriter":
        mode = "w" if overwrite else "a"
        return cls(open(path, mode, encoding="utf-8"), owns_stream=True)

    @classmethod
    def stdout(cls) -> "JsonlWriter":
        return cls(sys.stdout, owns_stream=False)

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()
        self.count += 1

    def close(self) -> None:
        if self._owns_stream:
            self._stream.close()
        else:
            self._stream.flush()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write under a temporary name in the same folder, then rename: never a half-written file."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
