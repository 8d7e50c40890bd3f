"""A ``generate`` run: documents in, a JSONL dataset, its rejects and its manifest out.

Everything the command does lives here, so that it can be driven without Click: check
every input before the model loads, count the work, generate, write each record as it
is finished, and always leave a manifest saying what happened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import itertools
import json
import logging
import platform
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .engines.backends import LLAMA_CPP, open_backend
from .engines.generation import EngineSettings, Sampling
from .engines.resources import default_threads, usable_cpus
from .errors import InputError
from .estimate import estimated_seconds
from .filters import QualityFilter
from .inputs.chunking import Passage
from .inputs.documents import find_documents, is_pattern, iter_passages, pattern_base
from .models.info import read_model_info
from .offline import go_offline
from .pipeline import GenerationSettings, Outcome, RunStats, TaskCounts, generate_outcomes
from .progress import Progress
from .prompt import build_prompt
from .resume import (
    FinishedUnits,
    UnitKeys,
    read_finished,
    repair_partial_line,
)
from .settings import (
    BACKEND,
    CHUNK_TOKENS,
    CONTEXT_COL,
    CTX_SIZE,
    DEDUP_THRESHOLD,
    GENERATE,
    LIMIT,
    MAX_TOKENS,
    MIN_P,
    MODEL,
    NUM_SAMPLES,
    QUALITY_FILTERS,
    REPETITION_PENALTY,
    SEED,
    STOP,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    URL,
    Caller,
    current_caller,
    passage_ctx_size,  # noqa: F401 - the run's callers find it here
)
from .sinks import (
    OUTPUT_SUFFIX,
    JsonlWriter,
    check_not_an_input,
    check_output_folder,
    manifest_path,
    rejected_path,
    write_json_atomically,
)
from .stopping import Sigterm, Terminated, sigterm_interrupts
from .task_types import resolve_task_types

log = logging.getLogger(__name__)

STDOUT = "-"


@dataclass(frozen=True)
class GenerateOptions:
    """What ``generate`` is asked; each option's default, range and meaning are in ``settings``."""

    inputs: tuple[str, ...]
    task_types: tuple[str, ...]
    model: str | None = MODEL.default
    output: str | None = None
    num_samples: int = NUM_SAMPLES.default
    temperature: float = TEMPERATURE.default
    top_p: float = TOP_P.default
    max_tokens: int = MAX_TOKENS.default
    seed: int = SEED.default
    top_k: int = TOP_K.default
    min_p: float = MIN_P.default
    repetition_penalty: float = REPETITION_PENALTY.default
    stop: tuple[str, ...] = STOP.default
    chunk_tokens: int = CHUNK_TOKENS.default
    context_col: str = CONTEXT_COL.default
    limit: int | None = LIMIT.default
    overwrite: bool = False
    quiet: bool = False
    engine: EngineSettings = field(default_factory=EngineSettings)
    backend: str = BACKEND.default  # where to generate: "llama.cpp" (here) or "server" (at url)
    url: str | None = URL.default
    quality_filters: bool = QUALITY_FILTERS.default
    dedup_threshold: float = DEDUP_THRESHOLD.default


@dataclass
class DryRunReport:
    passages: int
    generations: int
    prompt_tokens: int
    estimated_seconds: float | None  # None on a server, whose speed is unknown here
    model: Path | str
    threads: int | None = None  # the CPU threads the estimate assumes
    skipped_files: tuple[str, ...] = ()  # skipped with a warning: unreadable, empty, or tables without text


@dataclass
class RunReport:
    """What one run did; ``stats`` counts this run only, ``before`` what the output held."""

    output: str
    rejected_output: str | None
    stats: RunStats
    seconds: float
    model: Path | str
    backend: str
    status: str = "complete"  # "complete" | "interrupted" | "failed"
    before: FinishedUnits = field(default_factory=FinishedUnits)
    total_units: int = 0  # generations the command asks for, done or not
    done_units: int = 0  # of those, finished now (earlier runs included)
    sequences: int | None = None  # generated together here: --parallel, as lowered to fit memory
    skipped_files: tuple[str, ...] = ()  # skipped with a warning: unreadable, empty, or tables without text

    @property
    def examples_per_minute(self) -> float:
        return self.stats.parsed / self.seconds * 60 if self.seconds > 0 else 0.0


