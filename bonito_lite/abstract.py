"""Upstream Bonito's base class, for code that subclasses it (as upstream's tutorial does).

Upstream's tutorial for quantized models subclasses ``AbstractBonito``, generates with a model
of its own and uses the two methods here to build the prompts and parse the predictions.
They behave as upstream's: a Dataset with one ``input`` prompt per row (the task type by
its short form or full name, else a ValueError), and the predictions that split into exactly
two parts on ``<|pipe|>`` turned into ``input`` and ``output`` with ``{{context}}`` replaced,
the others dropped. ``num_proc`` goes to ``datasets.map`` as upstream passes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .prompt import ParsedExample, build_prompt, parse_generation
from .task_types import resolve_task_type

if TYPE_CHECKING:
    from datasets import Dataset


class AbstractBonito:
    def _prepare_bonito_input(
        self, context_dataset: Dataset, task_type: str, context_col: str, **kwargs: Any
    ) -> Dataset:
        """One Bonito prompt per row of ``context_dataset[context_col]``, in column ``input``."""
        full_name = resolve_task_type(task_type).full_name  # UnknownTaskTypeError is a ValueError

        def prompt(example: dict[str, Any]) -> dict[str, str]:
            return {"input": build_prompt(full_name, example[context_col])}

        return context_dataset.map(
            prompt, remove_columns=context_dataset.column_names, num_proc=kwargs.get("num_proc", 1)
        )

    def _postprocess_dataset(self, synthetic_dataset: Dataset, context_col: str, **kwargs: Any) -> Dataset:
        """The rows whose ``prediction`` parses, as ``input``/``output`` pairs (upstream's parser)."""

        def parsed(example: dict[str, Any]) -> ParsedExample | None:
            result = parse_generation(example["prediction"], example[context_col])
            return result if isinstance(result, ParsedExample) else None

        kept = synthetic_dataset.filter(lambda example: parsed(example) is not None)

        def pair(example: dict[str, Any]) -> dict[str, str]:
            result = parsed(example)
            assert result is not None
            return {"input": result.input, "output": result.output}

        return kept.map(pair, remove_columns=kept.column_names, num_proc=kwargs.get("num_proc", 1))
