"""The record of one generation: the fields a dataset line holds, their order, and reading one back.

One JSON object per line in the output (kept examples) and in its rejects file. The field
names below are the only place they are spelled; the other modules import them. In a line
the fields come in the order of :data:`FIELDS`, each written only where the record has it:

- a kept example: ``input``, ``output``, then where it came from (``task_type`` to ``seed``)
  and, in a ``generate`` run, its ``unit`` key last;
- a generation the parser rejected: ``reason`` and the raw ``generation`` before the same;
- an example a quality filter rejected: ``reason`` and ``detail`` before the kept fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .inputs.chunking import Passage

REASON = "reason"
DETAIL = "detail"
GENERATION = "generation"
INPUT = "input"
OUTPUT = "output"
TASK_TYPE = "task_type"
CONTEXT = "context"
SOURCE = "source"
PASSAGE_INDEX = "passage_index"
CHAR_START = "char_start"
CHAR_END = "char_end"
SAMPLE_INDEX = "sample_index"
MODEL = "model"
SEED = "seed"
UNIT = "unit"

# Every field, in the order a line holds them.
FIELDS = (
    REASON,
    DETAIL,
    GENERATION,
    INPUT,
    OUTPUT,
    TASK_TYPE,
    CONTEXT,
    SOURCE,
    PASSAGE_INDEX,
    CHAR_START,
    CHAR_END,
    SAMPLE_INDEX,
    MODEL,
    SEED,
    UNIT,
)
# What a rejected record carries that an example does not.
REJECTION_FIELDS = (REASON, DETAIL, GENERATION)


@dataclass(frozen=True, kw_only=True)
class Record:
    """One generation and where it came from; ``reason`` set when it is not kept.

    The attributes are the fields, declared in :data:`FIELDS` order; None stands for a field
    the record does not have, which its line leaves out (those with a default).
    """

    reason: str | None = None
    detail: str | None = None  # why a quality filter rejected it
    generation: str | None = None  # the raw text, when the parser rejected it
    input: str | None = None
    output: str | None = None
    task_type: str  # the full name
    context: str  # the passage's text
    source: str
    passage_index: int
    char_start: int
    char_end: int
    sample_index: int
    model: str
    seed: int
    unit: str | None = None  # the key a resumed run finds it by (see resume.UnitKeys)

    @classmethod
    def of_passage(
        cls, passage: Passage, task_type: str, sample_index: int, model: str, seed: int, unit: str | None = None
    ) -> Record:
        """Where sample ``sample_index`` of ``task_type`` on ``passage`` came from, before it is generated."""
        return cls(
            task_type=task_type,
            context=passage.text,
            source=passage.source,
            passage_index=passage.index,
            char_start=passage.char_start,
            char_end=passage.char_end,
            sample_index=sample_index,
            model=model,
            seed=seed,
            unit=unit,
        )

    @property
    def kept(self) -> bool:
        return self.reason is None

    def parsed(self, input: str, output: str) -> Record:
        """This record with the example the generation parsed into."""
        return dataclasses.replace(self, input=input, output=output)

    def unparsed(self, reason: str, generation: str) -> Record:
        """This record, rejected because ``generation`` did not parse into an example."""
        return dataclasses.replace(self, reason=reason, generation=generation)

    def rejected(self, reason: str, detail: str) -> Record:
        """This example, rejected by a quality filter."""
        return dataclasses.replace(self, reason=reason, detail=detail)

    def to_json(self) -> dict[str, Any]:
        """The line's object: the fields the record has, in :data:`FIELDS` order."""
        return {name: value for name in FIELDS if (value := getattr(self, name)) is not None or name in _REQUIRED}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """A record from a line's object, as :meth:`to_json` wrote it; fields it does not declare are not read.

        Raises ValueError naming the first field that is missing or of the wrong type.
        """
        values: dict[str, Any] = {}
        for name in FIELDS:
            value = data.get(name)
            kind = int if name in _NUMBERS else str
            if value is None:
                if name in _REQUIRED:
                    raise ValueError(f"it has no {name}")
                continue
            # JSON numbers read back as int; a bool is an int to Python but not here.
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"its {name} is {type(value).__name__}, not {kind.__name__}")
            values[name] = value
        return cls(**values)


_REQUIRED = frozenset(f.name for f in dataclasses.fields(Record) if f.default is dataclasses.MISSING)
_NUMBERS = frozenset({PASSAGE_INDEX, CHAR_START, CHAR_END, SAMPLE_INDEX, SEED})
