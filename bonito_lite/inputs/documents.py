"""Finding the user's documents, and cutting them into passages, without copying their text anywhere.

Inputs are files, folders (searched recursively for supported files, hidden entries skipped,
as are folders of installed packages and what a Sphinx HTML build writes beside its pages, in
sorted order; linked and unreadable subfolders are named in a warning, not followed), glob
patterns, and ``-`` for standard input. A folder or a pattern never yields a file bonito-lite
wrote (see ``_OwnFiles``); naming one is an ``InputError``.

Which files are read, and how, is the table in ``bonito_lite.inputs.readers``: a reader per
kind of file, found by the file's suffix.

* ``.txt``, ``.md``, ``.markdown`` and ``.text`` files are documents; each is cut into passages
  (``readers.text`` says how text is decoded).
* ``.jsonl``, ``.json``, ``.csv`` and ``.parquet`` files are tables: each row whose
  ``context_col`` holds text is one document, named ``path#row=N`` (``readers.tables``).
* ``.pdf``, ``.docx``, ``.html`` and ``.htm`` files are structured documents, read with the docs
  extra (``pip install "bonito-lite[docs]"``) into paragraphs and headings; each page of a PDF
  is one document, named ``path#page=N``. Naming such a file without the extra is an
  ``InputError`` with the install command; a folder or pattern skips them with one warning. An
  old Word ``.doc`` file is an ``InputError`` when named, a warning when found in a folder.

Problems with the inputs as given (a missing path, an unsupported file type, a folder with no
supported files, a column that is not there) raise ``InputError`` before any work starts;
a table that a folder or a pattern found, without the column or not a table at all, is
skipped with a warning instead, and named in ``DocumentSet.skipped``. A
problem found while reading one file only skips that file, with a warning naming it: a binary
file, a file that is not valid UTF-8, an empty file, a damaged PDF.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import InputError, UnreadableDocumentError
from ..export import FORMATS as EXPORT_SUFFIXES
from ..record import CONTEXT, INPUT, OUTPUT, TASK_TYPE, UNIT
from ..sinks import (
    MANIFEST_SUFFIX,
    OUTPUT_SUFFIX,
    REJECTED_SUFFIX,
    REPORT_SUFFIX,
    REVIEW_SUFFIX,
    manifest_path,
    sibling_path,
)
from . import readers
from .chunking import DEFAULT_CHUNK_TOKENS, Passage, split_blocks, split_passages
from .readers.base import Document, Reader, WarnOnce
from .readers.text import STDIN, StdinText, guess_encoding, stdin_document

__all__ = [
    "STDIN",
    "Document",
    "DocumentSet",
    "find_documents",
    "guess_encoding",
    "is_pattern",
    "iter_passages",
    "pattern_base",
]

log = logging.getLogger(__name__)

_COLUMNS_SHOWN = 20


class DocumentSet:
    """The checked inputs of one run; iterating it (as often as needed) yields ``Document``s."""

    def __init__(self, inputs: Sequence[_Input], context_col: str, skipped: Sequence[str] = ()) -> None:
        self.inputs = tuple(inputs)
        self.context_col = context_col
        # Files a folder or a pattern found that are not tables of text (one warning each).
        self._tables_skipped = tuple(skipped)
        self._notes = WarnOnce()

    @property
    def skipped(self) -> tuple[str, ...]:
        """The files skipped with a warning: tables without the text column, found before
        reading, and files found unreadable or empty while reading (those read so far)."""
        return self._tables_skipped + tuple(self._notes.skipped)

    def __iter__(self) -> Iterator[Document]:
        for item in self.inputs:
            if item.stdin is not None:
                yield stdin_document(item.stdin, self._notes)
            else:
                yield from item.reader.documents(item.path, item.source, self.context_col, self._notes)


def find_documents(
    inputs: Sequence[str],
    *,
    context_col: str = "text",
    stdin: TextIO | None = None,
) -> DocumentSet:
    """Resolve files, folders, globs and ``-`` into documents, checking them before any work.

    Raises ``InputError`` (one line) for a missing path, a pattern that matches nothing, a
    folder without supported files, an unsupported file type, an unreadable file, a file
    bonito-lite wrote, or a table without ``context_col`` (the message lists its columns).
    A folder or a pattern passes over bonito-lite's own files in silence, and skips a table it
    cannot use with one warning each (``DocumentSet.skipped`` names them). Reading happens
    on iteration.
    """
    if not inputs:
        raise InputError("no input given; name files, folders, glob patterns, or - for stdin.")
    found: list[_Input] = []
    seen: set[str] = set()
    for given in inputs:
        if given == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                stream = stdin if stdin is not None else sys.stdin
                found.append(_Input(STDIN, None, None, StdinText(stream)))
            continue
        for item in _expand(given):
            key = os.path.realpath(item.path)
            if key not in seen:
                seen.add(key)
                found.append(item)
    kept: list[_Input] = []
    skipped: list[str] = []
    for item in found:
        if item.reader is not None and item.reader.columns is not None:
            try:
                _check_table(item, context_col)
            except _OwnFileError:
                if item.named:
                    raise
                continue
            except InputError as error:
                if item.named:
                    raise
                log.warning("%s", _skipped_message(str(error)))
                skipped.append(item.source)
                continue
        kept.append(item)
    if not kept and skipped:
        raise InputError(
            f"no table among the inputs has a {context_col!r} column (see the warnings above); "
            "choose the text column with --context-col."
        )
    return DocumentSet(kept, context_col, skipped)


def iter_passages(
    documents: Iterable[Document],
    *,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> Iterator[Passage]:
    """Cut each document into passages, in order; unreadable or empty documents are skipped
    with a warning naming them."""
    for document in documents:
        blocks = document.blocks()
        if blocks is not None:
            reader = _GuardedChunks(blocks)
            split = split_blocks
        else:
            reader = _GuardedChunks(document.text_chunks())
            split = functools.partial(split_passages, markdown=document.markdown)
        produced = 0
        for passage in split(reader, document.source, count_tokens=count_tokens, chunk_tokens=chunk_tokens):
            produced += 1
            yield passage
        if reader.error is not None:
            document.skip(str(reader.error))
        elif produced == 0:
            document.skip(f"{document.source}: no text; skipped.")


# ---------------------------------------------------------------------------------------------
# Finding inputs


@dataclass(frozen=True)
class _Input:
    source: str
    reader: Reader | None  # None for standard input
    path: Path | None
    stdin: StdinText | None = None
    named: bool = True  # named by the user, not found by a folder or a pattern


class _OwnFileError(InputError):
    """A file bonito-lite wrote was named as an input."""


def _own_file_message(source: str) -> str:
    return (
        f"{source}: a file bonito-lite wrote (generated examples, rejects, a manifest or an "
        "export), not a document; name the documents it was made from."
    )


def _skipped_message(message: str) -> str:
    return message.rstrip(".") + "; skipped."


# The kinds of file bonito-lite writes that a scan could mistake for inputs; a table of one of
# these kinds whose first record has every field of a generated record is an output too.
_OWN_SUFFIXES = (".jsonl", ".json", ".parquet", ".hf", ".html")


class _OwnFiles:
    """Recognises bonito-lite's own files by name, so that a folder scan never reads them.

    They are: files named like a default output (``*.bonito.jsonl`` and everything named
    after one), and, beside a manifest bonito-lite wrote, the output it describes and the
    files the commands name after that output (rejects, review, report, exports). A user's
    own file that merely shares the output's stem (``faq.en.html`` beside ``faq.jsonl``) is
    read. Folders are looked at once each.
    """

    _MARKER = Path(OUTPUT_SUFFIX).stem + "."  # ".bonito."
    _COMPANIONS = (REJECTED_SUFFIX, REVIEW_SUFFIX, REPORT_SUFFIX, *EXPORT_SUFFIXES.values())

    def __init__(self) -> None:
        self._outputs: dict[str, list[str]] = {}

    def __contains__(self, full: str) -> bool:
        folder, name = os.path.split(full)
        if self._MARKER in name.lower() and Path(name).suffix.lower() in _OWN_SUFFIXES:
            return True
        for output in self._outputs_in(folder):
            stem = sibling_path(Path(output), "").name
            if name in (output, manifest_path(Path(output)).name):
                return True
            if name.startswith(stem + ".") and name[len(stem) :] in self._COMPANIONS:
                return True
        return False

    def _outputs_in(self, folder: str) -> list[str]:
        if folder not in self._outputs:
            try:
                names = os.listdir(folder or ".")
            except OSError:
                names = []
            self._outputs[folder] = [
                name[: -len(MANIFEST_SUFFIX)]
                for name in names
                if name.endswith(MANIFEST_SUFFIX) and _is_manifest(os.path.join(folder, name))
            ]
        return self._outputs[folder]


# Every manifest names the version that wrote it near its start.
_MANIFEST_KEY = b'"bonito_lite_version"'
# A generated record carries these; no document table needs all of them.
_RECORD_KEYS = frozenset({INPUT, OUTPUT, TASK_TYPE, CONTEXT, UNIT})


# What Sphinx writes beside the pages of an HTML build that is not a page of the document: the
# sources again as text (_sources/page.rst.txt), its theme, the general and module indexes
# (genindex-A.html when split by letter) and the search page.
_SPHINX_GENERATED = frozenset({"_sources", "_static", "genindex.html", "py-modindex.html", "search.html"})
_SPHINX_SPLIT_INDEX = re.compile(r"genindex-\w+\.html")


# Folders of installed packages that a project keeps beside its own documents, full of other
# people's READMEs and licences: Node's, and Python's byte-code caches. A Python virtual
# environment (its pyvenv.cfg) or a conda one (its conda-meta folder) is known by what it holds
# whatever its name ("venv", "env"). A folder named "vendor" may be a user's own: it is read.
_DEPENDENCY_FOLDERS = frozenset({"node_modules", "bower_components", "__pycache__"})


def _dependency_folder(folder: str) -> bool:
    """Whether ``folder`` holds installed packages rather than the user's documents."""
    return (
        os.path.basename(os.path.normpath(folder)) in _DEPENDENCY_FOLDERS
        or os.path.isfile(os.path.join(folder, "pyvenv.cfg"))
        or os.path.isdir(os.path.join(folder, "conda-meta"))
    )


