"""The tensor stage: Hugging Face tensor names and values as llama.cpp's llama architecture.

Each tensor is planned first (GGUF name, shape, type, byte size: everything the GGUF
header needs) and its data produced later, one tensor at a time, from a memory map.
Values follow llama.cpp's own converter exactly: Q and K projection rows permuted for
llama.cpp's RoPE layout, 1-D tensors and norms kept in F32, F16/BF16/Q8_0 produced by the
same roundings (numpy casts and ``gguf.quants``). A checkpoint with Llama 3.1's RoPE scaling
also gets the ``rope_freqs`` tensor llama.cpp's converter computes from its config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gguf
import numpy as np

from ..errors import CheckpointError
from .checkpoint import HyperParameters, Llama3RopeScaling, SafetensorsCheckpoint, TensorEntry

QType = gguf.GGMLQuantizationType

# Buffers Hugging Face saves that llama.cpp recomputes.
_SKIPPED_SUFFIXES = (".rotary_emb.inv_freq", ".attention.masked_bias", ".attention.bias")

# The types written directly, as GGUF file types.
FILE_TYPES = {
    "F32": gguf.LlamaFileType.ALL_F32,
    "F16": gguf.LlamaFileType.MOSTLY_F16,
    "BF16": gguf.LlamaFileType.MOSTLY_BF16,
    "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}

# File type -> tensor type for the weight matrices; vectors and norms stay F32.
MATRIX_TYPE = {
    gguf.LlamaFileType.ALL_F32: QType.F32,
    gguf.LlamaFileType.MOSTLY_F16: QType.F16,
    gguf.LlamaFileType.MOSTLY_BF16: QType.BF16,
    gguf.LlamaFileType.MOSTLY_Q8_0: QType.Q8_0,
}

# Rows converted per step: bounds the float32 temporaries for the large embedding matrices.
_ROWS_PER_CHUNK = 4096


_ROPE_FREQS = gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight"


@dataclass(frozen=True)
class PlannedTensor:
    source: TensorEntry | None  # None for a tensor computed from config.json
    name: str  # GGUF name
    qtype: QType
    nbytes: int
    permute_heads: int | None  # Q/K: the head count to permute rows by
    computed: np.ndarray | None = field(default=None, compare=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.source.shape if self.source is not None else self.computed.shape

    @property
    def source_name(self) -> str:
        return self.source.name if self.source is not None else "(computed from config.json)"


def plan_tensors(
    checkpoint: SafetensorsCheckpoint, params: HyperParameters, file_type: gguf.LlamaFileType
) -> list[PlannedTensor]:
    """Map every checkpoint tensor to its GGUF name and type, in reading order."""
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, params.num_hidden_layers)
    planned = []
    if params.rope_scaling is not None:
        # First, where llama.cpp's converter puts its generated tensors.
        factors = llama3_rope_factors(params.rope_theta, params.rope_dimension_count, params.rope_scaling)
        planned.append(PlannedTensor(None, _ROPE_FREQS, QType.F32, factors.nbytes, None, computed=factors))
    for entry in checkpoint:
        if entry.name.endswith(_SKIPPED_SUFFIXES):
            continue
        name = name_map.get_name(entry.name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise CheckpointError(
                f"tensor {entry.name} has no llama.cpp counterpart; is this a plain {params.architecture}?"
            )
        qtype = _tensor_type(name, entry.shape, file_type)
        permute_heads = None
        if entry.name.endswith(("q_proj.weight", "q_proj.bias")):
            permute_heads = params.num_attention_heads
        elif entry.name.endswith(("k_proj.weight", "k_proj.bias")):
            permute_heads = params.num_key_value_heads
        planned.append(PlannedTensor(entry, name, qtype, _nbytes(entry.shape, qtype), permute_heads))
    _check_against_config(planned, params)
    return planned


def expected_shapes(params: HyperParameters) -> dict[str, tuple[int, ...]]:
    """The Hugging Face shape of every weight config.json implies, by GGUF name.

    llama.cpp checks them only when it loads the file; a checkpoint with a tensor missing or
    a config.json that disagrees with the weights (a partial download, a hand-edited config)
    would otherwise convert without a word and fail at the first ``generate``.
    """
    hidden, ffn = params.hidden_size, params.intermediate_size
    q_rows = params.num_attention_heads * params.rope_dimension_count
    kv_rows = params.num_key_value_heads * params.rope_dimension_count
    tensor = gguf.MODEL_TENSOR
    per_layer = {
        tensor.ATTN_NORM: (hidden,),
        tensor.ATTN_Q: (q_rows, hidden),
        tensor.ATTN_K: (kv_rows, hidden),
        tensor.ATTN_V: (kv_rows, hidden),
        tensor.ATTN_OUT: (hidden, q_rows),
        tensor.FFN_NORM: (hidden,),
        tensor.FFN_GATE: (ffn, hidden),
        tensor.FFN_UP: (ffn, hidden),
        tensor.FFN_DOWN: (hidden, ffn),
    }
    shapes = {
        gguf.TENSOR_NAMES[tensor.TOKEN_EMBD] + ".weight": (params.vocab_size, hidden),
        gguf.TENSOR_NAMES[tensor.OUTPUT_NORM] + ".weight": (hidden,),
    }
    for layer in range(params.num_hidden_layers):
        for kind, shape in per_layer.items():
            shapes[gguf.TENSOR_NAMES[kind].format(bid=layer) + ".weight"] = shape
    return shapes


# The output head is absent when it is tied to the embeddings.
_OPTIONAL = {gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.OUTPUT] + ".weight": "token_embd.weight"}


def _check_against_config(planned: list[PlannedTensor], params: HyperParameters) -> None:
    expected = expected_shapes(params)
    found = {p.name: p for p in planned if p.source is not None}
    missing = [name for name in expected if name not in found]
    if missing:
        raise CheckpointError(
            f"the checkpoint has no tensor for {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f" of the {params.num_hidden_layers} layers config.json describes; it is incomplete "
            "(download it again) or config.json is not its own"
        )
    for name, like in _OPTIONAL.items():
        if name in found:
            expected[name] = expected[like]
        elif params.tie_word_embeddings is False:
            # Tied, llama.cpp would read the head from the embeddings: another model.
            raise CheckpointError(
                f"the checkpoint has no tensor for {name} (lm_head), and config.json says its embeddings "
                "are not tied; it is incomplete (download it again, or check its safetensors index)"
            )
    for name, shape in expected.items():
        actual = tuple(found[name].shape)
        if actual != shape:
            raise CheckpointError(
                f"tensor {found[name].source_name} has shape {list(actual)}, but config.json implies "
                f"{list(shape)} (hidden_size {params.hidden_size}, intermediate_size {params.intermediate_size}, "
                f"{params.num_attention_heads} heads, {params.num_key_value_heads} key-value heads, "
                f"vocab_size {params.vocab_size}); config.json does not describe these weights"
            )


def _tensor_type(name: str, shape: tuple[int, ...], file_type: gguf.LlamaFileType) -> QType:
    # llama.cpp's kernels expect 1-D tensors and norms in F32, whatever the file type.
    if len(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return QType.F32
    qtype = MATRIX_TYPE[file_type]
    if qtype == QType.Q8_0 and shape[-1] % gguf.GGML_QUANT_SIZES[QType.Q8_0][0] != 0:
        # Rows that do not fill whole Q8_0 blocks fall back to F16, as llama.cpp's converter does.
        return QType.F16
    return qtype


def _nbytes(shape: tuple[int, ...], qtype: QType) -> int:
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_elements = int(np.prod(shape, dtype=np.int64))
    return n_elements // block_size * type_size


def header_shape(planned: PlannedTensor) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and numpy dtype to declare to ``GGUFWriter.add_tensor_info``."""
    shape = planned.shape
    if planned.qtype == QType.F32:
        return shape, np.dtype(np.float32)
    if planned.qtype == QType.F16:
        return shape, np.dtype(np.float16)
    if planned.qtype == QType.BF16:
        return shape, np.dtype(np.uint16)
    return gguf.quant_shape_to_byte_shape(shape, planned.qtype), np.dtype(np.uint8)


