"""Shared prompt prefixes: evaluated once, restored into every prompt that starts with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonito_lite.engines import local as engine_module
from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
from bonito_lite.engines.local import Engine
from bonito_lite.prompt import build_prompt, prompt_prefix

THREADS = 1
EXQA = "extractive question answering"
NLI = "sentiment"  # a prefix shorter than extractive QA's


def _requests(task_type: str, n: int, *, shared: bool = True, seeds_per_request: int = 1, first_key: int = 0):
    # "Passage 1" ... "Passage 9": one digit each, so every prompt has the same token count
    return [
        GenerationRequest(
            key=first_key + i,
            prompt=build_prompt(task_type, f"Passage {i}: the dog ran to the park. " * 2),
            seeds=tuple(100 * i + s for s in range(seeds_per_request)),
            sampling=Sampling(max_tokens=8, temperature=0.9, top_p=0.9),
            shared_prefix=prompt_prefix(task_type) if shared else "",
        )
        for i in range(1, n + 1)
    ]


def _texts(engine: Engine, requests) -> dict:
    return {(c.key, c.sample_index): c.text for c in engine.generate(requests)}


def _open(model: Path, parallel: int, threads: int = THREADS) -> Engine:
    return Engine(model, EngineSettings(parallel=parallel, threads=threads, ctx_size=256))


def _prefix_length(engine: Engine, task_type: str) -> int:
    return len(engine.tokenize(prompt_prefix(task_type)))


def test_the_prefix_is_evaluated_once_and_the_rests_together(tiny_gguf_q4_k_m: Path, decode_calls):
    requests = _requests(EXQA, 8, seeds_per_request=2)
    with _open(tiny_gguf_q4_k_m, 16) as engine:
        prefix = _prefix_length(engine, EXQA)
        [length] = {len(engine.tokenize(r.prompt)) for r in requests}
        texts = _texts(engine, requests)
    assert 0 < prefix < length
    # the prefix alone, then the eight rests in one call, then 16 samples per step
    assert decode_calls == [prefix, 8 * (length - prefix)] + [16] * 7
    assert len(set(texts.values())) == 16


@pytest.mark.slow
def test_records_are_the_same_at_every_parallel_and_thread_count_and_as_evaluated_whole(tiny_gguf_q4_k_m: Path):
    requests = _requests(EXQA, 6, seeds_per_request=2) + _requests(NLI, 3, first_key=10)
    interleaved = [r for pair in zip(requests[:3], requests[6:]) for r in pair] + requests[3:6]
    runs = {}
    for parallel in (1, 4, 16):
        with _open(tiny_gguf_q4_k_m, parallel) as engine:
            runs[parallel] = _texts(engine, interleaved)
    with _open(tiny_gguf_q4_k_m, 16, threads=2) as engine:
        two_threads = _texts(engine, interleaved)
    with _open(tiny_gguf_q4_k_m, 16) as engine:
        whole = _texts(engine, [_without_prefix(r) for r in interleaved])
    assert runs[1] == runs[4] == runs[16] == two_threads
    # the prefix's cells are the ones a whole evaluation writes: restoring them changes nothing
    assert runs[16] == whole


def _without_prefix(request: GenerationRequest) -> GenerationRequest:
    return GenerationRequest(request.key, request.prompt, request.seeds, request.sampling)


def test_the_prefix_outlives_a_generation_and_each_task_type_has_its_own(tiny_gguf_q4_k_m: Path, decode_calls):
    with _open(tiny_gguf_q4_k_m, 4) as engine:
        exqa, nli = _prefix_length(engine, EXQA), _prefix_length(engine, NLI)
        assert exqa != nli
        _texts(engine, _requests(EXQA, 2))
        _texts(engine, _requests(NLI, 2) + _requests(EXQA, 2, first_key=10))
    prefix_calls = [n for n in decode_calls if n in (exqa, nli)]
    assert prefix_calls == [exqa, nli]


def test_a_prefix_the_prompt_does_not_start_with_is_not_used(tiny_gguf_q4_k_m: Path, decode_calls):
    requests = [
        GenerationRequest(r.key, r.prompt, r.seeds, r.sampling, shared_prefix=prompt_prefix(NLI))
        for r in _requests(EXQA, 2)
    ]
    with _open(tiny_gguf_q4_k_m, 4) as engine:
        [length] = {len(engine.tokenize(r.prompt)) for r in requests}
        texts = _texts(engine, requests)
        whole = _texts(engine, [_without_prefix(r) for r in requests])
    assert decode_calls[0] == 2 * length  # both prompts whole, in one call
    assert texts == whole


def test_prefix_tokens_merged_with_the_passage_are_not_shared(tiny_gguf_q4_k_m: Path, decode_calls):
    # " the" after "park" tokenizes as one piece with its space: the prefix "...park" ends
    # inside a token of the whole prompt, so the prompt is evaluated whole.
    prompt = "The dog ran to the park the next day."
    request = GenerationRequest(0, prompt, (1,), Sampling(max_tokens=4), shared_prefix="The dog ran to the park ")
    with _open(tiny_gguf_q4_k_m, 2) as engine:
        prefix = engine.tokenize(request.shared_prefix)
        tokens = engine.tokenize(prompt)
        assert tokens[: len(prefix)] != prefix
        _texts(engine, [request])
    assert decode_calls[0] == len(tokens)


def test_evicted_prefixes_are_evaluated_again_with_the_same_result(tiny_gguf_q4_k_m: Path, monkeypatch, decode_calls):
    requests = [r for pair in zip(_requests(EXQA, 3), _requests(NLI, 3, first_key=10)) for r in pair]
    with _open(tiny_gguf_q4_k_m, 1) as engine:
        kept = _texts(engine, requests)
    monkeypatch.setattr(engine_module, "_MAX_SHARED_PREFIXES", 1)
    first_call = len(decode_calls)
    with _open(tiny_gguf_q4_k_m, 1) as engine:
        exqa, nli = _prefix_length(engine, EXQA), _prefix_length(engine, NLI)
        evicted = _texts(engine, requests)
    assert evicted == kept
    assert [n for n in decode_calls[first_call:] if n in (exqa, nli)] == [exqa, nli] * 3


@pytest.mark.slow
def test_records_stay_the_same_when_finished_sequences_are_replaced_mid_run(tiny_gguf_q4_k_m: Path):
    # Sequences that end at different steps are replaced by new prompts, whose prefixes are
    # restored while the running sequences are moved down into the freed slots.
    requests = [
        GenerationRequest(
            key=i,
            prompt=build_prompt(task, f"Passage {i}: the dog ran to the park. " * 2),
            seeds=(i, 50 + i),
            sampling=Sampling(max_tokens=2 + (i * 5) % 9, temperature=0.9, top_p=0.9),
            shared_prefix=prompt_prefix(task),
        )
        for i, task in enumerate([EXQA, NLI] * 6)
    ]
    runs = []
    for parallel in (1, 3, 5, 8):
        with _open(tiny_gguf_q4_k_m, parallel) as engine:
            runs.append(_texts(engine, requests))
    assert len(runs[0]) == 24
    assert runs[1] == runs[0] and runs[2] == runs[0] and runs[3] == runs[0]
