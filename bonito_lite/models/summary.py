"""What a GGUF model file is, for ``bonito-lite inspect``: read from its header alone.

Everything here comes from :func:`info.read_model_info`, which parses the GGUF header
through ``gguf.GGUFReader``: the file is memory-mapped and only the header's pages are read,
so a 14.5 GB model is described without its tensors ever being loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..prompt import PROMPT_TEMPLATE
from ..task_types import TASK_TYPES, TaskType, resolve_task_type
from .info import ModelInfo, read_model_info
from .metadata import PROMPT_TEMPLATE_KEY, SOURCE_REVISION, TASK_TYPES_KEY
from .paths import resolve_model
from .pull import read_pull_record


@dataclass(frozen=True)
class ModelSummary:
    """A model file's header, with its ``bonito.*`` metadata matched against bonito-lite's own."""

    info: ModelInfo
    prompt_template: str | None  # as stored in the file; None when it stores none
    task_types: tuple[TaskType | str, ...]  # as stored: known types, or the raw name of an unknown one
    pulled_from: dict[str, Any] | None = None  # the record 'bonito-lite pull' wrote beside the file

    @property
    def bits_per_weight(self) -> float:
        return self.info.file_size * 8 / max(self.info.parameter_count, 1)

    @property
    def template_matches(self) -> bool:
        """Whether the stored template is the one bonito-lite builds prompts with."""
        return self.prompt_template == PROMPT_TEMPLATE

    @property
    def has_all_task_types(self) -> bool:
        return self.task_types == TASK_TYPES

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (``inspect --json``)."""
        info = self.info
        return {
            "path": str(info.path),
            "file_size_bytes": info.file_size,
            "architecture": info.architecture,
            "name": info.name,
            "parameters": info.parameter_count,
            "quant_type": info.file_type,
            "bits_per_weight": round(self.bits_per_weight, 3),
            "context_length": info.context_length,
            "embedding_length": info.embedding_length,
            "layers": info.block_count,
            "heads": info.head_count,
            "kv_heads": info.head_count_kv,
            "head_size": info.key_length,
            "vocab_size": info.vocab_size,
            "license": {"id": info.license, "name": info.license_name},
            "bonito": {
                "is_bonito": info.is_bonito,
                "toy": info.is_toy,
                "source_revision": info.bonito.get(SOURCE_REVISION),
                "prompt_template": self.prompt_template,
                "prompt_template_matches": self.template_matches,
                "task_types": [
                    {"full_name": t.full_name, "short": t.short, "alias": t.alias}
                    if isinstance(t, TaskType)
                    else {"full_name": t, "short": None, "alias": None}
                    for t in self.task_types
                ],
            },
            "pulled_from": self.pulled_from,
        }


def summarize_model(spec: str | os.PathLike | None) -> ModelSummary:
    """Describe the model ``spec`` names (a path, 'toy', else $BONITO_LITE_MODEL or ./models/)."""
    info = read_model_info(resolve_model(spec))
    template = info.bonito.get(PROMPT_TEMPLATE_KEY)
    return ModelSummary(
        info=info,
        prompt_template=template if isinstance(template, str) else None,
        task_types=tuple(_task_type(name) for name in info.bonito.get(TASK_TYPES_KEY) or ()),
        pulled_from=read_pull_record(info.path),
    )


def _task_type(name: object) -> TaskType | str:
    try:
        return resolve_task_type(str(name))
    except InputError:
        return str(name)


def format_summary(summary: ModelSummary) -> str:
    """The summary as aligned ``label  value`` lines for a terminal."""
    info = summary.info
    rows = [
        ("file", f"{info.path} ({_size(info.file_size)})"),
        ("architecture", info.architecture + (f" ({info.name})" if info.name else "")),
        ("parameters", f"{_count(info.parameter_count)} ({info.parameter_count:,})"),
        ("quant type", f"{info.file_type} ({summary.bits_per_weight:.2f} bits per weight)"),
        ("context length", f"{info.context_length:,} tokens"),
        (
            "shape",
            f"embedding {info.embedding_length}, {info.block_count} layers, "
            f"{info.head_count} heads ({info.head_count_kv} KV heads of {info.key_length})",
        ),
        ("vocabulary", f"{info.vocab_size:,} tokens"),
        ("licence", _license_line(info)),
        ("Bonito metadata", _bonito_line(info)),
        ("prompt template", _template_line(summary)),
        ("task types", _task_types_line(summary)),
    ]
    if summary.pulled_from is not None:
        rows.append(("pulled from", _pulled_line(summary.pulled_from, info)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _license_line(info: ModelInfo) -> str:
    if info.license is None and info.license_name is None:
        return "not stated in the file (see the model's card)"
    if info.license_name and info.license and info.license_name != info.license:
        return f"{info.license_name} ({info.license})"
    return info.license_name or info.license


def _bonito_line(info: ModelInfo) -> str:
    if not info.bonito:
        return "none (no bonito.* keys: not converted by bonito-lite)"
    parts = ["yes" if info.is_bonito else "bonito.* keys, but not marked as a Bonito model"]
    if info.is_toy:
        parts.append("the toy demo model")
    revision = info.bonito.get(SOURCE_REVISION)
    parts.append(f"source revision {revision}" if revision else "no source revision")
    return ", ".join(parts)


def _template_line(summary: ModelSummary) -> str:
    if summary.prompt_template is None:
        return "none stored (generate uses bonito-lite's own)"
    shown = repr(summary.prompt_template)
    return shown if summary.template_matches else f"{shown} (differs from bonito-lite's; generate uses its own)"


def _task_types_line(summary: ModelSummary) -> str:
    if not summary.task_types:
        return "none stored (generate offers all 16; see 'bonito-lite task-types')"
    if summary.has_all_task_types:
        return "all 16 (see 'bonito-lite task-types')"
    names = [t.alias if isinstance(t, TaskType) else f"{t} (unknown)" for t in summary.task_types]
    return f"{len(names)}: " + ", ".join(names)


def _pulled_line(record: dict[str, Any], info: ModelInfo) -> str:
    line = (
        f"{record.get('repository')} at {str(record.get('revision'))[:12]} ({record.get('file')}), "
        f"sha256 {str(record.get('sha256'))[:16]}..."
    )
    # The size is free to compare; the sha256 would mean reading the whole file.
    if record.get("size_bytes") != info.file_size:
        line += f"; the file has changed since ({record.get('size_bytes')} bytes then, {info.file_size} now)"
    return line


def _size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size} bytes"


def _count(count: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return str(count)
