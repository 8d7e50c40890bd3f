"""Resuming a ``generate`` run: which generations an earlier run finished, and what is left.

Every record carries a ``unit`` key: a hash of everything that decides its generation
(passage text, task type, sample index, sampling settings, seed, chunking and the model
file's sha256). Written on the same line as the record, the key is on disk exactly when
the record is, so rereading the output and its rejects tells which units are finished,
whatever stopped the earlier run. A rerun with other settings computes other keys and
generates those units anew; the records already there stay.

The quality filters are not part of the key: they decide where a generation is written,
not what it is. A rerun with other filter settings (or ``--no-filter``) regenerates
nothing; what a filter rejected stays in the rejects file with its reason and detail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OutputExistsError
from .record import REASON, TASK_TYPE, UNIT, Record

log = logging.getLogger(__name__)

# 64 bits: collisions stay out of reach for any dataset a laptop can generate.
_UNIT_HEX_DIGITS = 16


@dataclass(frozen=True)
class UnitKeys:
    """Computes the ``unit`` key of one generation under a run's settings."""

    model_sha256: str
    seed: int
    max_tokens: int
    temperature: float
    top_p: float
    chunk_tokens: int
    constrain: bool = False
    # Sampling fields added later: in the key only when not at their default, so that the
    # units of outputs made before them (with the defaults) keep their keys and resume.
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()

    def key(self, passage_text: str, task_type: str, sample_index: int) -> str:
        """The key of sample ``sample_index`` of ``task_type`` (full name) on a passage."""
        passage_sha256 = hashlib.sha256(passage_text.encode("utf-8")).hexdigest()
        fields: list = [
            passage_sha256,
            task_type,
            sample_index,
            self.max_tokens,
            self.temperature,
            self.top_p,
            self.seed,
            self.chunk_tokens,
            self.constrain,
            self.model_sha256,
        ]
        added = {
            name: list(value) if isinstance(value, tuple) else value
            for name, default in _ADDED_DEFAULTS.items()
            if (value := getattr(self, name)) != default
        }
        if added:
            fields.append(added)
        digest = hashlib.sha256(json.dumps(fields).encode("utf-8")).hexdigest()
        return digest[:_UNIT_HEX_DIGITS]


_ADDED_DEFAULTS = {name: getattr(UnitKeys, name) for name in ("top_k", "min_p", "repetition_penalty", "stop")}


@dataclass
class FinishedUnits:
    """The unit keys already in an output and its rejects, with the counts of those files.

    Keys are counted, not just collected: the same passage twice in the inputs gives the
    same key twice, and each occurrence is finished only once it is written.
    """

    keys: Counter = field(default_factory=Counter)
    parsed: int = 0
    rejected: Counter = field(default_factory=Counter)
    # (task type, reason) -> records; reason None for the examples in the output.
    by_task: Counter = field(default_factory=Counter)

    @property
    def generations(self) -> int:
        return self.parsed + sum(self.rejected.values())

    def copy(self) -> FinishedUnits:
        return FinishedUnits(Counter(self.keys), self.parsed, Counter(self.rejected), Counter(self.by_task))

    def take(self, key: str) -> bool:
        """True, and one occurrence of ``key`` used up, when that unit is finished."""
        if self.keys[key] > 0:
            self.keys[key] -= 1
            return True
        return False

    def left(self) -> int:
        """Finished units not taken: records made under other settings or inputs."""
        return sum(n for n in self.keys.values() if n > 0)


def read_finished(output: Path, rejects: Path, on_kept: Callable[[Record], None] | None = None) -> FinishedUnits:
    """Read the unit keys of ``output`` (kept examples) and ``rejects`` (rejected ones).

    A record in the rejects file is finished like one in the output, whether the parser
    or a quality filter rejected it: a rerun does not generate it again. ``on_kept`` gets
    every record of the output (to rebuild a deduplication index from it). A missing file
    holds nothing; a last line without its newline (a run killed while writing it) is
    ignored here and cut off by :func:`repair_partial_line`. Raises
    :class:`OutputExistsError` for a line that is not a record with a unit key (or, for
    ``on_kept``, not a whole record): the file was not written by this version of
    bonito-lite, and appending to it would mix data.
    """
    finished = FinishedUnits()
    for path, parsed in ((output, True), (rejects, False)):
        for number, record in _complete_records(path):
            finished.keys[record[UNIT]] += 1
            task_type = str(record.get(TASK_TYPE))
            if parsed:
                finished.parsed += 1
                finished.by_task[(task_type, None)] += 1
                if on_kept is not None:
                    try:
                        on_kept(Record.from_json(record))
                    except ValueError as error:
                        raise _not_a_record(path, number, f" ({error})") from None
            else:
                reason = str(record.get(REASON, "unknown"))
                finished.rejected[reason] += 1
                finished.by_task[(task_type, reason)] += 1
    return finished


def _complete_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                return  # a half-written last line
            try:
                record: Any = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not isinstance(record.get(UNIT), str):
                raise _not_a_record(path, number, " with a unit key")
            yield number, record


def _not_a_record(path: Path, number: int, why: str) -> OutputExistsError:
    if number > 1:
        # The lines before it are records: --overwrite would throw them away with it.
        return OutputExistsError(
            f"{path} line {number} is not a bonito-lite record{why}, so the run cannot resume into it; "
            "remove or mend that line to resume (--overwrite would discard the records before it too)."
        )
    return OutputExistsError(
        f"{path} line {number} is not a bonito-lite record{why}, so the run cannot resume into it; "
        "pass --overwrite to replace it, or -o to write elsewhere."
    )


def repair_partial_line(path: Path) -> int:
    """Cut a last line that lacks its newline; return how many bytes were removed.

    Only the last line can be partial: records are appended whole, one write each. The
    file is read backwards from its end, so a large output costs a few reads.
    """
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("r+b") as handle:
        end = size
        block = 1 << 16
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            if end == size and chunk.endswith(b"\n"):
                return 0
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return size - keep


def model_sha256(model: Path, previous_manifest: Path | None) -> str:
    """The sha256 of the model file, taken from an earlier run's manifest when the file is unchanged.

    Hashing a 4 GB model takes seconds; the manifest beside the output records the file's
    resolved path, size and mtime with its hash, and any change to those hashes it again.
    """
    stat = model.stat()
    resolved = str(model.resolve())
    if previous_manifest is not None and previous_manifest.exists():
        try:
            recorded = json.loads(previous_manifest.read_text(encoding="utf-8")).get("model", {})
        except (OSError, ValueError, AttributeError):
            recorded = {}
        if (
            isinstance(recorded, dict)
            and recorded.get("file") == resolved
            and recorded.get("size") == stat.st_size
            and recorded.get("mtime_ns") == stat.st_mtime_ns
            and isinstance(recorded.get("sha256"), str)
        ):
            return recorded["sha256"]
    # Imported here: the GGUF reader is slow to import, and the CLI and the review import
    # this module without needing it.
    from .models.info import file_sha256

    return file_sha256(model)
