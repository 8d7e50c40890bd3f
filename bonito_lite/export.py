"""Trainer formats: a generated JSONL written as alpaca, chat messages, Parquet or a saved dataset.

The JSONL is the working file (appended, resumed); these are views of the whole of it,
written in one go, row for row in the JSONL's order. ``generate --format`` and
``bonito-lite export`` both call :func:`export_dataset`.

- ``alpaca``: ``{"instruction": input, "input": "", "output": output}`` per line.
- ``messages``: ``{"messages": [user: input, assistant: output]}`` per line, no system message.
- ``parquet``: every field of the records, provenance included.
- ``hf``: the same table as a ``datasets.Dataset.save_to_disk`` folder.

alpaca and messages rows carry only what trainers read. The loaders do drop extra columns
(LLaMA-Factory and axolotl keep only the columns they map), but a key one of them gives a
meaning to (``system``, ``history``, ``conversations``) would change what is trained, and the
provenance is one join away: row *i* of every format is record *i* of the JSONL, and
parquet and hf keep every field.

A review (``bonito-lite review``, its decisions in ``notes.bonito.review.jsonl``) is applied
unless asked not to: dropped examples are left out, edits applied, rejected examples taken
back added at the end, and parquet and hf get a ``review`` column (see ``review/apply.py``).
Row *i* is then no longer record *i*; the ``unit`` field is the join.

Both are JSON Lines, not a JSON array (the original Alpaca file is one): LLaMA-Factory
(``.jsonl`` in ``file_name``), axolotl (``ds_type: json``) and TRL
(``load_dataset("json", ...)``) all read them, axolotl's documentation recommends them, and
unlike an array they are written and read a line at a time, whatever the dataset's size.

Nothing is held whole in memory: JSON Lines are written a record at a time, parquet and hf
a batch of rows at a time (a first pass over the JSONL finds the columns and their types, a
second writes them). Every output is written under a temporary name beside it and renamed
when complete, so an error or Ctrl-C leaves no partial file. ``datasets`` never sees a cache
folder: the hf folder is saved from a memory-mapped Arrow file written beside the output,
so no copy of the data lands in ``~/.cache/huggingface``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, one_line
from .offline import go_offline
from .record import INPUT, OUTPUT, REASON
from .review.apply import AppliedReview, ReviewCounts
from .sinks import (
    PRIVATE_FOLDER_MODE,
    REJECTED_SUFFIX,
    check_made_from,
    existing_mode,
    is_rejected_path,
    make_private_folder,
    replaced_file,
    review_path,
    set_tree_mode,
    sibling_path,
    temporary_name,
)

# Format name → what is added to the JSONL's name (``notes.bonito.jsonl`` → ``notes.bonito.parquet``).
FORMATS: dict[str, str] = {
    "alpaca": ".alpaca.jsonl",
    "messages": ".messages.jsonl",
    "parquet": ".parquet",
    "hf": ".hf",
}
_FOLDER_FORMATS = {"hf"}

# Rows per Arrow batch (one parquet row group each): a few MB of text, never the whole file.
_BATCH_ROWS = 4096

# The fields every example of a bonito-lite output has (record.py).
_REQUIRED = (INPUT, OUTPUT)
# The field only rejected generations have (record.py): they are never exported.
_REJECTION = REASON


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    records: int
    seconds: float
    review: ReviewCounts | None = None  # None when no review applied


def default_export_path(jsonl: str | os.PathLike, fmt: str) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.alpaca.jsonl``, ``.messages.jsonl``, ``.parquet``, ``.hf``."""
    return sibling_path(Path(jsonl), FORMATS[_check_format(fmt)])


def check_export(
    jsonl: str | os.PathLike,
    fmt: str,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    named_by_o: bool = True,
) -> Path:
    """Refuse, before anything is read or written, what :func:`export_dataset` would refuse
    about its paths; return the file or folder it would write (``named_by_o``: whether -o
    could name another, for the advice)."""
    fmt = _check_format(fmt)
    source = Path(jsonl)
    if not source.is_file():
        raise InputError(f"{source} is not a file; give the .jsonl that generate wrote.")
    if is_rejected_path(source):
        raise InputError(
            f"{source} holds rejected generations, which are never exported; export the examples "
            f"file beside it, not its {REJECTED_SUFFIX}."
        )
    target = Path(output) if output is not None else default_export_path(source, fmt)
    _check_target(source, target, fmt, overwrite, named_by_o)
    return target


