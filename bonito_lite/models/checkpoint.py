"""A Hugging Face checkpoint on disk: where it is, what its config says, and its weights.

Weights are read straight from the safetensors files without PyTorch: the 8-byte header
length and the JSON header are parsed here, and each tensor is a read-only ``np.memmap``
of its bytes, so one tensor at a time is in memory. bf16 has no numpy dtype and is read as
``uint16`` (its bit pattern). Pickled ``.bin`` checkpoints are refused, never unpickled.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, NetworkError, cannot_read, one_line
from .hub import model_info

logger = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("MistralForCausalLM", "LlamaForCausalLM")

# What conversion reads; a hub download fetches only these.
NEEDED_FILES = [
    "config.json",
    "model.safetensors",
    "model-*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "generation_config.json",
    "README.md",
]

SAFETENSORS_INDEX = "model.safetensors.index.json"
SINGLE_SAFETENSORS = "model.safetensors"

# safetensors dtype -> (numpy dtype holding the bytes, bytes per element)
_SAFETENSORS_DTYPES = {
    "BF16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
}

# A header larger than this is not a real safetensors header (the format caps it at 100 MB).
_MAX_HEADER_BYTES = 100 * 1024 * 1024

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# A snapshot in the Hugging Face cache: .../models--owner--name/snapshots/<commit>
_CACHE_SNAPSHOT = re.compile(r"models--(?P<owner>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<commit>[0-9a-f]{40})$")


@dataclass(frozen=True)
class CheckpointLocation:
    """Where a checkpoint's files are, and which hub repository and commit they came from."""

    folder: Path
    repo_id: str | None
    revision: str | None


def locate_checkpoint(source: str | os.PathLike, revision: str | None = None) -> CheckpointLocation:
    """A local folder when ``source`` exists; otherwise an ``owner/name`` hub id, downloaded.

    The download is limited to the files conversion needs, goes through the Hugging Face
    cache, and honours ``HF_HUB_OFFLINE=1`` when the files are already cached.
    """
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{path} is a file; give the checkpoint folder (with config.json and *.safetensors)")
        # Not resolved: a cache snapshot reached through a link still names its repository.
        folder = path.absolute()
        repo_id, commit = _repo_from_cache_path(folder)
        if revision is not None:
            logger.warning("--revision %s ignored: %s is a local folder", revision, folder)
        return CheckpointLocation(folder=folder, repo_id=repo_id, revision=commit)
    text = str(source)
    if not _HUB_ID.match(text):
        raise CheckpointError(
            f"no such folder: {text}; give a checkpoint folder or a hub id like BatsResearch/bonito-v1"
        )
    return _download(text, revision)


def _repo_from_cache_path(folder: Path) -> tuple[str | None, str | None]:
    match = _CACHE_SNAPSHOT.search(folder.as_posix())
    if not match:
        return None, None
    return f"{match['owner']}/{match['name']}", match["commit"]


def _download(repo_id: str, revision: str | None) -> CheckpointLocation:
    from huggingface_hub import constants, errors as hub_errors, snapshot_download

    unreachable: Exception | None = None
    try:
        # The Hub is asked first, with a timeout: snapshot_download's own first question has
        # none, and a stuck proxy would hang it. When that fails the cache is all there is.
        if not constants.HF_HUB_OFFLINE:
            try:
                model_info(repo_id, revision)
            except (hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError):
                raise
            except Exception as error:  # no connection, a timeout, a Hub that answers 5xx
                unreachable = error
        # By the name asked for (model_info has bounded the shared client's waits already), so that the cache learns which commit it names (an offline
        # run finds the checkpoint by it).
        folder = snapshot_download(
            repo_id, revision=revision, allow_patterns=NEEDED_FILES, local_files_only=unreachable is not None
        )
    except hub_errors.RevisionNotFoundError:
        raise CheckpointError(f"{repo_id} has no revision {revision!r}; check --revision") from None
    except hub_errors.RepositoryNotFoundError:
        raise CheckpointError(f"{repo_id} is neither a local folder nor a repository on the Hugging Face hub") from None
    except hub_errors.LocalEntryNotFoundError:
        if isinstance(unreachable, hub_errors.HfHubHTTPError):
            raise NetworkError(
                f"{repo_id} is not in the local Hugging Face cache and the hub answered an error: "
                f"{one_line(unreachable)}"
            ) from None
        raise NetworkError(
            f"{repo_id} is not in the local Hugging Face cache and the hub cannot be reached"
            " (HF_HUB_OFFLINE set or no network); download it once with a connection"
        ) from None
    except (hub_errors.HfHubHTTPError, OSError) as error:
        raise NetworkError(f"downloading {repo_id} failed: {one_line(error)}") from None
    folder_path = Path(folder)
    commit = folder_path.name if _COMMIT.match(folder_path.name) else revision
    return CheckpointLocation(folder=folder_path, repo_id=repo_id, revision=commit)


