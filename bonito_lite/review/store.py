"""The review sidecar: a person's decisions on the examples of one output, one line per key.

``notes.bonito.review.jsonl`` sits beside ``notes.bonito.jsonl``. Its first line says which
output it reviews; every later line is one decision, appended, flushed and synced as the key
is pressed, so that a closed terminal or a crash loses at most that key::

    {"review_of": "/data/notes.bonito.jsonl", "first_unit": "...", "first_rejected_unit": "...", "created": "..."}
    {"unit": "3f2a...", "decision": "keep", "time": "2026-11-30T11:02:13+00:00"}
    {"unit": "9c01...", "decision": "edit", "input": "...", "output": "...", "time": "..."}

Decisions: ``keep``; ``drop`` (left out of exports); ``edit`` (kept, with the edited
``input``/``output``); ``restore`` (a rejected example taken back in, with edits if any);
``reject`` (a taken-back example left rejected again). The last line for a unit is in force.
Each line carries the whole state of its unit, edits included, so that nothing has to be
replayed. The output itself is never rewritten.

The header names the output by its path and by the first unit of the output and of its
rejects: those lines never change when ``generate`` appends, so a rerun keeps earlier
decisions in force, while a sidecar beside another output (or a regenerated one) is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ResourceError
from ..record import INPUT, OUTPUT, UNIT
from ..resume import repair_partial_line
from ..sinks import JsonlWriter, rejected_path, review_path

KEEP = "keep"
DROP = "drop"
EDIT = "edit"
RESTORE = "restore"
REJECT = "reject"
DECISIONS = (KEEP, DROP, EDIT, RESTORE, REJECT)
# Decisions that put an example in the exported dataset.
INCLUDED = (KEEP, EDIT, RESTORE)

_REVIEW_OF = "review_of"


def sidecar_path(output: Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.review.jsonl``."""
    return review_path(output)


