"""The generation pipeline: passages and task types in, parsed and rejected records out.

It turns each (passage, task type) into one engine request with one seed per sample,
parses every completion with upstream's parser, and yields outcomes in a deterministic
order (passage, then task type, then sample), whatever order the engine finishes them in.
The CLI and the Python API both run this one pipeline.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .engines.generation import Completion, GenerationRequest, Sampling
from .filters import Rejection
from .inputs.chunking import Passage
from .prompt import ParseFailure, build_prompt, parse_generation, prompt_prefix
from .record import Record
from .task_types import TaskType

# A rejection reason of our own: the generation hit max_tokens before it became an example.
TRUNCATED = "truncated"

# llama.cpp treats seed 0xFFFFFFFF as "pick one at random"; derived seeds stay below it.
_SEED_MASK = 0x7FFFFFFF


class GenerationEngine(Protocol):
    def generate(self, requests: Iterable[GenerationRequest]) -> Iterator[Completion]: ...


@dataclass(frozen=True)
class GenerationSettings:
    task_types: tuple[TaskType, ...]
    sampling: Sampling = Sampling()
    num_samples: int = 1
    seed: int = 0
    # Seeds from the passage's position in the input too, not only from its text: identical
    # passages then get independent samples (the Python API); without it, a resumed run
    # regenerates exactly what an uninterrupted one would, whatever was skipped (the CLI).
    seed_by_position: bool = False


@dataclass(frozen=True)
class Outcome:
    """One finished generation: a record for the dataset, or a rejected one with its reason."""

    record: Record
    completion_tokens: int

    @property
    def reason(self) -> str | None:
        """Why the record is rejected; None when it is kept."""
        return self.record.reason

    @property
    def parsed(self) -> bool:
        """Kept: parsed, and passed the review."""
        return self.record.kept


@dataclass
class TaskCounts:
    """What one task type gave: examples kept, and generations rejected by reason."""

    kept: int = 0
    rejected: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "rejected": dict(self.rejected)}


@dataclass
class RunStats:
    passages: int = 0
    generations: int = 0
    parsed: int = 0  # examples kept: parsed and passed the quality filters
    rejected: Counter = field(default_factory=Counter)  # by reason: the parser's and the filters'
    completion_tokens: int = 0
    by_task: dict[str, TaskCounts] = field(default_factory=dict)  # by full task type name

    def add(self, outcome: Outcome) -> None:
        self.generations += 1
        self.completion_tokens += outcome.completion_tokens
        task = self.by_task.setdefault(outcome.record.task_type, TaskCounts())
        if outcome.parsed:
            self.parsed += 1
            task.kept += 1
        else:
            self.rejected[outcome.reason] += 1
            task.rejected[outcome.reason] += 1


def sample_seed(seed: int, passage_text: str, task: TaskType, sample_index: int, position: int | None = None) -> int:
    """The sampler seed of one sample: fixed by the run's seed, the passage, task and sample.

    Deriving it from content rather than from the order of work keeps records the same
    whatever the batching, and lets a resumed run regenerate exactly what an uninterrupted
    one would. ``position`` (the passage's number in the input) makes two identical
    passages sample independently.
    """
    where = "" if position is None else f"\x00{position}"
    key = f"{seed}\x00{task.short}\x00{sample_index}{where}\x00{passage_text}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little") & _SEED_MASK


# Whether the sample with this unit key is already finished and is skipped.
SkipSample = Callable[[str], bool]

# Judges a parsed record: why it is rejected, or None to keep it (see filters.QualityFilter).
Review = Callable[[Record], "Rejection | None"]

# The key of one sample in an output file, from its passage's text, full task type name and
# sample index (see resume.UnitKeys.key): what a resumed run finds finished work by.
UnitKey = Callable[[str, str, int], str]


@dataclass(frozen=True)
class _Unit:
    passage: Passage
    position: int  # the passage's place in the input, from 0
    task: TaskType
    samples: tuple[int, ...]  # the sample indices requested, in order
    keys: tuple[str | None, ...]  # their unit keys (None without a unit_key function)


def generate_outcomes(
    engine: GenerationEngine,
    passages: Iterable[Passage],
    settings: GenerationSettings,
    model_name: str,
    stats: RunStats | None = None,
    skip: SkipSample | None = None,
    review: Review | None = None,
    unit_key: UnitKey | None = None,
) -> Iterator[Outcome]:
    """Run every passage × task type through the engine; yield outcomes in input order.

    With ``unit_key``, every record carries its key (before ``review`` sees it, so that a
    duplicate's reason can name the example it repeats); each key is computed once. ``skip``
    (which needs ``unit_key``) is asked with each sample's key, in order; a sample it
    answers True for is neither generated nor yielded (a resumed run skips what an earlier
    run finished). ``review`` judges each parsed record in that same order, so
    deduplication keeps the first of two duplicates whatever order the engine finished
    them in.
    """
    if skip is not None and unit_key is None:
        raise ValueError("skip asks by unit key: pass unit_key too")
    units: dict[int, _Unit] = {}
    stats = stats if stats is not None else RunStats()
    # The engine reads passages ahead of what it has finished; only the passages up to the
    # last one with an outcome count, so that a stopped run does not claim the read-ahead.
    read = 0

    def requests() -> Iterator[GenerationRequest]:
        nonlocal read
        number = 0
        for position, passage in enumerate(passages):
            read = position + 1
            for task in settings.task_types:
                keys = [
                    unit_key(passage.text, task.full_name, i) if unit_key is not None else None
                    for i in range(settings.num_samples)
                ]
                samples = tuple(i for i, key in enumerate(keys) if skip is None or not skip(key))
                if not samples:
                    continue
                units[number] = _Unit(passage, position, task, samples, tuple(keys[i] for i in samples))
                # Seeds depend on the sample index, not on which samples are left to do.
                seeds = tuple(
                    sample_seed(settings.seed, passage.text, task, i, position if settings.seed_by_position else None)
                    for i in samples
                )
                yield GenerationRequest(
                    key=number,
                    prompt=build_prompt(task.full_name, passage.text),
                    shared_prefix=prompt_prefix(task.full_name),
                    seeds=seeds,
                    sampling=settings.sampling,
                )
                number += 1

    # Completions arrive as sequences finish; hold them until every earlier unit is out.
    finished: dict[int, dict[int, Completion]] = {}
    next_unit = 0
    for completion in engine.generate(requests()):
        finished.setdefault(completion.key, {})[completion.sample_index] = completion
        while next_unit in units and len(finished.get(next_unit, ())) == len(units[next_unit].samples):
            unit = units[next_unit]
            stats.passages = max(stats.passages, unit.position + 1)
            for position in range(len(unit.samples)):
                done = _outcome(unit, finished[next_unit][position], position, settings.seed, model_name, review)
                stats.add(done)
                yield done
            del finished[next_unit]
            del units[next_unit]
            next_unit += 1
    # Passages whose every sample was skipped (finished by an earlier run) after the last outcome.
    stats.passages = max(stats.passages, read)


def _outcome(
    unit: _Unit, completion: Completion, position: int, seed: int, model_name: str, review: Review | None
) -> Outcome:
    """The whole record of one sample: parsed or why not, where it came from, its key, the review."""
    record = Record.of_passage(
        unit.passage, unit.task.full_name, unit.samples[position], model_name, seed, unit=unit.keys[position]
    )
    parsed = parse_generation(completion.text, unit.passage.text)
    if isinstance(parsed, ParseFailure):
        reason = TRUNCATED if completion.finish_reason == "length" else parsed.reason
        return Outcome(record.unparsed(reason, completion.text), completion.completion_tokens)
    record = record.parsed(parsed.input, parsed.output)
    rejection = review(record) if review is not None else None
    if rejection is not None:
        record = record.rejected(rejection.reason, rejection.detail)
    return Outcome(record, completion.completion_tokens)
