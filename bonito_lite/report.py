"""What a report on a generated dataset shows: its figures, computed from the files in one pass each.

``read_report`` streams a bonito-lite output (the examples JSONL), then its rejects file, and
reads its manifest. Counts are exact over the whole output; what would grow with it is
bounded: examples and rejects are sampled (reservoir sampling, seeded), instruction openings
and groups of near-identical instructions are counted in trimmed tables, and distinct
n-grams are kept as 64-bit hashes. The coverage of the documents keeps a few numbers per
passage, never its text. ``report_page`` turns a :class:`Report` into the HTML page.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .export import parse_example_line
from .filters import without_passage, words_of
from .record import (
    CHAR_END,
    CHAR_START,
    CONTEXT,
    FIELDS,
    INPUT,
    MODEL,
    OUTPUT,
    PASSAGE_INDEX,
    REASON,
    SEED,
    SOURCE,
    TASK_TYPE,
    UNIT,
)
from .sinks import manifest_path, rejected_path

# Examples shown per task type, rejects per reason: enough to judge, bounded whatever the size.
DEFAULT_SAMPLES = 5
# Seed of those samples: the same seed shows the same examples.
DEFAULT_SEED = 0
REJECT_SAMPLES = 3
# Words that make an instruction's opening ("what is the", "based on the").
OPENING_WORDS = 3
# Rows shown in each "most frequent" table.
TOP_ROWS = 10
# Distinct keys a trimmed count table holds; past twice this it drops its rarest half.
_TOP_CAPACITY = 2000
# Passages that yielded nothing, listed by their start (all are counted).
LISTED_BARREN = 100
# A page or row of a table document is part of its file: ``report.pdf#page=3``.
_PART = re.compile(r"^(?P<file>.*)#(?P<kind>page|row)=(?P<number>\d+)$")
# Where a passage is previewed: its first characters.
_PREVIEW_CHARS = 160
# Answers shorter than this are not highlighted: "no" occurs by chance in any passage.
_MIN_HIGHLIGHT_CHARS = 2


# --- bounded counters ------------------------------------------------------------------------


class TopCounter:
    """Counts of keys, with the first text seen for each, trimmed to the most frequent.

    Exact while it has seen at most ``2 * capacity`` distinct keys. Past that it keeps the
    ``capacity`` most frequent and forgets the rest, so a key counted after a trim may miss
    up to :attr:`trimmed_below` of its earlier occurrences: counts are then lower bounds,
    and a key seen more often than a rare one is still found.
    """

    def __init__(self, capacity: int = _TOP_CAPACITY) -> None:
        self.capacity = capacity
        self._counts: dict[str, list] = {}  # key → [count, first text]
        self.trimmed_below = 0  # highest count dropped by a trim; 0 while exact

    @property
    def exact(self) -> bool:
        return self.trimmed_below == 0

    def add(self, key: str, text: str) -> None:
        entry = self._counts.get(key)
        if entry is not None:
            entry[0] += 1
            return
        self._counts[key] = [1, text]
        if len(self._counts) > 2 * self.capacity:
            ranked = sorted(self._counts.items(), key=lambda item: -item[1][0])
            self.trimmed_below = max(self.trimmed_below, ranked[self.capacity][1][0])
            self._counts = dict(ranked[: self.capacity])

    def most_common(self, n: int, least: int = 1) -> list[tuple[str, int, str]]:
        """The ``n`` most frequent ``(key, count, first text)`` with a count of ``least`` or more."""
        ranked = sorted(self._counts.items(), key=lambda item: (-item[1][0], item[0]))
        return [(key, count, text) for key, (count, text) in ranked[:n] if count >= least]


class DistinctNgrams:
    """How many of the n-grams seen are distinct, kept as 64-bit hashes: 8 bytes per distinct n-gram.

    Hashes wait in a flat buffer, are sorted and deduplicated a buffer at a time, and the
    sorted runs are merged once they outgrow the merged set, so each hash is sorted a few
    times at most, whatever the number of records.
    """

    _FLUSH = 1 << 15

    def __init__(self, n: int) -> None:
        self.n = n
        self.total = 0
        self._runs: list[np.ndarray] = []
        self._pending = array("q")

    def add(self, tokens: list[str]) -> None:
        if self.n == 1:
            grams = [hash(token) for token in tokens]
        else:
            grams = [hash(gram) for gram in zip(*(tokens[i:] for i in range(self.n)))]
        self.total += len(grams)
        self._pending.extend(grams)
        if len(self._pending) >= self._FLUSH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._runs.append(np.unique(np.frombuffer(self._pending, dtype=np.int64)))
            self._pending = array("q")
        if len(self._runs) > 1 and sum(r.size for r in self._runs[1:]) > self._runs[0].size:
            self._runs = [np.unique(np.concatenate(self._runs))]

    @property
    def distinct(self) -> int:
        self._flush()
        if len(self._runs) > 1:
            self._runs = [np.unique(np.concatenate(self._runs))]
        return int(self._runs[0].size) if self._runs else 0

    @property
    def ratio(self) -> float | None:
        """distinct-n: distinct n-grams over all n-grams; None when there are none."""
        return self.distinct / self.total if self.total else None


class Reservoir:
    """A uniform sample of at most ``size`` items from a stream (algorithm R), seeded."""

    def __init__(self, size: int, seed: str) -> None:
        self.size = size
        self.items: list[Any] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        slot = self._rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = item


def distinct_n(texts: list[str], n: int) -> float | None:
    """distinct-n of ``texts``: distinct word n-grams over all of them (words as :func:`words_of` finds them)."""
    counter = DistinctNgrams(n)
    for text in texts:
        counter.add(words_of(text))
    return counter.ratio


def opening(instruction: str, words: int = OPENING_WORDS) -> str:
    """An instruction's first ``words`` words, case-folded: 'What is the', 'Based on the'."""
    return " ".join(words_of(instruction)[:words])


