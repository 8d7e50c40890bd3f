"""Checking GGUF files before llama.cpp sees them, and describing the good ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bonito_lite.errors import ModelFileError
from bonito_lite.models.info import file_sha256, read_model_info
from bonito_lite.models.metadata import PROMPT_TEMPLATE_KEY
from bonito_lite.prompt import PROMPT_TEMPLATE

from model_factory import write_small_gguf


def _one_line_error(path: Path) -> str:
    with pytest.raises(ModelFileError) as error:
        read_model_info(path)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_describes_a_converted_model(tiny_gguf_q4_k_m: Path):
    info = read_model_info(tiny_gguf_q4_k_m)
    assert info.architecture == "llama"
    assert info.file_type == "Q4_K_M"
    assert (info.block_count, info.embedding_length, info.head_count, info.head_count_kv) == (2, 256, 4, 2)
    assert info.key_length == info.value_length == 64
    assert info.vocab_size == 32000
    assert info.context_length == 32768
    assert info.file_size == tiny_gguf_q4_k_m.stat().st_size
    # embeddings + head (2 x 32000 x 256) + 2 layers of attention, FFN and norms + final norm
    per_layer = 256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 512 + 2 * 256
    assert info.parameter_count == 2 * 32000 * 256 + 2 * per_layer + 256
    # F16 KV cache: layers x (K + V) x kv heads x head size x 2 bytes
    assert info.kv_bytes_per_token() == 2 * 2 * 2 * 64 * 2


def test_reads_the_bonito_metadata(tiny_gguf_f32: Path):
    info = read_model_info(tiny_gguf_f32)
    assert info.file_type == "F32"
    assert info.is_bonito
    assert info.bonito[PROMPT_TEMPLATE_KEY] == PROMPT_TEMPLATE
    assert not info.is_toy


def test_missing_path(tmp_path: Path):
    assert "no such model file" in _one_line_error(tmp_path / "absent.gguf")


def test_folder(tmp_path: Path):
    assert "is a folder" in _one_line_error(tmp_path)


def test_empty_file(tmp_path: Path):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    message = _one_line_error(empty)
    assert "not a GGUF model file" in message and "empty" in message


def test_wrong_magic(tmp_path: Path):
    # what a safetensors file starts with: an 8-byte header length, then JSON
    fake = tmp_path / "model.gguf"
    fake.write_bytes((20).to_bytes(8, "little") + b'{"__metadata__":{}}  ' + bytes(64))
    message = _one_line_error(fake)
    assert "not a GGUF model file" in message and "convert" in message


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.001, 0.5, 0.999])
def test_truncated_copy_of_a_real_model(tiny_gguf_q8_0: Path, tmp_path: Path, fraction: float):
    data = tiny_gguf_q8_0.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: max(8, int(len(data) * fraction))])
    assert "truncated" in _one_line_error(cut)


def test_other_architecture(tmp_path: Path):
    message = _one_line_error(write_small_gguf(tmp_path / "gpt2.gguf", "gpt2", with_tokenizer=True))
    assert "'gpt2'" in message and "llama" in message


def test_no_tokenizer(tmp_path: Path):
    message = _one_line_error(write_small_gguf(tmp_path / "bare.gguf", "llama", with_tokenizer=False))
    assert "tokenizer" in message and "tokenizer.ggml.tokens" in message


def test_minimal_llama_gguf_with_tokens_is_accepted(tmp_path: Path):
    info = read_model_info(write_small_gguf(tmp_path / "small.gguf", "llama", with_tokenizer=True))
    assert info.vocab_size == 4 and info.head_count_kv == 2 and info.key_length == 4
    assert info.bonito == {} and not info.is_bonito


def test_sha256_streams_the_file(tmp_path: Path):
    data = bytes(range(256)) * 5000
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(path, chunk_bytes=1000) == hashlib.sha256(data).hexdigest()
