"""The table from file suffix to reader: which files bonito-lite reads, and how.

Each reader is a module here whose ``READER`` declares its suffixes, the extra its libraries
come with (if any), and how a file becomes documents: one per text file, DOCX, ODT or HTML file,
one per PDF page, one per table row. Tables also say what columns their first record has,
so that a missing text column is found before any work.

To read a new format: write a module beside these with a ``READER`` and list it in
``_READERS``; its suffixes then count for files named, folder scans, patterns and messages.
"""

from __future__ import annotations

from pathlib import Path

from . import csv_table, docx, html, json_list, jsonl, odt, parquet, pdf, text
from .base import Reader, install_command

# In the order messages list them.
_READERS = (
    text.READER,
    jsonl.READER,
    json_list.READER,
    csv_table.READER,
    parquet.READER,
    pdf.READER,
    docx.READER,
    odt.READER,
    html.READER,
)
READERS: dict[str, Reader] = {suffix: reader for reader in _READERS for suffix in reader.suffixes}

# Files of a kind that is recognised but not read: the message that says what to do instead.
_REFUSED = {docx.OLD_WORD_SUFFIX: docx.old_word_message}

# Documents people keep beside the ones read here, in formats that are not read: a folder
# scan passes over a source tree's other files in silence, but says it passed over these.
UNREAD_DOCUMENT_SUFFIXES = frozenset(
    ".ott .rtf .pages .pptx .ppt .odp .xlsx .xls .ods .numbers .epub .rst .adoc .asciidoc .org .tex .eml .mbox".split()
)


def reader_for(path: Path | str) -> Reader | None:
    """The reader for a file, by its suffix in any case; None for a file bonito-lite does not read."""
    return READERS.get(Path(path).suffix.lower())


def refused(path: Path | str, *, skipped: bool = False) -> str | None:
    """For a kind of file that is known and not read (old Word), the one line that says so."""
    message = _REFUSED.get(Path(path).suffix.lower())
    return None if message is None else message(str(path), skipped)


def unread_document(path: Path | str) -> bool:
    """Whether a file is a document in a format that is not read (see ``UNREAD_DOCUMENT_SUFFIXES``)."""
    return Path(path).suffix.lower() in UNREAD_DOCUMENT_SUFFIXES


def supported_list() -> str:
    """The suffixes read, for messages: ``.txt, .md, ...``."""
    return ", ".join(READERS)


def table_suffixes() -> list[str]:
    """The suffixes of tables, the files whose rows are read from a text column."""
    return [suffix for suffix, reader in READERS.items() if reader.columns is not None]


def needs_extras(suffixes: list[str]) -> str:
    """The hint for files skipped because their reader's extra is missing: what to install."""
    by_extra: dict[str, list[str]] = {}
    for suffix in sorted(suffixes):
        by_extra.setdefault(READERS[suffix].extra, []).append(suffix)
    return "; ".join(
        f"reading {', '.join(names)} needs the {extra} extra: {install_command(extra)}"
        for extra, names in by_extra.items()
    )