def near_identical_key(instruction: str) -> str:
    """What near-identical instructions share: their words, case-folded, with every number as '#'.

    Punctuation, spacing, case and the numbers in them do not tell two instructions apart.
    """
    return _group_key(words_of(instruction))


def _group_key(words: list[str]) -> str:
    # "7:30" and "10:00" are both two numbers, "room 3" and "room 12" one.
    return " ".join("#" if word.isdecimal() else word for word in words)


def answer_span(passage: str, answer: str) -> tuple[int, int] | None:
    """Where ``answer`` occurs in ``passage`` as whole words: verbatim first, else ignoring case."""
    answer = answer.strip()
    if len(answer) < _MIN_HIGHLIGHT_CHARS:
        return None
    for flags in (0, re.IGNORECASE):
        match = re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", passage, flags)
        if match:
            return match.span()
    return None


# --- coverage ----------------------------------------------------------------------------------


@dataclass(slots=True)
class PassageCoverage:
    """What the report keeps of one passage: a few numbers (and a preview, for a listed few)."""

    source: str  # as records name it: a file, or a page or row of one
    index: int
    char_start: int
    char_end: int
    kept: int = 0
    rejected: int = 0
    preview: str = ""  # only for the passages that yielded nothing and are listed
    reasons: Counter | None = None  # why their generations were rejected, for those same few

    @property
    def chars(self) -> int:
        return max(self.char_end - self.char_start, 0)

    @property
    def order(self) -> tuple[int, int]:
        """Position in its file: page or row first, then passage."""
        part = _PART.match(self.source)
        return (int(part["number"]) if part else 0, self.index)


@dataclass
class FileCoverage:
    file: str
    passages: list[PassageCoverage]  # in order through the file

    @property
    def examples(self) -> int:
        return sum(p.kept for p in self.passages)

    @property
    def barren(self) -> int:
        """Passages that yielded no example."""
        return sum(1 for p in self.passages if p.kept == 0)

    @property
    def covered_share(self) -> float:
        """Share of the passages' text (in characters) from which at least one example was kept."""
        total = sum(p.chars for p in self.passages)
        return sum(p.chars for p in self.passages if p.kept) / total if total else 0.0


def file_of(source: str) -> str:
    """The file a source names: ``report.pdf#page=3`` and ``table.csv#row=7`` are parts of their file."""
    part = _PART.match(source)
    return part["file"] if part else source


# --- per task type -----------------------------------------------------------------------------


