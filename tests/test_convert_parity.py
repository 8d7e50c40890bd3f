"""The converted model is the same model: llama.cpp against transformers, token by token.

llama.cpp runs the GGUF files through its low-level API with repacking off
(``use_extra_bufts = False``: quantized models crash on this CPU's AMX path otherwise) and
an F32 KV cache; transformers runs the bf16 checkpoint in float32.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from bonito_lite.prompt import build_prompt

PROMPTS = [
    build_prompt("extractive question answering", "The lease ends on 1 May 2024 unless renewed in writing."),
    build_prompt("summarization", "Le café de la gare, à Zürich, ouvre à 7 h.\nIl ferme à 19 h."),
    build_prompt("textual entailment", "東京は日本の首都です。 The report 🎉 was filed <|pipe|> twice."),
    build_prompt("question generation", "  Patients with a history of asthma\n\nmust not receive drug X. "),
]


@pytest.fixture(scope="module")
def llama_cpp_quiet():
    import llama_cpp

    @llama_cpp.llama_log_callback
    def silent(level, text, user_data):
        pass

    llama_cpp.llama_log_set(silent, ctypes.c_void_p(0))
    yield llama_cpp
    from llama_cpp import _logger

    llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


class LlamaCppModel:
    """A GGUF model and one context, through llama.cpp's C API."""

    def __init__(self, llama_cpp, path: Path, n_ctx: int = 256):
        from bonito_lite.engines.llama_handles import pin_cpu_kernel

        # ggml picks its CPU matrix kernel at the process's first product: pinned here as
        # every engine context pins it, so that engine tests later in the process keep it.
        pin_cpu_kernel()
        self.lib = llama_cpp
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        model_params.use_extra_bufts = False
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        assert self.model, f"llama.cpp could not load {path}"
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        context_params = llama_cpp.llama_context_default_params()
        context_params.n_ctx = context_params.n_batch = context_params.n_ubatch = n_ctx
        context_params.n_threads = context_params.n_threads_batch = 2
        context_params.type_k = llama_cpp.GGML_TYPE_F32
        context_params.type_v = llama_cpp.GGML_TYPE_F32
        self.ctx = llama_cpp.llama_init_from_model(self.model, context_params)
        assert self.ctx

    def tokenize(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        buffer = (self.lib.llama_token * (len(raw) + 8))()
        n = self.lib.llama_tokenize(self.vocab, raw, len(raw), buffer, len(buffer), True, False)
        assert n >= 0
        return list(buffer[:n])

    def logits(self, tokens: list[int]) -> np.ndarray:
        lib = self.lib
        lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        batch = lib.llama_batch_init(len(tokens), 0, 1)
        try:
            for i, token in enumerate(tokens):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
                batch.seq_id[i][0], batch.logits[i] = 0, 1
            batch.n_tokens = len(tokens)
            assert lib.llama_decode(self.ctx, batch) == 0
            return np.stack(
                [
                    np.ctypeslib.as_array(lib.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,)).copy()
                    for i in range(len(tokens))
                ]
            )
        finally:
            lib.llama_batch_free(batch)

    def generate(self, tokens: list[int], n: int) -> list[int]:
        """Greedy continuation, one token at a time through the KV cache."""
        out = []
        logits = self.logits(tokens)[-1]
        lib = self.lib
        for _step in range(n):
            token = int(np.argmax(logits))
            out.append(token)
            batch = lib.llama_batch_get_one((lib.llama_token * 1)(token), 1)
            assert lib.llama_decode(self.ctx, batch) == 0
            logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(self.ctx, -1), shape=(self.n_vocab,)).copy()
        return out

    def close(self) -> None:
        self.lib.llama_free(self.ctx)
        self.lib.llama_model_free(self.model)


@pytest.fixture(scope="module")
def sentencepiece_ids(tiny_checkpoint):
    from sentencepiece import SentencePieceProcessor

    processor = SentencePieceProcessor(model_file=str(tiny_checkpoint / "tokenizer.model"))
    return lambda text: [1] + processor.encode(text)


@pytest.fixture(scope="module")
def reference_logits(tiny_checkpoint, sentencepiece_ids):
    import torch
    from transformers import MistralForCausalLM

    model = MistralForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32).eval()
    with torch.no_grad():
        return [model(torch.tensor([sentencepiece_ids(p)])).logits[0].numpy() for p in PROMPTS]


