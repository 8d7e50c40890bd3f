"""What a generation engine is asked and what it answers, whichever engine runs it.

The local llama.cpp engine (``local``) and a server (``server``) take the same
requests, sampling and settings and yield the same completions; this module imports
neither, so a run against a server never loads llama.cpp.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from ..errors import SamplingError
from ..settings import (
    CONSTRAIN,
    CPU_REPACK,
    CTX_SIZE,
    ENGINE,
    FREQUENCY_PENALTY,
    MAX_TOKENS,
    MIN_P,
    MIN_TOKENS,
    N_GPU_LAYERS,
    PARALLEL,
    PRESENCE_PENALTY,
    REPETITION_PENALTY,
    SAMPLING,
    STOP,
    TEMPERATURE,
    THREADS,
    TOP_K,
    TOP_P,
    Caller,
)


@dataclass(frozen=True)
class EngineSettings:
    """How llama.cpp runs. ``Engine.settings`` holds the values actually applied.

    Defaults and meanings are the declarations' in ``settings`` (their ``engine_value``).
    """

    # None: all layers when llama.cpp supports GPU offload, else 0
    n_gpu_layers: int | None = N_GPU_LAYERS.engine_value
    threads: int | None = THREADS.engine_value  # None: the usable CPUs idle now (``default_threads``)
    ctx_size: int = CTX_SIZE.engine_value  # tokens per sequence (prompt + completion)
    parallel: int = PARALLEL.engine_value  # sequences in flight in one context
    cpu_repack: str = CPU_REPACK.engine_value  # "auto" | "on" | "off"
    verbose: bool = False  # show llama.cpp's own log
    constrain: bool = CONSTRAIN.engine_value  # limit generations to  text <|pipe|> text  before the end token

    def check(self) -> None:
        """Raise :class:`SettingError` naming the first field out of the engine's declared range."""
        for setting in ENGINE:
            setting.check(getattr(self, setting.name), Caller.ENGINE)


@dataclass(frozen=True)
class Sampling:
    """How each sample is drawn: fields of vLLM's ``SamplingParams``, with vLLM's meanings.

    ``sampler.SamplerChain`` applies them in vLLM's order. Defaults are Bonito's
    (``max_tokens`` 256, ``temperature`` 0.5, ``top_p`` 0.95) and vLLM's "off" for the rest,
    as ``settings`` declares them.
    """

    # None: until the end token, or until the sequence's context is full
    max_tokens: int | None = MAX_TOKENS.engine_value
    temperature: float = TEMPERATURE.engine_value  # 0: greedy; above 0 and below 0.01: 0.01, as vLLM
    top_p: float = TOP_P.engine_value
    top_k: int = TOP_K.engine_value  # 0 (or vLLM's -1): off
    min_p: float = MIN_P.engine_value
    repetition_penalty: float = REPETITION_PENALTY.engine_value  # over prompt and output tokens
    presence_penalty: float = PRESENCE_PENALTY.engine_value  # over output tokens
    frequency_penalty: float = FREQUENCY_PENALTY.engine_value  # over output tokens
    min_tokens: int = MIN_TOKENS.engine_value  # end and stop tokens cannot be drawn before this many tokens
    stop: tuple[str, ...] = STOP.engine_value  # the text ends before the first of these
    stop_token_ids: tuple[int, ...] = ()
    include_stop_str_in_output: bool = False
    ignore_eos: bool = False  # the end token is drawn like any other, without text
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias) pairs
    allowed_token_ids: tuple[int, ...] | None = None
    bad_words: tuple[str, ...] = ()  # never generated (as vLLM tokenizes and bans them)

    def check(self, n_vocab: int | None = None) -> None:
        """Raise :class:`SettingError` (a ValueError) naming the first field out of vLLM's range.

        Fields are named as the Python API spells them (vLLM's names), whoever calls.
        """
        for setting in SAMPLING:
            setting.check(getattr(self, setting.name), Caller.ENGINE)
        if self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise SamplingError(f"min_tokens must be between 0 and max_tokens, got {self.min_tokens}.")
        if any(not isinstance(w, str) or not w.strip() for w in self.bad_words):
            raise SamplingError("bad_words must hold words, not empty strings.")
        if self.allowed_token_ids is not None and not self.allowed_token_ids:
            raise SamplingError("allowed_token_ids must not be empty.")
        if any(bias != bias for _, bias in self.logit_bias):  # NaN: no number to clamp
            raise SamplingError("logit_bias holds NaN; give each token a number (vLLM clamps them to +-100).")
        if n_vocab is not None:
            for name, ids in (
                ("stop_token_ids", self.stop_token_ids),
                ("logit_bias", [token for token, _ in self.logit_bias]),
                ("allowed_token_ids", self.allowed_token_ids or ()),
            ):
                bad = [t for t in ids if not 0 <= t < n_vocab]
                if bad:
                    raise SamplingError(f"{name} holds token id {bad[0]}, outside the vocabulary (0 to {n_vocab - 1}).")


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to complete ``len(seeds)`` times, once per seed."""

    key: Hashable
    prompt: str  # the engine adds BOS
    seeds: tuple[int, ...]
    sampling: Sampling = Sampling()
    # Text at the start of ``prompt`` that many requests share (a template's part before
    # the passage). Its evaluation is kept and copied into every prompt that starts with
    # the same tokens; it is always evaluated apart, so a prompt's logits are the same
    # whichever request evaluated the prefix first.
    shared_prefix: str = ""


@dataclass(frozen=True)
class Completion:
    key: Hashable
    sample_index: int
    text: str
    prompt_tokens: int  # including BOS
    completion_tokens: int  # excluding the end-of-generation token
    finish_reason: str  # "stop" (end token, stop token or stop string) | "length" (max_tokens)
