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
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datasets import Dataset

from .abstract import AbstractBonito
from .engines.backends import LLAMA_CPP, SERVER, open_backend
from .engines.generation import EngineSettings, Sampling
from .engines.server import ServerEngine, parse_server_url
from .errors import InputError, SamplingError
from .filters import QualityFilter
from .inputs.chunking import Passage
from .models.info import read_model_info
from .offline import offline_scope
from .pipeline import GenerationSettings, RunStats, generate_outcomes
from .prompt import build_prompt
from .record import CONTEXT, DETAIL, GENERATION, INPUT, OUTPUT, REASON, SOURCE, TASK_TYPE, Record
from .settings import (
    CONSTRAIN,
    CPU_REPACK,
    CTX_SIZE,
    DEDUP_THRESHOLD,
    FREQUENCY_PENALTY,
    MAX_TOKENS,
    MIN_P,
    MIN_TOKENS,
    MODEL,
    N_GPU_LAYERS,
    NUM_SAMPLES,
    PARALLEL,
    PRESENCE_PENALTY,
    QUALITY_FILTERS,
    REPETITION_PENALTY,
    SEED,
    STOP,
    TEMPERATURE,
    THREADS,
    TOP_K,
    TOP_P,
    URL,
    Caller,
    called_from,
)
from .task_types import TaskType, resolve_task_type

if TYPE_CHECKING:
    from .engines.local import Engine, Tokenizer

log = logging.getLogger(__name__)

API = Caller.API

# bonito-v1 was trained on inputs and on outputs of at most 2,048 tokens each.
TRAINED_INPUT_TOKENS = 2048
TRAINED_OUTPUT_TOKENS = 2048
# The rejection reason of a row whose prompt cannot fit what the model was trained on.
TOO_LONG = "too_long"
# Contexts are sized in steps of this many tokens, so that calls of similar rows share one.
_CTX_STEP = 64


@dataclass(frozen=True)
class SamplingParams:
    """vLLM's ``SamplingParams`` fields; upstream's README values are the defaults where it sets them.

    Defaults and ranges are the declarations' in ``settings``, as the Python API spells them
    (vLLM's ``n``, top_k -1 for off). Every field keeps vLLM's meaning (see README, "Python
    API"). Fields a local sampler cannot honour are accepted only at vLLM's default, and raise
    ValueError otherwise.
    """

    n: int = NUM_SAMPLES.api_value
    best_of: int | None = None
    presence_penalty: float = PRESENCE_PENALTY.api_value
    frequency_penalty: float = FREQUENCY_PENALTY.api_value
    repetition_penalty: float = REPETITION_PENALTY.api_value
    temperature: float = TEMPERATURE.api_value
    top_p: float = TOP_P.api_value
    top_k: int = TOP_K.api_value
    min_p: float = MIN_P.api_value
    seed: int | None = SEED.api_value
    stop: str | list[str] | None = STOP.api_value
    stop_token_ids: list[int] | None = None
    bad_words: list[str] | None = None
    ignore_eos: bool = False
    max_tokens: int | None = MAX_TOKENS.api_value
    min_tokens: int = MIN_TOKENS.api_value
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    detokenize: bool = True
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    logits_processors: Any = None
    include_stop_str_in_output: bool = False
    truncate_prompt_tokens: int | None = None
    output_kind: Any = None
    guided_decoding: Any = None
    logit_bias: dict[int, float] | None = None
    allowed_token_ids: list[int] | None = None
    extra_args: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        sampling_from(self)  # a bad value fails here, as vLLM's constructor does


# vLLM fields the sampler here cannot honour: the value that means "not used" (vLLM's
# default), and why. Older vLLM versions' beam-search fields are among them.
_REFUSED: dict[str, tuple[Any, str]] = {
    "logprobs": (None, "the dataset has no place for log-probabilities"),
    "prompt_logprobs": (None, "the dataset has no place for log-probabilities"),
    "detokenize": (True, "records are text"),
    "skip_special_tokens": (True, "special tokens are always left out of the text"),
    "spaces_between_special_tokens": (True, "special tokens are always left out of the text"),
    "logits_processors": (None, "vLLM's logits processors work on torch tensors"),
    "truncate_prompt_tokens": (None, "a prompt is never cut; rows too long are rejected as too_long"),
    "guided_decoding": (None, "use Bonito(constrain=True), the grammar for input <|pipe|> output"),
    "extra_args": (None, "no extension reads them"),
    "use_beam_search": (False, "beam search is not implemented"),
    "length_penalty": (1.0, "it only applies to beam search"),
    "early_stopping": (False, "it only applies to beam search"),
}


