"""The llama.cpp engine on real tiny GGUF models: batching, sharing, refills, determinism, grammar."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

from bonito_lite.engines import local as engine_module
from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
from bonito_lite.engines.local import Engine, Tokenizer
from bonito_lite.engines.resources import MemoryState, fit_parallel, memory_needed
from bonito_lite.errors import InputError, ModelFileError, ResourceError
from bonito_lite.models.info import read_model_info
from bonito_lite.prompt import PIPE, build_prompt, pipe_grammar

from cli_helpers import default_sigint

# One thread: the test machines are small and shared.
THREADS = 1


def _prompt(i: int) -> str:
    return build_prompt("extractive question answering", f"Passage {i}: the cat sat on the mat. " * (1 + i % 3))


def _requests(n: int, seeds_per_request: int = 1, max_tokens=lambda i: 12, temperature: float = 0.8):
    return [
        GenerationRequest(
            key=i,
            prompt=_prompt(i),
            seeds=tuple(1000 * i + s for s in range(seeds_per_request)),
            sampling=Sampling(max_tokens=max_tokens(i), temperature=temperature, top_p=0.95),
        )
        for i in range(n)
    ]


def _texts(engine: Engine, requests) -> dict:
    return {(c.key, c.sample_index): c.text for c in engine.generate(requests)}


@pytest.fixture(scope="module")
def engine4(tiny_gguf_q4_k_m: Path):
    with Engine(tiny_gguf_q4_k_m, EngineSettings(parallel=4, threads=THREADS, ctx_size=512)) as engine:
        yield engine


@pytest.fixture(scope="module")
def engine1(tiny_gguf_q4_k_m: Path):
    with Engine(tiny_gguf_q4_k_m, EngineSettings(parallel=1, threads=THREADS, ctx_size=512)) as engine:
        yield engine


def test_settings_report_what_was_applied(engine4: Engine):
    assert engine4.backend == "CPU"
    assert engine4.settings.parallel == 4
    assert engine4.settings.threads == THREADS
    assert engine4.settings.n_gpu_layers == 0
    # auto never repacks: AMX crashes on it, and repacked kernels make records depend on parallel
    assert engine4.settings.cpu_repack == "off"
    assert engine4.info.file_type == "Q4_K_M"


def test_random_weights_stop_at_max_tokens(engine4: Engine):
    [completion] = list(engine4.generate(_requests(1, max_tokens=lambda i: 7)))
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == 7
    assert completion.prompt_tokens == len(engine4.tokenize(_prompt(0)))
    assert engine4.tokenize(_prompt(0))[0] == 1  # BOS added by the engine
    assert completion.text


def test_count_tokens_excludes_bos_and_matches_vocab_only_tokenizer(engine4: Engine, tiny_gguf_q4_k_m: Path):
    text = "Bonito writes <|pipe|> as plain text, é and 日本 too."
    with Tokenizer(tiny_gguf_q4_k_m) as tokenizer:
        assert tokenizer.tokenize(text) == engine4.tokenize(text)
        assert tokenizer.count_tokens(text) == engine4.count_tokens(text) == len(engine4.tokenize(text)) - 1
    # the tags are not special tokens: <|pipe|> is < | pipe | >
    assert len(engine4.tokenize(PIPE, add_bos=False)) == 5


def test_samples_of_one_prompt_share_it_and_match_separate_runs(engine4: Engine):
    shared = GenerationRequest("p", _prompt(5), seeds=(11, 22, 33), sampling=Sampling(max_tokens=10, temperature=1.0))
    together = _texts(engine4, [shared])
    assert sorted(together) == [("p", 0), ("p", 1), ("p", 2)]
    assert len(set(together.values())) == 3  # different seeds, different text
    for index, seed in enumerate(shared.seeds):
        alone = GenerationRequest("p", shared.prompt, seeds=(seed,), sampling=shared.sampling)
        assert _texts(engine4, [alone])[("p", 0)] == together[("p", index)]


def test_more_requests_than_slots_all_complete_with_their_own_lengths(engine4: Engine):
    requests = _requests(11, seeds_per_request=2, max_tokens=lambda i: 3 + (i * 5) % 13)
    completions = list(engine4.generate(requests))
    assert sorted((c.key, c.sample_index) for c in completions) == [(i, s) for i in range(11) for s in range(2)]
    for c in completions:
        assert c.completion_tokens == requests[c.key].sampling.max_tokens
        assert c.finish_reason == "length"


def test_a_short_generation_finishes_before_an_earlier_long_one(engine4: Engine):
    requests = _requests(2, max_tokens=lambda i: 40 if i == 0 else 3)
    order = [c.key for c in engine4.generate(requests)]
    assert order == [1, 0]


def test_requests_are_read_lazily(engine4: Engine):
    pulled = []

    def stream():
        for request in _requests(20, max_tokens=lambda i: 2):
            pulled.append(request.key)
            yield request

    completions = engine4.generate(stream())
    next(completions)
    # four slots, plus at most one request read while looking for work
    assert len(pulled) <= 5
    assert len(list(completions)) == 19


@pytest.mark.slow
def test_completions_do_not_depend_on_parallel(engine1: Engine, engine4: Engine, tiny_gguf_q4_k_m: Path):
    requests = _requests(6, seeds_per_request=3, max_tokens=lambda i: 20 + 7 * (i % 3))
    one = _texts(engine1, requests)
    four = _texts(engine4, requests)
    assert one == four
    # 9 and 16 rows in one decode: past the 8 rows where ggml would switch K-quant kernels
    for parallel in (9, 16):
        with Engine(tiny_gguf_q4_k_m, EngineSettings(parallel=parallel, threads=THREADS, ctx_size=512)) as engine:
            assert _texts(engine, requests) == one


def test_the_cpu_kernel_is_pinned_unless_the_environment_says_otherwise(monkeypatch):
    from bonito_lite.engines import llama_handles

    monkeypatch.delenv(llama_handles.TILED_FORCE_ENV, raising=False)
    monkeypatch.delenv(llama_handles.TILED_SWITCH_ENV, raising=False)
    llama_handles.pin_cpu_kernel()  # what every context does before it computes
    assert llama_handles.cpu_kernel_pinned()
    for force, switch, pinned in [
        ("1", None, True),
        ("0", None, False),
        ("", None, False),
        ("1 ", "1", True),
        ("1", "0", False),
        ("2", None, False),
        ("1", "", False),
    ]:
        monkeypatch.setenv(llama_handles.TILED_FORCE_ENV, force)
        if switch is None:
            monkeypatch.delenv(llama_handles.TILED_SWITCH_ENV, raising=False)
        else:
            monkeypatch.setenv(llama_handles.TILED_SWITCH_ENV, switch)
        assert llama_handles.cpu_kernel_pinned() is pinned, (force, switch)


_UNPINNED_RUN = """
import json, sys
from bonito_lite.engines.local import Engine
from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
from bonito_lite.prompt import build_prompt
requests = [GenerationRequest(i, build_prompt("extractive question answering", f"Passage {i}: the cat sat. " * 3),
                              seeds=(i, i + 100), sampling=Sampling(max_tokens=12, temperature=0.8)) for i in range(5)]
