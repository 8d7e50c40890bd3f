"""Shared fixtures: a tiny bf16 Mistral checkpoint and GGUF files our converter built from it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from model_factory import write_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer bf16 MistralForCausalLM checkpoint (2024-style config) with the Mistral tokenizer."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny-bonito")


def _converted(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, quant: str) -> Path:
    from bonito_lite.convert import convert_checkpoint

    output = tmp_path_factory.mktemp("gguf") / f"tiny-bonito.{quant}.gguf"
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
    from bonito_lite import llama_handles

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
