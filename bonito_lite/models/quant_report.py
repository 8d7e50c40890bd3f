"""How far a quantized GGUF's predictions drift from its reference (F16/BF16/F32) GGUF.

Both models read the same Bonito prompts (bundled passages, each with one task type) and
predict every next token. At every such position the report compares the two
distributions over the whole vocabulary: KL divergence KL(reference ‖ model), whether the
most likely token is the same, and the likelihood each gives to the real next token
(perplexity). These are the measures llama.cpp publishes for its quantization types.

Two models never share memory: a 7 B reference in F16 is 14.5 GB, as much as a laptop
has. The reference runs first and its log-probabilities go to a temporary file on disk
(float32, one row of ``n_vocab`` per position); it is freed before the quantized model
is loaded, which is then compared with the file row by row.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..engines import llama_handles as llama
from ..engines.generation import EngineSettings
from ..engines.local import resolve_settings
from ..engines.resources import available_memory_bytes
from ..errors import InputError, ModelFileError, ResourceError
from ..progress import Progress
from ..prompt import build_prompt
from ..task_types import TASK_TYPES
from .info import ModelInfo, read_model_info
from .paths import PACKAGE_DATA, resolve_model

logger = logging.getLogger(__name__)

PASSAGES_FILE = PACKAGE_DATA / "sample_passages.txt"

# llama.cpp's published KL-divergence figures for 7-8 B models (its perplexity tool's
# --kl-divergence against an F16 reference): (label, mean KL range, same-top-token range).
PUBLISHED_FIGURES = (
    ("Q8_0", (0.001, 0.001), (0.99, 0.99)),
    ("4-bit K-quants", (0.03, 0.04), (0.90, 0.93)),
)

_FULL_PRECISION = ("F32", "F16", "BF16")
_ROWS_PER_STEP = 64  # positions compared at once: bounds the float64 temporaries (~16 MB each)
_N_BATCH = 512  # tokens per llama_decode; a longer prompt is decoded in several


def bundled_passages() -> list[str]:
    """The sample passages shipped with the package (fictional; one per paragraph)."""
    text = PASSAGES_FILE.read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def report_prompts(passages: int | None = None) -> list[str]:
    """Bonito prompts for the first ``passages`` bundled passages, the i-th with the i-th task type."""
    available = bundled_passages()
    count = len(available) if passages is None else passages
    if not 1 <= count <= len(available):
        raise InputError(f"--passages must be between 1 and {len(available)}, not {count}")
    return [
        build_prompt(TASK_TYPES[i % len(TASK_TYPES)].full_name, passage) for i, passage in enumerate(available[:count])
    ]


@dataclass(frozen=True)
class QuantReport:
    """The comparison of ``model`` with ``reference`` on the same tokens."""

    model: str
    model_type: str
    reference: str
    reference_type: str
    prompts: int
    positions: int  # next-token predictions compared
    vocab_size: int
    mean_kl: float
    median_kl: float
    p99_kl: float
    max_kl: float
    top1_agreement: float  # share of positions where both models' most likely token is the same
    reference_perplexity: float
    model_perplexity: float
    perplexity_ratio: float  # model / reference: 1.0 is no loss
    parameters: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"verdict": verdict(self)}


def verdict(report: QuantReport) -> str:
    """One line placing the result next to llama.cpp's published figures for 7-8 B models."""
    published = "; ".join(
        f"{label} about {_range(kl, 1)} and {_range(top, 100)}%" for label, kl, top in PUBLISHED_FIGURES
    )
    if report.max_kl == 0 and report.top1_agreement == 1:
        where = "identical to the reference"
    elif report.mean_kl <= 0.005 and report.top1_agreement >= 0.97:
        where = "close to the reference, like Q8_0"
    elif report.mean_kl <= 0.06 and report.top1_agreement >= 0.88:
        where = "in the range of 4-bit K-quants"
    else:
        where = "further from the reference than a 4-bit K-quant of a 7 B model usually is"
    caveat = ""
    if report.parameters < 3_000_000_000:
        caveat = (
            f" This model has {report.parameters / 1e9:.2f} B parameters: small models react to"
            " quantization differently from 7 B ones, so take the comparison as rough."
        )
    return (
        f"{report.model_type}: mean KL {report.mean_kl:.3g}, same top token {report.top1_agreement:.1%}: "
        f"{where} (llama.cpp publishes for 7-8 B models: {published}).{caveat}"
    )


