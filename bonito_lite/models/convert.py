"""Hugging Face checkpoint -> GGUF, as named stages, one tensor in memory at a time.

Stages, in the order llama.cpp's own converter has them: hyper-parameters (``llama.*``),
vocabulary (``tokenizer.*``, see ``convert_vocab``), tensors (names, Q/K permutation and
types, see ``convert_tensors``), then our own ``general.*`` additions and ``bonito.*`` keys.
F32, F16, BF16 and Q8_0 are written directly; other types go through a full-precision
intermediate file that llama.cpp's quantizer reads (see ``quantize``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from ..errors import CheckpointError, InputError, OutputExistsError, ResourceError
from ..progress import progress_bar
from .checkpoint import (
    CheckpointLocation,
    HyperParameters,
    SafetensorsCheckpoint,
    hyper_parameters,
    locate_checkpoint,
    read_config,
)
from .convert_tensors import FILE_TYPES, PlannedTensor, header_shape, plan_tensors, tensor_data
from .convert_vocab import MISSING_TOKENIZER, has_tokenizer, read_vocabulary
from .metadata import APACHE_2_0, LICENSE_NAMES, LLAMA_3_1, SOURCE_HF_REPOSITORY_KEY, bonito_metadata
from .quantize import (
    BITS_PER_WEIGHT,
    DEFAULT_QUANT,
    DIRECT_TYPES,
    normalize_quant,
    quantize_gguf,
)

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_FOLDER = Path("models")
# Free disk kept beyond the estimate: the estimate is approximate and the system needs room.
_DISK_MARGIN_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion produced."""

    path: Path
    size_bytes: int
    quant: str
    seconds: float


@dataclass
class _Source:
    location: CheckpointLocation
    params: HyperParameters
    checkpoint: SafetensorsCheckpoint

    @property
    def name(self) -> str:
        if self.location.repo_id:
            return self.location.repo_id.split("/")[-1]
        return self.location.folder.name

    @property
    def n_parameters(self) -> int:
        return sum(int(np.prod(e.shape, dtype=np.int64)) for e in self.checkpoint)

    def full_precision_type(self) -> str:
        """The GGUF type that keeps every weight exactly: BF16 for bf16 weights, and so on."""
        dtypes = {e.dtype for e in self.checkpoint if len(e.shape) >= 2}
        if dtypes == {"BF16"}:
            return "BF16"
        if dtypes == {"F16"}:
            return "F16"
        return "F32"


def convert_checkpoint(
    source: str | os.PathLike,
    output: os.PathLike | None = None,
    quant: str = DEFAULT_QUANT,
    revision: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    toy: bool = False,
    verbose: bool = False,
) -> ConversionResult:
    """Convert a MistralForCausalLM/LlamaForCausalLM checkpoint to a GGUF file of type ``quant``.

    ``source`` is a local checkpoint folder, or an ``owner/name`` hub id to download.
    ``output`` defaults to ``models/<name>.<QUANT>.gguf`` in the current folder. The file
    is written under a temporary name beside ``output`` and renamed when complete; the
    intermediate file of llama.cpp-quantized types is removed whatever happens.
    ``toy`` marks the file as a toy Bonito (``bonito.toy``); ``verbose`` shows llama.cpp's log.
    """
    started = time.monotonic()
    quant = normalize_quant(quant)
    if output is not None:
        # Before the source is opened: a hub id downloads gigabytes first.
        _check_output(Path(output), overwrite)
    source_info = open_source(source, revision)
    output_path = Path(output) if output is not None else (DEFAULT_OUTPUT_FOLDER / f"{source_info.name}.{quant}.gguf")
    _check_output(output_path, overwrite)
    if output_path.exists() and output_path.resolve().parent == source_info.location.folder.resolve():
        raise OutputExistsError(f"{output_path} is a file of the checkpoint being converted; give -o another path")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    intermediate_type = quant if quant in DIRECT_TYPES else source_info.full_precision_type()
    params = source_info.params
    logger.info(
        "%s: %s, %d layers, hidden size %d, %s parameters",
        source_info.location.folder,
        params.architecture,
        params.num_hidden_layers,
        params.hidden_size,
        f"{source_info.n_parameters:,}",
    )
    check_free_disk(output_path.parent, source_info.n_parameters, quant, intermediate_type)

    partial = output_path.with_name(f".{output_path.name}.partial")
    with _removed_on_exit(partial):
        if quant in DIRECT_TYPES:
            write_gguf(source_info, partial, quant, toy=toy, progress=progress)
        else:
            intermediate = output_path.with_name(f".{output_path.name}.{intermediate_type}.partial")
            with _removed_on_exit(intermediate):
                write_gguf(source_info, intermediate, intermediate_type, toy=toy, progress=progress)
                _quantize_with_progress(intermediate, partial, quant, progress, verbose)
        os.replace(partial, output_path)
    result = ConversionResult(
        path=output_path,
        size_bytes=output_path.stat().st_size,
        quant=quant,
        seconds=time.monotonic() - started,
    )
    logger.info("wrote %s (%s, %d bytes) in %.1f s", result.path, quant, result.size_bytes, result.seconds)
    return result


