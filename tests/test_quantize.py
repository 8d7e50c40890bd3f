"""Quantization through llama.cpp: every type, the kept metadata, and the intermediate file."""

from __future__ import annotations

from collections import namedtuple

import gguf
import pytest

from bonito_lite.errors import EngineError, InputError, ResourceError
from bonito_lite.models import convert, metadata
from bonito_lite.models.convert import convert_checkpoint
from bonito_lite.models.quantize import LLAMA_CPP_TYPES, normalize_quant

QType = gguf.GGMLQuantizationType


def _types(path) -> dict[str, QType]:
    return {t.name: t.tensor_type for t in gguf.GGUFReader(path).tensors}


@pytest.mark.slow
def test_q4_k_m_uses_k_quants_and_keeps_all_metadata(tiny_gguf_q4_k_m, tiny_gguf_f32):
    types = _types(tiny_gguf_q4_k_m)
    # Hidden and FFN sizes are multiples of 256, so the K-quant mix applies as on the real model.
    assert types["blk.0.ffn_gate.weight"] == QType.Q4_K
    assert QType.Q6_K in set(types.values())
    assert types["output_norm.weight"] == QType.F32
    quantized, original = gguf.GGUFReader(tiny_gguf_q4_k_m), gguf.GGUFReader(tiny_gguf_f32)
    assert quantized.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q4_K_M
    for key in (
        metadata.IS_BONITO,
        metadata.PROMPT_TEMPLATE_KEY,
        metadata.TASK_TYPES_KEY,
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.scores",
        "tokenizer.ggml.add_bos_token",
    ):
        assert quantized.fields[key].contents() == original.fields[key].contents(), key


@pytest.mark.slow
@pytest.mark.parametrize("quant", sorted(set(LLAMA_CPP_TYPES) - {"Q4_K_M"}))
def test_every_llama_cpp_type_loads_in_llama_cpp(quant, tmp_path, tiny_checkpoint):
    import llama_cpp

    result = convert_checkpoint(tiny_checkpoint, tmp_path / "m.gguf", quant=quant.lower(), progress=False)
    reader = gguf.GGUFReader(result.path)
    assert reader.fields["general.file_type"].contents() == getattr(llama_cpp, LLAMA_CPP_TYPES[quant])
    params = llama_cpp.llama_model_default_params()
    params.use_extra_bufts = False
    model = llama_cpp.llama_model_load_from_file(str(result.path).encode(), params)
    assert model, f"llama.cpp cannot load the {quant} file"
    llama_cpp.llama_model_free(model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]


def test_quant_names_ignore_case_and_unknown_ones_are_listed():
    assert normalize_quant("q4_k_m") == "Q4_K_M"
    assert normalize_quant(" iq4_nl ") == "IQ4_NL"
    with pytest.raises(InputError, match="unknown quantization type 'Q4_K_X'.*Q4_K_M"):
        normalize_quant("Q4_K_X")


@pytest.mark.slow
def test_intermediate_is_bf16_beside_the_output_and_removed(tmp_path, tiny_checkpoint, monkeypatch):
    seen = []
    real_quantize = convert.quantize_gguf

    def spy(source, destination, quant, **kwargs):
        seen.append((source, _types(source)["blk.0.ffn_up.weight"], sorted(p.name for p in tmp_path.iterdir())))
        return real_quantize(source, destination, quant, **kwargs)

    monkeypatch.setattr(convert, "quantize_gguf", spy)
    convert_checkpoint(tiny_checkpoint, tmp_path / "m.gguf", quant="Q4_0", progress=False)
    ((source, source_type, files_then),) = seen
    assert source.parent == tmp_path
    assert source_type == QType.BF16  # bf16 weights are not rounded before quantizing
    assert source.name in files_then
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]


@pytest.mark.slow
@pytest.mark.parametrize("interruption", [EngineError("quantizer failed"), KeyboardInterrupt()])
def test_files_are_removed_when_quantizing_fails_or_is_interrupted(
    tmp_path, tiny_checkpoint, monkeypatch, interruption
):
    def failing(source, destination, quant, **kwargs):
        destination.write_bytes(b"partial")
        raise interruption

    monkeypatch.setattr(convert, "quantize_gguf", failing)
    with pytest.raises(type(interruption)):
        convert_checkpoint(tiny_checkpoint, tmp_path / "m.gguf", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_llama_cpp_refusing_the_input_is_an_engine_error(tmp_path):
    from bonito_lite.models.quantize import quantize_gguf

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EngineError, match="failed to quantize broken.gguf"):
        quantize_gguf(broken, tmp_path / "out.gguf", "Q4_K_M")


def test_too_little_disk_is_refused_before_writing(tmp_path, tiny_checkpoint, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(convert.shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 10**6, 10**6))
    with pytest.raises(ResourceError, match="not enough free disk"):
        convert_checkpoint(tiny_checkpoint, tmp_path / "m.gguf", progress=False)
    assert list(tmp_path.iterdir()) == []
