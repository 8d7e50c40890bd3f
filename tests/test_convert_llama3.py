"""The Llama 3.1 Bonito's shape converted: BPE tokenizer keys, the llama3 RoPE factors, the licence.

The checkpoint is a tiny random-weight LlamaForCausalLM with Llama 3.1's config and Meta's
real Llama 3 tokenizer (conftest.py); llama.cpp's side of it is in test_convert_parity.py.
"""

from __future__ import annotations

import json
import logging
import re
import shutil

import gguf
import numpy as np
import pytest

from bonito_lite.errors import CheckpointError
from bonito_lite.models.checkpoint import Llama3RopeScaling, hyper_parameters, read_config
from bonito_lite.models.convert_tensors import llama3_rope_factors
from bonito_lite.models.convert_vocab import read_vocabulary

from cli_helpers import assert_one_line_error, run_cli
from model_factory import LLAMA3_ROPE_SCALING, llama3_special_tokens

LLAMA3_VOCAB = 128256


def _value(reader: gguf.GGUFReader, key: str):
    return reader.fields[key].contents()


@pytest.fixture(scope="module")
def reader(llama3_gguf_f32):
    return gguf.GGUFReader(llama3_gguf_f32)


@pytest.fixture(scope="module")
def tokenizer_json(llama3_checkpoint) -> dict:
    return json.loads((llama3_checkpoint / "tokenizer.json").read_text())


@pytest.fixture
def tokenizer_folder(tmp_path, llama3_checkpoint):
    """The checkpoint's tokenizer and config files without its weights, to alter."""
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(llama3_checkpoint / name, folder / name)
    return folder


def test_tokenizer_keys_are_llama_cpps_byte_level_bpe(reader, tokenizer_json):
    assert _value(reader, "tokenizer.ggml.model") == "gpt2"
    assert _value(reader, "tokenizer.ggml.pre") == "llama-bpe"
    assert "tokenizer.ggml.scores" not in reader.fields
    tokens = _value(reader, "tokenizer.ggml.tokens")
    types = _value(reader, "tokenizer.ggml.token_type")
    assert len(tokens) == len(types) == LLAMA3_VOCAB
    vocab = tokenizer_json["model"]["vocab"]
    assert all(tokens[token_id] == text for text, token_id in vocab.items())
    assert tokens[vocab["Ġthe"]] == "Ġthe"  # byte-level text, a space as "Ġ"
    assert set(types[:128000]) == {gguf.TokenType.NORMAL}
    # The 256 special tokens after the BPE vocabulary are control tokens.
    assert tokens[128000:] == llama3_special_tokens()
    assert set(types[128000:]) == {gguf.TokenType.CONTROL}
    merges = _value(reader, "tokenizer.ggml.merges")
    assert merges == [" ".join(pair) for pair in tokenizer_json["model"]["merges"]]


def test_bos_is_added_and_eos_is_llama3s_end_of_text(reader):
    assert _value(reader, "tokenizer.ggml.bos_token_id") == 128000  # <|begin_of_text|>
    assert _value(reader, "tokenizer.ggml.eos_token_id") == 128001  # <|end_of_text|>
    assert _value(reader, "tokenizer.ggml.add_bos_token") is True
    assert _value(reader, "tokenizer.ggml.add_eos_token") is False


def test_hyper_parameters_follow_llama_3_1s_config(reader):
    assert _value(reader, "llama.rope.freq_base") == 500000.0
    assert _value(reader, "llama.context_length") == 131072
    assert _value(reader, "llama.vocab_size") == LLAMA3_VOCAB
    assert _value(reader, "llama.rope.dimension_count") == 64


def test_rope_freqs_are_transformers_llama3_scaling(reader, llama3_checkpoint):
    """llama.cpp divides each rotary frequency by its factor; transformers scales inv_freq."""
    import torch
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    (tensor,) = [t for t in reader.tensors if t.name == "rope_freqs.weight"]
    assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
    factors = np.asarray(tensor.data)
    config = AutoConfig.from_pretrained(llama3_checkpoint)
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, torch.device("cpu"))
    plain = 1.0 / (500000.0 ** (np.arange(0, 64, 2, dtype=np.float64) / 64))
    np.testing.assert_allclose(factors, plain / scaled.double().numpy(), rtol=1e-5)
    # Kept, interpolated and slowed frequencies all occur at this head size.
    assert factors[0] == 1.0 and factors[-1] == 8.0
    assert ((factors > 1.0) & (factors < 8.0)).any()