def _names(part: str, name: str) -> bool:
    """Whether a pattern's part names a folder: it matches it and writes three or more of its
    letters ("node*", not "*" or "*s" or "[!.]*", which match whatever is there)."""
    literal = max(re.split(r"[*?]+", re.sub(r"\[[^\]]*\]", "*", part)), key=len)
    return len(literal) >= 3 and fnmatch.fnmatchcase(name, part)


def _sphinx_build(folder: str, files: list[str]) -> bool:
    """Whether a folder is the root of a Sphinx HTML build, by its search index (packagers
    often drop the .buildinfo beside it)."""
    if "searchindex.js" not in files:
        return False
    try:
        with open(os.path.join(folder, "searchindex.js"), "rb") as index:
            return index.read(16) == b"Search.setIndex("
    except OSError:
        return False


def _is_manifest(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return _MANIFEST_KEY in handle.read(4096)
    except OSError:
        return False


def is_pattern(given: str) -> bool:
    """Whether an input is a glob pattern rather than a path."""
    return any(magic in given for magic in _GLOB_MAGIC)


def pattern_base(given: str) -> str:
    """The part of an input before any glob character: ``docs/*.md`` → ``docs/``."""
    cut = min((given.find(magic) for magic in _GLOB_MAGIC if magic in given), default=len(given))
    return given[:cut]


_GLOB_MAGIC = "*?["


def _expand(given: str) -> Iterator[_Input]:
    path = Path(given)
    if path.is_dir():
        try:
            os.scandir(given).close()
        except OSError as error:  # the folder named cannot be listed: one line, not a warning and an error
            raise InputError(
                f"{given}: folder cannot be read ({error.strerror}); check its permissions or name another."
            ) from None
        scan = _Scan()
        items = scan.files(scan.walk(given))
        if not items:
            raise InputError(
                scan.nothing_readable(
                    given,
                    f"{given}: no supported files in this folder ({readers.supported_list()}); "
                    "hidden files and folders are skipped.",
                )
            )
        scan.report(given)
        yield from items
        return
    if path.exists():
        reader = readers.reader_for(path)
        if reader is None:
            if (refusal := readers.refused(given)) is not None:
                raise InputError(refusal)
            raise InputError(
                f"{given}: unsupported file type {path.suffix or '(no extension)'!r}; "
                f"bonito-lite reads {readers.supported_list()} (convert other formats to text first)."
            )
        if (hint := reader.missing_extra(path.suffix.lower())) is not None:
            raise InputError(f"{given}: {hint}")
        if given in _OwnFiles():
            raise _OwnFileError(_own_file_message(given))
        yield _checked_file(given, reader)
        return
    if is_pattern(given):
        scan = _Scan()
        found = sorted(glob.glob(given, recursive=True))
        matches = scan.outside_dependencies(found, given)
        items: list[_Input] = []
        seen: set[str] = set()  # "docs/**" matches a folder and the files in it
        for match in matches:
            paths = [path for path in (scan.walk(match) if os.path.isdir(match) else [match]) if path not in seen]
            seen.update(paths)
            items.extend(scan.files(paths))
        if not items:
            what = "nothing" if not found else "no supported files"
            raise InputError(
                scan.nothing_readable(given, f"{given}: the pattern matches {what} ({readers.supported_list()}).")
            )
        scan.report(given)
        yield from items
        return
    raise InputError(f"{given}: no such file or folder.")


class _Scan:
    """Files found by a folder or a pattern: unsupported ones and bonito-lite's own files are
    passed over in silence, except documents in formats not read (``.rtf``, ``.pptx``,
    ``.rst``...), told in one warning for them all; folders of installed packages and pages
    that only redirect to another, told in one info line each; old Word files, unreadable
    files, and folders that cannot be read or are links with a warning each; files whose
    format needs the missing docs extra with one warning for them all."""

    def __init__(self) -> None:
        self.hints: dict[str, str | None] = {}  # by suffix
        self.needs_extra: dict[str, int] = {}
        self.unread: dict[str, int] = {}  # documents in formats not read, by suffix
        self.own = _OwnFiles()
        self.dependencies: dict[str, None] = {}  # folders of installed packages passed over, in order
        self.redirects = 0  # pages that only redirect to another, passed over

    def files(self, paths: Iterable[str]) -> list[_Input]:
        items = []
        for full in paths:
            reader = readers.reader_for(full)
            if reader is None:
                if (refusal := readers.refused(full, skipped=True)) is not None:
                    log.warning("%s", refusal)
                elif readers.unread_document(full):
                    suffix = Path(full).suffix.lower()
                    self.unread[suffix] = self.unread.get(suffix, 0) + 1
                continue
            if full in self.own:
                continue
            if reader.redirect is not None and reader.redirect(Path(full)) is not None:
                self.redirects += 1
                continue
            suffix = Path(full).suffix.lower()
            if suffix not in self.hints:
                self.hints[suffix] = reader.missing_extra(suffix)
            if self.hints[suffix] is not None:
                self.needs_extra[suffix] = self.needs_extra.get(suffix, 0) + 1
                continue
            try:
                items.append(_checked_file(full, reader, named=False))
            except InputError as error:
                log.warning("%s", _skipped_message(str(error)))
        return items

    def walk(self, folder: str) -> Iterator[str]:
        """The supported files under ``folder``, in sorted order, hidden entries left out."""
        found: list[tuple[str, str]] = []

        def unreadable(error: OSError) -> None:
            log.warning("%s: folder cannot be read (%s); skipped.", error.filename, error.strerror)

        for root, dirs, files in os.walk(folder, onerror=unreadable):
            generated: frozenset[str] = frozenset()
            if _sphinx_build(root, files):
                generated = _SPHINX_GENERATED
                log.info("%s: a Sphinx build; its copies of the sources, index and search pages are passed over.", root)
            # Hidden folders (.git, .venv, ...) hold tooling, not the user's documents.
            kept = []
            for name in sorted(d for d in dirs if not d.startswith(".") and d not in generated):
                full = os.path.join(root, name)
                if _dependency_folder(full):
                    self.dependencies.setdefault(full)
                elif os.path.islink(full):
                    # Not followed: a link can lead back up the tree, or out of it.
                    log.warning("%s: a link to a folder, not followed; name it to read it.", full)
                elif full not in self.own:  # an export saved as a dataset folder
                    kept.append(name)
            dirs[:] = kept
            for name in files:
                if name.startswith(".") or name in generated or _SPHINX_SPLIT_INDEX.fullmatch(name) and generated:
                    continue
                if readers.reader_for(name) or readers.refused(name) or readers.unread_document(name):
                    full = os.path.join(root, name)
                    found.append((os.path.relpath(full, folder), full))
        for _, full in sorted(found):
            yield full

    def _hint(self) -> str:
        return readers.needs_extras(list(self.needs_extra))

    def nothing_readable(self, given: str, message: str) -> str:
        if self.needs_extra:
            count = sum(self.needs_extra.values())
            return f"{given}: {count} file(s) found, but {self._hint()}"
        if self.unread:
            return f"{message.rstrip('.')}; {self._unread()}"
        if self.dependencies or self.redirects:
            return f"{given}: nothing to read; {'; '.join(self._passed_over())}."
        return message

    def outside_dependencies(self, matches: list[str], pattern: str) -> list[str]:
        """A pattern's matches but those inside folders of installed packages that the pattern
        does not name ("docs/**/*.md" passes over docs/node_modules/; "node_modules/*/README.md"
        and "docs/node*/**" name it)."""
        base = pattern_base(pattern)
        # The folder the pattern's own parts start from, and those parts (glob reads "a//b" as "a/b").
        root = base if base.endswith(("/", os.sep)) or not base else os.path.dirname(base)
        parts = [part for part in re.split(r"[\\/]", pattern[len(root) :]) if part]
        checked: dict[str, bool] = {}

        # After "**" any later part may stand at any depth.
        anywhere = parts[parts.index("**") + 1 :] if "**" in parts else []

        def passed_over(folder: str, depth: int) -> bool:
            if folder not in checked:
                name = os.path.basename(folder)
                at_depth = [parts[depth]] if depth < len(parts) and "**" not in parts[: depth + 1] else []
                named = any(_names(part, name) for part in at_depth + anywhere)
                checked[folder] = not named and _dependency_folder(folder)
                if checked[folder]:
                    self.dependencies.setdefault(folder)
            return checked[folder]

        kept = []
        start = os.path.normpath(root) if root else ""
        for match in matches:
            below = Path(os.path.relpath(match, root or "."))
            folders = below.parts if os.path.isdir(match) else below.parts[:-1]
            if not any(passed_over(os.path.join(start, *folders[: n + 1]), n) for n in range(len(folders))):
                kept.append(match)
        return kept

    def report(self, given: str) -> None:
        for passed_over in self._passed_over():
            log.info("%s: %s", given, passed_over)
        if self.needs_extra:
            count = sum(self.needs_extra.values())
            log.warning("%s: %d file(s) skipped; %s", given, count, self._hint())
        if self.unread:
            log.warning("%s: %s", given, self._unread())

    def _passed_over(self) -> list[str]:
        said = []
        if self.dependencies:
            folders = list(self.dependencies)
            shown = ", ".join(folders[:3]) + (", ..." if len(folders) > 3 else "")
            said.append(f"passed over {len(folders)} folder(s) of installed packages ({shown}); name one to read it")
        if self.redirects:
            said.append(f"passed over {self.redirects} page(s) that only redirect to another page")
        return said

    def _unread(self) -> str:
        kinds = ", ".join(f"{count} {suffix}" for suffix, count in sorted(self.unread.items()))
        return (
            f"passed over {kinds} (formats bonito-lite does not read); "
            "convert them to .docx, .pdf, .html, .md or .txt (a spreadsheet to .csv) to include them."
        )


def _checked_file(source: str, reader: Reader, named: bool = True) -> _Input:
    if os.path.islink(source) and not os.path.exists(source):
        raise InputError(f"{source}: a link to {os.readlink(source)}, which does not exist.")
    if not os.access(source, os.R_OK):
        raise InputError(f"{source}: cannot be read (permission denied).")
    return _Input(source, reader, Path(source), named=named)


class _GuardedChunks:
    """Passes chunks on; an unreadable document ends the text early and keeps the error."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self.chunks = chunks
        self.error: UnreadableDocumentError | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self.chunks
        except UnreadableDocumentError as error:
            self.error = error


# ---------------------------------------------------------------------------------------------
# Tables, checked before any work


def _columns_message(source: str, column: str, columns: Sequence[str]) -> InputError:
    shown = ", ".join(repr(str(c)) for c in list(columns)[:_COLUMNS_SHOWN])
    if len(columns) > _COLUMNS_SHOWN:
        shown += f", and {len(columns) - _COLUMNS_SHOWN} more"
    return InputError(
        f"{source}: no column {column!r} (columns: {shown or 'none'}); choose the text column with --context-col."
    )


def _check_table(item: _Input, column: str) -> None:
    """Check the shape and the column from the table's first record; rows are read later."""
    try:
        columns = item.reader.columns(item.path, item.source)
    except UnicodeDecodeError:
        return  # reading it skips it with the not-UTF-8 warning
    if columns is None:
        return
    if item.path.suffix.lower() in _OWN_SUFFIXES and _RECORD_KEYS <= set(columns.names):
        raise _OwnFileError(_own_file_message(item.source))
    if column not in columns.names:
        raise _columns_message(item.source, column, columns.names)
    if column in columns.not_text:
        raise InputError(
            f"{item.source}: column {column!r} holds {columns.not_text[column]}, not text; "
            "choose the text column with --context-col."
        )