@dataclass
class WorkPlan:
    """The work of a run before it starts: how many units, how many an earlier run finished."""

    total: int  # generations (passages × task types × samples)
    done: int  # of those, already in the output or its rejects
    other_settings: int  # records already there that no unit of this run matches
    resuming: bool
    output: str
    keys: UnitKeys
    finished: FinishedUnits

    @property
    def remaining(self) -> int:
        return self.total - self.done

    def describe(self) -> str:
        """One line for the user, before the work starts."""
        line = f"Resuming {self.output}: {self.done} of {self.total} generations already done, {self.remaining} new"
        if self.other_settings:
            line += (
                f"; {self.other_settings} records already there are not part of this run (other "
                "task types, samples, inputs or settings: model, seed, sampling, chunking) and are kept"
            )
        return line + ("; nothing to generate." if not self.remaining else ".")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run; everything written is whole and the manifest says
    interrupted. ``signal_number`` is the signal that stopped it."""

    def __init__(self, report: RunReport, signal_number: int = signal.SIGINT) -> None:
        super().__init__("interrupted")
        self.report = report
        self.signal_number = signal_number


def validate_sampling(options: GenerateOptions) -> None:
    """Values out of their declared ranges are refused before anything loads.

    Named as the command line spells them, unless the Python API is the caller.
    """
    caller = current_caller(Caller.CLI)
    for setting in GENERATE:
        source = options if hasattr(options, setting.name) else options.engine
        setting.check(getattr(source, setting.name), caller)
    if options.engine.ctx_size <= options.max_tokens + options.chunk_tokens:
        ctx_size, chunk_tokens = CTX_SIZE.spelled(caller), CHUNK_TOKENS.spelled(caller)
        raise InputError(
            f"{ctx_size} {options.engine.ctx_size} leaves no room for a {options.chunk_tokens}-token "
            f"passage and {options.max_tokens} new tokens; raise {ctx_size} or lower {chunk_tokens}."
        )


def _nothing_to_generate() -> InputError:
    return InputError("no text to generate from: every input was empty or skipped (see the warnings above).")


def default_output(inputs: tuple[str, ...]) -> Path:
    """Named after the first input: its file name's stem, a folder's or a pattern's folder's name."""
    first = inputs[0]
    if first == STDOUT:
        return Path("stdin" + OUTPUT_SUFFIX)
    if is_pattern(first):
        # docs/*.md → docs; docs/notes-*.md → notes
        stem = Path(pattern_base(first).rstrip("/") or ".").name.strip(" ._-")
    else:
        stem = Path(first.rstrip("/")).stem
    return Path((stem or "output") + OUTPUT_SUFFIX)


@dataclass
class _Writers:
    """Where a run's records go: kept examples to the output, rejected ones to the rejects file."""

    records: JsonlWriter
    rejects: JsonlWriter | None = None  # None on stdout, which gets kept examples only
    rejects_file: Path | None = None

    def route(self, outcome: Outcome) -> None:
        if outcome.parsed:
            self.records.write(outcome.record.to_json())
        elif self.rejects is not None:
            self.rejects.write(outcome.record.to_json())

    def close(self) -> None:
        self.records.close()
        if self.rejects is not None:
            self.rejects.close()