def tensor_data(checkpoint: SafetensorsCheckpoint, planned: PlannedTensor) -> np.ndarray:
    """The tensor's bytes as they go into the GGUF file (a new array or the memory map)."""
    if planned.computed is not None:
        return planned.computed
    source = checkpoint.load(planned.source.name)
    if planned.permute_heads is not None:
        source = permute_for_rope(source, planned.permute_heads)
    # bf16 -> BF16 needs no arithmetic: the bit patterns are copied as they are.
    if planned.qtype == QType.BF16 and planned.source.dtype == "BF16":
        return source
    if source.ndim < 2:
        return _converted(source, planned.qtype, planned.source.dtype)
    out_shape, out_dtype = header_shape(planned)
    out = np.empty(out_shape, dtype=out_dtype)
    for start in range(0, source.shape[0], _ROWS_PER_CHUNK):
        stop = min(start + _ROWS_PER_CHUNK, source.shape[0])
        out[start:stop] = _converted(source[start:stop], planned.qtype, planned.source.dtype)
    return out


def _converted(values: np.ndarray, qtype: QType, source_dtype: str) -> np.ndarray:
    as_f32 = bf16_to_f32(values) if source_dtype == "BF16" else np.asarray(values, dtype=np.float32)
    if qtype == QType.F32:
        return as_f32
    if qtype == QType.F16:
        return as_f32.astype(np.float16)
    if qtype == QType.BF16:
        return gguf.quants.quantize(as_f32, QType.BF16).view(np.uint16)
    return gguf.quants.quantize(as_f32, qtype)


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bf16 bit patterns (uint16) as float32: exact, bf16 is the top half of a float32."""
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def permute_for_rope(weights: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder Q/K projection rows from Hugging Face's RoPE layout to llama.cpp's.

    Hugging Face rotates the two halves of each head; llama.cpp rotates adjacent pairs, so
    within each head the rows (h, 2, d/2) are interleaved to (h, d/2, 2).
    """
    rows = weights.shape[0]
    return weights.reshape(n_heads, 2, rows // n_heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def llama3_rope_factors(rope_theta: float | None, dimensions: int, scaling: Llama3RopeScaling) -> np.ndarray:
    """The per-frequency divisors llama.cpp applies for Llama 3.1's RoPE scaling (``rope_freqs``).

    Each rotary frequency ``theta ** (-2i/d)`` keeps its speed (1) when its wavelength is
    shorter than ``original_context_length / high_freq_factor``, is slowed by ``factor`` when
    longer than ``original_context_length / low_freq_factor``, and in between is divided by
    a smooth interpolation of the two. Computed in float32 step by step as llama.cpp's
    converter computes it with torch (including torch's ``a / t`` as ``(1 / t) * a``), so
    the values are bit-equal to its tensor; the powers are rounded from float64 where
    torch's float32 power is within one unit in the last place of that (equal for Llama
    3.1's head size of 128 and theta 500000).
    """
    f32 = np.float32
    one = f32(1.0)
    theta = 10000.0 if rope_theta is None else rope_theta  # transformers' default, as llama.cpp's
    exponents = np.arange(0, dimensions, 2, dtype=f32) / f32(dimensions)
    powers = np.power(np.float64(f32(theta)), exponents.astype(np.float64)).astype(f32)
    frequencies = one / powers
    wavelengths = (one / frequencies) * f32(2 * math.pi)
    old_context = f32(scaling.original_context_length)
    smooth = ((one / wavelengths) * old_context - f32(scaling.low_freq_factor)) / f32(
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    interpolated = one / ((one - smooth) / f32(scaling.factor) + smooth)
    high_frequency = wavelengths < f32(scaling.original_context_length / scaling.high_freq_factor)
    low_frequency = wavelengths > f32(scaling.original_context_length / scaling.low_freq_factor)
    factors = np.where(high_frequency, one, np.where(low_frequency, f32(scaling.factor), interpolated))
    return factors.astype(f32)