@dataclass(frozen=True)
class Llama3RopeScaling:
    """Llama 3.1's RoPE scaling (``rope_type`` "llama3"): low frequencies slowed by ``factor``,
    high ones kept, the band between interpolated. llama.cpp applies it from a ``rope_freqs``
    tensor the converter computes (see ``convert_tensors.llama3_rope_factors``)."""

    factor: float
    low_freq_factor: float
    high_freq_factor: float
    original_context_length: int


@dataclass(frozen=True)
class HyperParameters:
    """The shape of a Llama-family model, read from either style of ``config.json``."""

    architecture: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    rms_norm_eps: float
    context_length: int | None
    rope_theta: float | None
    head_dim: int | None
    declared_dtype: str | None
    rope_scaling: Llama3RopeScaling | None = None
    # config.json's tie_word_embeddings, if it says: False means the head is a tensor of its own.
    tie_word_embeddings: bool | None = None

    @property
    def rope_dimension_count(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_attention_heads


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` as a dict; a missing or unreadable file is a CheckpointError."""
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no config.json; is it a Hugging Face checkpoint folder?")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CheckpointError(cannot_read(path, error)) from None
    except UnicodeDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {one_line(error)}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {one_line(error)}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} is not a JSON object")
    return config


def hyper_parameters(config: dict[str, Any]) -> HyperParameters:
    """Read the fields conversion needs, accepting the 2024 and the transformers-5 styles.

    2024: ``torch_dtype`` and a top-level ``rope_theta`` (with ``rope_scaling``).
    transformers 5: ``dtype`` and ``rope_parameters: {rope_theta, rope_type}``.
    """
    architectures = config.get("architectures") or []
    architecture = architectures[0] if architectures else None
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise CheckpointError(
            f"unsupported architecture {architecture or 'unknown'!s}; supported: " + ", ".join(SUPPORTED_ARCHITECTURES)
        )
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in (None, "default", "llama3"):
        # Mistral-7B uses plain RoPE and Llama 3.1 its own "llama3" scaling; other scaled
        # variants (linear, dynamic, yarn...) would need their own handling.
        raise CheckpointError(f"unsupported RoPE scaling {rope_type!r}; supported: plain RoPE and Llama 3.1's 'llama3'")
    rope_theta = rope.get("rope_theta", config.get("rope_theta"))
    try:
        n_heads = int(config["num_attention_heads"])
        params = HyperParameters(
            architecture=architecture,
            vocab_size=int(config["vocab_size"]),
            hidden_size=int(config["hidden_size"]),
            intermediate_size=int(config["intermediate_size"]),
            num_hidden_layers=int(config["num_hidden_layers"]),
            num_attention_heads=n_heads,
            num_key_value_heads=int(config.get("num_key_value_heads") or n_heads),
            rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            context_length=config.get("max_position_embeddings"),
            rope_theta=float(rope_theta) if rope_theta is not None else None,
            head_dim=config.get("head_dim"),
            declared_dtype=config.get("dtype", config.get("torch_dtype")),
            rope_scaling=_llama3_rope_scaling(rope) if rope_type == "llama3" else None,
            tie_word_embeddings=(
                bool(config["tie_word_embeddings"]) if config.get("tie_word_embeddings") is not None else None
            ),
        )
    except KeyError as error:
        raise CheckpointError(f"config.json lacks {error.args[0]!r}; the checkpoint is incomplete") from None
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"config.json has a malformed value: {one_line(error)}") from None
    return params


def _llama3_rope_scaling(rope: dict[str, Any]) -> Llama3RopeScaling:
    # All four are required: transformers refuses a "llama3" config without them, and a
    # default filled in here would silently give another model.
    try:
        return Llama3RopeScaling(
            factor=float(rope["factor"]),
            low_freq_factor=float(rope["low_freq_factor"]),
            high_freq_factor=float(rope["high_freq_factor"]),
            original_context_length=int(rope["original_max_position_embeddings"]),
        )
    except KeyError as error:
        raise CheckpointError(
            f"config.json's RoPE scaling of type 'llama3' lacks {error.args[0]!r}; the checkpoint is incomplete"
        ) from None


@dataclass(frozen=True)
class TensorEntry:
    """One tensor in a safetensors file: where its bytes are and how to read them."""

    name: str
    dtype: str  # safetensors dtype: "BF16", "F16" or "F32"
    shape: tuple[int, ...]
    file: Path
    offset: int  # absolute byte offset in the file
    nbytes: int


class SafetensorsCheckpoint:
    """The tensors of a checkpoint, over one file or several shards, read one at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = _safetensors_files(folder)
        self.entries: dict[str, TensorEntry] = {}
        for file in self.files:
            for entry in read_safetensors_header(file):
                if entry.name in self.entries:
                    raise CheckpointError(f"tensor {entry.name} appears in two files; the checkpoint is inconsistent")
                self.entries[entry.name] = entry

    def names(self) -> list[str]:
        return list(self.entries)

    def load(self, name: str) -> np.ndarray:
        """The tensor as a read-only memory map (bf16 as uint16 bit patterns)."""
        entry = self.entries[name]
        if entry.nbytes == 0:
            return np.zeros(entry.shape, dtype=_SAFETENSORS_DTYPES[entry.dtype])
        return np.memmap(
            entry.file,
            dtype=_SAFETENSORS_DTYPES[entry.dtype],
            mode="r",
            offset=entry.offset,
            shape=entry.shape,
        )

    def __iter__(self) -> Iterator[TensorEntry]:
        return iter(self.entries.values())


def _safetensors_files(folder: Path) -> list[Path]:
    index = folder / SAFETENSORS_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{index} is not a valid safetensors index: {one_line(error)}") from None
        files = []
        for shard in dict.fromkeys(weight_map.values()):
            path = folder / shard
            if not path.is_file():
                raise CheckpointError(f"{index.name} names {shard}, which is missing; download the checkpoint again")
            files.append(path)
        return files
    if (folder / SINGLE_SAFETENSORS).is_file():
        return [folder / SINGLE_SAFETENSORS]
    pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
    if pickled:
        raise CheckpointError(
            f"{folder} has only pickled weights ({pickled[0]}); they are not loaded because"
            " unpickling runs code: use a safetensors checkpoint"
        )
    raise CheckpointError(f"{folder} has no model.safetensors or {SAFETENSORS_INDEX}")


def read_safetensors_header(path: Path) -> list[TensorEntry]:
    """Parse a safetensors header and check every tensor lies inside the file."""
    try:
        file_size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise CheckpointError(f"{path.name} is truncated (no header); download it again")
            (header_size,) = struct.unpack("<Q", prefix)
            if header_size > _MAX_HEADER_BYTES or 8 + header_size > file_size:
                raise CheckpointError(f"{path.name} is truncated or not a safetensors file; download it again")
            header = json.loads(handle.read(header_size).decode("utf-8"))
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {one_line(error)}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path.name} has a corrupt safetensors header; download it again") from None

    data_start = 8 + header_size
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype")
        if dtype not in _SAFETENSORS_DTYPES:
            raise CheckpointError(
                f"tensor {name} in {path.name} is {dtype}; only BF16, F16 and F32 weights are supported"
            )
        shape = tuple(int(n) for n in info["shape"])
        begin, end = (int(n) for n in info["data_offsets"])
        expected = int(np.prod(shape, dtype=np.int64)) * _SAFETENSORS_DTYPES[dtype].itemsize
        if end - begin != expected or begin < 0:
            raise CheckpointError(f"tensor {name} in {path.name} has inconsistent offsets; the file is corrupt")
        if data_start + end > file_size:
            raise CheckpointError(
                f"{path.name} is truncated: its header needs {data_start + end} bytes, the file has"
                f" {file_size}; download it again"
            )
        entries.append(TensorEntry(name, dtype, shape, path, data_start + begin, expected))
    entries.sort(key=lambda e: e.offset)
    return entries
