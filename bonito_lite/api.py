"""The Python API, shaped like upstream Bonito's so that upstream code switches by its imports.

    from bonito_lite import Bonito, SamplingParams

    bonito = Bonito("models/bonito-v1.Q4_K_M.gguf")
    synthetic = bonito.generate_tasks(
        text_dataset, context_col="input", task_type="nli",
        sampling_params=SamplingParams(max_tokens=256, top_p=0.95, temperature=0.5, n=1),
    )
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from datasets import Dataset

from .backends import LLAMA_CPP, SERVER, open_backend
from .chunking import Passage
from .engine import Engine, EngineSettings, Sampling
from .errors import InputError
from .filters import DEFAULT_DEDUP_THRESHOLD, QualityFilter
from .offline import go_offline
from .pipeline import GenerationSettings, RunStats, generate_outcomes
from .server_engine import ServerEngine
from .task_types import resolve_task_type

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingParams:
    """Upstream's sampling knobs (vLLM's names); upstream's README values are the defaults."""

    max_tokens: int = 256
    top_p: float = 0.95
    temperature: float = 0.5
    n: int = 1
    seed: int | None = None


class Bonito:
    """A Bonito GGUF loaded through llama.cpp; ``generate_tasks`` as upstream has it.

    ``constrain`` (on by default, as in the CLI) holds each generation to
    ``input<|pipe|>output`` with a grammar, so that it parses; upstream samples freely.
    With ``url``, generations run on that OpenAI-compatible server (as ``generate --backend
    server``) and ``model`` is not loaded; the passages are sent to that URL only.
    """

    def __init__(
        self,
        model: str | os.PathLike = "toy",
        *,
        url: str | None = None,
        n_gpu_layers: int | None = None,
        threads: int | None = None,
        ctx_size: int = 2048,
        parallel: int | None = None,
        cpu_repack: str = "auto",
        constrain: bool = True,
        verbose: bool = False,
    ) -> None:
        go_offline()
        settings = EngineSettings(
            n_gpu_layers=n_gpu_layers,
            threads=threads,
            ctx_size=ctx_size,
            cpu_repack=cpu_repack,
            constrain=constrain,
            verbose=verbose,
            **({"parallel": parallel} if parallel is not None else {}),
        )
        # The factory generate uses: a local GGUF, or the server at url (model then unused).
        backend = open_backend(SERVER if url is not None else LLAMA_CPP,
                               None if url is not None else model, url, settings)
        self.model_path: Path | None = backend.model_file
        self.engine: Engine | ServerEngine = backend.engine()
        self.model_name = backend.model_name
        if backend.name == LLAMA_CPP and self.engine.info.is_toy:
            log.warning("%s is the bundled toy model: a demo of the pipeline, not a useful Bonito.",
                        self.model_name)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> "Bonito":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate_tasks(
        self,
        text_dataset: Dataset,
        context_col: str,
        task_type: str,
        sampling_params: Any = None,
        *,
        return_rejected: bool = False,
        quality_filters: bool = True,
        dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD,
    ) -> Dataset | tuple[Dataset, Dataset]:
        """One prompt per row of ``text_dataset[context_col]``; a Dataset of ``input``/``output``.

        ``sampling_params`` may be our SamplingParams or any object with upstream's
        attributes (a vLLM ``SamplingParams`` works). The quality filters and deduplication
        of the CLI apply unless ``quality_filters=False``. With ``return_rejected=True`` the
        generations that did not parse or were filtered out come back too, each with its
        ``reason`` (and a ``detail`` for filtered ones).
        """
        if context_col not in text_dataset.column_names:
            columns = ", ".join(text_dataset.column_names)
            raise InputError(f"column {context_col!r} not in the dataset; its columns: {columns}.")
        task = resolve_task_type(task_type)
        if not 0 < dedup_threshold <= 1:
            raise InputError("dedup_threshold must be in (0, 1]: the Jaccard similarity of near-duplicates.")
        params = sampling_params if sampling_params is not None else SamplingParams()
        seed = getattr(params, "seed", None)
        settings = GenerationSettings(
            task_types=(task,),
            sampling=Sampling(
                max_tokens=int(getattr(params, "max_tokens", 256) or 256),
                temperature=float(getattr(params, "temperature", 0.5)),
                top_p=float(getattr(params, "top_p", 0.95)),
            ),
            num_samples=int(getattr(params, "n", 1) or 1),
            seed=int(seed) if seed is not None else 0,
        )
        stats = RunStats()
        parsed: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for outcome in generate_outcomes(
            self.engine, _rows_as_passages(text_dataset, context_col), settings,
            self.model_name, stats,
            review=QualityFilter(dedup_threshold) if quality_filters else None,
        ):
            (parsed if outcome.parsed else rejected).append(outcome.record)
        _log_rejections(stats.rejected, stats.generations)
        dataset = Dataset.from_dict(
            {"input": [r["input"] for r in parsed], "output": [r["output"] for r in parsed]}
        )
        if return_rejected:
            return dataset, _rejected_dataset(rejected)
        return dataset


def _rows_as_passages(dataset: Dataset, context_col: str) -> Iterator[Passage]:
    # Upstream prompts each row as it is, without cutting it into passages.
    for row_number, text in enumerate(dataset[context_col]):
        text = "" if text is None else str(text)
        yield Passage(
            text=text, source=f"dataset#row={row_number}", index=0,
            char_start=0, char_end=len(text),
        )


def _rejected_dataset(rejected: list[dict[str, Any]]) -> Dataset:
    # Parse failures carry ``generation``, filtered examples ``detail``, ``input`` and
    # ``output``: every column any of them has, None where a record lacks it.
    columns: dict[str, None] = {"reason": None, "generation": None}
    for record in rejected:
        columns.update(dict.fromkeys(record))
    return Dataset.from_dict({c: [r.get(c) for r in rejected] for c in columns})


def _log_rejections(reasons: Counter, generations: int) -> None:
    if reasons:
        detail = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
        log.warning(
            "%d of %d generations did not parse or were filtered out, and were dropped (%s).",
            sum(reasons.values()), generations, detail,
        )