def format_report(report: QuantReport) -> str:
    """The report as a short table and the verdict, for a terminal."""
    rows = [
        ("mean KL divergence", f"{report.mean_kl:.6f}"),
        ("median KL divergence", f"{report.median_kl:.6f}"),
        ("99th percentile KL", f"{report.p99_kl:.6f}"),
        ("maximum KL", f"{report.max_kl:.6f}"),
        ("same top token", f"{report.top1_agreement:.2%}"),
        ("perplexity, reference", f"{report.reference_perplexity:.4f}"),
        ("perplexity, model", f"{report.model_perplexity:.4f}"),
        ("perplexity ratio", f"{report.perplexity_ratio:.4f}"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(
        [
            f"{Path(report.model).name} ({report.model_type}) against {Path(report.reference).name} "
            f"({report.reference_type}): {report.prompts} prompt{'s' if report.prompts != 1 else ''}, "
            f"{report.positions:,} positions, "
            f"full vocabulary of {report.vocab_size:,}, {report.seconds:.0f} s",
            *(f"  {label:<{width}}  {value}" for label, value in rows),
            verdict(report),
        ]
    )


def check_comparable(model: ModelInfo, reference: ModelInfo) -> None:
    """Refuse two files that are not quantizations of one model (shape or vocabulary differ)."""
    if model.vocab_size != reference.vocab_size or model.vocab_sha256 != reference.vocab_sha256:
        raise ModelFileError(
            f"{model.path.name} and {reference.path.name} have different vocabularies "
            f"({model.vocab_size:,} and {reference.vocab_size:,} tokens"
            f"{', different tokens' if model.vocab_size == reference.vocab_size else ''}); "
            "compare a quantized model with the reference it was made from"
        )
    if _shape(model) != _shape(reference):
        raise ModelFileError(
            f"{model.path.name} ({_shape_text(model)}) and {reference.path.name} ({_shape_text(reference)}) "
            "have different architectures; compare a quantized model with the reference it was made from"
        )


def _shape(info: ModelInfo) -> tuple:
    return (
        info.architecture,
        info.block_count,
        info.embedding_length,
        info.head_count,
        info.head_count_kv,
        info.key_length,
        info.parameter_count,
    )


def _shape_text(info: ModelInfo) -> str:
    return f"{info.architecture}, {info.block_count} layers, embedding {info.embedding_length}, {info.parameter_count:,} parameters"


def quant_report(
    model: str | os.PathLike | None,
    reference: str | os.PathLike,
    *,
    passages: int | None = None,
    threads: int | None = None,
    n_gpu_layers: int | None = None,
    verbose: bool = False,
    quiet: bool = True,
    workdir: str | os.PathLike | None = None,
) -> QuantReport:
    """Compare ``model`` with ``reference`` on the bundled prompts; see the module docstring.

    ``workdir`` holds the reference's log-probabilities while the report runs (default: the
    system's temporary folder); the file is removed afterwards, also after an error or Ctrl-C.
    """
    started = time.monotonic()
    if workdir is not None and not (os.path.isdir(workdir) and os.access(workdir, os.W_OK | os.X_OK)):
        what = "is not a folder" if not os.path.isdir(workdir) else "is a folder this user cannot write to"
        raise InputError(f"--workdir {workdir} {what}; give a folder you can write to.")
    model_info = read_model_info(resolve_model(model))
    reference_info = read_model_info(resolve_model(reference))
    check_comparable(model_info, reference_info)
    if reference_info.file_type not in _FULL_PRECISION:
        logger.warning(
            "the reference %s is %s, not F16/BF16/F32: the report measures the difference between "
            "two quantizations, not the loss against full precision",
            reference_info.path.name,
            reference_info.file_type,
        )
    prompts = report_prompts(passages)
    # ctx_size only keeps the engine's checks quiet: each prompt sizes its own context.
    ctx_size = min(model_info.context_length, reference_info.context_length, 2048)
    settings = EngineSettings(threads=threads, n_gpu_layers=n_gpu_layers, verbose=verbose, ctx_size=ctx_size)
    progress = Progress(2 * len(prompts), quiet=quiet, unit="prompt", noun="prompt evaluations (reference, then model)")
    try:
        with tempfile.TemporaryDirectory(prefix="bonito-lite-quant-report-", dir=workdir) as folder:
            reference_run = _reference_pass(reference_info, prompts, settings, Path(folder), progress)
            stats = _model_pass(model_info, prompts, settings, reference_run, progress)
    finally:
        progress.close()
    kl = stats.kl
    reference_ppl = float(np.exp(reference_run.nll.mean()))
    model_ppl = float(np.exp(stats.nll.mean()))
    return QuantReport(
        model=str(model_info.path),
        model_type=model_info.file_type,
        reference=str(reference_info.path),
        reference_type=reference_info.file_type,
        prompts=len(prompts),
        positions=len(kl),
        vocab_size=model_info.vocab_size,
        mean_kl=float(kl.mean()),
        median_kl=float(np.median(kl)),
        p99_kl=float(np.percentile(kl, 99)),
        max_kl=float(kl.max()),
        top1_agreement=float(stats.same_top.mean()),
        reference_perplexity=reference_ppl,
        model_perplexity=model_ppl,
        perplexity_ratio=model_ppl / reference_ppl,
        parameters=model_info.parameter_count,
        seconds=time.monotonic() - started,
    )


def log_probs(logits: np.ndarray) -> np.ndarray:
    """Log-softmax of each row, computed in float64 and stored as float32.

    Both models' rows go through this one function, so identical logits give identical
    log-probabilities and a KL divergence of exactly 0.
    """
    rows = logits.astype(np.float64)
    rows -= rows.max(axis=-1, keepdims=True)
    rows -= np.log(np.exp(rows).sum(axis=-1, keepdims=True))
    return rows.astype(np.float32)


def kl_divergence(reference_log_probs: np.ndarray, model_log_probs: np.ndarray) -> np.ndarray:
    """KL(reference ‖ model) of each row, in nats, over the whole vocabulary."""
    reference = reference_log_probs.astype(np.float64)
    return (np.exp(reference) * (reference - model_log_probs.astype(np.float64))).sum(axis=-1)


@dataclass
class _ReferenceRun:
    tokens: list[list[int]]  # per prompt, with BOS
    log_probs_file: Path  # (positions, n_vocab) float32 rows, positions in prompt order
    top: np.ndarray  # the reference's most likely token at each position
    nll: np.ndarray  # -log p(next token) at each position


@dataclass
class _ModelStats:
    kl: np.ndarray
    same_top: np.ndarray
    nll: np.ndarray


def _reference_pass(
    info: ModelInfo, prompts: Sequence[str], settings: EngineSettings, folder: Path, progress: Progress
) -> _ReferenceRun:
    with _LogitsSource(info, settings) as source:
        tokens = [source.tokenize(p) for p in prompts]
        positions = sum(len(t) - 1 for t in tokens)
        needed = positions * info.vocab_size * 4
        free = shutil.disk_usage(folder).free
        if needed > free:
            raise ResourceError(
                f"the reference's log-probabilities need {needed / 1e9:.2f} GB in {folder.parent} "
                f"but {free / 1e9:.2f} GB is free; free some space, use fewer --passages or "
                "point --workdir (or TMPDIR) at a larger disk"
            )
        log_probs_file = folder / "reference-log-probs.f32"
        top = np.empty(positions, dtype=np.int64)
        nll = np.empty(positions, dtype=np.float64)
        # Plain writes and reads, not a memory map: a map's pages count in the process's
        # memory (330 MB for all 16 passages) while a file's stay in the OS cache, free to be dropped.
        with log_probs_file.open("wb") as store:
            for start, next_tokens, rows in _rows(source, tokens, progress):
                lp = log_probs(rows)
                end = start + len(rows)
                store.write(lp.tobytes())
                top[start:end] = rows.argmax(axis=-1)
                nll[start:end] = -lp[np.arange(len(rows)), next_tokens]
    return _ReferenceRun(tokens, log_probs_file, top, nll)


def _model_pass(
    info: ModelInfo,
    prompts: Sequence[str],
    settings: EngineSettings,
    reference: _ReferenceRun,
    progress: Progress,
) -> _ModelStats:
    positions = len(reference.top)
    kl = np.empty(positions, dtype=np.float64)
    same_top = np.empty(positions, dtype=bool)
    nll = np.empty(positions, dtype=np.float64)
    with _LogitsSource(info, settings) as source, reference.log_probs_file.open("rb") as stored:
        tokens = [source.tokenize(p) for p in prompts]
        if tokens != reference.tokens:
            raise ModelFileError(
                f"{info.path.name} tokenizes the prompts differently from the reference; "
                "compare a quantized model with the reference it was made from"
            )
        for start, next_tokens, rows in _rows(source, tokens, progress):
            lq = log_probs(rows)
            end = start + len(rows)
            # Rows come in the order they were written: the file is read front to back.
            reference_rows = np.fromfile(stored, dtype=np.float32, count=lq.size).reshape(lq.shape)
            kl[start:end] = kl_divergence(reference_rows, lq)
            same_top[start:end] = rows.argmax(axis=-1) == reference.top[start:end]
            nll[start:end] = -lq[np.arange(len(rows)), next_tokens]
    return _ModelStats(kl, same_top, nll)


def _rows(
    source: _LogitsSource, tokens: list[list[int]], progress: Progress
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first position, next tokens, logits) in steps of at most ``_ROWS_PER_STEP`` positions.

    Positions count over all prompts in order; position i of a prompt predicts its token i+1
    (its last token predicts nothing that is known, and is left out).
    """
    position = 0
    for prompt_tokens in tokens:
        for offset, logits in source.evaluate(prompt_tokens):
            usable = min(len(logits), len(prompt_tokens) - 1 - offset)
            for i in range(0, usable, _ROWS_PER_STEP):
                n = min(_ROWS_PER_STEP, usable - i)
                first = offset + i
                yield position, np.asarray(prompt_tokens[first + 1 : first + 1 + n]), logits[i : i + n]
                position += n
        progress.advance(1, tokens=len(prompt_tokens))


class _LogitsSource:
    """One model in llama.cpp, giving the logits of every position of a prompt."""

    def __init__(self, info: ModelInfo, settings: EngineSettings) -> None:
        llama.init_llama(settings.verbose)
        resolved, use_extra_bufts = resolve_settings(settings, info)
        available = available_memory_bytes()
        if available is not None and info.file_size > available and resolved.n_gpu_layers == 0:
            logger.warning(
                "%s is %.1f GB and %.1f GB of memory is free: llama.cpp will read its weights from "
                "disk as it goes, which is slow",
                info.path.name,
                info.file_size / 1e9,
                available / 1e9,
            )
        self._threads = resolved.threads
        self._model: llama.Model | None = llama.Model(
            info.path, n_gpu_layers=resolved.n_gpu_layers, use_extra_bufts=use_extra_bufts
        )
        self._context: llama.Context | None = None
        self._batch: llama.Batch | None = None
        self._n_ctx = 0

    def tokenize(self, text: str) -> list[int]:
        return self._model.vocab.tokenize(text, add_bos=True)

    def _ensure_context(self, n_tokens: int) -> llama.Context:
        if self._context is None or n_tokens > self._n_ctx:
            if self._context is not None:
                self._context.close()
            self._n_ctx = max(n_tokens, 256)
            self._context = llama.Context(
                self._model, n_ctx=self._n_ctx, n_seq_max=1, n_batch=_N_BATCH, threads=self._threads
            )
            if self._batch is None:
                self._batch = llama.Batch(_N_BATCH)
        return self._context

    def evaluate(self, tokens: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(offset, logits of tokens[offset:offset+n]) for chunks of the prompt, in order."""
        context = self._ensure_context(len(tokens))
        batch = self._batch
        context.clear()
        for start in range(0, len(tokens), _N_BATCH):
            chunk = tokens[start : start + _N_BATCH]
            batch.clear()
            for i, token in enumerate(chunk):
                batch.add(token, start + i, 0, True)
            context.decode(batch)
            yield start, np.stack([context.logits(i) for i in range(len(chunk))])

    def close(self) -> None:
        for owner in (self._batch, self._context, self._model):
            if owner is not None:
                owner.close()
        self._batch = self._context = self._model = None

    def __enter__(self) -> _LogitsSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _range(bounds: tuple[float, float], scale: float) -> str:
    low, high = (f"{b * scale:.3g}" for b in bounds)
    return low if low == high else f"{low}-{high}"
