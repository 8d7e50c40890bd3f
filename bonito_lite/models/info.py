"""Check a GGUF model file before llama.cpp touches it, and describe it.

llama.cpp answers a wrong file with a NULL pointer and a log line the user never sees (its
log is silenced), or with a crash; reading the header with ``gguf.GGUFReader`` first turns
every such case into a one-line :class:`ModelFileError`.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

from ..errors import ModelFileError, cannot_read, one_line
from .metadata import IS_BONITO, IS_TOY, SOURCE_HF_REPOSITORY_KEY

SUPPORTED_ARCHITECTURE = "llama"  # Mistral checkpoints convert to llama.cpp's llama architecture
_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelInfo:
    """What bonito-lite needs to know about a GGUF model, read from its header."""

    path: Path
    file_size: int
    architecture: str
    name: str | None
    parameter_count: int
    file_type: str  # "F32", "F16", "Q8_0", "Q4_K_M"...
    context_length: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    key_length: int  # per head
    value_length: int  # per head
    vocab_size: int
    bonito: dict[str, Any] = field(default_factory=dict)  # the bonito.* keys, see metadata.py
    vocab_sha256: str = ""  # over the token strings in order: equal for two files of one vocabulary
    # Byte tokens the tokenizer falls back on that the vocabulary lacks (see byte_fallback_missing).
    missing_byte_tokens: int = 0
    source_repository: str | None = None  # the hub id it was converted from, when the file says
    feed_forward_length: int = 0  # 0 when the file does not say
    license: str | None = None  # general.license: a licence id such as "apache-2.0" or "llama3.1"
    license_name: str | None = None  # general.license.name, when the file names it

    @property
    def is_toy(self) -> bool:
        return bool(self.bonito.get(IS_TOY, False))

    @property
    def is_bonito(self) -> bool:
        return bool(self.bonito.get(IS_BONITO, False))

    def kv_bytes_per_token(self, bytes_per_element: int = 2) -> int:
        """KV-cache bytes one token takes in every layer (llama.cpp's default cache type is F16)."""
        per_layer = self.head_count_kv * (self.key_length + self.value_length)
        return self.block_count * per_layer * bytes_per_element


def read_model_info(path: os.PathLike | str) -> ModelInfo:
    """Check that ``path`` is a complete llama-architecture GGUF with a tokenizer; describe it.

    Raises :class:`ModelFileError` (one line) for a missing path, a folder, a file that is not
    GGUF, a truncated or damaged file, another architecture, or a file without a tokenizer.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file; give the path of a .gguf file")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; give the path of a .gguf file")
    stat = path.stat()
    return _read_model_info(path, stat.st_size, stat.st_mtime_ns)


# Parsing the GGUF header walks every vocabulary entry (32,000 of them for bonito-v1) and a
# run asks several times (checks, tokenizer, engine); the file's size and mtime key the cache.
@functools.lru_cache(maxsize=8)
def _read_model_info(path: Path, size: int, mtime_ns: int) -> ModelInfo:
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as error:
        raise ModelFileError(cannot_read(path, error)) from None
    if magic != _MAGIC:
        what = "empty" if size == 0 else f"starts with {magic!r}, not b'GGUF'"
        raise ModelFileError(f"{path} is not a GGUF model file ({what}); convert the checkpoint to GGUF first")
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError, MemoryError) as error:
        raise ModelFileError(
            f"{path} is truncated or damaged ({size} bytes; the GGUF reader says: {one_line(error)}); "
            "copy or convert it again"
        ) from None
    needed = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=reader.data_offset)
    if needed > size:
        raise ModelFileError(f"{path} is truncated ({size} bytes, its tensors need {needed}); copy or convert it again")

    fields = {name: reader.fields[name] for name in reader.fields}
    architecture = _value(fields, gguf.Keys.General.ARCHITECTURE)
    if architecture != SUPPORTED_ARCHITECTURE:
        raise ModelFileError(
            f"{path} has architecture {architecture!r}; bonito-lite runs Mistral-architecture "
            f"models stored as {SUPPORTED_ARCHITECTURE!r} (such as bonito-v1 converted to GGUF)"
        )
    if gguf.Keys.Tokenizer.LIST not in fields:
        raise ModelFileError(
            f"{path} has no tokenizer ({gguf.Keys.Tokenizer.LIST} is missing); convert it again with its tokenizer.model"
        )

    def arch_int(key: str, default: int | None = None) -> int:
        value = _value(fields, key.format(arch=architecture), default)
        if value is None:
            raise ModelFileError(f"{path} lacks {key.format(arch=architecture)}; convert it again")
        return int(value)

    embedding_length = arch_int(gguf.Keys.LLM.EMBEDDING_LENGTH)
    head_count = arch_int(gguf.Keys.Attention.HEAD_COUNT)
    head_dim = embedding_length // head_count
    head_count_kv = arch_int(gguf.Keys.Attention.HEAD_COUNT_KV, head_count)
    return ModelInfo(
        path=path,
        file_size=size,
        architecture=architecture,
        name=_value(fields, gguf.Keys.General.NAME),
        parameter_count=sum(int(t.n_elements) for t in reader.tensors),
        file_type=_file_type_name(_value(fields, gguf.Keys.General.FILE_TYPE)),
        context_length=arch_int(gguf.Keys.LLM.CONTEXT_LENGTH),
        block_count=arch_int(gguf.Keys.LLM.BLOCK_COUNT),
        embedding_length=embedding_length,
        head_count=head_count,
        head_count_kv=head_count_kv,
        key_length=arch_int(gguf.Keys.Attention.KEY_LENGTH, head_dim),
        value_length=arch_int(gguf.Keys.Attention.VALUE_LENGTH, head_dim),
        vocab_size=len(fields[gguf.Keys.Tokenizer.LIST].data),
        bonito={name: _value(fields, name) for name in fields if name.startswith("bonito.")},
        vocab_sha256=_token_list_sha256(fields[gguf.Keys.Tokenizer.LIST]),
        missing_byte_tokens=byte_fallback_missing(
            _value(fields, gguf.Keys.Tokenizer.MODEL), fields[gguf.Keys.Tokenizer.LIST]
        ),
        source_repository=_value(fields, SOURCE_HF_REPOSITORY_KEY),
        feed_forward_length=arch_int(gguf.Keys.LLM.FEED_FORWARD_LENGTH, 0),
        license=_text(fields, gguf.Keys.General.LICENSE),
        license_name=_text(fields, gguf.Keys.General.LICENSE_NAME),
    )


def file_sha256(
    path: os.PathLike | str, chunk_bytes: int = 1 << 20, on_chunk: Callable[[int], object] | None = None
) -> str:
    """The hex sha256 of a file, read in chunks (model files are gigabytes); ``on_chunk(n_bytes)`` after each."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()


def _value(fields: dict[str, gguf.ReaderField], key: str, default: Any = None) -> Any:
    field_ = fields.get(key)
    return default if field_ is None else field_.contents()


def _text(fields: dict[str, gguf.ReaderField], key: str) -> str | None:
    # A licence may be stored as a list of ids; shown joined.
    value = _value(fields, key)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    return None if value is None else str(value)


def token_list_sha256(tokens: Iterable[bytes]) -> str:
    """The sha256 of a vocabulary: each token's UTF-8 bytes, in order, each followed by a NUL
    that no token contains (``ModelInfo.vocab_sha256``; equal for two files of one tokenizer)."""
    digest = hashlib.sha256()
    for token in tokens:
        digest.update(token)
        digest.update(b"\0")
    return digest.hexdigest()


def byte_fallback_missing(tokenizer_model: str | None, tokens: gguf.ReaderField) -> int:
    """How many of the 256 byte tokens a tokenizer needs to write any text are missing.

    SentencePiece ("llama") writes a character it has no piece for as its UTF-8 bytes,
    ``<0x00>``-``<0xFF>``; byte-level BPE ("gpt2") starts from one token per byte. llama.cpp
    looks them up without checking, and a missing one aborts the whole process (no error
    comes back), so a vocabulary without them is refused before llama.cpp reads it.
    """
    if tokenizer_model == "llama":
        needed = {f"<0x{byte:02X}>".encode() for byte in range(256)}
    elif tokenizer_model == "gpt2":
        needed = {character.encode() for character in _byte_level_characters()}
    else:
        return 0
    present = {bytes(tokens.parts[index]) for index in tokens.data}
    return len(needed - present)


def _byte_level_characters() -> list[str]:
    """GPT-2's byte-level alphabet: printable bytes as themselves, the rest moved past U+00FF."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    moved = iter(range(256, 512))
    return [chr(byte) if byte in printable else chr(next(moved)) for byte in range(256)]


def check_llama_cpp_vocabulary(info: ModelInfo) -> None:
    """Refuse a model whose vocabulary llama.cpp cannot tokenize with (before it aborts on it)."""
    if info.missing_byte_tokens:
        raise ModelFileError(
            f"{info.path}'s vocabulary lacks {info.missing_byte_tokens} of the 256 byte tokens its "
            "tokenizer needs to write any text, and llama.cpp stops the process on such a file; "
            "convert the model again from its checkpoint and tokenizer"
        )


def _token_list_sha256(tokens: gguf.ReaderField) -> str:
    # The stored bytes of each token (views into the memory-mapped header), without decoding
    # 32,000 strings.
    return token_list_sha256(bytes(tokens.parts[index]) for index in tokens.data)


def file_type_names() -> list[str]:
    """llama.cpp's names of its file types, as ``ModelInfo.file_type`` gives them ("Q4_K_M", "F16"...)."""
    return [_file_type_name(t.value) for t in gguf.LlamaFileType if t is not gguf.LlamaFileType.GUESSED]


def _file_type_name(value: int | None) -> str:
    if value is None:
        return "unknown"
    try:
        name = gguf.LlamaFileType(int(value)).name
    except ValueError:
        return f"type {value}"
    for prefix in ("MOSTLY_", "ALL_"):
        name = name.removeprefix(prefix)
    return name