@dataclass(frozen=True)
class Decision:
    """What the reviewer said about one unit; ``input``/``output`` are None where not edited."""

    unit: str
    decision: str
    input: str | None = None
    output: str | None = None
    time: str = ""

    @property
    def edited(self) -> bool:
        return self.input is not None or self.output is not None

    @property
    def included(self) -> bool:
        return self.decision in INCLUDED

    def applied_to(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with this decision's edits in place."""
        changed = dict(record)
        if self.input is not None:
            changed[INPUT] = self.input
        if self.output is not None:
            changed[OUTPUT] = self.output
        return changed

    def as_line(self) -> dict[str, Any]:
        line: dict[str, Any] = {UNIT: self.unit, "decision": self.decision}
        if self.input is not None:
            line[INPUT] = self.input
        if self.output is not None:
            line[OUTPUT] = self.output
        line["time"] = self.time
        return line


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# What the sidecar is checked against -----------------------------------------------------------


def first_unit(path: Path) -> str | None:
    """The unit of the first whole record of ``path``; None when it has none (missing or empty)."""
    if not path.exists():
        return None
    with open(path, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                return None
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:
                    return None
                unit = record.get(UNIT) if isinstance(record, dict) else None
                return unit if isinstance(unit, str) else None
    return None


def header_for(output: Path) -> dict[str, Any]:
    return {
        _REVIEW_OF: str(output.resolve()),
        "first_unit": first_unit(output),
        "first_rejected_unit": first_unit(rejected_path(output)),
        "created": now(),
    }


def _check_header(sidecar: Path, header: Any, output: Path) -> None:
    """Refuse a sidecar that reviews another output, saying why."""
    if not isinstance(header, dict) or _REVIEW_OF not in header:
        raise InputError(
            f"{sidecar} is not a bonito-lite review (its first line names no output); "
            "move it aside to start a new review."
        )
    written_for = header.get(_REVIEW_OF)
    for key, path in (("first_unit", output), ("first_rejected_unit", rejected_path(output))):
        recorded, current = header.get(key), first_unit(path)
        # A file that was empty then may have records now: generate appended to it.
        if recorded is not None and recorded != current:
            raise InputError(
                f"{sidecar} reviews another output ({written_for}, whose first "
                f"{'example' if key == 'first_unit' else 'reject'} is unit {recorded}; "
                f"{path.name} starts with {current or 'nothing'}); move it aside to start a new review."
            )


# Reading -----------------------------------------------------------------------------------------


def _lines(sidecar: Path) -> Iterator[tuple[int, bytes]]:
    """Whole lines: a last line without its newline (a kill while writing it) is left out."""
    with open(sidecar, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.endswith(b"\n") and line.strip():
                yield number, line


def _decision(sidecar: Path, number: int, line: bytes) -> Decision:
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    ok = (
        isinstance(data, dict)
        and isinstance(data.get(UNIT), str)
        and data.get("decision") in DECISIONS
        and all(isinstance(data.get(k), (str, type(None))) for k in (INPUT, OUTPUT, "time"))
    )
    if not ok:
        raise InputError(f"{sidecar} line {number} is not a review decision; fix or remove that line.")
    return Decision(data[UNIT], data["decision"], data.get(INPUT), data.get(OUTPUT), data.get("time") or "")


def read_decisions(output: Path, sidecar: Path | None = None) -> dict[str, Decision] | None:
    """The decision in force for each unit of ``output``'s review; None when it has no sidecar.

    Refuses (:class:`InputError`) a sidecar written for another output, or a damaged line.
    """
    sidecar = sidecar or sidecar_path(output)
    if not sidecar.exists():
        return None
    decisions: dict[str, Decision] = {}
    header_seen = False
    for number, line in _lines(sidecar):
        if not header_seen:
            try:
                header = json.loads(line)
            except ValueError:
                header = None
            _check_header(sidecar, header, output)
            header_seen = True
            continue
        decision = _decision(sidecar, number, line)
        decisions[decision.unit] = decision
    return decisions


# Writing -----------------------------------------------------------------------------------------


class ReviewStore:
    """The decisions of one review, kept in memory and appended to the sidecar at each change."""

    def __init__(self, output: Path, sidecar: Path, decisions: dict[str, Decision], writer: JsonlWriter) -> None:
        self.output = output
        self.sidecar = sidecar
        self.decisions = decisions
        self._writer = writer

    @staticmethod
    def check(output: Path) -> dict[str, Decision]:
        """Refuse, before any UI and without writing, a sidecar that cannot be used; return its decisions."""
        sidecar = sidecar_path(output)
        exists = sidecar.exists()
        if not os.access(sidecar if exists else sidecar.parent, os.W_OK):
            raise _read_only(sidecar, exists)
        return read_decisions(output, sidecar) or {}

    @classmethod
    def open(cls, output: Path) -> ReviewStore:
        """Open (or start) the review of ``output``: a sidecar written for another output is refused."""
        cls.check(output)
        sidecar = sidecar_path(output)
        exists = sidecar.exists()
        if exists:
            repair_partial_line(sidecar)  # a key pressed as the last review was killed
        decisions = read_decisions(output, sidecar) or {}
        try:
            writer = JsonlWriter.open(sidecar)
        except ResourceError:  # a read-only file system, or permissions os.access did not show
            raise _read_only(sidecar, exists) from None
        except InputError:  # locked
            raise InputError(f"{sidecar} is open in another review; close that one first.") from None
        try:
            if not exists or sidecar.stat().st_size == 0:
                writer.write(header_for(output))
                writer.sync()
        except BaseException:
            writer.close()
            raise
        return cls(output, sidecar, decisions, writer)

    def get(self, unit: str) -> Decision | None:
        return self.decisions.get(unit)

    def decide(self, unit: str, decision: str, input: str | None = None, output: str | None = None) -> Decision:
        """Record ``decision`` for ``unit``, keeping its earlier edits unless new ones are given."""
        if decision not in DECISIONS:
            raise ValueError(decision)
        previous = self.decisions.get(unit)
        if previous is not None:
            input = previous.input if input is None else input
            output = previous.output if output is None else output
        entry = Decision(unit, decision, input, output, now())
        self._writer.write(entry.as_line())
        self._writer.sync()
        self.decisions[unit] = entry
        return entry

    def close(self) -> None:
        self._writer.close()


def _read_only(sidecar: Path, exists: bool) -> InputError:
    return InputError(
        f"cannot write {sidecar}: {'the file' if exists else 'its folder'} is read-only, and "
        "decisions are saved there as you review; make it writable, or copy the output "
        "somewhere writable."
    )