def _check_output(path: Path, overwrite: bool) -> None:
    if str(path) == "-":
        raise InputError("convert writes a GGUF file, not standard output; give -o a file name ending in .gguf")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file name ending in .gguf")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")


def open_source(source: str | os.PathLike, revision: str | None = None) -> _Source:
    """Locate a checkpoint and read what conversion needs before touching any weight."""
    location = locate_checkpoint(source, revision)
    params = hyper_parameters(read_config(location.folder))
    checkpoint = SafetensorsCheckpoint(location.folder)
    if not has_tokenizer(location.folder):
        raise CheckpointError(f"{location.folder} {MISSING_TOKENIZER}")
    return _Source(location, params, checkpoint)


def check_free_disk(folder: Path, n_parameters: int, quant: str, intermediate_type: str) -> None:
    """Refuse to start when the output (and intermediate) files cannot fit on the disk."""
    needed = n_parameters * BITS_PER_WEIGHT[quant] / 8
    if quant != intermediate_type:
        needed += n_parameters * BITS_PER_WEIGHT[intermediate_type] / 8
    needed = int(needed) + _DISK_MARGIN_BYTES
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ResourceError(
            f"not enough free disk in {folder}: converting to {quant} needs about"
            f" {_gigabytes(needed)}, {_gigabytes(free)} are free; free some space or choose -o elsewhere"
        )


def _gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB"


