"""Outputs to review: records shaped like generate's, a rejects file beside them."""

from __future__ import annotations

import json
from pathlib import Path

from record_factory import record, write_jsonl

TASKS = ("extractive question answering", "yes-no question answering")


def example(number: int, **changes) -> dict:
    """Example ``number``: its unit is ``u`` + the number, its answer occurs in its passage;
    the task types alternate."""
    return record(number, **{"task_type": TASKS[number % 2], **changes})


def rejected(number: int, parsed: bool = True) -> dict:
    """A reject: a filtered example (``parsed``) or a generation that did not parse."""
    record = example(number)
    if parsed:
        return {"reason": "answer_not_in_passage", "detail": "the answer does not occur", **record}
    for key in ("input", "output"):
        del record[key]
    return {"reason": "no_pipe", "generation": f"an unparsed generation {number}", **record}


def write_output(folder: Path, examples: int = 5, rejects: list[dict] | None = None) -> Path:
    """``notes.bonito.jsonl`` with examples 0..examples-1, and its rejects (by default 100 and 101)."""
    output = write_jsonl(folder / "notes.bonito.jsonl", [example(n) for n in range(examples)])
    if rejects is None:
        rejects = [rejected(100), rejected(101, parsed=False)]
    write_jsonl(folder / "notes.bonito.rejected.jsonl", rejects)
    return output


def sidecar_lines(output: Path) -> list[dict]:
    path = output.with_name(output.name.replace(".jsonl", ".review.jsonl"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
