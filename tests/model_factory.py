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


def _with_telling_weights(model):
    """``model`` with weights larger than the default init (std 0.02), so that every layer
    changes the logits and a mistake in any tensor shows in the parity tests, and norms away
    from all-ones, so that a norm written to the wrong place shows too."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.2 * torch.randn_like(parameter))
            else:
                parameter.normal_(0.0, 0.08)
    return model


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
    tied: bool = False,
) -> Path:
    """Write a random-weight MistralForCausalLM checkpoint with the real Mistral tokenizer.

    ``tied`` shares the output head with the embeddings (no ``lm_head.weight`` is saved),
    as the bundled toy does.

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
        tie_word_embeddings=tied,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    model = _with_telling_weights(MistralForCausalLM(config))
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


def write_small_gguf(
    path: Path, architecture: str, with_tokenizer: bool, metadata: dict[str, object] | None = None
) -> Path:
    """A few-byte GGUF with one tensor: enough for the file checks, not for llama.cpp to run.

    ``metadata``: further keys (bool, str or list of str), such as ``bonito.*`` ones.
    """
    import gguf
    import numpy as np

    from bonito_lite.models.convert import add_metadata

    writer = gguf.GGUFWriter(path, architecture)
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_head_count(2)
    if with_tokenizer:
        writer.add_tokenizer_model("llama")
        writer.add_token_list(["<unk>", "<s>", "</s>", "a"])
    add_metadata(writer, metadata or {})
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# bonito-v1's shape (Mistral-7B): 7.24 B parameters, 14.5 GB in F16.
BONITO_V1_SHAPE = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
)


def write_tokenizer_files(folder: Path) -> Path:
    """The tokenizer files of a Mistral checkpoint (no weights, no config.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MISTRAL_TOKENIZER, folder / "tokenizer.model")
    (folder / "tokenizer_config.json").write_text(json.dumps(_TOKENIZER_CONFIG, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS_MAP, indent=2) + "\n")
    return folder


def write_sparse_f16_gguf(
    path: Path,
    *,
    hidden_size: int,
    intermediate_size: int,
    num_hidden_layers: int,
    num_attention_heads: int,
    num_key_value_heads: int,
) -> Path:
    """A full-size F16 GGUF of a Mistral shape whose tensor data is a hole in a sparse file.

    Header, metadata, real vocabulary and ``bonito.*`` keys are what the converter writes;
    the file is then extended to its full length without writing the tensors, so a 14.5 GB
    bonito-v1-shaped file takes a few hundred kB of disk. Reading its tensors gives zeros;
    only header readers are meant for it.
    """
    import gguf
    import numpy as np

    from bonito_lite.models.checkpoint import HyperParameters
    from bonito_lite.models.convert import add_hyper_parameters, add_metadata
    from bonito_lite.models.convert_vocab import read_vocabulary
    from bonito_lite.models.metadata import bonito_metadata

    vocab = 32000
    params = HyperParameters(
        architecture="MistralForCausalLM",
        vocab_size=vocab,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        rms_norm_eps=1e-5,
        context_length=32768,
        rope_theta=10000.0,
        head_dim=None,
        declared_dtype="bfloat16",
    )
    kv_width = hidden_size // num_attention_heads * num_key_value_heads
    names, shapes = gguf.TENSOR_NAMES, []
    tensor = gguf.MODEL_TENSOR
    shapes.append((names[tensor.TOKEN_EMBD], (vocab, hidden_size)))
    for block in range(num_hidden_layers):
        for kind, shape in (
            (tensor.ATTN_NORM, (hidden_size,)),
            (tensor.ATTN_Q, (hidden_size, hidden_size)),
            (tensor.ATTN_K, (kv_width, hidden_size)),
            (tensor.ATTN_V, (kv_width, hidden_size)),
            (tensor.ATTN_OUT, (hidden_size, hidden_size)),
            (tensor.FFN_NORM, (hidden_size,)),
            (tensor.FFN_GATE, (intermediate_size, hidden_size)),
            (tensor.FFN_UP, (intermediate_size, hidden_size)),
            (tensor.FFN_DOWN, (hidden_size, intermediate_size)),
        ):
            shapes.append((names[kind].format(bid=block), shape))
    shapes += [(names[tensor.OUTPUT_NORM], (hidden_size,)), (names[tensor.OUTPUT], (vocab, hidden_size))]

    writer = gguf.GGUFWriter(path=None, arch="llama")
    writer.add_name(path.stem)
    add_hyper_parameters(writer, params, gguf.LlamaFileType.MOSTLY_F16)
    read_vocabulary(write_tokenizer_files(path.parent / f"{path.stem}-tokenizer"), vocab).add_to_gguf(writer)
    add_metadata(writer, bonito_metadata("0123abc"))
    data_bytes = 0
    for name, shape in shapes:
        # Norms are F32, as the converter writes them; matrices F16.
        dtype = np.float32 if len(shape) == 1 else np.float16
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, shape, np.dtype(dtype), nbytes)
        data_bytes += -(-nbytes // gguf.GGUF_DEFAULT_ALIGNMENT) * gguf.GGUF_DEFAULT_ALIGNMENT
    writer.write_header_to_file(path=path)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = path.stat().st_size
    data_start = -(-header // gguf.GGUF_DEFAULT_ALIGNMENT) * gguf.GGUF_DEFAULT_ALIGNMENT
    with path.open("r+b") as f:
        f.truncate(data_start + data_bytes)
    return path


def copy_gguf(
    source: Path, destination: Path, *, drop_prefix: str | None = None, extra: dict[str, str] | None = None
) -> Path:
    """A copy of a GGUF with the same tensors, without the keys under ``drop_prefix``, plus ``extra``.

    With ``drop_prefix="bonito."`` it is what llama.cpp's own converter writes: no ``bonito.*``
    keys. ``extra`` adds string keys, such as the hub id a model was converted from.
    """
    import gguf

    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(destination, reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == gguf.Keys.General.ARCHITECTURE:
            continue
        if drop_prefix is not None and name.startswith(drop_prefix):
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), field.types[0], sub_type=sub_type)
    for name, value in (extra or {}).items():
        writer.add_string(name, value)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return destination


# Meta's Llama 3 tokenizer (tiktoken ranks of 128,000 byte-level BPE tokens), shipped inside
# the llama-models wheel; the 256 special tokens that follow it are the ones that wheel's
# tokenizer defines.
def llama3_tokenizer_model() -> Path:
    import llama_models

    return Path(llama_models.__file__).parent / "llama3" / "tokenizer.model"


LLAMA3_BOS, LLAMA3_EOS = "<|begin_of_text|>", "<|end_of_text|>"


def llama3_special_tokens() -> list[str]:
    """Llama 3's 256 special tokens, in id order from 128,000."""
    from llama_models.llama3.tokenizer import Tokenizer

    tokenizer = Tokenizer(llama3_tokenizer_model())
    return sorted(tokenizer.special_tokens, key=tokenizer.special_tokens.__getitem__)


