"""A review's decisions applied to the records of an output, as ``export`` writes them.

Dropped examples are left out, edits applied, and rejected examples taken back in are added
after the output's own records (in the rejects file's order). Each record gets a ``review``
field: ``kept``, ``edited``, ``restored`` or ``unreviewed``. Decisions whose unit is in
neither file any more (a regenerated output) are counted, and their units listed, not
silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..record import INPUT, OUTPUT, REJECTION_FIELDS, UNIT
from ..sinks import rejected_path
from .store import RESTORE, Decision, read_decisions

REVIEW_FIELD = "review"


@dataclass
class ReviewCounts:
    """What applying a review did to one export."""

    kept: int = 0  # reviewed and kept as generated
    edited: int = 0
    dropped: int = 0
    restored: int = 0  # rejected examples taken back in
    unreviewed: int = 0
    orphans: list[str] = field(default_factory=list)  # units decided on that neither file holds

    def describe(self) -> str:
        line = (
            f"Review applied: {self.kept} kept, {self.edited} edited, {self.dropped} dropped, "
            f"{self.restored} taken back from the rejects, {self.unreviewed} not reviewed."
        )
        if self.orphans:
            shown = ", ".join(self.orphans[:5]) + (", ..." if len(self.orphans) > 5 else "")
            line += (
                f" {len(self.orphans)} decision{'s are' if len(self.orphans) != 1 else ' is'} for "
                f"examples no longer in the output ({shown}); they were not applied."
            )
        return line


class AppliedReview:
    """The decisions of ``output``'s review sidecar, applied to a pass over its records."""

    def __init__(self, output: Path, decisions: dict[str, Decision]) -> None:
        self.output = output
        self.decisions = decisions
        self.counts = ReviewCounts()

    @classmethod
    def load(cls, output: Path) -> AppliedReview | None:
        """The review of ``output``, or None when it has none; a foreign sidecar is refused."""
        try:
            decisions = read_decisions(output)
        except InputError as error:
            raise InputError(f"{error} Or pass --ignore-review to export without it.") from None
        return None if decisions is None else cls(output, decisions)

    def records(self, examples: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``examples`` (the output's records, in order) as reviewed, then the taken-back rejects.

        Counts start again at each pass, so a caller that reads twice gets one pass's counts.
        """
        counts = self.counts = ReviewCounts()
        seen: set[str] = set()
        written = 0
        for record in examples:
            unit = record.get(UNIT)
            decision = self.decisions.get(unit) if isinstance(unit, str) else None
            if decision is not None:
                seen.add(decision.unit)
            if decision is None:
                counts.unreviewed += 1
                yield {**record, REVIEW_FIELD: "unreviewed"}
            elif not decision.included:
                counts.dropped += 1
                continue
            elif decision.edited:
                counts.edited += 1
                yield {**decision.applied_to(record), REVIEW_FIELD: "edited"}
            else:
                counts.kept += 1
                yield {**record, REVIEW_FIELD: "kept"}
            written += 1
        for record in self._rejects(seen):
            counts.restored += 1
            written += 1
            yield record
        counts.orphans = [unit for unit in self.decisions if unit not in seen]
        if written == 0:
            raise InputError(
                f"every example of {self.output} was dropped in review; nothing to export "
                "(--ignore-review exports them as generated)."
            )

    def _rejects(self, seen: set[str]) -> Iterator[dict[str, Any]]:
        """The rejected records taken back in, as examples; notes every decided unit found."""
        path = rejected_path(self.output)
        if not path.exists():
            return
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n") or not line.strip():
                    continue  # a half line from a killed run: generate cuts it on its rerun
                try:
                    record = json.loads(line)
                except ValueError:
                    raise InputError(f"{path} line {number} is not JSON; fix or remove it.") from None
                unit = record.get(UNIT) if isinstance(record, dict) else None
                decision = self.decisions.get(unit) if isinstance(unit, str) else None
                if decision is None:
                    continue
                seen.add(decision.unit)
                if decision.decision != RESTORE:
                    continue
                example = {k: v for k, v in decision.applied_to(record).items() if k not in REJECTION_FIELDS}
                if isinstance(example.get(INPUT), str) and isinstance(example.get(OUTPUT), str):
                    yield {**example, REVIEW_FIELD: "restored"}