texts = []
for parallel in (1, 10):
    with Engine(sys.argv[1], EngineSettings(parallel=parallel, threads=1, ctx_size=256)) as engine:
        texts.append(sorted((c.key, c.sample_index, c.text) for c in engine.generate(requests)))
print(json.dumps(texts[0] == texts[1]))
"""


@pytest.mark.slow
def test_completions_do_not_depend_on_parallel_with_the_tiled_kernel_unforced(tiny_gguf_q4_k_m: Path):
    # ggml reads its switch once per process, hence a fresh one; decodes then stay below 8 rows
    env = dict(os.environ, GGML_CPU_TILED_MM_FORCE="0")
    done = subprocess.run(
        [sys.executable, "-c", _UNPINNED_RUN, str(tiny_gguf_q4_k_m)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "true"


@pytest.mark.slow
def test_completions_do_not_depend_on_parallel_for_q8_0(tiny_gguf_q8_0: Path):
    requests = _requests(4, seeds_per_request=2, max_tokens=lambda i: 16)
    results = []
    for parallel in (1, 4, 8):
        with Engine(tiny_gguf_q8_0, EngineSettings(parallel=parallel, threads=THREADS, ctx_size=256)) as engine:
            results.append(_texts(engine, requests))
    assert results[0] == results[1] == results[2]


def test_same_seed_same_text_and_different_seeds_differ(engine4: Engine):
    def run(seed):
        request = GenerationRequest(0, _prompt(1), seeds=(seed,), sampling=Sampling(max_tokens=16, temperature=1.0))
        return _texts(engine4, [request])[(0, 0)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_temperature_zero_is_greedy_whatever_the_seed(engine4: Engine):
    greedy = GenerationRequest(0, _prompt(2), seeds=(1, 2, 3), sampling=Sampling(max_tokens=12, temperature=0.0))
    assert len(set(_texts(engine4, [greedy]).values())) == 1


def test_a_prompt_too_long_for_the_context_names_its_length(engine4: Engine):
    long_prompt = build_prompt("summarization", "word " * 600)
    n_tokens = len(engine4.tokenize(long_prompt))
    with pytest.raises(InputError, match=f"{n_tokens} tokens"):
        list(engine4.generate([GenerationRequest(0, long_prompt, seeds=(0,), sampling=Sampling(max_tokens=8))]))
    # the engine is usable afterwards
    assert len(list(engine4.generate(_requests(1, max_tokens=lambda i: 2)))) == 1


def test_byte_fallback_pieces_become_utf8_across_tokens(engine4: Engine):
    from bonito_lite.engines.llama_handles import tokens_text

    text = "naïve 日本語 ✓"
    tokens = engine4.tokenize(text, add_bos=False)
    assert len(tokens) > len(text.split())  # byte-fallback pieces are in there
    assert tokens_text(engine4._vocab, tokens).lstrip() == text


# -- memory check ---------------------------------------------------------------------------


# A machine of 8 GB keeps the minimum headroom, 1 GiB, free.
SMALL_MACHINE = 8_000_000_000


def _memory(available: int) -> MemoryState:
    return MemoryState(available=available, total=SMALL_MACHINE)


def test_parallel_is_lowered_to_what_fits_in_memory(tiny_gguf_q4_k_m: Path, caplog):
    info = read_model_info(tiny_gguf_q4_k_m)
    memory = _memory(memory_needed(info, 1024, 3) + 2**30 + 1)
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        assert fit_parallel(info, 1024, 8, memory) == 3
    assert "--parallel 8" in caplog.text and "running 3 sequences at a time" in caplog.text
    assert fit_parallel(info, 1024, 2, memory) == 2
    assert fit_parallel(info, 1024, 8, None) == 8


def test_engine_refuses_when_even_one_sequence_does_not_fit(tiny_gguf_q4_k_m: Path, monkeypatch):
    monkeypatch.setattr(engine_module, "memory_state", lambda: _memory(1_000_000))
    with pytest.raises(ResourceError) as error:
        Engine(tiny_gguf_q4_k_m, EngineSettings(threads=THREADS))
    assert "\n" not in str(error.value)
    assert "GB" in str(error.value)


def test_engine_applies_lowered_parallel(tiny_gguf_q4_k_m: Path, monkeypatch):
    info = read_model_info(tiny_gguf_q4_k_m)
    monkeypatch.setattr(engine_module, "memory_state", lambda: _memory(memory_needed(info, 256, 2) + 2**30 + 1))
    with Engine(tiny_gguf_q4_k_m, EngineSettings(parallel=6, ctx_size=256, threads=THREADS)) as engine:
        assert engine.settings.parallel == 2
        assert len(list(engine.generate(_requests(3, max_tokens=lambda i: 2)))) == 3


def test_engine_checks_the_file_before_llama_cpp(tmp_path: Path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        Engine(bad)
    with pytest.raises(ModelFileError):
        Tokenizer(bad)


def test_bad_settings_are_input_errors(tiny_gguf_q4_k_m: Path):
    with pytest.raises(InputError, match="cpu_repack"):
        Engine(tiny_gguf_q4_k_m, EngineSettings(cpu_repack="sometimes"))
    with pytest.raises(InputError, match="parallel"):
        Engine(tiny_gguf_q4_k_m, EngineSettings(parallel=0))


# -- grammar: a crafted model whose choices are known ----------------------------------------


def _bigram_gguf(source: Path, destination: Path, successors: dict[int, list[tuple[int, float]]]) -> Path:
    """Copy an F32 GGUF, rewired so that the next token depends only on the current one.

    Attention and FFN outputs are zeroed, so the final hidden state is the token's own
    embedding; each listed token gets its own embedding axis, and the output head maps
    that axis to the listed successors with the given scores (higher first).
    """
    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(destination, reader.fields["general.architecture"].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), field.types[0], sub_type=sub_type)
    axes = {token: axis for axis, token in enumerate(successors)}
    for tensor in reader.tensors:
        data = np.array(tensor.data, dtype=np.float32)
        if tensor.name.endswith(("attn_output.weight", "ffn_down.weight")):
            data[:] = 0.0
        elif tensor.name == "token_embd.weight":
            data[:, : len(axes)] = 0.0
            for token, axis in axes.items():
                data[token] = 0.0
                data[token, axis] = 10.0
        elif tensor.name == "output_norm.weight":
            data[:] = 1.0
        elif tensor.name == "output.weight":
            data[:, : len(axes)] = 0.0
            for token, axis in axes.items():
                for successor, score in successors[token]:
                    data[successor, axis] = score
        writer.add_tensor(tensor.name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return destination


@pytest.fixture(scope="module")
def bigram_gguf(tiny_gguf_f32: Path, tmp_path_factory) -> Path:
    with Tokenizer(tiny_gguf_f32) as tokenizer:
        newline = tokenizer.tokenize("\n", add_bos=False)[-1]
        lt, bar, pipe_word, bar2, gt = tokenizer.tokenize("\n" + PIPE, add_bos=False)[-5:]
    assert bar == bar2
    eos = 2
    # After the prompt's last "\n" the model wants to stop at once, "<" next; after "|",
    # "pipe" then ">"; after ">", stop.
    successors = {
        newline: [(eos, 10.0), (lt, 8.0)],
        lt: [(bar, 10.0)],
        bar: [(pipe_word, 10.0), (gt, 8.0)],
        pipe_word: [(bar, 10.0)],
        gt: [(eos, 10.0)],
    }
    return _bigram_gguf(tiny_gguf_f32, tmp_path_factory.mktemp("bigram") / "bigram.gguf", successors)


def _greedy(engine: Engine) -> list:
    request = GenerationRequest(0, _prompt(0), seeds=(0, 1), sampling=Sampling(max_tokens=16, temperature=0.0))
    return sorted(engine.generate([request]), key=lambda c: c.sample_index)


def test_end_of_generation_stops_a_sequence(bigram_gguf: Path):
    with Engine(bigram_gguf, EngineSettings(threads=THREADS, ctx_size=256, parallel=2)) as engine:
        completions = _greedy(engine)
    assert [(c.text, c.finish_reason, c.completion_tokens) for c in completions] == [("", "stop", 0)] * 2


def test_constrained_generation_writes_exactly_one_pipe_before_stopping(bigram_gguf: Path):
    settings = EngineSettings(threads=THREADS, ctx_size=256, parallel=2, constrain=True)
    with Engine(bigram_gguf, settings) as engine:
        completions = _greedy(engine)
    for completion in completions:
        # the grammar forbids stopping before the pipe, then allows ">" after "|" only
        assert completion.finish_reason == "stop"
        assert completion.text == PIPE
        assert completion.text.count(PIPE) == 1


def test_constrained_random_model_never_writes_a_second_tag(tiny_gguf_q4_k_m: Path):
    settings = EngineSettings(threads=THREADS, ctx_size=256, parallel=3, constrain=True)
    with Engine(tiny_gguf_q4_k_m, settings) as engine:
        completions = list(engine.generate(_requests(3, seeds_per_request=2, max_tokens=lambda i: 24, temperature=1.5)))
    for completion in completions:
        assert completion.text.count(PIPE) <= 1
        before, _, after = completion.text.partition(PIPE)
        assert "<|" not in before and "<|" not in after
        if completion.finish_reason == "stop":
            assert completion.text.count(PIPE) == 1


def test_pipe_grammar_is_valid_gbnf_for_llama_cpp(tiny_gguf_q4_k_m: Path):
    from bonito_lite.engines import llama_handles

    grammar = pipe_grammar()
    assert '"<|pipe|>"' in grammar
    with Tokenizer(tiny_gguf_q4_k_m) as tokenizer:
        vocab = tokenizer._model.vocab
        llama_handles.Grammar(vocab, grammar, llama_handles.Candidates(vocab.n_tokens)).close()


@pytest.mark.slow
def test_closing_the_engine_mid_generation_finishes_it_safely(tiny_gguf_q8_0):
    # A generation left suspended and collected after close() must not touch freed
    # llama.cpp objects: run in a child process so that a crash fails the test, not the suite.
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import gc
        from bonito_lite.engines.local import Engine
        from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
        engine = Engine({str(tiny_gguf_q8_0)!r}, EngineSettings(parallel=2))
        requests = [GenerationRequest(i, "Hello there", (i,), Sampling(max_tokens=4)) for i in range(6)]
        completions = engine.generate(requests)
        next(completions)
        engine.close()
        del completions
        gc.collect()
        print("clean")
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "clean"


@pytest.mark.slow
def test_ctrl_c_aborts_a_long_prompt_evaluation_inside_llama_decode(tiny_gguf_q8_0: Path):
    # Ctrl-C during a prompt's evaluation (one llama_decode call, seconds long on a real
    # model) must stop the call from inside, through llama.cpp's abort callback, and come
    # back as KeyboardInterrupt; the engine must then generate the same text and close.
    # SIGINT is sent the first time llama.cpp consults the abort callback in that call, so
    # it arrives while llama_decode runs however busy the machine is: no timer races the
    # evaluation. A child process, so that a crash or a stray SIGINT fails this test and
    # not the suite.
    import json
    import textwrap

    script = textwrap.dedent(f"""
        import json, os, signal
        from bonito_lite.engines import llama_handles
        from bonito_lite.engines.local import Engine
        from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling

        consult = llama_handles.Context._abort_requested
        armed = []
        answers = []  # what the abort callback told llama.cpp in the interrupted run
        def abort_requested(context, data):
            if armed and not answers:  # llama_decode is evaluating the prompt: Ctrl-C now
                os.kill(os.getpid(), signal.SIGINT)
            answer = consult(context, data)
            if armed:
                answers.append(answer)
            return answer
        # Before the engine exists: each context binds its abort callback when it is made.
        llama_handles.Context._abort_requested = abort_requested

        engine = Engine({str(tiny_gguf_q8_0)!r}, EngineSettings(parallel=1, threads={THREADS}, ctx_size=1024))
        prompt = " ".join(f"w{{i}}" for i in range(150))
        requests = [GenerationRequest(0, prompt, (7,), Sampling(max_tokens=3, temperature=0.0))]
        before = [c.text for c in engine.generate(requests)]

        real_decode = llama_handles.llama.llama_decode
        codes = []
        def decode(ctx, batch):
            codes.append(real_decode(ctx, batch))
            return codes[-1]
        llama_handles.llama.llama_decode = decode
        armed.append(True)
        try:
            list(engine.generate(requests))
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        armed.clear()
        llama_handles.llama.llama_decode = real_decode
        restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        after = [c.text for c in engine.generate(requests)]
        engine.close()
        print(json.dumps(dict(
            interrupted=interrupted, codes=codes, answers=answers, restored=restored,
            same_text=before == after,
        )))
    """)
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, preexec_fn=default_sigint
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["interrupted"], result
    # The one prompt decode returned llama.cpp's "aborted" code: the interrupt reached it
    # inside the call, not after it, and the abort callback is what said stop.
    assert result["codes"] == [2], result
    assert any(result["answers"]), result
    assert result["restored"] and result["same_text"], result


# -- ends: stop strings, stop tokens, the end token, min_tokens (vLLM's rules) ----------------


@pytest.fixture(scope="module")
def counting_gguf(tiny_gguf_f32: Path, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A model that greedily writes " one two three four" after the prompt, then the end token.

    After "four" the end token leads and "one" follows; after the end token comes "one".
    """
    with Tokenizer(tiny_gguf_f32) as tokenizer:
        newline = tokenizer.tokenize("\n", add_bos=False)[-1]
        words = tokenizer.tokenize("\n one two three four", add_bos=False)[-4:]
    assert len(set(words)) == 4
    one, two, three, four = words
    eos = 2
    successors = {
        newline: [(one, 10.0)],
        one: [(two, 10.0)],
        two: [(three, 10.0)],
        three: [(four, 10.0)],
        four: [(eos, 10.0), (one, 8.0)],
        eos: [(one, 10.0)],
    }
    path = _bigram_gguf(tiny_gguf_f32, tmp_path_factory.mktemp("counting") / "counting.gguf", successors)
    return path, {"one": one, "two": two, "three": three, "four": four}