def _compare(llama_cpp, gguf_path, sentencepiece_ids, reference_logits):
    """Mean KL(transformers || llama.cpp) over every position of every prompt, and top-1 agreement."""
    model = LlamaCppModel(llama_cpp, gguf_path)
    try:
        kls, agreements = [], []
        for prompt, expected in zip(PROMPTS, reference_logits):
            got = model.logits(sentencepiece_ids(prompt))
            log_p = expected - np.logaddexp.reduce(expected, axis=1, keepdims=True)
            log_q = got - np.logaddexp.reduce(got, axis=1, keepdims=True)
            kls.append((np.exp(log_p) * (log_p - log_q)).sum(axis=1))
            agreements.append(expected.argmax(axis=1) == got.argmax(axis=1))
        return float(np.concatenate(kls).mean()), float(np.concatenate(agreements).mean())
    finally:
        model.close()


@pytest.mark.slow
def test_f32_gguf_gives_transformers_log_probs(llama_cpp_quiet, tiny_gguf_f32, sentencepiece_ids, reference_logits):
    mean_kl, top1 = _compare(llama_cpp_quiet, tiny_gguf_f32, sentencepiece_ids, reference_logits)
    # Measured: mean KL 2.0e-6 (float32 summation order differs between the two).
    assert mean_kl <= 1e-4
    assert top1 == 1.0


def test_q8_0_gguf_stays_close_to_transformers(llama_cpp_quiet, tiny_gguf_q8_0, sentencepiece_ids, reference_logits):
    mean_kl, top1 = _compare(llama_cpp_quiet, tiny_gguf_q8_0, sentencepiece_ids, reference_logits)
    # Measured on this random-weight model: mean KL 0.0012, top-1 agreement 0.92.
    assert mean_kl <= 0.005
    assert top1 >= 0.85


@pytest.mark.slow
def test_q4_k_m_gguf_stays_near_transformers(llama_cpp_quiet, tiny_gguf_q4_k_m, sentencepiece_ids, reference_logits):
    mean_kl, top1 = _compare(llama_cpp_quiet, tiny_gguf_q4_k_m, sentencepiece_ids, reference_logits)
    # Measured on this random-weight model (flat distributions, so top-1 is fragile):
    # mean KL 0.119, top-1 agreement 0.36.
    assert mean_kl <= 0.3
    assert top1 >= 0.2


def test_a_checkpoint_with_a_tied_output_head_converts_to_a_gguf_without_one_that_llama_cpp_runs(
    llama_cpp_quiet, tmp_path, sentencepiece_ids
):
    # The bundled toy's layout: the output head is the embedding matrix, so the GGUF holds no
    # output.weight and llama.cpp multiplies by token_embd instead.
    import gguf
    import torch
    from transformers import MistralForCausalLM

    from bonito_lite.models.convert import convert_checkpoint

    from model_factory import write_tiny_checkpoint

    checkpoint = write_tiny_checkpoint(tmp_path / "tied", dtype="float32", tied=True, seed=3)
    output = tmp_path / "tied.gguf"
    convert_checkpoint(source=str(checkpoint), output=output, quant="F32", overwrite=True)
    names = {tensor.name for tensor in gguf.GGUFReader(output).tensors}
    assert "token_embd.weight" in names and "output.weight" not in names
    model = MistralForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    with torch.no_grad():
        expected = [model(torch.tensor([sentencepiece_ids(p)])).logits[0].numpy() for p in PROMPTS]
    mean_kl, top1 = _compare(llama_cpp_quiet, output, sentencepiece_ids, expected)
    # Measured: top-1 agreement 0.995 (one near-tie of random weights in 190 positions).
    assert mean_kl <= 1e-4
    assert top1 >= 0.99


def test_llama_cpp_tokenizes_bonito_prompts_like_sentencepiece(llama_cpp_quiet, tiny_gguf_f32, sentencepiece_ids):
    model = LlamaCppModel(llama_cpp_quiet, tiny_gguf_f32)
    try:
        extra = ["<|pipe|>", "naïve façade, Straße — ¿qué?", "中文 日本語 한국어", "🎉👩‍🔬", "\n\n  a\tb  \n"]
        for text in PROMPTS + extra:
            assert model.tokenize(text) == sentencepiece_ids(text), text
        # The Bonito tags are plain text, not special tokens.
        assert model.tokenize("<|pipe|>")[1:] == [523, 28766, 12911, 28766, 28767]
    finally:
        model.close()


@pytest.mark.parametrize("fixture", ["tiny_gguf_q8_0", "tiny_gguf_q4_k_m"])
def test_quantized_models_load_and_generate(llama_cpp_quiet, fixture, request, sentencepiece_ids):
    model = LlamaCppModel(llama_cpp_quiet, request.getfixturevalue(fixture))
    try:
        tokens = model.generate(sentencepiece_ids(PROMPTS[0]), 8)
        assert len(tokens) == 8
        assert all(0 <= t < 32000 for t in tokens)
    finally:
        model.close()