def sampling_from(params: Any) -> tuple[Sampling, int, int | None]:
    """The engine's sampling, the number of samples and the seed, from vLLM-named attributes.

    ``params`` is our :class:`SamplingParams` or any object with vLLM's attribute names (a
    vLLM ``SamplingParams``); a missing attribute takes vLLM's default. Raises
    :class:`SamplingError` (a ValueError) naming the field for a value out of range or one
    that cannot be honoured here.
    """

    def get(name: str, default: Any) -> Any:
        return getattr(params, name, default)

    for name, (default, why) in _REFUSED.items():
        value = get(name, default)
        if value != default and not (default is None and value in ([], {}, ())):
            raise SamplingError(f"{name}={value!r} is not supported by bonito-lite: {why}. Leave it at {default!r}.")
    n = get("_real_n", None) or get("n", 1)  # vLLM keeps the n asked for there when best_of > n
    NUM_SAMPLES.check(n, API)
    best_of = get("best_of", None)
    if best_of is not None and best_of > n:
        raise SamplingError(
            f"best_of={best_of} is not supported by bonito-lite: it would rank samples by "
            f"log-probability. Leave it at None (or n)."
        )
    max_tokens = get("max_tokens", 16)
    seed = get("seed", None)
    try:
        sampling = Sampling(
            max_tokens=None if max_tokens is None else int(max_tokens),
            temperature=float(get("temperature", 1.0)),
            top_p=float(get("top_p", 1.0)),
            top_k=int(get("top_k", -1)),
            min_p=float(get("min_p", 0.0)),
            repetition_penalty=float(get("repetition_penalty", 1.0)),
            presence_penalty=float(get("presence_penalty", 0.0)),
            frequency_penalty=float(get("frequency_penalty", 0.0)),
            min_tokens=int(get("min_tokens", 0)),
            stop=_strings(get("stop", None)),
            stop_token_ids=tuple(int(t) for t in get("stop_token_ids", None) or ()),
            include_stop_str_in_output=bool(get("include_stop_str_in_output", False)),
            ignore_eos=bool(get("ignore_eos", False)),
            logit_bias=tuple(sorted((int(t), float(b)) for t, b in (get("logit_bias", None) or {}).items())),
            bad_words=_strings(get("bad_words", None)),
            allowed_token_ids=(
                None
                if get("allowed_token_ids", None) is None
                else tuple(int(t) for t in get("allowed_token_ids", None))
            ),
        )
        # vLLM reads a seed of -1 as none: new randomness each call.
        seed = None if seed is None or int(seed) == -1 else int(seed)
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, SamplingError):
            raise
        raise SamplingError(f"a sampling parameter has the wrong type: {error}.") from None
    sampling.check()
    if n > 1 and sampling.temperature == 0:  # above 0, vLLM raises it to 0.01: not greedy
        # vLLM's own refusal: every greedy sample is the same.
        raise SamplingError(f"n must be 1 when using greedy sampling, got {n}.")
    return sampling, n, seed