def test_rope_factor_bands_follow_the_wavelengths():
    scaling = Llama3RopeScaling(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_context_length=8192)
    factors = llama3_rope_factors(500000.0, 128, scaling)
    wavelengths = 2 * np.pi * 500000.0 ** (np.arange(0, 128, 2) / 128)
    assert (factors[wavelengths < 8192 / 4] == 1.0).all()
    assert (factors[wavelengths > 8192] == 8.0).all()
    between = factors[(wavelengths > 8192 / 4) & (wavelengths < 8192)]
    assert len(between) > 0 and (np.diff(between) > 0).all()


def test_mistral_files_get_no_rope_freqs(tiny_gguf_f32):
    assert "rope_freqs.weight" not in {t.name for t in gguf.GGUFReader(tiny_gguf_f32).tensors}


def test_licence_is_llama_3_1s(reader):
    assert _value(reader, "general.license") == "llama3.1"
    assert _value(reader, "general.license.name") == "Llama 3.1 Community License"


def test_model_card_licence_wins(tmp_path, llama3_checkpoint):
    from bonito_lite.models.convert import convert_checkpoint

    folder = shutil.copytree(llama3_checkpoint, tmp_path / "with-card")
    (folder / "README.md").write_text("---\nlicense: other\nlicense_name: custom\n---\n# A model\n")
    output = convert_checkpoint(folder, tmp_path / "out.gguf", quant="Q8_0", progress=False).path
    converted = gguf.GGUFReader(output)
    assert (_value(converted, "general.license"), _value(converted, "general.license.name")) == ("other", "custom")


def test_a_llama_without_llama_3_1s_scaling_gets_no_guessed_licence(tmp_path, llama3_checkpoint, caplog):
    from bonito_lite.models.convert import convert_checkpoint

    # Llama 3 8B: the same shape and tokenizer, plain RoPE, and not under Llama 3.1's licence.
    folder = shutil.copytree(llama3_checkpoint, tmp_path / "llama-3")
    config = json.loads((folder / "config.json").read_text())
    del config["rope_scaling"]
    (folder / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="bonito_lite.models.convert"):
        output = convert_checkpoint(folder, tmp_path / "out.gguf", quant="Q8_0", progress=False).path
    converted = gguf.GGUFReader(output)
    assert converted.get_field("general.license") is None
    assert "names no licence" in caplog.text
    result = run_cli(["inspect", str(output)])
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert lines["licence"] == "not stated in the file (see the model's card)"


def test_inspect_shows_the_licence(llama3_gguf_q8_0, in_tmp):
    result = run_cli(["inspect", str(llama3_gguf_q8_0)])
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert lines["licence"] == "Llama 3.1 Community License (llama3.1)"
    assert lines["vocabulary"] == "128,256 tokens"
    described = json.loads(run_cli(["inspect", str(llama3_gguf_q8_0), "--json"]).stdout)
    assert described["license"] == {"id": "llama3.1", "name": "Llama 3.1 Community License"}


def test_both_config_styles_read_the_llama3_scaling(llama3_checkpoint):
    old = read_config(llama3_checkpoint)
    new = {k: v for k, v in old.items() if k not in ("rope_scaling", "rope_theta", "torch_dtype")}
    new.update(dtype="bfloat16", rope_parameters={"rope_theta": 500000.0, **LLAMA3_ROPE_SCALING})
    expected = Llama3RopeScaling(8.0, 1.0, 4.0, 8192)
    assert hyper_parameters(old).rope_scaling == hyper_parameters(new).rope_scaling == expected
    assert hyper_parameters(old).rope_theta == hyper_parameters(new).rope_theta == 500000.0


def test_incomplete_llama3_scaling_is_refused(llama3_checkpoint):
    config = read_config(llama3_checkpoint)
    config["rope_scaling"] = {k: v for k, v in LLAMA3_ROPE_SCALING.items() if k != "low_freq_factor"}
    with pytest.raises(CheckpointError, match="'llama3' lacks 'low_freq_factor'"):
        hyper_parameters(config)


