"""Prompts evaluated together and the numpy sampler: same results as alone, fewer decode calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonito_lite.engines import llama_handles, sampler
from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
from bonito_lite.engines.local import Engine
from bonito_lite.prompt import build_prompt

THREADS = 1


def _equal_length_requests(n: int, seeds_per_request: int = 1, max_tokens: int = 10):
    # "Passage 1" ... "Passage 9": one digit each, so every prompt has the same token count
    return [
        GenerationRequest(
            key=i,
            prompt=build_prompt("extractive question answering", f"Passage {i}: the dog ran to the park. " * 2),
            seeds=tuple(100 * i + s for s in range(seeds_per_request)),
            sampling=Sampling(max_tokens=max_tokens, temperature=0.9, top_p=0.9),
        )
        for i in range(1, n + 1)
    ]


def _run(model: Path, parallel: int, requests, decode_calls: list[int]) -> tuple[dict, list[int], set[int]]:
    """Completions by (key, sample), the token count of each llama_decode call of this run, the prompt lengths."""
    first_call = len(decode_calls)
    with Engine(model, EngineSettings(parallel=parallel, threads=THREADS, ctx_size=256)) as engine:
        lengths = {len(engine.tokenize(r.prompt)) for r in requests}
        texts = {(c.key, c.sample_index): c.text for c in engine.generate(requests)}
    return texts, decode_calls[first_call:], lengths


def test_equal_length_prompts_share_a_decode_and_give_the_same_text_as_alone(tiny_gguf_q4_k_m: Path, decode_calls):
    requests = _equal_length_requests(8, seeds_per_request=2)
    alone, alone_calls, lengths = _run(tiny_gguf_q4_k_m, 1, requests, decode_calls)
    [length] = lengths
    together, calls, _ = _run(tiny_gguf_q4_k_m, 16, requests, decode_calls)
    assert together == alone
    assert len(set(together.values())) == 16
    # parallel 16: the eight prompts in one call (8 x length tokens fit a ubatch of 512),
    # then one call per generated token after the first, each with all 16 samples
    assert 8 * length <= 512
    assert calls == [8 * length] + [16] * 9
    assert max(alone_calls) == length  # parallel 1: one prompt per call


def test_prompts_of_mixed_lengths_are_grouped_by_length(tiny_gguf_q4_k_m: Path, decode_calls):
    same = _equal_length_requests(4)
    longer = [
        GenerationRequest(key=100 + i, prompt=r.prompt + " More.", seeds=r.seeds, sampling=r.sampling)
        for i, r in enumerate(same)
    ]
    mixed = [r for pair in zip(same, longer) for r in pair]  # alternating lengths
    alone, _, lengths = _run(tiny_gguf_q4_k_m, 1, mixed, decode_calls)
    together, calls, _ = _run(tiny_gguf_q4_k_m, 8, mixed, decode_calls)
    assert together == alone
    assert len(lengths) == 2
    assert sorted(calls[:2]) == sorted(4 * n for n in lengths)


def test_more_equal_prompts_than_a_ubatch_holds_split_into_whole_prompts(
    tiny_gguf_q4_k_m: Path, monkeypatch, decode_calls
):
    requests = _equal_length_requests(6, max_tokens=4)
    alone, _, [length] = _run(tiny_gguf_q4_k_m, 1, requests, decode_calls)
    # a ubatch of 2.5 prompts: calls of 2, 2 and 2 whole prompts, never a cut one
    original_init = llama_handles.Context.__init__

    def small_ubatch(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.n_ubatch = 5 * length // 2

    monkeypatch.setattr(llama_handles.Context, "__init__", small_ubatch)
    together, calls, _ = _run(tiny_gguf_q4_k_m, 6, requests, decode_calls)
    assert together == alone
    assert calls[:3] == [2 * length] * 3


# -- the sampler --------------------------------------------------------------------------


def _exact_nucleus(logits: np.ndarray, top_p: float) -> set[int]:
    below = (logits.max() - logits).astype(np.float64)
    order = np.lexsort((np.arange(len(logits)), below))
    probabilities = np.exp(-below)
    taken = int(np.searchsorted(np.cumsum(probabilities[order]), top_p * probabilities.sum())) + 1
    return set(order[: max(1, taken)].tolist())


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("top_p", [0.5, 0.9, 0.95, 0.999])
def test_the_histogram_nucleus_is_the_sorted_one(scale: float, top_p: float):
    rng = np.random.default_rng(int(scale * 100 + top_p * 1000))
    logits = (rng.standard_normal(32000) * scale).astype(np.float32)
    logits[rng.integers(0, 32000, 50)] = logits[7]  # ties
    below = logits.max() - logits
    assert set(sampler._nucleus(below, top_p).tolist()) == _exact_nucleus(logits, top_p)


def test_the_nucleus_skips_tokens_a_grammar_ruled_out():
    logits = np.array([2.0, -np.inf, 1.0, -np.inf, 0.5], dtype=np.float32)
    nucleus = sampler._nucleus(logits.max() - logits, 0.999)
    assert set(nucleus.tolist()) <= {0, 2, 4}
    assert 0 in nucleus