def _greedy_completion(model: Path, ctx_size: int = 256, **sampling) -> tuple[str, str, int]:
    request = GenerationRequest(
        0, _prompt(0), seeds=(0,), sampling=Sampling(**{"max_tokens": 16, "temperature": 0.0, **sampling})
    )
    with Engine(model, EngineSettings(threads=THREADS, ctx_size=ctx_size, parallel=1)) as engine:
        (completion,) = engine.generate([request])
    return completion.text, completion.finish_reason, completion.completion_tokens


def test_the_counting_model_counts_to_four_and_stops(counting_gguf):
    model, _ = counting_gguf
    assert _greedy_completion(model) == (" one two three four", "stop", 4)


def test_a_stop_string_cuts_the_text_before_it_or_after_it_when_asked(counting_gguf):
    model, _ = counting_gguf
    assert _greedy_completion(model, stop=("ee f", "two"))[:2] == (" one ", "stop")
    assert _greedy_completion(model, stop=("thr",), include_stop_str_in_output=True)[:2] == (" one two thr", "stop")


def test_a_stop_token_ends_the_text_without_its_own_unless_asked(counting_gguf):
    model, ids = counting_gguf
    assert _greedy_completion(model, stop_token_ids=(ids["three"],)) == (" one two", "stop", 3)
    assert (
        _greedy_completion(model, stop_token_ids=(ids["three"],), include_stop_str_in_output=True)[0]
        == " one two three"
    )