def test_another_bpe_pre_tokenizer_is_refused(tokenizer_folder, in_tmp):
    path = tokenizer_folder / "tokenizer.json"
    tokenizer = json.loads(path.read_text())
    tokenizer["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\s+|\S+"
    path.write_text(json.dumps(tokenizer))
    with pytest.raises(CheckpointError, match="not Llama 3's"):
        read_vocabulary(tokenizer_folder, LLAMA3_VOCAB)


def test_a_token_beyond_the_vocabulary_size_is_refused(tokenizer_folder):
    with pytest.raises(CheckpointError, match="beyond config.json's vocab_size 128000"):
        read_vocabulary(tokenizer_folder, 128000)


def test_an_end_token_llama_cpp_would_not_stop_at_is_warned_about(tokenizer_folder, caplog):
    generation = json.loads((tokenizer_folder / "generation_config.json").read_text())
    generation["eos_token_id"] = [128001, 128009, 128002]  # end of text, end of turn, a reserved token
    (tokenizer_folder / "generation_config.json").write_text(json.dumps(generation))
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        read_vocabulary(tokenizer_folder, LLAMA3_VOCAB)
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("bonito_lite")]
    assert warnings == [
        "generation_config.json names end token 128002, which llama.cpp will not stop at (the EOS written is 128001)"
    ]


def test_checkpoint_without_any_tokenizer_is_one_line(tmp_path, llama3_checkpoint, in_tmp):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).symlink_to(llama3_checkpoint / name)
    result = run_cli(["convert", str(folder)])
    assert_one_line_error(result, 2, "has neither tokenizer.model", "nor tokenizer.json")


def test_generate_runs_the_llama3_model_with_bos_first(llama3_gguf_q8_0, llama3_checkpoint, in_tmp):
    from tokenizers import Tokenizer as HfTokenizer

    from bonito_lite.engines.local import Tokenizer
    from bonito_lite.prompt import build_prompt

    from cli_helpers import read_jsonl

    (in_tmp / "lease.txt").write_text("The lease ends on 1 May 2024 unless renewed in writing.\n")
    args = ["generate", "lease.txt", "-t", "extractive_qa", "--model", str(llama3_gguf_q8_0), "--max-tokens", "8"]
    # Not --quiet: that would leave the library's logger at errors only for later tests in this process.
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    # Random weights write no <|pipe|>: the generation is kept, decoded, as a rejected record.
    (rejected,) = read_jsonl(in_tmp / "lease.bonito.rejected.jsonl")
    assert rejected["reason"] == "truncated" and rejected["generation"]
    # The prompt the engine feeds llama.cpp is the one upstream's transformers tokenizer makes.
    prompt = build_prompt("extractive question answering", "The lease ends on 1 May 2024 unless renewed in writing.")
    hf = HfTokenizer.from_file(str(llama3_checkpoint / "tokenizer.json"))
    with Tokenizer(llama3_gguf_q8_0) as tokenizer:
        assert tokenizer.tokenize(prompt) == hf.encode(prompt).ids
        assert tokenizer.tokenize(prompt)[0] == 128000


def test_python_api_runs_the_llama3_model(llama3_gguf_q8_0):
    from datasets import Dataset

    from bonito_lite import Bonito

    bonito = Bonito(model=str(llama3_gguf_q8_0))
    passages = Dataset.from_dict({"text": ["The lease ends on 1 May 2024 unless renewed in writing."]})
    result = bonito.generate_tasks(passages, context_col="text", task_type="nli", sampling_params={"max_tokens": 8})
    # Random weights write nothing that parses: an empty dataset of the upstream columns.
    assert isinstance(result, Dataset) and result.column_names == ["input", "output"]


@pytest.mark.slow
def test_quant_report_compares_llama3_files_over_the_full_vocabulary(llama3_gguf_q8_0, llama3_gguf_f32, in_tmp):
    args = ["quant-report", str(llama3_gguf_q8_0), "--reference", str(llama3_gguf_f32), "--passages", "1"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    assert "full vocabulary of 128,256" in result.stdout


def test_the_70b_shape_gets_no_guessed_licence():
    from bonito_lite.models.convert import licence_by_shape

    def shaped(hidden, layers):
        config = {
            "architectures": ["LlamaForCausalLM"],
            "vocab_size": 128256,
            "hidden_size": hidden,
            "intermediate_size": 4 * hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": hidden // 128,
            "rope_scaling": LLAMA3_ROPE_SCALING,
        }
        return licence_by_shape(hyper_parameters(config))

    assert shaped(4096, 32) == "llama3.1"  # the Llama 3.1 Bonito's shape (8B)
    # Llama 3.3 comes only as a 70B, with 3.1's scaling and its own licence: the shape cannot tell.
    assert shaped(8192, 80) is None
