"""The GGUF metadata keys bonito-lite writes and reads: one place for their names.

Standard keys (``general.*``, ``llama.*``, ``tokenizer.*``) come from ``gguf.Keys``; the
``bonito.*`` keys are ours. The converter writes them, and ``generate`` and ``inspect`` read
them to recognise a Bonito model and its prompt format.
"""

from __future__ import annotations

from ..prompt import PROMPT_TEMPLATE
from ..task_types import TASK_TYPES

IS_BONITO = "bonito.is_bonito"
PROMPT_TEMPLATE_KEY = "bonito.prompt_template"
TASK_TYPES_KEY = "bonito.task_types"
TASK_TYPE_SHORT_FORMS_KEY = "bonito.task_type_short_forms"
SOURCE_REVISION = "bonito.source.revision"
IS_TOY = "bonito.toy"
# Not among gguf.Keys; llama.cpp's model cards and loaders use this name. The converter
# writes the hub id a GGUF was converted from; Bonito("BatsResearch/bonito-v1") looks for it.
SOURCE_HF_REPOSITORY_KEY = "general.source.huggingface.repository"
# The Bonito models' licences by the Hugging Face licence id their model cards give
# (``general.license``), with the name written beside it (``general.license.name``):
# bonito-v1's and the Llama 3.1 Bonito's.
APACHE_2_0 = "apache-2.0"
LLAMA_3_1 = "llama3.1"
LICENSE_NAMES = {APACHE_2_0: "Apache License 2.0", LLAMA_3_1: "Llama 3.1 Community License"}


def bonito_metadata(source_revision: str | None, toy: bool = False) -> dict[str, object]:
    """The ``bonito.*`` key-value pairs for a converted model, in writing order."""
    values: dict[str, object] = {
        IS_BONITO: True,
        PROMPT_TEMPLATE_KEY: PROMPT_TEMPLATE,
        TASK_TYPES_KEY: [t.full_name for t in TASK_TYPES],
        TASK_TYPE_SHORT_FORMS_KEY: [t.short for t in TASK_TYPES],
        IS_TOY: toy,
    }
    if source_revision:
        values[SOURCE_REVISION] = source_revision
    return values