def write_llama3_tokenizer(folder: Path) -> Path:
    """``tokenizer.json`` and ``tokenizer_config.json`` as Llama-3.1-8B (and its Bonito) ship them.

    transformers' own tiktoken converter turns Meta's ranks into a byte-level BPE with the
    Llama 3 split pattern; the post-processor adds ``<|begin_of_text|>`` as Meta's file does.
    """
    from tokenizers import processors
    from transformers.convert_slow_tokenizer import TikTokenConverter

    folder.mkdir(parents=True, exist_ok=True)
    special = llama3_special_tokens()
    tokenizer = TikTokenConverter(vocab_file=str(llama3_tokenizer_model()), extra_special_tokens=special).converted()
    bos_id = tokenizer.token_to_id(LLAMA3_BOS)
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{LLAMA3_BOS} $A",
                pair=f"{LLAMA3_BOS} $A {LLAMA3_BOS}:1 $B:1",
                special_tokens=[(LLAMA3_BOS, bos_id)],
            ),
        ]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "added_tokens_decoder": {
            str(tokenizer.token_to_id(token)): {
                "content": token,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for token in special
        },
        "bos_token": LLAMA3_BOS,
        "clean_up_tokenization_spaces": True,
        "eos_token": LLAMA3_EOS,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 131072,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder


# Llama 3.1's RoPE scaling, as its config.json states it.
LLAMA3_ROPE_SCALING = {
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3",
}


def write_tiny_llama3_checkpoint(
    folder: Path,
    *,
    seed: int = 0,
    hidden_size: int = 256,
    intermediate_size: int = 512,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
) -> Path:
    """A random-weight bf16 LlamaForCausalLM shaped like Llama-3.1-8B, small, with its tokenizer.

    config.json is written as Llama 3.1's (2024 style: ``rope_scaling`` of type ``llama3``,
    ``rope_theta`` 500000, ``torch_dtype``), with a generation_config.json naming BOS and EOS.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = LlamaConfig(
        vocab_size=128256,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_theta": 500000.0, **LLAMA3_ROPE_SCALING},
        tie_word_embeddings=False,
        bos_token_id=128000,
        eos_token_id=128001,
    )
    torch.manual_seed(seed)
    model = _with_telling_weights(LlamaForCausalLM(config))
    model.to(torch.bfloat16).save_pretrained(folder)

    config_path = folder / "config.json"
    saved = json.loads(config_path.read_text())
    saved.pop("dtype", None)
    saved.pop("rope_parameters", None)
    saved.pop("head_dim", None)  # Llama-3.1-8B's config has none: hidden_size / heads
    saved.update(torch_dtype="bfloat16", rope_theta=500000.0, rope_scaling=LLAMA3_ROPE_SCALING)
    saved["transformers_version"] = "4.43.0.dev0"
    config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    generation = {"bos_token_id": 128000, "do_sample": True, "eos_token_id": 128001, "temperature": 0.6, "top_p": 0.9}
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    write_llama3_tokenizer(folder)
    return folder