@contextmanager
def _removed_on_exit(path: Path) -> Iterator[None]:
    """Delete ``path`` when the block ends, normally, by an error or by Ctrl-C."""
    try:
        yield
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def write_gguf(source: _Source, path: Path, quant: str, *, toy: bool = False, progress: bool = True) -> None:
    """Write the checkpoint as a GGUF of a directly written type (F32, F16, BF16, Q8_0)."""
    file_type = FILE_TYPES[quant]
    planned = plan_tensors(source.checkpoint, source.params, file_type)
    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    try:
        add_general_metadata(writer, source)
        add_hyper_parameters(writer, source.params, file_type)
        read_vocabulary(source.location.folder, source.params.vocab_size).add_to_gguf(writer)
        add_bonito_metadata(writer, source, toy)
        for tensor in planned:
            shape, dtype = header_shape(tensor)
            writer.add_tensor_info(tensor.name, shape, dtype, tensor.nbytes, raw_dtype=tensor.qtype)
        writer.write_header_to_file(path=path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        _write_tensors(writer, source, planned, path, progress)
    finally:
        writer.close()


def _write_tensors(
    writer: gguf.GGUFWriter, source: _Source, planned: list[PlannedTensor], path: Path, progress: bool
) -> None:
    total = sum(t.nbytes for t in planned)
    with progress_bar(
        total=total,
        unit="B",
        unit_scale=True,
        desc=f"Writing {path.name.strip('.')}",
        enabled=progress,
    ) as bar:
        for tensor in planned:
            data = tensor_data(source.checkpoint, tensor)
            writer.write_tensor_data(data)
            logger.info("%s -> %s %s %s", tensor.source_name, tensor.name, tensor.qtype.name, list(tensor.shape))
            # Dropping the array (and its memory map) now keeps one tensor in memory at a time.
            del data
            bar.update(tensor.nbytes)
    writer.flush()


def _quantize_with_progress(intermediate: Path, destination: Path, quant: str, progress: bool, verbose: bool) -> None:
    with progress_bar(unit="tensor", desc=f"Quantizing to {quant}", enabled=progress) as bar:

        def on_tensor(done: int, total: int) -> None:
            if bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.refresh()

        quantize_gguf(intermediate, destination, quant, on_tensor=on_tensor, show_log=verbose)


def add_general_metadata(writer: gguf.GGUFWriter, source: _Source) -> None:
    """``general.*``: what llama.cpp's converter reads from the model card, plus our keys."""
    folder = source.location.folder
    metadata = gguf.Metadata.load(None, folder, None, source.n_parameters)
    if source.location.repo_id:
        # A hub checkpoint's folder is its snapshot, named by a commit hash, from which the
        # heuristics would name the model: the repository names it instead.
        metadata.name = source.location.repo_id.split("/")[-1]
        for field in ("basename", "finetune", "version"):
            if re.fullmatch(r"[0-9a-f]{40}", str(getattr(metadata, field, "") or "").lower()):
                setattr(metadata, field, None)
    if metadata.name is None:
        metadata.name = folder.name
    if metadata.size_label is None:
        metadata.size_label = gguf.size_label(source.n_parameters, 0, 0, 0)
    if metadata.license is None:
        metadata.license = licence_by_shape(source.params)
        if metadata.license is None:
            logger.warning(
                "%s names no licence (no 'license:' in its README.md) and is shaped like neither Bonito: "
                "the GGUF gets no general.license",
                folder,
            )
    if metadata.license_name is None and isinstance(metadata.license, str):
        metadata.license_name = LICENSE_NAMES.get(metadata.license)
    writer.add_type(gguf.GGUFType.MODEL)
    metadata.set_gguf_meta_model(writer)
    if source.location.repo_id:
        writer.add_string(SOURCE_HF_REPOSITORY_KEY, source.location.repo_id)


def licence_by_shape(params: HyperParameters) -> str | None:
    """The licence of the Bonito a checkpoint without a model card is shaped like, if any.

    bonito-v1 and the Mistral 7B it is made from are Apache-2.0. The Llama 3.1 Bonito, like
    every model derived from Llama 3.1, is under the Llama 3.1 Community License, which its
    conversions must carry on; Llama 3.1 is told by its RoPE scaling (factor 8 over an 8,192
    original context). A Llama without that scaling (Llama 2, Llama 3, Llama 3.2's factor 32)
    is under some other licence, which the shape cannot tell: none is guessed. Nor for the
    70 B shape (width 8,192, 80 layers): Llama 3.3 70B has 3.1's scaling and its own licence.
    """
    if params.architecture == "MistralForCausalLM":
        return APACHE_2_0
    scaling = params.rope_scaling
    llama_70b = (params.hidden_size, params.num_hidden_layers) == (8192, 80)
    if scaling is not None and scaling.factor == 8.0 and scaling.original_context_length == 8192 and not llama_70b:
        return LLAMA_3_1
    return None


def add_hyper_parameters(writer: gguf.GGUFWriter, params: HyperParameters, file_type: gguf.LlamaFileType) -> None:
    """``llama.*``: the keys llama.cpp's converter writes for a Llama/Mistral checkpoint."""
    writer.add_block_count(params.num_hidden_layers)
    if params.context_length is not None:
        writer.add_context_length(int(params.context_length))
    writer.add_embedding_length(params.hidden_size)
    writer.add_feed_forward_length(params.intermediate_size)
    writer.add_head_count(params.num_attention_heads)
    writer.add_head_count_kv(params.num_key_value_heads)
    if params.rope_theta is not None:
        writer.add_rope_freq_base(params.rope_theta)
    writer.add_layer_norm_rms_eps(params.rms_norm_eps)
    # llama.cpp's converter reads config.json through transformers, which fills in head_dim
    # when the file has none; written always so that both files carry the same keys.
    writer.add_key_length(params.rope_dimension_count)
    writer.add_value_length(params.rope_dimension_count)
    writer.add_file_type(int(file_type))
    writer.add_vocab_size(params.vocab_size)
    writer.add_rope_dimension_count(params.rope_dimension_count)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def add_bonito_metadata(writer: gguf.GGUFWriter, source: _Source, toy: bool) -> None:
    """``bonito.*``: marks the file as a Bonito model with its prompt format and task types."""
    add_metadata(writer, bonito_metadata(source.location.revision, toy=toy))


def add_metadata(writer: gguf.GGUFWriter, metadata: dict) -> None:
    """Write flags, strings and lists of strings under their keys, typed by their Python type."""
    for key, value in metadata.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, list(value))