@dataclass
class TaskFigures:
    task_type: str
    samples: Reservoir
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    instruction_words: Counter = field(default_factory=Counter)  # length in words → examples
    answer_words: Counter = field(default_factory=Counter)
    distinct1: DistinctNgrams = field(default_factory=lambda: DistinctNgrams(1))
    distinct2: DistinctNgrams = field(default_factory=lambda: DistinctNgrams(2))
    openings: TopCounter = field(default_factory=TopCounter)
    groups: TopCounter = field(default_factory=TopCounter)

    def add(self, record: dict[str, Any]) -> None:
        self.kept += 1
        instruction = without_passage(str(record[INPUT]), str(record.get(CONTEXT, "")))
        # Lengths in words as a reader counts them (split at spaces: "7:30" is one word);
        # diversity on normalised words, as the filters compare them.
        self.instruction_words[len(instruction.split())] += 1
        self.answer_words[len(record[OUTPUT].split())] += 1
        tokens = words_of(instruction)
        self.distinct1.add(tokens)
        self.distinct2.add(tokens)
        self.openings.add(" ".join(tokens[:OPENING_WORDS]), " ".join(instruction.split()[:OPENING_WORDS]))
        self.groups.add(_group_key(tokens), " ".join(instruction.split()))
        self.samples.add(_sample(record))


