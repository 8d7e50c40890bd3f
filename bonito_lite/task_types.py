"""The 16 Bonito task types: the one table every other module reads.

Each type has upstream's short form, upstream's full name (what the model was trained on
and what records store) and one readable alias for the command line. Any of the three
names a type; matching ignores case and treats space, ``-`` and ``_`` alike.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .errors import UnknownTaskTypeError


@dataclass(frozen=True)
class TaskType:
    short: str
    full_name: str
    alias: str


TASK_TYPES: tuple[TaskType, ...] = (
    TaskType("exqa", "extractive question answering", "extractive_qa"),
    TaskType("mcqa", "multiple-choice question answering", "multiple_choice_qa"),
    TaskType("qg", "question generation", "question_generation"),
    TaskType("qa", "question answering without choices", "open_qa"),
    TaskType("ynqa", "yes-no question answering", "yes_no_qa"),
    TaskType("coref", "coreference resolution", "coreference"),
    TaskType("paraphrase", "paraphrase generation", "paraphrase_generation"),
    TaskType("paraphrase_id", "paraphrase identification", "paraphrase_identification"),
    TaskType("sent_comp", "sentence completion", "sentence_completion"),
    TaskType("sentiment", "sentiment", "sentiment"),
    TaskType("summarization", "summarization", "summarization"),
    TaskType("text_gen", "text generation", "text_generation"),
    TaskType("topic_class", "topic classification", "topic_classification"),
    TaskType("wsd", "word sense disambiguation", "word_sense_disambiguation"),
    TaskType("te", "textual entailment", "textual_entailment"),
    TaskType("nli", "natural language inference", "natural_language_inference"),
)

ALL = "all"

# Upstream's own name for the table of short forms (bonito/abstract.py), for code written against it.
SHORTFORM_TO_FULL_TASK_TYPES: dict[str, str] = {t.short: t.full_name for t in TASK_TYPES}


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-_]+", "_", name.strip().lower())


_BY_NAME: dict[str, TaskType] = {}
for _task in TASK_TYPES:
    for _name in (_task.short, _task.full_name, _task.alias):
        _BY_NAME[_normalise(_name)] = _task


def resolve_task_type(name: str) -> TaskType:
    """The task type ``name`` designates, or an UnknownTaskTypeError naming the closest matches."""
    if not isinstance(name, str):
        raise UnknownTaskTypeError(f"a task type is a name, not {name!r}. Run 'bonito-lite task-types' to list all 16.")
    task = _BY_NAME.get(_normalise(name))
    if task is not None:
        return task
    close = difflib.get_close_matches(_normalise(name), sorted(_BY_NAME), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownTaskTypeError(f"unknown task type {name!r}.{hint} Run 'bonito-lite task-types' to list all 16.")


def resolve_task_types(names: list[str] | tuple[str, ...]) -> list[TaskType]:
    """Resolve several names (``all`` expands to every type), keeping order, dropping repeats."""
    resolved: list[TaskType] = []
    for name in names:
        tasks = list(TASK_TYPES) if _normalise(name) == ALL else [resolve_task_type(name)]
        resolved.extend(t for t in tasks if t not in resolved)
    return resolved
