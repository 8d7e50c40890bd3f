"""What the converter writes: tensors, hyper-parameters, tokenizer keys and bonito.* keys."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
from safetensors.numpy import load_file

from bonito_lite.models import metadata
from bonito_lite.models.convert import SOURCE_HF_REPOSITORY_KEY, convert_checkpoint
from bonito_lite.models.convert_tensors import bf16_to_f32, permute_for_rope
from bonito_lite.prompt import PROMPT_TEMPLATE
from bonito_lite.task_types import TASK_TYPES

from model_factory import write_tiny_checkpoint

QType = gguf.GGMLQuantizationType


def _value(reader: gguf.GGUFReader, key: str):
    return reader.fields[key].contents()


def _tensors(reader: gguf.GGUFReader) -> dict[str, gguf.ReaderTensor]:
    return {t.name: t for t in reader.tensors}


@pytest.fixture(scope="module")
def f32_reader(tiny_gguf_f32):
    return gguf.GGUFReader(tiny_gguf_f32)


@pytest.fixture(scope="module")
def source_weights(tiny_checkpoint):
    """The checkpoint's weights as float32 (safetensors' numpy loader has no bf16: read bits)."""
    from bonito_lite.models.checkpoint import SafetensorsCheckpoint

    checkpoint = SafetensorsCheckpoint(tiny_checkpoint)
    return {name: bf16_to_f32(np.array(checkpoint.load(name))) for name in checkpoint.names()}


def test_every_tensor_is_mapped_to_its_llama_cpp_name(f32_reader):
    names = set(_tensors(f32_reader))
    expected = {"token_embd.weight", "output_norm.weight", "output.weight"}
    for block in range(2):
        for part in (
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "attn_norm",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
            "ffn_norm",
        ):
            expected.add(f"blk.{block}.{part}.weight")
    assert names == expected


def test_f32_values_equal_the_checkpoint_with_q_and_k_permuted(f32_reader, source_weights):
    tensors = _tensors(f32_reader)
    np.testing.assert_array_equal(tensors["token_embd.weight"].data, source_weights["model.embed_tokens.weight"])
    np.testing.assert_array_equal(
        tensors["blk.1.ffn_down.weight"].data, source_weights["model.layers.1.mlp.down_proj.weight"]
    )
    q = source_weights["model.layers.0.self_attn.q_proj.weight"]
    k = source_weights["model.layers.0.self_attn.k_proj.weight"]
    np.testing.assert_array_equal(tensors["blk.0.attn_q.weight"].data, permute_for_rope(q, 4))
    np.testing.assert_array_equal(tensors["blk.0.attn_k.weight"].data, permute_for_rope(k, 2))
    # The permutation really moves rows (a no-op would pass the lines above only if wrong twice).
    assert not np.array_equal(permute_for_rope(q, 4), q)


def test_permutation_interleaves_the_two_rotary_halves_of_each_head():
    # One head of dimension 4: rows (a0, a1, b0, b1) become (a0, b0, a1, b1).
    rows = np.arange(8).reshape(8, 1)
    np.testing.assert_array_equal(permute_for_rope(rows, 2).ravel(), [0, 2, 1, 3, 4, 6, 5, 7])


def test_hyper_parameters_match_the_config(f32_reader):
    assert _value(f32_reader, "general.architecture") == "llama"
    assert _value(f32_reader, "llama.block_count") == 2
    assert _value(f32_reader, "llama.embedding_length") == 256
    assert _value(f32_reader, "llama.feed_forward_length") == 512
    assert _value(f32_reader, "llama.attention.head_count") == 4
    assert _value(f32_reader, "llama.attention.head_count_kv") == 2
    assert _value(f32_reader, "llama.rope.dimension_count") == 64
    assert _value(f32_reader, "llama.rope.freq_base") == pytest.approx(10000.0)
    assert _value(f32_reader, "llama.attention.layer_norm_rms_epsilon") == pytest.approx(1e-5)
    assert _value(f32_reader, "llama.context_length") == 32768
    assert _value(f32_reader, "llama.vocab_size") == 32000
    assert _value(f32_reader, "general.file_type") == gguf.LlamaFileType.ALL_F32


def test_tokenizer_keys_follow_the_sentencepiece_model(f32_reader, tiny_checkpoint):
    from sentencepiece import SentencePieceProcessor

    processor = SentencePieceProcessor(model_file=str(tiny_checkpoint / "tokenizer.model"))
    tokens = _value(f32_reader, "tokenizer.ggml.tokens")
    scores = _value(f32_reader, "tokenizer.ggml.scores")
    types = _value(f32_reader, "tokenizer.ggml.token_type")
    assert _value(f32_reader, "tokenizer.ggml.model") == "llama"
    assert len(tokens) == len(scores) == len(types) == 32000
    assert tokens[1000] == processor.IdToPiece(1000)
    assert scores[1000] == pytest.approx(processor.GetScore(1000))
    assert types[1000] == gguf.TokenType.NORMAL
    assert types[3] == gguf.TokenType.BYTE and tokens[3] == "<0x00>"
    # tokenizer_config.json's added_tokens_decoder marks <unk>, <s>, </s> special: control
    # tokens with score -1000, as llama.cpp's converter writes them.
    assert tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert types[:3] == [gguf.TokenType.CONTROL] * 3
    assert scores[:3] == [-1000.0] * 3
    assert _value(f32_reader, "tokenizer.ggml.bos_token_id") == 1
    assert _value(f32_reader, "tokenizer.ggml.eos_token_id") == 2
    assert _value(f32_reader, "tokenizer.ggml.add_bos_token") is True
    assert _value(f32_reader, "tokenizer.ggml.add_eos_token") is False


def test_bonito_keys_describe_the_prompt_and_task_types(f32_reader):
    assert _value(f32_reader, metadata.IS_BONITO) is True
    assert _value(f32_reader, metadata.IS_TOY) is False
    assert _value(f32_reader, metadata.PROMPT_TEMPLATE_KEY) == PROMPT_TEMPLATE
    assert _value(f32_reader, metadata.TASK_TYPES_KEY) == [t.full_name for t in TASK_TYPES]
    assert _value(f32_reader, metadata.TASK_TYPE_SHORT_FORMS_KEY) == [t.short for t in TASK_TYPES]
    assert _value(f32_reader, "general.license") == "apache-2.0"
    # A plain local folder has no known hub repository or revision.
    assert SOURCE_HF_REPOSITORY_KEY not in f32_reader.fields
    assert metadata.SOURCE_REVISION not in f32_reader.fields


def test_checkpoint_in_the_hub_cache_records_repository_and_revision(tmp_path, tiny_checkpoint):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--BatsResearch--bonito-v1" / "snapshots" / commit
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(tiny_checkpoint, target_is_directory=True)
    result = convert_checkpoint(snapshot, tmp_path / "out.gguf", quant="BF16", progress=False, toy=True)
    reader = gguf.GGUFReader(result.path)
    assert _value(reader, SOURCE_HF_REPOSITORY_KEY) == "BatsResearch/bonito-v1"
    assert _value(reader, metadata.SOURCE_REVISION) == commit
    assert _value(reader, metadata.IS_TOY) is True
    # Named by the repository, not by the snapshot folder's commit hash.
    assert _value(reader, "general.name") == "bonito-v1"
    assert all(
        commit not in str(_value(reader, key))
        for key in ("general.name", "general.finetune", "general.basename")
        if reader.get_field(key) is not None
    )


def test_bf16_output_copies_the_bf16_bits(tmp_path, tiny_checkpoint, source_weights):
    result = convert_checkpoint(tiny_checkpoint, tmp_path / "m.gguf", quant="bf16", progress=False)
    assert result.quant == "BF16"
    tensors = _tensors(gguf.GGUFReader(result.path))
    embedding = tensors["token_embd.weight"]
    assert embedding.tensor_type == QType.BF16
    np.testing.assert_array_equal(
        bf16_to_f32(np.asarray(embedding.data).view(np.uint16)).reshape(32000, 256),
        source_weights["model.embed_tokens.weight"],
    )
    assert tensors["blk.0.attn_norm.weight"].tensor_type == QType.F32


def test_q8_0_quantizes_matrices_and_keeps_norms_f32(tiny_gguf_q8_0, source_weights):
    tensors = _tensors(gguf.GGUFReader(tiny_gguf_q8_0))
    assert tensors["blk.0.ffn_up.weight"].tensor_type == QType.Q8_0
    assert tensors["output.weight"].tensor_type == QType.Q8_0
    assert tensors["output_norm.weight"].tensor_type == QType.F32
    restored = gguf.quants.dequantize(tensors["blk.0.ffn_up.weight"].data, QType.Q8_0)
    expected = source_weights["model.layers.0.mlp.up_proj.weight"]
    assert np.abs(restored - expected).max() <= np.abs(expected).max() / 127 + 1e-6


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dtype", "shards", "config_style", "quant", "matrix_type"),
    [
        ("float32", 3, "transformers5", "F16", QType.F16),
        ("float16", 1, "transformers5", "F32", QType.F32),
        ("bfloat16", 2, "2024", "F16", QType.F16),
    ],
)
def test_dtypes_shards_and_config_styles_give_the_same_model(tmp_path, dtype, shards, config_style, quant, matrix_type):
    folder = write_tiny_checkpoint(tmp_path / "ckpt", dtype=dtype, shards=shards, config_style=config_style, seed=3)
    config = json.loads((folder / "config.json").read_text())
    assert ("rope_parameters" in config) == (config_style == "transformers5")
    result = convert_checkpoint(folder, tmp_path / "out.gguf", quant=quant, progress=False)
    reader = gguf.GGUFReader(result.path)
    tensors = _tensors(reader)
    assert len(tensors) == 21
    assert tensors["blk.1.ffn_gate.weight"].tensor_type == matrix_type
    assert _value(reader, "llama.rope.freq_base") == pytest.approx(10000.0)
    # Values survive: the one sharded tensor we check against the safetensors files.
    index = folder / "model.safetensors.index.json"
    files = sorted(folder.glob("*.safetensors"))
    assert index.is_file() == (shards > 1) and len(files) >= shards
    if dtype != "bfloat16":
        weights = {}
        for file in files:
            weights.update(load_file(file))
        expected = weights["model.layers.1.mlp.gate_proj.weight"].astype(np.float32)
        got = np.asarray(tensors["blk.1.ffn_gate.weight"].data, dtype=np.float32)
        np.testing.assert_array_equal(got, expected.astype(np.float16 if matrix_type == QType.F16 else np.float32))


def test_output_defaults_to_models_folder_named_after_the_source(tmp_path, monkeypatch, tiny_checkpoint):
    monkeypatch.chdir(tmp_path)
    result = convert_checkpoint(tiny_checkpoint, quant="q8_0", progress=False)
    assert result.path == tmp_path / "models" / "tiny-bonito.Q8_0.gguf" or (
        result.path.resolve() == (tmp_path / "models" / "tiny-bonito.Q8_0.gguf").resolve()
    )
    assert result.size_bytes == result.path.stat().st_size
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_added_tokens_override_pieces_as_llama_cpp_converter_does(tmp_path, tiny_checkpoint):
    from bonito_lite.models.convert_vocab import read_vocabulary

    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in ("config.json", "tokenizer.model", "special_tokens_map.json"):
        (folder / name).write_bytes((tiny_checkpoint / name).read_bytes())
    tokenizer_config = json.loads((tiny_checkpoint / "tokenizer_config.json").read_text())
    tokenizer_config["added_tokens_decoder"].update(
        {
            "31998": {"content": "\u2581hello", "special": False},
            "31999": {"content": "<|pipe|>", "special": False},
        }
    )
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    (folder / "added_tokens.json").write_text(json.dumps({"<extra>": 31997}))
    vocabulary = read_vocabulary(folder, vocab_size=32002)
    assert len(vocabulary.tokens) == 32002
    assert vocabulary.tokens[32001] == b"[PAD32001]"
    assert vocabulary.token_types[32001] == gguf.TokenType.UNUSED
    assert (vocabulary.tokens[31997], vocabulary.token_types[31997]) == (b"<extra>", gguf.TokenType.USER_DEFINED)
    assert (vocabulary.tokens[31998], vocabulary.token_types[31998]) == (b" hello", gguf.TokenType.USER_DEFINED)
    # Not flagged special, but shaped like a special token: a control token.
    assert (vocabulary.tokens[31999], vocabulary.token_types[31999]) == (b"<|pipe|>", gguf.TokenType.CONTROL)
    assert vocabulary.scores[31997:32000] == [-1000.0] * 3