def _sample(record: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of an example: the texts and where they came from."""
    return {key: record[key] for key in _SHOWN if key in record}


# Every field but the run's settings and the unit key, which say nothing a reader judges by.
_SHOWN = tuple(name for name in FIELDS if name not in (MODEL, SEED, UNIT))


# --- the report --------------------------------------------------------------------------------


@dataclass
class Report:
    output: Path
    rejects_file: Path | None  # None when there is none beside the output
    manifest: dict[str, Any] | None
    notes: list[str]  # what the page could not know, or what looks wrong: said at its top
    tasks: dict[str, TaskFigures]
    files: list[FileCoverage]
    reject_samples: dict[str, Reservoir]
    examples: int = 0
    rejected: Counter = field(default_factory=Counter)
    killed: bool = False  # a half-written last line: the run was killed while writing
    seed: int = DEFAULT_SEED
    barren_listed: int = 0  # passages that yielded nothing whose preview is kept

    @property
    def status(self) -> str:
        if self.killed:
            return "killed"
        if self.manifest is None:
            return "unknown"
        return str(self.manifest.get("status", "unknown"))

    @property
    def passages(self) -> int:
        return sum(len(f.passages) for f in self.files)

    @property
    def barren(self) -> list[PassageCoverage]:
        """The passages that yielded nothing and whose text was kept for the list, in order."""
        return [p for f in self.files for p in f.passages if p.kept == 0 and p.reasons is not None]

    @property
    def barren_count(self) -> int:
        return sum(f.barren for f in self.files)

    @property
    def covered_share(self) -> float:
        total = sum(p.chars for f in self.files for p in f.passages)
        covered = sum(p.chars for f in self.files for p in f.passages if p.kept)
        return covered / total if total else 0.0


def default_report_path(output: str | Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.report.html``."""
    from .sinks import REPORT_SUFFIX, sibling_path

    return sibling_path(Path(output), REPORT_SUFFIX)


def read_report(output: str | Path, seed: int = DEFAULT_SEED, samples: int = DEFAULT_SAMPLES) -> Report:
    """Every figure of the report on ``output``, a bonito-lite JSONL; bad input is an InputError."""
    output = Path(output)
    if not output.is_file():
        raise InputError(f"{output} is not a file; give the .jsonl that generate wrote.")
    if output.name.endswith(".rejected.jsonl"):
        raise InputError(f"{output} is a rejects file; give the examples file it belongs to.")
    rejects = rejected_path(output)
    notes: list[str] = []
    manifest = _read_manifest(manifest_path(output), notes)
    report = Report(
        output=output,
        rejects_file=rejects if rejects.is_file() else None,
        manifest=manifest,
        notes=notes,
        tasks={},
        files=[],
        reject_samples={},
        seed=seed,
    )
    passages: dict[tuple[str, int], PassageCoverage] = {}

    def task(name: str) -> TaskFigures:
        if name not in report.tasks:
            report.tasks[name] = TaskFigures(name, Reservoir(samples, f"{seed}\x00{name}"))
        return report.tasks[name]

    for record in _examples(output, report):
        report.examples += 1
        task(str(record.get(TASK_TYPE, "unknown"))).add(record)
        passage = _passage(passages, record)
        if passage is not None:
            passage.kept += 1
    if report.rejects_file is not None:
        for record in _rejects(report.rejects_file, report):
            reason = str(record[REASON])
            report.rejected[reason] += 1
            task(str(record.get(TASK_TYPE, "unknown"))).rejected[reason] += 1
            if reason not in report.reject_samples:
                report.reject_samples[reason] = Reservoir(REJECT_SAMPLES, f"{seed}\x00{reason}")
            report.reject_samples[reason].add(_sample(record))
            passage = _passage(passages, record)
            if passage is not None:
                passage.rejected += 1
                _remember_barren(passage, record, report)
    if report.examples == 0 and not report.rejected:
        raise InputError(
            f"{output} holds no examples and {_no_rejects(report)}; nothing to report (run generate to fill it)."
        )
    report.files = _by_file(passages.values())
    _check_against_manifest(report)
    return report


def _no_rejects(report: Report) -> str:
    return "no rejects file beside it" if report.rejects_file is None else "its rejects file is empty"


def _read_manifest(path: Path, notes: list[str]) -> dict[str, Any] | None:
    unknown = "the model, its settings, the run's status and times are unknown; the counts come from the files"
    if not path.is_file():
        notes.append(f"No manifest ({path.name}) beside the output: {unknown}.")
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        notes.append(f"The manifest {path.name} could not be read as JSON: {unknown}.")
        return None
    if not isinstance(manifest, dict):
        notes.append(f"The manifest {path.name} is not a bonito-lite manifest: {unknown}.")
        return None
    return manifest


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """``(number, line, last)`` for each non-blank line; ``last`` marks a final line without newline."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line, not line.endswith(b"\n")


def _half_line(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


def _killed(path: Path, report: Report) -> None:
    # What a killed run leaves; generate cuts it off when it resumes.
    report.killed = True
    report.notes.append(
        f"{path.name} ends in a half-written line: the run was killed while writing. "
        "Rerun the same generate command to finish it."
    )


def _examples(path: Path, report: Report) -> Iterator[dict[str, Any]]:
    first = True
    for number, line, unterminated in _lines(path):
        if unterminated and _half_line(line):
            _killed(path, report)
            return
        if first and _half_line(line):
            raise InputError(
                f"{path} is not a bonito-lite output (line {number} is not JSON); give the .jsonl that generate wrote."
            )
        first = False
        yield parse_example_line(path, number, line)


def _rejects(path: Path, report: Report) -> Iterator[dict[str, Any]]:
    for number, line, unterminated in _lines(path):
        if unterminated and _half_line(line):
            _killed(path, report)
            return
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError(f"{path} line {number} is not JSON; it is not a bonito-lite rejects file.") from None
        if not isinstance(record, dict) or not isinstance(record.get(REASON), str):
            raise InputError(f"{path} line {number} has no reason; it is not a bonito-lite rejects file.")
        yield record


def _passage(passages: dict[tuple[str, int], PassageCoverage], record: dict[str, Any]) -> PassageCoverage | None:
    source, index = record.get(SOURCE), record.get(PASSAGE_INDEX)
    if not isinstance(source, str) or not isinstance(index, int):
        return None  # a record without provenance counts, but places nothing
    passage = passages.get((source, index))
    if passage is None:
        start, end = record.get(CHAR_START), record.get(CHAR_END)
        if not isinstance(start, int) or not isinstance(end, int):
            start, end = 0, len(str(record.get(CONTEXT, "")))
        passage = passages[(source, index)] = PassageCoverage(source, index, start, end)
    return passage


def _remember_barren(passage: PassageCoverage, record: dict[str, Any], report: Report) -> None:
    """Keep a preview and the reasons of a passage that yielded nothing, for the first few of them."""
    if passage.kept:
        return
    if passage.reasons is None:
        if report.barren_listed >= LISTED_BARREN:
            return
        report.barren_listed += 1
        passage.reasons = Counter()
        passage.preview = " ".join(str(record.get(CONTEXT, "")).split())[:_PREVIEW_CHARS]
    passage.reasons[str(record[REASON])] += 1


def _by_file(passages) -> list[FileCoverage]:
    files: dict[str, list[PassageCoverage]] = {}
    for passage in passages:  # in the order they first appear: the order of the inputs
        files.setdefault(file_of(passage.source), []).append(passage)
    return [FileCoverage(name, sorted(group, key=lambda p: p.order)) for name, group in files.items()]


def _check_against_manifest(report: Report) -> None:
    manifest = report.manifest
    if manifest is None:
        return
    status = manifest.get("status")
    if status == "interrupted":
        report.notes.append(
            "The run was interrupted (Ctrl-C) before it finished: the figures describe what it "
            "wrote. Rerun the same generate command to finish it."
        )
    elif status == "failed":
        report.notes.append("The run failed before it finished: the figures describe what it wrote.")
    counts = manifest.get("counts")
    if not isinstance(counts, dict):
        return
    rejected = counts.get("rejected")
    said = (counts.get("parsed"), sum(rejected.values()) if isinstance(rejected, dict) else None)
    found = (report.examples, sum(report.rejected.values()))
    if said != found and not report.killed:
        report.notes.append(
            f"The manifest counts {said[0]} examples and {said[1]} rejected, the files hold "
            f"{found[0]} and {found[1]}: they changed after the run (a run still writing, or edited)."
        )


def run_facts(report: Report) -> list[tuple[str, str]]:
    """The run's model, settings, dates and status as (label, value) rows, from the manifest."""
    manifest = report.manifest or {}
    args = manifest.get("arguments") if isinstance(manifest.get("arguments"), dict) else {}
    engine = args.get("engine") if isinstance(args.get("engine"), dict) else {}
    model = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
    rows: list[tuple[str, str]] = []

    def row(label: str, value: Any) -> None:
        rows.append((label, "unknown" if value in (None, "") else str(value)))

    if "server" in model:
        row("model", f"{model.get('id')} on {model.get('server')} ({model.get('served_by')})")
    else:
        file = model.get("file")
        # The file's name, as records name it: a full path would put the user's folders on a page
        # meant to be shared.
        row("model file", Path(file).name if isinstance(file, str) else file)
        row("quant type", _quant_type(model.get("file")))
        sha = model.get("sha256")
        row("sha256", sha)
    row("backend", manifest.get("backend"))
    if args:
        extra = "".join(
            f", {label} {args[key]}"
            for key, label, default in _OPTIONAL_SAMPLING
            if args.get(key) not in (None, default)
        )
        row(
            "sampling",
            f"temperature {args.get('temperature')}, top-p {args.get('top_p')}{extra}, "
            f"max tokens {args.get('max_tokens')}, {args.get('num_samples')} per passage and task type",
        )
        row("seed", args.get("seed"))
        row("grammar", "input <|pipe|> output" if engine.get("constrain") else "none")
        filters = args.get("quality_filters")
        row("quality filters", f"on (near-duplicates from {args.get('dedup_threshold')})" if filters else "off")
        row("passages", f"up to {args.get('chunk_tokens')} tokens")
    else:
        row("settings", None)
    started, ended = _time(manifest.get("started_at")), _time(manifest.get("ended_at"))
    # The manifest's times are those of the last run (a resumed output had earlier ones).
    row(
        "last run",
        f"{manifest['started_at']} to {manifest['ended_at']} ({_duration(ended - started)})"
        if started and ended
        else None,
    )
    row("status", report.status)
    row(
        "versions",
        f"bonito-lite {manifest.get('bonito_lite_version')}, llama-cpp-python "
        f"{manifest.get('llama_cpp_python_version')}"
        if manifest
        else None,
    )
    return rows


# Sampling settings shown only when a run set them: (argument, label, value when unset).
_OPTIONAL_SAMPLING = (
    ("top_k", "top-k", 0),
    ("min_p", "min-p", 0.0),
    ("repetition_penalty", "repetition penalty", 1.0),
    ("stop", "stop", []),
)


def _quant_type(file: Any) -> str | None:
    """The model's quant type from its GGUF header, when the file is still there."""
    if not isinstance(file, str) or not Path(file).is_file():
        return None
    try:
        from .models.info import read_model_info

        return read_model_info(Path(file)).file_type
    except Exception:  # noqa: BLE001 - the page says unknown rather than failing over a model file
        return None


def _time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
