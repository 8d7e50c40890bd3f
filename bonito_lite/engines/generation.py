"""What a generation engine is asked and what it answers, whichever engine runs it.

The local llama.cpp engine (``local``) and a server (``server``) take the same
requests, sampling and settings and yield the same completions; this module imports
neither, so a run against a server never loads llama.cpp.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

from ..errors import SamplingError

CPU_REPACK_CHOICES = ("auto", "on", "off")


@dataclass(frozen=True)
class EngineSettings:
    """How llama.cpp runs. ``Engine.settings`` holds the values actually applied."""

    n_gpu_layers: int | None = None  # None: all layers when llama.cpp supports GPU offload, else 0
    threads: int | None = None  # None: the usable CPUs idle now (``default_threads``)
    ctx_size: int = 2048  # tokens per sequence (prompt + completion)
    # Sequences in flight in one context. 32: on a 2-core x86-64 CPU with a 1.1 B Q4_K_M
    # model, most of 64's speed-up over a one-at-a-time loop for half its KV memory
    # (BENCHMARKS.md has the measurements). GPUs take the same default (not measured there).
    parallel: int = 32
    # "auto" | "on" | "off": llama.cpp's repacked CPU weight layouts ("extra buffer types").
    # auto is off: they crash on AMX CPUs and make records depend on ``parallel`` elsewhere.
    cpu_repack: str = "auto"
    verbose: bool = False  # show llama.cpp's own log
    constrain: bool = False  # limit generations to  text <|pipe|> text  before the end token


@dataclass(frozen=True)
class Sampling:
    """How each sample is drawn: fields of vLLM's ``SamplingParams``, with vLLM's meanings.

    ``sampler.SamplerChain`` applies them in vLLM's order. Defaults are Bonito's
    (``max_tokens`` 256, ``temperature`` 0.5, ``top_p`` 0.95) and vLLM's "off" for the rest.
    """

    max_tokens: int | None = 256  # None: until the end token, or until the sequence's context is full
    temperature: float = 0.5  # below 1e-5: greedy
    top_p: float = 0.95
    top_k: int = 0  # 0 (or vLLM's -1): off
    min_p: float = 0.0
    repetition_penalty: float = 1.0  # over prompt and output tokens
    presence_penalty: float = 0.0  # over output tokens
    frequency_penalty: float = 0.0  # over output tokens
    min_tokens: int = 0  # end and stop tokens cannot be drawn before this many tokens
    stop: tuple[str, ...] = ()  # the text ends before the first of these
    stop_token_ids: tuple[int, ...] = ()
    include_stop_str_in_output: bool = False
    ignore_eos: bool = False  # the end token is drawn like any other, without text
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias) pairs
    allowed_token_ids: tuple[int, ...] | None = None
    bad_words: tuple[str, ...] = ()  # never generated (as vLLM tokenizes and bans them)

    def check(self, n_vocab: int | None = None) -> None:
        """Raise :class:`SamplingError` naming the first field out of vLLM's range."""
        if self.max_tokens is not None and self.max_tokens < 1:
            raise SamplingError(f"max_tokens must be at least 1 (or None), got {self.max_tokens}.")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise SamplingError(f"temperature must be 0 or more (0 means greedy), got {self.temperature}.")
        if not 0 < self.top_p <= 1:
            raise SamplingError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.top_k < -1:
            raise SamplingError(f"top_k must be -1 or 0 (off), or at least 1, got {self.top_k}.")
        if not 0 <= self.min_p <= 1:
            raise SamplingError(f"min_p must be in [0, 1], got {self.min_p}.")
        if not (math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0):
            raise SamplingError(f"repetition_penalty must be greater than 0, got {self.repetition_penalty}.")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2 <= getattr(self, name) <= 2:
                raise SamplingError(f"{name} must be in [-2, 2], got {getattr(self, name)}.")
        if self.min_tokens < 0 or (self.max_tokens is not None and self.min_tokens > self.max_tokens):
            raise SamplingError(f"min_tokens must be between 0 and max_tokens, got {self.min_tokens}.")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise SamplingError("stop must hold non-empty strings.")
        if any(not isinstance(w, str) or not w.strip() for w in self.bad_words):
            raise SamplingError("bad_words must hold words, not empty strings.")
        if self.allowed_token_ids is not None and not self.allowed_token_ids:
            raise SamplingError("allowed_token_ids must not be empty.")
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