class GenerateRun:
    """One ``generate`` invocation, checked up front, then executed."""

    def __init__(self, options: GenerateOptions, stdin: TextIO | None = None) -> None:
        go_offline()
        validate_sampling(options)
        self.options = options
        self.tasks = tuple(resolve_task_types(list(options.task_types)))
        if not self.tasks:
            raise InputError("no task type given; pass -t/--task-type (or -t all).")
        self.documents = find_documents(options.inputs, context_col=options.context_col, stdin=stdin)
        # Checks the model file or the server's URL, before anything is read or loaded.
        self.backend = open_backend(options.backend, options.model, options.url, options.engine)
        self.model = self.backend.model_file  # None on a server without a local GGUF
        self.output = None if options.output == STDOUT else Path(options.output or default_output(options.inputs))
        if self.output is not None:
            check_not_an_input(self.output, (item.path for item in self.documents.inputs if item.path is not None))
        self._plan: WorkPlan | None = None
        self._quality: QualityFilter | None = None

    def _passages(self, tokenizer: Any) -> Iterator[Passage]:
        passages = iter_passages(
            self.documents,
            count_tokens=tokenizer.count_tokens,
            chunk_tokens=self.options.chunk_tokens,
        )
        return itertools.islice(passages, self.options.limit)

    def dry_run(self, show: Callable[[Passage], None] | None = None) -> DryRunReport:
        """Cut the passages and count prompt tokens, handing each passage to ``show``; generate nothing."""
        n_passages = prompt_tokens = longest = 0
        with self.backend.tokenizer() as tokenizer:
            for passage in self._passages(tokenizer):
                n_passages += 1
                lengths = [
                    tokenizer.count_tokens(build_prompt(t.full_name, passage.text)) + 1 for t in self.tasks
                ]  # BOS
                prompt_tokens += sum(lengths)
                longest = max(longest, *lengths)
                if show is not None:
                    show(passage)
        if n_passages == 0:
            raise _nothing_to_generate()
        if self.model is not None and self.backend.name == LLAMA_CPP:
            from .engines.local import prompt_room_error  # llama.cpp's side: not loaded for a server

            # What generating would stop at, found before it starts.
            info = read_model_info(self.model)
            if (
                error := prompt_room_error(longest, self.options.engine.ctx_size, self.options.max_tokens, info)
            ) is not None:
                raise error
        generations = n_passages * len(self.tasks) * self.options.num_samples
        skipped = self.documents.skipped
        if self.model is None or self.backend.name != LLAMA_CPP:  # a server's speed is unknown here
            return DryRunReport(
                n_passages, generations, prompt_tokens, None, self.backend.model_name, skipped_files=skipped
            )
        # As the engine would run: never more threads than CPUs.
        threads = min(self.options.engine.threads or default_threads(), len(usable_cpus()))
        seconds = estimated_seconds(
            self.model, prompt_tokens, generations, self.options.max_tokens, threads, self.options.engine.parallel
        )
        return DryRunReport(
            n_passages, generations, prompt_tokens, seconds, self.model, threads=threads, skipped_files=skipped
        )

    def prepare(self) -> WorkPlan:
        """Check the output, hash the model, count the work and what an earlier run finished.

        Reads the existing output and its rejects unless ``--overwrite``; changes nothing on
        disk. :meth:`execute` calls it when the caller has not.
        """
        options = self.options
        previous_manifest = None
        if self.output is not None:
            check_output_folder(self.output, options.output)
            previous_manifest = manifest_path(self.output)
        keys = UnitKeys(
            model_sha256=self.backend.identity(previous_manifest),
            seed=options.seed,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            chunk_tokens=options.chunk_tokens,
            constrain=self.backend.constrain,
            top_k=options.top_k,
            min_p=options.min_p,
            repetition_penalty=options.repetition_penalty,
            stop=options.stop,
        )
        finished = FinishedUnits()
        resuming = (
            self.output is not None
            and not options.overwrite
            and (self.output.exists() or rejected_path(self.output).exists())
        )
        self._quality = QualityFilter(options.dedup_threshold) if options.quality_filters else None
        if resuming:
            assert self.output is not None
            # The examples already there join the dedup index: no duplicate of them gets in.
            finished = read_finished(
                self.output,
                rejected_path(self.output),
                on_kept=self._quality.remember if self._quality else None,
            )
        unmatched = finished.copy()
        total = done = 0
        with self.backend.tokenizer() as tokenizer:
            # A first pass counts the work for the progress bar; passages are cut again
            # while generating rather than held in memory.
            for passage in self._passages(tokenizer):
                for task in self.tasks:
                    for sample_index in range(options.num_samples):
                        total += 1
                        done += unmatched.take(keys.key(passage.text, task.full_name, sample_index))
        if total == 0:
            raise _nothing_to_generate()
        self._plan = WorkPlan(
            total=total,
            done=done,
            other_settings=unmatched.left(),
            resuming=resuming,
            output=str(self.output) if self.output else STDOUT,
            keys=keys,
            finished=finished,
        )
        return self._plan

    def execute(self) -> RunReport:
        """Generate what is left, appending to the output; raise :class:`RunInterrupted` on Ctrl-C."""
        plan = self._plan or self.prepare()
        started_at = dt.datetime.now(dt.timezone.utc)
        started = time.monotonic()
        if plan.resuming:
            self._repair_outputs()
        writers = self._open_writers()
        progress = Progress(plan.remaining, quiet=self.options.quiet)
        report = RunReport(
            output=str(self.output) if self.output else STDOUT,
            rejected_output=str(writers.rejects_file) if writers.rejects_file else None,
            stats=RunStats(),
            seconds=0.0,
            model=self.model or self.backend.model_name,
            backend="unknown",
            status="failed",
            before=plan.finished,
            total_units=plan.total,
            skipped_files=self.documents.skipped,
        )
        stopped_by = signal.SIGINT
        sigterm = Sigterm()
        try:
            with sigterm_interrupts() as sigterm:
                if plan.remaining:
                    self._generate(plan, report, writers, progress)
                else:
                    report.stats.passages = self._count_passages()
            report.status = "complete"
        except KeyboardInterrupt as stop:
            report.status = "interrupted"
            if isinstance(stop, Terminated) or sigterm.received:
                stopped_by = signal.SIGTERM
        finally:
            # A second Ctrl-C while closing would cut the manifest short; hold it off.
            with _sigint_held():
                progress.close()
                writers.close()
                report.seconds = time.monotonic() - started
                report.done_units = plan.done + report.stats.generations
                # A run that had nothing left to do leaves a complete run's manifest as it is:
                # it describes the run that made the output, not this one.
                if self.output is not None and not (
                    not plan.remaining and report.status == "complete" and _manifest_status(self.output) == "complete"
                ):
                    self._write_manifest(report, started_at)
        if report.status == "interrupted":
            raise RunInterrupted(report, stopped_by)
        return report

    def _repair_outputs(self) -> None:
        """Cut the half-written last line a killed run may have left in the output or its rejects."""
        assert self.output is not None
        for path in (self.output, rejected_path(self.output)):
            removed = repair_partial_line(path)
            if removed:
                log.warning(
                    "%s ended in a half-written line (%d bytes, from a run that was killed); "
                    "removed it, its generation is made again.",
                    path,
                    removed,
                )

    def _open_writers(self) -> _Writers:
        """The output (or stdout) and its rejects file, opened to append (or replaced with --overwrite)."""
        overwrite = self.options.overwrite
        if self.output is None:
            return _Writers(JsonlWriter.stdout())
        records = JsonlWriter.open(self.output, overwrite=overwrite)
        rejects_file = rejected_path(self.output)
        try:
            rejects = JsonlWriter.open(rejects_file, overwrite=overwrite)
        except BaseException:
            records.close()
            raise
        return _Writers(records, rejects, rejects_file)

    def _count_passages(self) -> int:
        with self.backend.tokenizer() as tokenizer:
            return sum(1 for _ in self._passages(tokenizer))

    def _generation_settings(self) -> GenerationSettings:
        options = self.options
        return GenerationSettings(
            task_types=self.tasks,
            sampling=Sampling(
                options.max_tokens,
                options.temperature,
                options.top_p,
                top_k=options.top_k,
                min_p=options.min_p,
                repetition_penalty=options.repetition_penalty,
                stop=options.stop,
            ),
            num_samples=options.num_samples,
            seed=options.seed,
        )

    def _generate(self, plan: WorkPlan, report: RunReport, writers: _Writers, progress: Progress) -> None:
        """The loop: every unit the plan has left, through the engine, each record written as it comes."""
        with self.backend.engine() as engine:
            report.backend = engine.backend
            if self.backend.name == LLAMA_CPP:  # a server's requests are not its sequences
                report.sequences = engine.settings.parallel
            # The engine's vocabulary counts tokens as the Tokenizer of prepare() did.
            outcomes = generate_outcomes(
                engine,
                self._passages(engine),
                self._generation_settings(),
                self.backend.model_name,
                report.stats,
                skip=plan.finished.copy().take,
                review=self._quality,
                unit_key=plan.keys.key,
            )
            # Closed before the engine is: a generator left suspended by an error
            # would otherwise run its cleanup on a freed llama.cpp context.
            with contextlib.closing(outcomes):
                for outcome in outcomes:
                    writers.route(outcome)
                    progress.advance(1, outcome.completion_tokens)

    def _write_manifest(self, report: RunReport, started_at: dt.datetime) -> None:
        assert self.output is not None
        options = asdict(self.options)
        options["output"] = str(self.output.resolve())
        before = report.before
        rejected = Counter(before.rejected) + report.stats.rejected
        manifest: dict[str, Any] = {
            "bonito_lite_version": __version__,
            "llama_cpp_python_version": importlib.metadata.version("llama-cpp-python"),
            "python": platform.python_version(),
            "model": self.backend.manifest_model(
                self._plan.keys.model_sha256 if self._plan else self.backend.identity(None)
            ),
            "backend": report.backend,
            "sequences": report.sequences,
            "arguments": options,
            "task_types": [t.full_name for t in self.tasks],
            # Files a folder or a pattern found that are not tables of text (one warning each).
            "skipped_files": list(report.skipped_files),
            # The whole output and its rejects, earlier runs included.
            "counts": {
                "passages": report.stats.passages,
                "skipped_files": len(report.skipped_files),
                "generations": before.generations + report.stats.generations,
                "parsed": before.parsed + report.stats.parsed,
                "rejected": dict(rejected),
                "by_task_type": _counts_by_task(before.by_task, report.stats),
            },
            "this_run": {
                "resumed_after": before.generations,
                "generations": report.stats.generations,
                "parsed": report.stats.parsed,
                "rejected": dict(report.stats.rejected),
                "by_task_type": {t: c.as_dict() for t, c in report.stats.by_task.items()},
            },
            "status": report.status,
            "started_at": started_at.isoformat(timespec="seconds"),
            "ended_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            write_json_atomically(manifest_path(self.output), manifest)
        except OSError as error:
            # The records are what matters; a full disk must not hide the run's own error.
            log.warning("could not write %s (%s).", manifest_path(self.output), error.strerror)


def _manifest_status(output: Path) -> str | None:
    """The ``status`` of the manifest beside ``output``, if there is a readable one."""
    try:
        manifest = json.loads(manifest_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("status") if isinstance(manifest, dict) else None


def _counts_by_task(before: Counter, stats: RunStats) -> dict[str, dict[str, Any]]:
    """Kept and rejected per task type: earlier runs' records plus this run's."""
    counts: dict[str, TaskCounts] = {}
    for (task_type, reason), n in before.items():
        task = counts.setdefault(task_type, TaskCounts())
        if reason is None:
            task.kept += n
        else:
            task.rejected[reason] += n
    for task_type, this_run in stats.by_task.items():
        task = counts.setdefault(task_type, TaskCounts())
        task.kept += this_run.kept
        task.rejected.update(this_run.rejected)
    return {t: c.as_dict() for t, c in counts.items()}


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM inside the block (main thread only; elsewhere signals do not arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
