"""Shared fixtures: a tiny bf16 Mistral checkpoint, GGUF files our converter built from it,
the bundled toy behind the Python API, and an engine without a model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_factory import write_tiny_checkpoint, write_tiny_llama3_checkpoint

# Module fixtures that start a server or run generate end to end for many seconds: every
# test using one is slow, whatever it does itself, since the first to ask pays for all.
SLOW_FIXTURES = frozenset({"llama_server", "private_run", "uninterrupted", "sample_run", "bigram_gguf"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer bf16 MistralForCausalLM checkpoint (2024-style config) with the Mistral tokenizer."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny-bonito")


def _converted(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, quant: str) -> Path:
    from bonito_lite.models.convert import convert_checkpoint

    output = tmp_path_factory.mktemp("gguf") / f"{checkpoint.name}.{quant}.gguf"
    return convert_checkpoint(checkpoint, output, quant=quant, progress=False).path


@pytest.fixture(scope="session")
def tiny_gguf_f32(tmp_path_factory, tiny_checkpoint) -> Path:
    return _converted(tmp_path_factory, tiny_checkpoint, "F32")


@pytest.fixture(scope="session")
def tiny_gguf_q8_0(tmp_path_factory, tiny_checkpoint) -> Path:
    return _converted(tmp_path_factory, tiny_checkpoint, "Q8_0")


@pytest.fixture(scope="session")
def tiny_gguf_q4_k_m(tmp_path_factory, tiny_checkpoint) -> Path:
    return _converted(tmp_path_factory, tiny_checkpoint, "Q4_K_M")


@pytest.fixture(scope="session")
def llama3_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer bf16 LlamaForCausalLM shaped like Llama 3.1 8B, with Meta's Llama 3 tokenizer."""
    return write_tiny_llama3_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny-llama3-bonito")


@pytest.fixture(scope="session")
def llama3_gguf_f32(tmp_path_factory, llama3_checkpoint) -> Path:
    return _converted(tmp_path_factory, llama3_checkpoint, "F32")


@pytest.fixture(scope="session")
def llama3_gguf_q8_0(tmp_path_factory, llama3_checkpoint) -> Path:
    return _converted(tmp_path_factory, llama3_checkpoint, "Q8_0")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CLI test runs in its own empty folder, untouched by BONITO_LITE_* settings from outside."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("BONITO_LITE_")]:
        monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The token count of every llama_decode call the test makes, in order."""
    from bonito_lite.engines import llama_handles

    calls: list[int] = []
    original = llama_handles.Context.decode

    def counting(context, batch):
        calls.append(batch.size)
        return original(context, batch)

    monkeypatch.setattr(llama_handles.Context, "decode", counting)
    return calls


@pytest.fixture
def usual_umask() -> Iterator[int]:
    """The process runs under umask 022, the usual one, which leaves new files readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield 0o022
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def bonito():
    """The Python API on the bundled toy model, loaded once per test module."""
    from bonito_lite import Bonito

    with Bonito("toy") as model:
        yield model


class ScriptedEngine:
    """An engine without a model: completes every sample of a request with ``reply(prompt, seed)``.

    Completions come back in reverse order, as a batched engine may finish them; ``requests``
    holds every request it was given.
    """

    def __init__(self, reply, finish_reason: str = "stop") -> None:
        self.reply = reply
        self.finish_reason = finish_reason
        self.requests = []

    def generate(self, requests):
        from bonito_lite.engines.generation import Completion

        done = []
        for request in requests:
            self.requests.append(request)
            for index, seed in enumerate(request.seeds):
                text = self.reply(request.prompt, seed)
                done.append(Completion(request.key, index, text, 10, 5, self.finish_reason))
        yield from reversed(done)


@pytest.fixture
def scripted_engine():
    """Makes a :class:`ScriptedEngine`: ``scripted_engine(reply, finish_reason="stop")``."""
    return ScriptedEngine
