"""Records shaped like generate's (pipeline.py), and JSON Lines files of them, for the tests."""

from __future__ import annotations

import json
from pathlib import Path

# Where a record came from, in the order a line holds it: the on-disk format the tests hold
# the record type to, written here once.
PROVENANCE = [
    "task_type",
    "context",
    "source",
    "passage_index",
    "char_start",
    "char_end",
    "sample_index",
    "model",
    "seed",
]


def record(number: int = 0, *, context: str | None = None, start: int | None = None, **changes) -> dict:
    """Example ``number`` of a run, with every field generate writes: a question on its passage
    (``context``; by default one naming the number) whose answer occurs in it. The passage
    starts at ``start`` (by default 100 times the number); ``changes`` replace or add fields.
    """
    if context is None:
        context = f"Passage {number}: the Alder clinic opens at 7:{number:02d} and Dr. Haddad leads it."
    if start is None:
        start = 100 * number
    base = {
        "input": f"{context}\n\nQuestion {number}: when does the clinic open?",
        "output": f"7:{number:02d}",
        "task_type": "extractive question answering",
        "context": context,
        "source": "notes.md",
        "passage_index": number,
        "char_start": start,
        "char_end": start + len(context),
        "sample_index": 0,
        "model": "toy-bonito.gguf",
        "seed": 0,
        "unit": f"u{number:015d}",
    }
    return {**base, **changes}


def write_jsonl(path: Path, rows: list, tail: str = "") -> Path:
    """One JSON value per line, UTF-8 as generate writes it, then ``tail`` (a broken line, say)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + tail, encoding="utf-8")
    return path