def test_ignore_eos_generates_past_the_end_token_without_its_text(counting_gguf):
    model, _ = counting_gguf
    assert _greedy_completion(model, ignore_eos=True, max_tokens=7) == (" one two three four one two", "length", 7)


def test_min_tokens_holds_the_end_token_back_with_ignore_eos_too(counting_gguf):
    # vLLM masks the end token until min_tokens whatever ignore_eos says: "one" follows "four".
    model, _ = counting_gguf
    assert _greedy_completion(model, ignore_eos=True, min_tokens=5, max_tokens=7) == (
        " one two three four one two three",
        "length",
        7,
    )


def test_min_tokens_holds_the_end_token_and_stop_strings_back(counting_gguf):
    model, _ = counting_gguf
    # the end token is masked at the 5th token: "one" follows "four"
    assert _greedy_completion(model, min_tokens=5) == (" one two three four one two three four", "stop", 8)
    # "two" first appears at the 2nd token, before min_tokens: only its second time stops
    assert _greedy_completion(model, min_tokens=5, stop=("two",))[:2] == (" one two three four one ", "stop")


def test_bad_words_are_found_as_vllm_tokenizes_them(counting_gguf):
    model, ids = counting_gguf
    with Engine(model, EngineSettings(threads=THREADS, ctx_size=64, parallel=1)) as engine:
        assert engine._bad_word_tokens(("three",)) == [[ids["three"]]]
        assert engine._bad_word_tokens(("  two three",)) == [[ids["two"], ids["three"]]]