def export_dataset(
    jsonl: str | os.PathLike,
    fmt: str,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    ignore_review: bool = False,
) -> ExportResult:
    """Write the examples of a bonito-lite JSONL in a trainer's format; refuse bad input in one line.

    A review beside the JSONL (``bonito-lite review``) is applied unless ``ignore_review``.
    """
    go_offline()
    started = time.monotonic()
    fmt = _check_format(fmt)
    source = Path(jsonl)
    target = check_export(source, fmt, output, overwrite)
    review = None if ignore_review else AppliedReview.load(source)
    records: Records = (
        (lambda: _at_least_one(source, read_examples(source)))
        if review is None
        # An output with no example can still hold rejects the review took back.
        else (lambda: _at_least_one(source, review.records(read_examples(source))))
    )
    if fmt in _FOLDER_FORMATS:
        count = _write_hf(source, records, target)
    elif fmt == "parquet":
        count = _write_parquet(source, records, target)
    else:
        count = _write_jsonl(records, target, _ROWS[fmt])
    counts = review.counts if review is not None else None
    return ExportResult(target, fmt, count, time.monotonic() - started, counts)


def check_export_targets(
    output: Path, formats: list[str] | tuple[str, ...], replacing: bool, ignore_review: bool
) -> None:
    """Refuse before a run starts what ``generate --format`` could not write once it ends:
    a format's file or folder in the way, a review beside the output that is not its own."""
    for fmt in dict.fromkeys(formats):
        try:
            _check_target(output, default_export_path(output, fmt), fmt, overwrite=True)
        except InputError as error:
            reason = str(error).replace("choose another -o", "move it aside").rstrip(".")
            raise InputError(f"{reason} (--format {fmt}).") from None
    sidecar = review_path(output)
    if ignore_review or not (sidecar.exists() or sidecar.is_symlink()):
        return
    if replacing or not output.exists():
        raise InputError(
            f"{sidecar} reviews an earlier {output.name}, which this run {'replaces' if replacing else 'does not find'}; "
            "move it aside first, or pass --ignore-review."
        )
    AppliedReview.load(output)


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    return fmt


def _check_target(source: Path, target: Path, fmt: str, overwrite: bool, named_by_o: bool = True) -> None:
    """Refuse before reading anything: the input itself, a missing folder, an output in the way.

    What --overwrite would not replace either is refused first, so that the advice to pass
    it is only given where it helps."""
    if target.exists() or target.is_symlink():
        wants_folder = fmt in _FOLDER_FORMATS
        if wants_folder and not target.is_dir():
            raise InputError(f"{target} is a file and {fmt} writes a folder; choose another -o.")
        if not wants_folder and target.is_dir():
            raise InputError(f"{target} is a folder; give -o a file name.")
        if wants_folder and any(target.iterdir()) and not _is_saved_dataset(target):
            # --overwrite replaces a dataset, never a folder of something else.
            raise InputError(
                f"{target} is a folder that does not hold a saved dataset, which --overwrite never "
                "replaces; choose another -o."
            )
    check_made_from(source, target, overwrite, named_by_o)


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "dataset_info.json").is_file() and (folder / "state.json").is_file()


# Reading ------------------------------------------------------------------------------------

# A new pass over the records to write (parquet and hf read them twice).
Records = Callable[[], Iterator[dict[str, Any]]]


