"""A ``generate`` run: documents in, a JSONL dataset, its rejects and its manifest out.

Everything the command does lives here, so that it can be driven without Click: check
every input before the model loads, count the work, generate, write each record as it
is finished, and always leave a manifest saying what happened.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

from . import __version__
from .chunking import Passage
from .documents import find_documents, iter_passages
from .engine import Engine, EngineSettings, Sampling, Tokenizer
from .errors import InputError
from .model_file import file_sha256
from .model_paths import resolve_model
from .offline import go_offline
from .pipeline import GenerationSettings, RunStats, generate_outcomes
from .progress import Progress
from .sinks import (
    JsonlWriter,
    check_output_writable,
    manifest_path,
    rejected_path,
    write_json_atomically,
)
from .task_types import resolve_task_types

log = logging.getLogger(__name__)

STDOUT = "-"

# Rough throughput per GB of model file on 2 CPU threads, measured on a 1.1 B Q4_K_M
# model (0.67 GB): 213 prompt tok/s and 17.4 generated tok/s. Only for --dry-run's estimate.
_PROMPT_TOK_S_PER_GB = 143.0
_GENERATED_TOK_S_PER_GB = 11.6


@dataclass(frozen=True)
class GenerateOptions:
    inputs: tuple[str, ...]
    task_types: tuple[str, ...]
    model: str | None = None
    output: str | None = None
    num_samples: int = 1
    temperature: float = 0.5
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int = 0
    chunk_tokens: int = 384
    context_col: str = "text"
    limit: int | None = None
    overwrite: bool = False
    quiet: bool = False
    engine: EngineSettings = field(default_factory=EngineSettings)


@dataclass
class DryRunReport:
    passages: int
    generations: int
    prompt_tokens: int
    estimated_seconds: float
    model: Path


@dataclass
class RunReport:
    output: str
    rejected_output: str | None
    stats: RunStats
    seconds: float
    model: Path
    backend: str
    status: str = "complete"  # "complete" | "interrupted" | "failed"

    @property
    def examples_per_minute(self) -> float:
        return self.stats.parsed / self.seconds * 60 if self.seconds > 0 else 0.0


def validate_sampling(options: GenerateOptions) -> None:
    """Nonsense sampling values are refused before anything loads."""
    if options.num_samples < 1:
        raise InputError("--num-samples must be at least 1.")
    if options.max_tokens < 1:
        raise InputError("--max-tokens must be at least 1.")
    if not options.temperature >= 0:
        raise InputError("--temperature must be 0 or more (0 means greedy).")
    if not 0 < options.top_p <= 1:
        raise InputError("--top-p must be in (0, 1].")
    if options.chunk_tokens < 16:
        raise InputError("--chunk-tokens must be at least 16.")
    if options.engine.ctx_size <= options.max_tokens + options.chunk_tokens:
        raise InputError(
            f"--ctx-size {options.engine.ctx_size} leaves no room for a {options.chunk_tokens}-token "
            f"passage and {options.max_tokens} new tokens; raise --ctx-size or lower --chunk-tokens."
        )
    if options.limit is not None and options.limit < 1:
        raise InputError("--limit must be at least 1.")


def default_output(inputs: tuple[str, ...]) -> Path:
    first = inputs[0]
    stem = "stdin" if first == STDOUT else Path(first.rstrip("/")).stem or "output"
    return Path(f"{stem}.bonito.jsonl")


class GenerateRun:
    """One ``generate`` invocation, checked up front, then executed."""

    def __init__(self, options: GenerateOptions, stdin: TextIO | None = None) -> None:
        go_offline()
        validate_sampling(options)
        self.options = options
        self.tasks = tuple(resolve_task_types(list(options.task_types)))
        if not self.tasks:
            raise InputError("no task type given; pass -t/--task-type (or -t all).")
        self.documents = find_documents(
            options.inputs, context_col=options.context_col, stdin=stdin
        )
        self.model = resolve_model(options.model)
        self.output = None if options.output == STDOUT else Path(
            options.output or default_output(options.inputs)
        )

    def _passages(self, tokenizer: Tokenizer) -> Iterator[Passage]:
        passages = iter_passages(
            self.documents,
            count_tokens=tokenizer.count_tokens,
            chunk_tokens=self.options.chunk_tokens,
        )
        return itertools.islice(passages, self.options.limit)

    def dry_run(self) -> tuple[list[Passage], DryRunReport]:
        """Cut the passages and count prompt tokens; generate nothing."""
        from .prompt import build_prompt

        with Tokenizer(self.model) as tokenizer:
            passages = list(self._passages(tokenizer))
            prompt_tokens = sum(
                len(tokenizer.tokenize(build_prompt(task.full_name, p.text)))
                for p in passages
                for task in self.tasks
            )
        generations = len(passages) * len(self.tasks) * self.options.num_samples
        size_gb = self.model.stat().st_size / 1e9
        threads = self.options.engine.threads or os.cpu_count() or 2
        scale = max(threads, 1) / 2
        seconds = (
            prompt_tokens * size_gb / (_PROMPT_TOK_S_PER_GB * scale)
            + generations * self.options.max_tokens * size_gb / (_GENERATED_TOK_S_PER_GB * scale)
        )
        return passages, DryRunReport(
            len(passages), generations, prompt_tokens, seconds, self.model
        )

    def execute(self) -> RunReport:
        options = self.options
        if self.output is not None:
            check_output_writable(self.output, options.overwrite)
        started_at = dt.datetime.now(dt.timezone.utc)
        started = time.monotonic()
        with Tokenizer(self.model) as tokenizer:
            # A first pass counts the work for the progress bar; passages are cut again
            # while generating rather than held in memory.
            n_passages = sum(1 for _ in self._passages(tokenizer))
        total = n_passages * len(self.tasks) * options.num_samples
        settings = GenerationSettings(
            task_types=self.tasks,
            sampling=Sampling(options.max_tokens, options.temperature, options.top_p),
            num_samples=options.num_samples,
            seed=options.seed,
        )
        stats = RunStats()
        records = JsonlWriter.stdout() if self.output is None else JsonlWriter.open(
            self.output, overwrite=options.overwrite
        )
        rejects_file = rejected_path(self.output) if self.output is not None else None
        rejects = JsonlWriter.open(rejects_file, overwrite=options.overwrite) if rejects_file else None
        progress = Progress(total, quiet=options.quiet)
        backend = "unknown"
        status = "failed"
        try:
            with Engine(self.model, options.engine) as engine, Tokenizer(self.model) as tokenizer:
                backend = engine.backend
                outcomes = generate_outcomes(
                    engine, self._passages(tokenizer), settings, self.model.name, stats
                )
                for outcome in outcomes:
                    if outcome.parsed:
                        records.write(outcome.record)
                    elif rejects is not None:
                        rejects.write(outcome.record)
                    progress.advance(1, outcome.completion_tokens)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            progress.close()
            records.close()
            if rejects is not None:
                rejects.close()
            report = RunReport(
                output=str(self.output) if self.output else STDOUT,
                rejected_output=str(rejects_file) if rejects_file else None,
                stats=stats,
                seconds=time.monotonic() - started,
                model=self.model,
                backend=backend,
                status=status,
            )
            if self.output is not None:
                self._write_manifest(report, started_at)
        return report

    def _write_manifest(self, report: RunReport, started_at: dt.datetime) -> None:
        import llama_cpp

        options = asdict(self.options)
        manifest: dict[str, Any] = {
            "bonito_lite_version": __version__,
            "llama_cpp_python_version": llama_cpp.__version__,
            "python": platform.python_version(),
            "model": {"file": str(self.model), "sha256": file_sha256(self.model)},
            "backend": report.backend,
            "arguments": options,
            "task_types": [t.full_name for t in self.tasks],
            "counts": {
                "passages": report.stats.passages,
                "generations": report.stats.generations,
                "parsed": report.stats.parsed,
                "rejected": dict(report.stats.rejected),
            },
            "status": report.status,
            "started_at": started_at.isoformat(timespec="seconds"),
            "ended_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        assert self.output is not None
        write_json_atomically(manifest_path(self.output), manifest)