def test_max_tokens_none_generates_until_the_context_is_full(counting_gguf):
    model, _ = counting_gguf
    with Tokenizer(model) as tokenizer:
        prompt_tokens = len(tokenizer.tokenize(_prompt(0)))
    text, reason, tokens = _greedy_completion(model, ctx_size=prompt_tokens + 20, ignore_eos=True, max_tokens=None)
    assert (reason, tokens) == ("length", 20)
    assert text.startswith(" one two three four one")


def test_sampling_values_out_of_vllms_range_are_refused_naming_the_field(engine4: Engine):
    for field, value in [
        ("top_k", -2),
        ("min_p", 1.5),
        ("repetition_penalty", 0.0),
        ("max_tokens", 0),
        ("presence_penalty", 3.0),
        ("stop_token_ids", (99999,)),
    ]:
        request = GenerationRequest(0, _prompt(0), seeds=(0,), sampling=Sampling(**{field: value}))
        with pytest.raises(ValueError, match=field):
            list(engine4.generate([request]))


def test_more_sequences_than_llama_cpp_keeps_are_lowered_with_a_warning(tiny_gguf_q8_0, caplog, monkeypatch):
    monkeypatch.setattr(engine_module.llama, "max_parallel_sequences", lambda: 6)
    with Engine(tiny_gguf_q8_0, EngineSettings(parallel=100, threads=THREADS, ctx_size=256)) as engine:
        assert engine.settings.parallel <= 6
    assert "--parallel 100 is more than llama.cpp's 6 sequences; using 6" in caplog.text