# The Llama 3.1 Bonito's shape: Meta's BPE tokenizer, llama3 RoPE scaling (tests/model_factory.py).
LLAMA3_TEXTS = [
    "naïve façade, Straße — ¿qué? I've been 'told he's there, 'RE you sure?",
    "中文 日本語 한국어 🎉👩‍🔬 3 33 333 3333 33333 3.14",
    "\n\n  a\tb  \n   \n",
    "<|pipe|> and <|context|> are plain text, not special tokens.",
]


@pytest.fixture(scope="module")
def llama3_ids(llama3_checkpoint):
    """The checkpoint's own tokenizer (tokenizer.json through the tokenizers library): BOS added."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(llama3_checkpoint / "tokenizer.json"))
    return lambda text: tokenizer.encode(text).ids


@pytest.fixture(scope="module")
def llama3_reference_logits(llama3_checkpoint, llama3_ids):
    import torch
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(llama3_checkpoint, dtype=torch.float32).eval()
    with torch.no_grad():
        return [model(torch.tensor([llama3_ids(p)])).logits[0].numpy() for p in PROMPTS]


@pytest.mark.slow
def test_llama3_f32_gguf_gives_transformers_log_probs(
    llama_cpp_quiet, llama3_gguf_f32, llama3_ids, llama3_reference_logits
):
    mean_kl, top1 = _compare(llama_cpp_quiet, llama3_gguf_f32, llama3_ids, llama3_reference_logits)
    # Measured: mean KL 1.4e-6, top-1 agreement 0.994 (one near-tie among 161 positions over
    # a 128,256-token vocabulary of random weights).
    assert mean_kl <= 1e-4
    assert top1 >= 0.98


def test_llama3_q8_0_gguf_stays_close_to_transformers(
    llama_cpp_quiet, llama3_gguf_q8_0, llama3_ids, llama3_reference_logits
):
    mean_kl, top1 = _compare(llama_cpp_quiet, llama3_gguf_q8_0, llama3_ids, llama3_reference_logits)
    # Measured: mean KL 0.0013, top-1 agreement 0.93.
    assert mean_kl <= 0.005
    assert top1 >= 0.85


def test_llama3_gguf_without_rope_freqs_drifts_from_transformers(
    llama_cpp_quiet, llama3_gguf_f32, llama3_ids, llama3_reference_logits, tmp_path
):
    """The rope_freqs tensor is what makes llama.cpp's RoPE Llama 3.1's: all ones is measurably off."""
    import shutil

    import gguf

    plain = shutil.copyfile(llama3_gguf_f32, tmp_path / "plain-rope.gguf")
    (factors,) = [t for t in gguf.GGUFReader(plain, "r+").tensors if t.name == "rope_freqs.weight"]
    factors.data[:] = 1.0
    factors.data.flush()
    scaled_kl, _ = _compare(llama_cpp_quiet, llama3_gguf_f32, llama3_ids, llama3_reference_logits)
    plain_kl, _ = _compare(llama_cpp_quiet, plain, llama3_ids, llama3_reference_logits)
    # Measured: 1.4e-6 with the factors, 4.4e-5 without (these prompts reach position 60).
    assert plain_kl > 10 * max(scaled_kl, 1e-7)


def test_llama_cpp_tokenizes_like_the_llama3_tokenizer(llama_cpp_quiet, llama3_gguf_f32, llama3_ids):
    from llama_models.llama3.tokenizer import Tokenizer as MetaTokenizer

    from model_factory import llama3_tokenizer_model

    meta = MetaTokenizer(llama3_tokenizer_model())
    model = LlamaCppModel(llama_cpp_quiet, llama3_gguf_f32)
    try:
        for text in PROMPTS + LLAMA3_TEXTS:
            expected = meta.encode(text, bos=True, eos=False)
            assert llama3_ids(text) == expected, text
            assert model.tokenize(text) == expected, text
        # BOS once, at the start; the Bonito tags and special-token text inside a passage stay text.
        tokens = model.tokenize(PROMPTS[0])
        assert tokens[0] == 128000 and 128000 not in tokens[1:]
        assert all(t < 128000 for t in model.tokenize(LLAMA3_TEXTS[3])[1:])
    finally:
        model.close()


def test_llama3_end_tokens_stop_generation(llama_cpp_quiet, llama3_gguf_q8_0):
    model = LlamaCppModel(llama_cpp_quiet, llama3_gguf_q8_0)
    try:
        is_end = [model.lib.llama_vocab_is_eog(model.vocab, t) for t in (128001, 128008, 128009, 128000, 1000)]
        # <|end_of_text|>, <|eom_id|>, <|eot_id|> end a generation; BOS and a word do not.
        assert is_end == [True, True, True, False, False]
    finally:
        model.close()