def _strings(value: str | list[str] | None) -> tuple[str, ...]:
    """vLLM's ``str | list[str] | None`` fields as a tuple."""
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class Bonito(AbstractBonito):
    """A Bonito GGUF loaded through llama.cpp; ``generate_tasks`` as upstream has it.

    ``model`` is a .gguf path, ``"toy"``, or a hub id such as ``"BatsResearch/bonito-v1"``
    (then the GGUF in ./models converted from it). ``constrain`` (on by default, as in the
    CLI) holds each generation to ``input<|pipe|>output`` with a grammar, so that it parses;
    upstream samples freely. ``ctx_size`` None sizes each call's context from its rows, up
    to what the model was trained on. With ``url``, generations run on that
    OpenAI-compatible server (as ``generate --backend server``) and ``model`` is not
    loaded; the passages are sent to that URL only. ``last_seed`` is the seed of the last
    ``generate_tasks`` call (drawn when ``seed`` was None).
    """

    def __init__(
        self,
        model: str | os.PathLike = MODEL.api_value,
        *,
        url: str | None = URL.api_value,
        n_gpu_layers: int | None = N_GPU_LAYERS.api_value,
        threads: int | None = THREADS.api_value,
        ctx_size: int | None = CTX_SIZE.api_value,
        parallel: int = PARALLEL.api_value,
        cpu_repack: str = CPU_REPACK.api_value,
        constrain: bool = CONSTRAIN.api_value,
        verbose: bool = False,
    ) -> None:
        for setting, value in (
            (N_GPU_LAYERS, n_gpu_layers),
            (THREADS, threads),
            (CTX_SIZE, ctx_size),
            (PARALLEL, parallel),
            (CPU_REPACK, cpu_repack),
        ):
            setting.check(value, API)
        self.last_seed: int | None = None
        self.engine: Engine | ServerEngine | None = None
        self._tokenizer: Tokenizer | None = None
        with offline_scope(), called_from(API):
            if url is not None:
                parse_server_url(url)  # the CLI's checks, naming the argument
            self._settings = EngineSettings(
                n_gpu_layers=n_gpu_layers,
                threads=threads,
                ctx_size=ctx_size or TRAINED_INPUT_TOKENS,
                parallel=parallel,
                cpu_repack=cpu_repack,
                constrain=constrain,
                verbose=verbose,
            )
            self._ctx_size = ctx_size
            # The factory generate uses: a local GGUF, or the server at url (model then unused).
            self._backend = open_backend(
                SERVER if url is not None else LLAMA_CPP, None if url is not None else model, url, self._settings
            )
            self.model_path: Path | None = self._backend.model_file
            self.model_name = self._backend.model_name
            if self._backend.name == SERVER:
                self.engine = self._backend.engine()
            else:
                assert self.model_path is not None
                info = read_model_info(self.model_path)
                self._trained_context = info.context_length
                # Counting tokens needs the vocabulary only; the engine opens on the first
                # call, with a context sized for its rows.
                from .engines.local import Tokenizer  # llama.cpp is loaded for a local model only

                self._tokenizer = Tokenizer(self.model_path, verbose=verbose)
                if info.is_toy:
                    log.warning(
                        "%s is the bundled toy model: a demo of the pipeline, not a useful Bonito.", self.model_name
                    )

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self._tokenizer is not None:
            self._tokenizer.close()
            self._tokenizer = None

    def __enter__(self) -> Bonito:
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
        quality_filters: bool = QUALITY_FILTERS.api_value,
        dedup_threshold: float = DEDUP_THRESHOLD.api_value,
        **kwargs: Any,
    ) -> Dataset | tuple[Dataset, Dataset]:
        """One prompt per row of ``text_dataset[context_col]``; a Dataset of ``input``/``output``.

        ``sampling_params`` may be our SamplingParams or any object with vLLM's attribute
        names (a vLLM ``SamplingParams`` works). ``seed=None`` draws a fresh seed for the
        call from Python's ``random`` module (so ``random.seed`` or transformers'
        ``set_seed`` makes it repeatable), logged at debug level and kept in
        ``self.last_seed``; an explicit seed repeats a call exactly. Identical rows sample
        independently. The quality filters and deduplication of the CLI apply unless
        ``quality_filters=False``. A row whose prompt is longer than the model was trained
        on is skipped with reason ``too_long``. With ``return_rejected=True`` the generations
        that did not parse or were filtered out, and the rows too long, come back too, each
        with its ``reason``. Further keywords are upstream's for ``datasets.map``
        (``num_proc``...), which bonito-lite does not need.
        """
        with offline_scope(), called_from(API):
            return self._generate_tasks(
                text_dataset,
                context_col,
                task_type,
                sampling_params,
                return_rejected=return_rejected,
                quality_filters=quality_filters,
                dedup_threshold=dedup_threshold,
                unused=kwargs,
            )

    def _generate_tasks(
        self,
        text_dataset: Dataset,
        context_col: str,
        task_type: str,
        sampling_params: Any,
        *,
        return_rejected: bool,
        quality_filters: bool,
        dedup_threshold: float,
        unused: dict[str, Any],
    ) -> Dataset | tuple[Dataset, Dataset]:
        if unused:
            log.debug(
                "generate_tasks does not use %s (upstream hands them to datasets.map).",
                ", ".join(f"{k}={v!r}" for k, v in sorted(unused.items())),
            )
        if not isinstance(text_dataset, Dataset):
            splits = f" with splits {', '.join(text_dataset)}; pass one" if isinstance(text_dataset, dict) else ""
            raise InputError(
                f"text_dataset must be a datasets.Dataset, not {type(text_dataset).__name__}{splits} "
                "(e.g. dataset['train'])."
            )
        if context_col not in text_dataset.column_names:
            columns = ", ".join(text_dataset.column_names) or "none"
            raise InputError(f"context_col {context_col!r} is not a column of the dataset; its columns: {columns}.")
        task = resolve_task_type(task_type)
        DEDUP_THRESHOLD.check(dedup_threshold, API)
        sampling, n, seed = sampling_from(sampling_params if sampling_params is not None else SamplingParams())
        if seed is None:
            seed = random.getrandbits(31)
            log.debug("seed=None: this call samples with seed %d (pass seed=%d to repeat it).", seed, seed)
        self.last_seed = seed
        rows = _text_rows(text_dataset[context_col], context_col)
        fitting, too_long, limit = self._fit_rows(rows, task, sampling)
        settings = GenerationSettings(
            task_types=(task,),
            sampling=sampling,
            num_samples=n,
            seed=seed,
            seed_by_position=True,
        )
        stats = RunStats()
        parsed: list[Record] = []
        rejected: list[dict[str, Any]] = list(too_long)
        if fitting:
            for outcome in generate_outcomes(
                self.engine,
                _rows_as_passages(rows, fitting),
                settings,
                self.model_name,
                stats,
                review=QualityFilter(dedup_threshold) if quality_filters else None,
            ):
                if outcome.parsed:
                    parsed.append(outcome.record)
                else:
                    rejected.append(outcome.record.to_json())
        _log_rejections(stats.rejected, stats.generations)
        if too_long:
            log.warning(
                "%d of %d rows were too long for the model (more than %d prompt tokens with "
                "max_tokens=%s) and were skipped (reason %s).",
                len(too_long),
                len(rows),
                limit,
                sampling.max_tokens,
                TOO_LONG,
            )
        dataset = Dataset.from_dict({INPUT: [r.input for r in parsed], OUTPUT: [r.output for r in parsed]})
        if return_rejected:
            return dataset, _rejected_dataset(rejected)
        return dataset

    def _fit_rows(
        self, rows: list[str], task: TaskType, sampling: Sampling
    ) -> tuple[list[int], list[dict], int | None]:
        """The rows whose prompts fit, a too_long record for each other, and the most prompt tokens.

        A prompt may take what the model was trained on (2,048 tokens) and must leave room for
        ``max_tokens`` in the model's context (``max_tokens=None``: room for 2,048 new tokens
        where the context allows, else at least one). The engine's context is the longest
        fitting prompt plus that room; when it is larger than the open engine's, the engine
        is opened again with it.
        """
        if self._tokenizer is None:  # a server: it sizes its own context
            return list(range(len(rows))), [], None
        trained = self._trained_context if self._ctx_size is None else min(self._ctx_size, self._trained_context)
        room = sampling.max_tokens if sampling.max_tokens is not None else TRAINED_OUTPUT_TOKENS
        if sampling.max_tokens is not None and room >= trained:
            raise SamplingError(
                f"max_tokens={room} leaves no room for a prompt in the {trained}-token context of "
                f"{self.model_name}; lower max_tokens."
            )
        limit = min(TRAINED_INPUT_TOKENS, trained - (room if sampling.max_tokens is not None else 1))
        fitting: list[int] = []
        too_long: list[dict] = []
        longest = 0
        for number, text in enumerate(rows):
            tokens = self._tokenizer.count_tokens(build_prompt(task.full_name, text)) + 1  # BOS
            if tokens > limit:
                too_long.append(
                    {
                        REASON: TOO_LONG,
                        GENERATION: None,
                        TASK_TYPE: task.full_name,
                        CONTEXT: text,
                        SOURCE: f"dataset#row={number}",
                        DETAIL: f"{tokens} prompt tokens; at most {limit} fit with max_tokens={sampling.max_tokens}",
                    }
                )
            else:
                fitting.append(number)
                longest = max(longest, tokens)
        if fitting:
            needed = min(trained, -(-(longest + room) // _CTX_STEP) * _CTX_STEP)
            if self.engine is None or self.engine.settings.ctx_size < needed:
                if self.engine is not None:
                    self.engine.close()
                    self.engine = None
                from .engines.local import Engine

                self.engine = Engine(self.model_path, replace(self._settings, ctx_size=needed))
        return fitting, too_long, limit


def _rows_as_passages(rows: list[str], numbers: list[int]) -> Iterator[Passage]:
    # Upstream prompts each row as it is, without cutting it into passages.
    for row_number in numbers:
        text = rows[row_number]
        yield Passage(
            text=text,
            source=f"dataset#row={row_number}",
            index=0,
            char_start=0,
            char_end=len(text),
        )


def _rejected_dataset(rejected: list[dict[str, Any]]) -> Dataset:
    # Parse failures carry ``generation``, filtered examples ``detail``, ``input`` and
    # ``output``: every column any of them has, None where a record lacks it.
    columns: dict[str, None] = {REASON: None, GENERATION: None}
    for record in rejected:
        columns.update(dict.fromkeys(record))
    return Dataset.from_dict({c: [r.get(c) for r in rejected] for c in columns})


def _log_rejections(reasons: Counter, generations: int) -> None:
    if reasons:
        detail = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
        log.warning(
            "%d of %d generations did not parse or were filtered out, and were dropped (%s).",
            sum(reasons.values()),
            generations,
            detail,
        )


def _text_rows(values: list[Any], context_col: str) -> list[str]:
    """The column's rows as text; a row that is not text is refused, naming it.

    Upstream fails on such a row too (it strips every context); turning a missing value or
    a number into a string would put "None" or "42.0" in the training data as a passage.
    """
    values = list(values)  # a datasets Column reads each row anew
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise InputError(
                f"row {index} of context_col {context_col!r} holds {type(value).__name__} {value!r:.40}, not text; "
                "drop or fill such rows first (e.g. dataset.filter(lambda row: isinstance(row[col], str)))."
            )
    return values