def read_examples(jsonl: Path) -> Iterator[dict[str, Any]]:
    """The records of a bonito-lite output, one at a time; a line that is not one is an InputError."""
    with open(jsonl, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield parse_example_line(jsonl, number, line)


def _at_least_one(source: Path, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``records``, refused once they turn out to be none (the file being written is dropped)."""
    count = 0
    for record in records:
        count += 1
        yield record
    if count == 0:
        raise InputError(f"{source} holds no examples; nothing to export.")


def parse_example_line(path: Path, number: int, line: bytes) -> dict[str, Any]:
    """One line of a bonito-lite output as its record; anything else is an InputError naming the line."""
    where = f"{path} line {number}"
    try:
        record = json.loads(line)
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text; give the .jsonl that generate wrote.") from None
    except ValueError:
        raise InputError(
            f"{where} is not JSON; fix or remove it (a killed run leaves a half line: rerun generate to finish it)."
        ) from None
    if not isinstance(record, dict):
        raise InputError(f"{where} is not a JSON object; give the .jsonl that generate wrote.")
    if _REJECTION in record:
        raise InputError(
            f"{where} is a rejected generation (it has a {_REJECTION!r}), not an example; rejected "
            f"generations are never training data: give the examples file, not its {REJECTED_SUFFIX}."
        )
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise InputError(f"{where} has no {' or '.join(missing)}; it is not a bonito-lite example.")
    for key in _REQUIRED:
        if not isinstance(record[key], str):
            raise InputError(f"{where}: {key} is {type(record[key]).__name__}, not text.")
    return record


# JSON Lines: alpaca and messages --------------------------------------------------------------


def _alpaca_row(record: dict[str, Any]) -> dict[str, Any]:
    # Bonito's input already holds the passage and the instruction, so Alpaca's input is empty.
    return {"instruction": record[INPUT], "input": "", "output": record[OUTPUT]}


def _messages_row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": record[INPUT]},
            {"role": "assistant", "content": record[OUTPUT]},
        ]
    }


_ROWS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "alpaca": _alpaca_row,
    "messages": _messages_row,
}


def _write_jsonl(records: Records, target: Path, row: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    count = 0
    with replaced_file(target) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        for record in records():
            handle.write(json.dumps(row(record), ensure_ascii=False) + "\n")
            count += 1
        handle.flush()
        _sync(tmp)
    return count


# Arrow: parquet and hf --------------------------------------------------------------------------


def _batches(records: Records) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records():
        batch.append(record)
        if len(batch) == _BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _schema(source: Path, records: Records):
    """Columns in the order they first appear, each typed to fit every record (a first pass)."""
    import pyarrow as pa

    schema = None
    for batch in _batches(records):
        try:
            found = pa.Table.from_pylist(batch).schema
            schema = found if schema is None else pa.unify_schemas([schema, found], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise InputError(f"{source}: a field holds values of different types ({one_line(error)}).") from None
    return schema


def _tables(source: Path, records: Records, schema) -> Iterator[Any]:
    import pyarrow as pa

    for batch in _batches(records):
        try:
            yield pa.Table.from_pylist(batch, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise InputError(f"{source}: a field holds values of different types ({one_line(error)}).") from None


def _write_parquet(source: Path, records: Records, target: Path) -> int:
    import pyarrow.parquet as pq

    schema = _schema(source, records)
    count = 0
    with replaced_file(target) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in _tables(source, records, schema):
                writer.write_table(table)
                count += table.num_rows
        _sync(tmp)
    return count


def _write_hf(source: Path, records: Records, target: Path) -> int:
    import pyarrow as pa
    from datasets import Dataset

    schema = _schema(source, records)
    count = 0
    with _replaced_folder(target) as work:
        # An Arrow stream file is what Dataset.from_file memory-maps: no builder, no cache.
        arrow = work / "examples.arrow"
        with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for table in _tables(source, records, schema):
                writer.write_table(table)
                count += table.num_rows
        dataset = Dataset.from_file(str(arrow))
        with _quiet_datasets():  # our own line says what was written; no second progress bar
            dataset.save_to_disk(str(work / "dataset"))
        del dataset  # release the memory map before the scratch file goes
    return count


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


# Atomic replacement -----------------------------------------------------------------------------


@contextmanager
def _replaced_folder(target: Path) -> Iterator[Path]:
    """Yield a scratch folder beside ``target``; its ``dataset`` folder becomes ``target`` at the end.

    The scratch folder is owner-only from the start; the new folder and its files are too, or
    take the mode of the folder they replace (``sinks.PRIVATE_FOLDER_MODE``).
    """
    work = temporary_name(target)
    make_private_folder(work)
    try:
        yield work
        replaced_mode = existing_mode(target) if target.is_dir() else None
        set_tree_mode(work / "dataset", PRIVATE_FOLDER_MODE if replaced_mode is None else replaced_mode)
        # A folder cannot be renamed over a folder: move the old one aside first, so that
        # at every moment ``target`` is either the old dataset or the new one.
        old = None
        if target.exists() or target.is_symlink():
            old = temporary_name(target)
            os.replace(target, old)
        try:
            os.replace(work / "dataset", target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        if old is not None:
            _remove(old)
    finally:
        _remove(work)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """On disk before the rename, so that a power cut never leaves a renamed, empty file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
