"""Tiny but real Hugging Face checkpoints for the conversion tests.

A checkpoint here is what ``save_pretrained`` writes for a ``MistralForCausalLM`` with
random weights, plus the real Mistral-7B SentencePiece model (shipped inside the
``mistral-common==1.3.0`` wheel) and the tokenizer files a Mistral checkpoint on the hub
carries. Shapes stay multiples of 256 so that K-quants really apply.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mistral_common

MISTRAL_TOKENIZER_SHA256 = "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"


def _mistral_tokenizer() -> Path:
    path = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MISTRAL_TOKENIZER_SHA256:
        raise RuntimeError(f"{path} is not the Mistral-7B tokenizer (sha256 {digest})")
    return path


# The Mistral-7B SentencePiece model: 32,000 pieces, <unk>=0, <s>=1, </s>=2.
MISTRAL_TOKENIZER: Path = _mistral_tokenizer()

_SPECIAL_TOKENS = {0: "<unk>", 1: "<s>", 2: "</s>"}

# tokenizer_config.json as Mistral-7B-v0.1 (and so bonito-v1) ships it: BOS added, EOS not.
_TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "added_tokens_decoder": {
        str(token_id): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token_id, content in _SPECIAL_TOKENS.items()
    },
    "additional_special_tokens": [],
    "bos_token": "<s>",
    "clean_up_tokenization_spaces": False,
    "eos_token": "</s>",
    "legacy": True,
    "model_max_length": 1000000000000000019884624838656,
    "pad_token": None,
    "sp_model_kwargs": {},
    "spaces_between_special_tokens": False,
    "tokenizer_class": "LlamaTokenizer",
    "unk_token": "<unk>",
    "use_default_system_prompt": False,
}

_SPECIAL_TOKENS_MAP = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def _rewrite_config_2024_style(config_path: Path, dtype: str) -> None:
    """Rewrite a transformers-5 config.json the way transformers 4.3x wrote bonito-v1's."""
    config = json.loads(config_path.read_text())
    config.pop("dtype", None)
    config["torch_dtype"] = dtype
    rope = config.pop("rope_parameters", None) or {}
    config["rope_theta"] = rope.get("rope_theta", 10000.0)
    # bonito-v1's config has no head_dim: it follows from hidden_size / heads.
    config.pop("head_dim", None)
    config["transformers_version"] = "4.34.0"
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def write_tiny_checkpoint(
    folder: Path,
    *,
    dtype: str = "bfloat16",
    shards: int = 1,
    config_style: str = "2024",
    seed: int = 0,
    hidden_size: int = 256,
    intermediate_size: int = 512,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
) -> Path:
    """Write a random-weight MistralForCausalLM checkpoint with the real Mistral tokenizer.

    ``dtype`` is "bfloat16", "float16" or "float32"; ``shards`` > 1 splits the weights over at least that many
    safetensors files with a ``model.safetensors.index.json``; ``config_style`` is
    "2024" (``torch_dtype``, ``rope_theta``) or "transformers5" (``dtype``,
    ``rope_parameters``). Returns ``folder``.
    """
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    if config_style not in ("2024", "transformers5"):
        raise ValueError(f"unknown config_style {config_style!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = MistralConfig(
        vocab_size=32000,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=32768,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        sliding_window=4096,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    model = MistralForCausalLM(config)
    with torch.no_grad():
        # Larger than the default init (std 0.02) so that layers change the logits and
        # a mistake in any tensor shows in the parity tests; norms away from all-ones so
        # that a norm written to the wrong place shows too.
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.2 * torch.randn_like(parameter))
            else:
                parameter.normal_(0.0, 0.08)
    model = model.to(getattr(torch, dtype))
    total_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    max_shard_size = total_bytes // shards + 1 if shards > 1 else "50GB"
    model.save_pretrained(folder, max_shard_size=max_shard_size)
    if shards > 1 and not (folder / "model.safetensors.index.json").is_file():
        raise RuntimeError(f"save_pretrained wrote a single file, {shards} shards were asked for")
    if config_style == "2024":
        _rewrite_config_2024_style(folder / "config.json", dtype)

    shutil.copyfile(MISTRAL_TOKENIZER, folder / "tokenizer.model")
    (folder / "tokenizer_config.json").write_text(json.dumps(_TOKENIZER_CONFIG, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS_MAP, indent=2) + "\n")
    return folder


def write_small_gguf(path: Path, architecture: str, with_tokenizer: bool) -> Path:
    """A few-byte GGUF with one tensor: enough for the file checks, not for llama.cpp to run."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, architecture)
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_head_count(2)
    if with_tokenizer:
        writer.add_tokenizer_model("llama")
        writer.add_token_list(["<unk>", "<s>", "</s>", "a"])
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
