"""The generation engine: many sequences in flight in one llama.cpp context.

Decoding is bound by the cost of going over the weights: one decode call reads every weight
once, whether it advances one sequence or several. So the engine keeps up to ``parallel``
sequences in one context and decodes the next token of each in one ``llama_batch`` per step.
When a sequence ends, its completion is yielded, its KV cells are dropped and its slot is
refilled from the request queue at once (continuous batching). The samples of one prompt
share its evaluation: the prompt is decoded once and its KV cells given to the other
samples' sequences. Prompts share their common start too: a request's ``shared_prefix``
(for Bonito, the template up to the passage) is evaluated once, its cells saved and
restored into every later prompt that starts with it.

Each sequence samples with its own seeded sampler chain, and every piece of arithmetic a
sequence goes through is the same whatever else is in flight, so a completion depends on
its prompt, seed and sampling only, not on ``parallel``:

- per-sequence KV caches and no flash attention (see ``llama_handles.Context``);
- no repacked weights (``cpu_repack`` auto/off);
- one CPU matrix kernel for quantized weights at every batch size: ggml's tiled kernel,
  forced at every row count (``llama_handles.cpu_kernel_pinned``). It is what makes
  batching pay on the CPU (8+ rows); its price is that a lone sequence also runs it, at
  about a quarter of the per-row kernel's speed, so ``parallel`` 1 is slow (see
  BENCHMARKS.md). If the environment turns the forcing off, decode calls are kept below
  8 rows, where the per-row kernel always runs: records stay independent of
  ``parallel``, but most of the batching gain is gone (see ``_UNPINNED_DECODE_ROWS``);
- prompts decoded whole after their shared prefix (in chunks of ``n_batch`` when longer
  than a ubatch), several of the same length in one call: llama.cpp evaluates them side by
  side, each with its own rows and its own cache (see ``_evaluate_prompts``); a prefix is
  always evaluated alone, and restoring its cells gives the same logits as evaluating the
  whole prompt (tested).

Measured on x86-64 CPUs (AVX2/AVX-512) for Q4_K_M and Q8_0 models. Not covered: GPU
offload (its kernels change with the batch size), ``cpu_repack`` on, and F16/F32 weights
(llamafile's sgemm from two rows on, per-row dot products for one).
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import os
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import EngineError, InputError
from ..models.info import ModelInfo, check_llama_cpp_vocabulary, read_model_info
from ..prompt import pipe_grammar
from ..settings import CHUNK_TOKENS, CPU_REPACK, CTX_SIZE, MAX_TOKENS, PARALLEL, THREADS
from . import llama_handles as llama, resources
from .generation import Completion, EngineSettings, GenerationRequest, Sampling
from .resources import default_threads, fit_parallel, memory_state
from .sampler import SamplerChain

logger = logging.getLogger(__name__)

# Sequences decoded in one llama.cpp call when ggml's tiled kernel is not forced: ggml
# multiplies K-quant weights with per-row dot products below 8 rows and with the tiled
# kernel from 8 rows on; the two round differently, so a sequence's tokens would change
# with the number of sequences beside it. Groups of at most 7 stay on the per-row kernel.
_UNPINNED_DECODE_ROWS = 7

# Shared prompt prefixes whose KV cells the engine keeps (one per task type in a Bonito run).
_MAX_SHARED_PREFIXES = 32


def resolve_settings(settings: EngineSettings, info: ModelInfo) -> tuple[EngineSettings, bool]:
    """Settings with every automatic value decided, and whether to use extra buffer types."""
    settings.check()
    amx = llama.reports_amx()
    if settings.cpu_repack == "auto":
        # Off everywhere: llama.cpp's AMX kernels crash on repacked quantized weights
        # (llama.cpp #20824), and elsewhere the repacked kernels round differently at 4+
        # rows than at 1-3, so records would change with --parallel.
        use_extra_bufts = False
    else:
        use_extra_bufts = settings.cpu_repack == "on"
        if use_extra_bufts and amx:
            logger.warning("%s on with AMX: llama.cpp may crash on quantized models", CPU_REPACK.named())
    n_gpu_layers = settings.n_gpu_layers
    if n_gpu_layers is None:
        n_gpu_layers = -1 if llama.supports_gpu_offload() else 0
    ctx_size = settings.ctx_size
    if ctx_size > info.context_length:
        logger.warning(
            "%s %d is longer than the %d tokens %s was trained on; using %d",
            CTX_SIZE.named(),
            ctx_size,
            info.context_length,
            info.path.name,
            info.context_length,
        )
        ctx_size = info.context_length
    threads = settings.threads or default_threads()
    if threads > (cpus := len(resources.usable_cpus())):
        # More threads than CPUs only wait for each other: a decode step's threads meet after
        # every operation, and 999 of them on 2 cores ran 250 times slower than 2.
        logger.warning(
            "%s %d is more than the %d CPUs this process may use; using %d", THREADS.named(), threads, cpus, cpus
        )
        threads = cpus
    return (
        replace(
            settings,
            n_gpu_layers=n_gpu_layers,
            threads=threads,
            ctx_size=ctx_size,
            cpu_repack="on" if use_extra_bufts else "off",
        ),
        use_extra_bufts,
    )


def prompt_room_error(prompt_tokens: int, ctx_size: int, max_tokens: int | None, info: ModelInfo) -> InputError | None:
    """Why a prompt of ``prompt_tokens`` (BOS counted) cannot be generated from in a sequence of
    ``ctx_size`` tokens with ``max_tokens`` after it, and what to change; None if it can."""
    new_tokens = max_tokens if max_tokens is not None else 1  # None: at least one must fit
    ctx_size = min(ctx_size, info.context_length)
    if prompt_tokens + new_tokens <= ctx_size:
        return None
    ctx_flag, max_flag, chunk_flag = CTX_SIZE.named(), MAX_TOKENS.named(), CHUNK_TOKENS.named()
    # Only what can help: a longer context where the model has one, fewer new tokens where a
    # number was given, shorter passages where the new tokens leave room for any prompt.
    advice = []
    if ctx_size < info.context_length:
        advice.append(f"raise {ctx_flag} (up to {info.context_length})")
    if max_tokens is not None:
        advice.append(f"lower {max_flag}")
    if new_tokens < ctx_size:
        advice.append(f"use shorter passages ({chunk_flag})")
    advice_text = ", ".join(advice[:-1]) + (" or " if len(advice) > 1 else "") + advice[-1]
    if new_tokens >= ctx_size:
        return InputError(
            f"{max_flag} {new_tokens} leaves no room for a prompt in {ctx_size} tokens "
            f"({info.path.name} reads at most {info.context_length}); {advice_text}"
        )
    with_new = f"with {max_flag} {new_tokens}" if max_tokens is not None else "with a token to generate"
    return InputError(
        f"a prompt of {prompt_tokens} tokens does not fit {ctx_size} tokens {with_new} "
        f"(at most {ctx_size - new_tokens} prompt tokens); {advice_text}"
    )


@dataclass(eq=False)
class _RequestState:
    """A request whose samples are not all finished."""

    request: GenerationRequest
    tokens: list[int]
    unstarted: deque[int]  # sample indices not yet given a sequence
    prefix: tuple[int, ...] = ()  # the shared prefix's tokens, when ``tokens`` start with them
    live: set[_Slot] = field(default_factory=set)
    prompt_logits: np.ndarray | None = None  # kept while samples still wait for a sequence

    @property
    def prompt_length(self) -> int:
        return len(self.tokens)

    @property
    def rest_length(self) -> int:
        """Prompt tokens after the shared prefix: what evaluating this prompt decodes."""
        return len(self.tokens) - len(self.prefix)


@dataclass(eq=False)
class _Slot:
    """One sample being generated, in sequence ``seq_id`` of the context."""

    seq_id: int
    state: _RequestState
    sample_index: int
    sampler: SamplerChain
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    evaluating: bool = False  # decodes the prompt for itself and its sharers, this round
    sharers: list[_Slot] = field(default_factory=list)  # samples that take this slot's prompt
    next_token: int | None = None  # sampled, decoded in the next step
    position: int = 0  # tokens of this sequence in the KV cache
    batch_index: int = -1
    pieces: list[str] = field(default_factory=list)
    completion_tokens: int = 0
    finish_reason: str = ""


class Engine:
    """A GGUF model loaded in llama.cpp, generating many sequences per decode step.

    Use as a context manager, or call :meth:`close`. Not thread-safe; one ``generate`` at a time.
    """

    def __init__(self, model_path: os.PathLike | str, settings: EngineSettings = EngineSettings()) -> None:
        self.info: ModelInfo = read_model_info(model_path)
        check_llama_cpp_vocabulary(self.info)
        llama.init_llama(settings.verbose)
        resolved, use_extra_bufts = resolve_settings(settings, self.info)
        offloads = resolved.n_gpu_layers != 0 and llama.supports_gpu_offload()
        self.backend: str = (llama.gpu_backend_name() or "GPU") if offloads else "CPU"
        parallel = resolved.parallel
        if parallel > (most := llama.max_parallel_sequences()):
            logger.warning(
                "%s %d is more than llama.cpp's %d sequences; using %d", PARALLEL.named(), parallel, most, most
            )
            parallel = most
        if not offloads or self.backend == "Metal":
            # CPU and Apple's unified memory hold weights and cache in RAM; a discrete GPU's
            # memory is not visible here and llama.cpp reports its own allocation failures.
            parallel = fit_parallel(self.info, resolved.ctx_size, parallel, memory_state())
        self.settings: EngineSettings = replace(resolved, parallel=parallel)
        self._model: llama.Model | None = None
        self._generation: Iterator[Completion] | None = None
        self._context: llama.Context | None = None
        self._batch: llama.Batch | None = None
        self._model = llama.Model(model_path, n_gpu_layers=resolved.n_gpu_layers, use_extra_bufts=use_extra_bufts)
        try:
            self._vocab = self._model.vocab
            n_batch = max(512, parallel)
            self._context = llama.Context(
                self._model,
                n_ctx=parallel * self.settings.ctx_size,
                n_seq_max=parallel,
                n_batch=n_batch,
                threads=self.settings.threads,
            )
            self._batch = llama.Batch(n_batch)
            self._candidates = llama.Candidates(self._vocab.n_tokens)
        except BaseException:
            self.close()
            raise
        self._grammar = pipe_grammar() if self.settings.constrain else None
        # Shared prefixes: their tokens by text, and their KV cells by tokens (least recently
        # used first). A few MB each for a 7 B model; one per task type in practice.
        self._prefix_tokens: dict[str, tuple[int, ...]] = {}
        self._prefix_cells: OrderedDict[tuple[int, ...], ctypes.Array] = OrderedDict()
        # A GPU's kernels depend on the batch size anyway; there, only speed matters.
        pinned = offloads or llama.cpu_kernel_pinned()
        self._decode_rows = parallel if pinned else _UNPINNED_DECODE_ROWS
        self._busy = False
        self._end_token_ids: tuple[int, ...] | None = None

    # -- tokens ---------------------------------------------------------------------------

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return self._vocab.tokenize(text, add_bos)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without BOS."""
        return len(self._vocab.tokenize(text, add_bos=False))

    # -- generation -----------------------------------------------------------------------

    def generate(self, requests: Iterable[GenerationRequest]) -> Iterator[Completion]:
        """Complete every request once per seed; yield completions as they finish, in any order.

        ``requests`` is read lazily, as sequences free up. Raises :class:`InputError` for a
        prompt that leaves no room for ``max_tokens`` in ``ctx_size``. Ctrl-C on the main
        thread, under Python's default SIGINT handler, stops even a long llama.cpp decode
        (a prompt's evaluation takes seconds on a big model) and raises KeyboardInterrupt;
        the generation's sequences are then dropped (see ``llama_handles.Context.decode``).
        """
        if self._context is None:
            raise EngineError("the engine was closed")
        if self._busy:
            raise EngineError("the engine is already generating")
        self._busy = True
        generation = self._generate(requests)
        # close() finishes a generation left suspended (a caller that stopped reading, an
        # exception) while the context still exists; freed later by the garbage collector,
        # its cleanup would touch freed llama.cpp objects and crash the process.
        self._generation = generation
        return generation

    def _generate(self, requests: Iterable[GenerationRequest]) -> Iterator[Completion]:
        context = self._context
        busy: dict[int, _Slot] = {}  # by sequence id
        free = list(range(self.settings.parallel))  # sequence ids, lowest used first
        incoming = iter(requests)
        waiting: _RequestState | None = None  # the request whose samples are being started
        exhausted = False
        try:
            while True:
                # Running sequences move down first, so that new prompts get consecutive ids.
                if free and busy:
                    self._compact(busy, free)
                # Give every free sequence a sample, in request order; evaluate new prompts.
                evaluators: list[_Slot] = []
                done: list[_Slot] = []
                while free:
                    if waiting is None or not waiting.unstarted:
                        request = None if exhausted else next(incoming, None)
                        if request is None:
                            exhausted = True
                            break
                        waiting = self._start_request(request)
                        if waiting is None:
                            continue
                    free.sort()
                    slot = self._assign(waiting, waiting.unstarted.popleft(), free.pop(0))
                    busy[slot.seq_id] = slot
                    if slot.evaluating:
                        evaluators.append(slot)
                    elif slot.next_token is None and slot.finish_reason:
                        done.append(slot)
                if evaluators:
                    self._group_by_length(evaluators, busy)
                    done += self._evaluate_prompts(evaluators)
                if done:
                    for slot in done:
                        yield self._finish(slot, busy, free)
                    continue  # refill what just freed before decoding
                if not busy:
                    break
                if free:
                    self._compact(busy, free)
                for slot in self._decode_step(list(busy.values())):
                    yield self._finish(slot, busy, free)
        finally:
            for slot in busy.values():
                slot.sampler.close()
            context.clear()
            self._busy = False

    def _start_request(self, request: GenerationRequest) -> _RequestState | None:
        sampling = request.sampling
        sampling.check(self._vocab.n_tokens)
        tokens = self._vocab.tokenize(request.prompt, add_bos=True)
        # max_tokens None: at least one token must fit after the prompt.
        if (
            error := prompt_room_error(len(tokens), self.settings.ctx_size, sampling.max_tokens, self.info)
        ) is not None:
            raise error
        if not request.seeds:
            return None
        return _RequestState(request, tokens, deque(range(len(request.seeds))), self._shared_prefix(request, tokens))

    def _shared_prefix(self, request: GenerationRequest, tokens: list[int]) -> tuple[int, ...]:
        """The request's shared prefix as tokens, or () when the prompt's tokens do not start with them.

        Tokenizing the prompt whole can merge the prefix's last characters with the text after
        them; then the prompt is evaluated whole.
        """
        if not request.shared_prefix:
            return ()
        prefix = self._prefix_tokens.get(request.shared_prefix)
        if prefix is None:
            if len(self._prefix_tokens) >= _MAX_SHARED_PREFIXES:
                self._prefix_tokens.clear()
            prefix = tuple(self._vocab.tokenize(request.shared_prefix, add_bos=True))
            self._prefix_tokens[request.shared_prefix] = prefix
        if len(prefix) < len(tokens) and tuple(tokens[: len(prefix)]) == prefix:
            return prefix
        return ()

    def _assign(self, state: _RequestState, sample_index: int, seq_id: int) -> _Slot:
        """Start one sample in sequence ``seq_id``: evaluate its prompt, or share a sibling's.

        The slot comes back evaluating, waiting for a sibling's
        evaluation, ready to decode, or already finished by its first token.
        """
        sampling = state.request.sampling
        slot = _Slot(
            seq_id=seq_id,
            state=state,
            sample_index=sample_index,
            sampler=self._sampler(state, sampling, state.request.seeds[sample_index]),
        )
        evaluator = next((s for s in state.live if s.evaluating), None)
        holder = next((s for s in state.live if s.position >= state.prompt_length), None)
        state.live.add(slot)
        if evaluator is not None:
            evaluator.sharers.append(slot)
        elif holder is not None and state.prompt_logits is not None:
            # The prompt is already in a sibling's cache: copy it, draw from its saved logits.
            self._context.copy_sequence(holder.seq_id, slot.seq_id, state.prompt_length)
            slot.position = state.prompt_length
            self._accept(slot, slot.sampler.sample(state.prompt_logits))
        else:
            slot.evaluating = True
        if not state.unstarted and state.prompt_logits is not None:
            state.prompt_logits = None
        return slot

    def _sampler(self, state: _RequestState, sampling: Sampling, seed: int) -> SamplerChain:
        ends: tuple[int, ...] = ()
        if sampling.min_tokens:
            # The end token too with ignore_eos: vLLM holds it back until min_tokens either way.
            ends = sampling.stop_token_ids + self._end_tokens()
        grammar = llama.Grammar(self._vocab, self._grammar, self._candidates) if self._grammar else None
        return SamplerChain(
            self._vocab.n_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=seed,
            grammar=grammar,
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repetition_penalty=sampling.repetition_penalty,
            presence_penalty=sampling.presence_penalty,
            frequency_penalty=sampling.frequency_penalty,
            logit_bias=dict(sampling.logit_bias),
            allowed_token_ids=sampling.allowed_token_ids,
            bad_words=self._bad_word_tokens(sampling.bad_words),
            min_tokens=sampling.min_tokens,
            end_token_ids=ends,
            prompt_tokens=state.tokens if sampling.repetition_penalty != 1.0 else (),
        )

    def _bad_word_tokens(self, words: tuple[str, ...]) -> list[list[int]]:
        """Each banned word's tokens, as vLLM finds them: the word, and with a leading space
        when that gives a different first token in as many tokens."""
        sequences: list[list[int]] = []
        for word in words:
            plain = self._vocab.tokenize(word.lstrip(), add_bos=False)
            sequences.append(plain)
            spaced = self._vocab.tokenize(" " + word.lstrip(), add_bos=False)
            if spaced and spaced[0] != plain[0] and len(spaced) == len(plain):
                sequences.append(spaced)
        return sequences

    def _end_tokens(self) -> tuple[int, ...]:
        """The vocabulary's end-of-generation tokens (found once: a pass over the vocabulary)."""
        if self._end_token_ids is None:
            vocab = self._vocab
            self._end_token_ids = tuple(t for t in range(vocab.n_tokens) if vocab.is_end_of_generation(t))
        return self._end_token_ids

    def _group_by_length(self, evaluators: list[_Slot], busy: dict[int, _Slot]) -> None:
        """Renumber the new prompts' sequences so that prompts of one length have consecutive ids.

        Their caches are still empty, so the ids can be shuffled freely. llama.cpp puts
        sequences in one graph evaluation only when their ids are consecutive.
        """
        ids = sorted(slot.seq_id for slot in evaluators)
        evaluators.sort(key=lambda slot: (slot.state.rest_length, slot.seq_id))
        for slot, seq_id in zip(evaluators, ids):
            slot.seq_id = seq_id
            busy[seq_id] = slot

    def _evaluate_prompts(self, evaluators: list[_Slot]) -> list[_Slot]:
        """Decode the prompts of ``evaluators`` and start the samples that share them.

        A prompt's shared prefix is restored from its saved cells (evaluated alone, once;
        see ``_restore_prefixes``); the rest is decoded here. Prompts whose rests have the
        same length are decoded together, as many as fit in one ubatch: with per-sequence
        caches llama.cpp cuts a batch into pieces that hold the same number of tokens of
        each sequence, so each rest is evaluated whole, with the same arithmetic as alone
        (row-independent matrix kernel, attention per sequence), and the matrix products of
        the group share one pass over the weights. A rest longer than a ubatch is decoded
        alone, in chunks of ``n_batch`` from its start. Prompts are decoded apart from the
        generation steps: how a prompt is split never depends on what else is running, so
        neither do its logits, and every generation step finds all sequences ready.
        ``evaluators`` come ordered by rest length with consecutive ids (see
        ``_group_by_length``). Returns the samples that their first token already finished.
        """
        context, batch = self._context, self._batch
        group_tokens = min(batch.capacity, context.n_ubatch)
        self._restore_prefixes(evaluators)
        done: list[_Slot] = []
        pending = list(evaluators)
        while pending:
            rest = pending[0].state.rest_length
            if rest > group_tokens:
                group = [pending.pop(0)]
                state = group[0].state
                group[0].batch_index = self._decode_span(group[0].seq_id, state.tokens, len(state.prefix))
            else:
                group = []
                while pending and pending[0].state.rest_length == rest and (len(group) + 1) * rest <= group_tokens:
                    group.append(pending.pop(0))
                batch.clear()
                for slot in group:
                    tokens, start = slot.state.tokens, len(slot.state.prefix)
                    for i in range(start, len(tokens)):
                        slot.batch_index = batch.add(tokens[i], i, slot.seq_id, i == len(tokens) - 1)
                context.decode(batch)
            for slot in group:
                done += self._start_sharers(slot)
        return done

    def _restore_prefixes(self, evaluators: list[_Slot]) -> None:
        """Put each prompt's shared prefix in its sequence: its saved cells, or a first evaluation.

        A prefix is evaluated alone (one sequence, no other tokens in the call), so its
        cells are the same whichever prompt needed it first.
        """
        context = self._context
        for slot in evaluators:
            prefix = slot.state.prefix
            if not prefix:
                continue
            cells = self._prefix_cells.get(prefix)
            if cells is None:
                self._decode_span(slot.seq_id, prefix, 0)
                cells = self._prefix_cells[prefix] = context.save_sequence(slot.seq_id)
                if len(self._prefix_cells) > _MAX_SHARED_PREFIXES:
                    self._prefix_cells.popitem(last=False)
            else:
                self._prefix_cells.move_to_end(prefix)
                context.restore_sequence(slot.seq_id, cells)

    def _decode_span(self, seq_id: int, tokens: Sequence[int], start: int) -> int:
        """Decode ``tokens[start:]`` of one sequence alone, in chunks of ``n_batch``.

        Returns the batch index of the last token's logits.
        """
        batch, end = self._batch, len(tokens)
        index = -1
        for chunk in range(start, end, batch.capacity):
            batch.clear()
            for i in range(chunk, min(end, chunk + batch.capacity)):
                index = batch.add(tokens[i], i, seq_id, i == end - 1)
            self._context.decode(batch)
        return index

    def _start_sharers(self, slot: _Slot) -> list[_Slot]:
        """Draw the first token of a just-evaluated prompt's samples; copy the prompt to the sharers'."""
        context, state = self._context, slot.state
        slot.evaluating = False
        logits = context.logits(slot.batch_index)
        if state.unstarted:
            state.prompt_logits = logits.copy()
        done = []
        for sharer in (slot, *slot.sharers):
            if sharer is not slot:
                context.copy_sequence(slot.seq_id, sharer.seq_id, state.prompt_length)
            sharer.position = state.prompt_length
            self._accept(sharer, sharer.sampler.sample(logits))
            if sharer.next_token is None:
                done.append(sharer)
        slot.sharers = []
        return done

    def _compact(self, busy: dict[int, _Slot], free: list[int]) -> None:
        """Move sequences down into free ids so that the generating ones stay consecutive.

        llama.cpp's per-sequence caches put only consecutive sequence ids in one graph
        evaluation; a hole would cost a second pass over the weights in every step.
        """
        while free:
            low, high = min(free), max(busy)
            if low > high:
                return
            slot = busy.pop(high)
            self._context.move_sequence(high, low)
            slot.seq_id = low
            busy[low] = slot
            free.remove(low)
            free.append(high)

    def _decode_step(self, slots: list[_Slot]) -> list[_Slot]:
        """Decode the next token of every sequence; sample each one's next.

        All sequences go in one call, or, when ggml's CPU kernel is not pinned, in groups
        below its switch to the tiled kernel (see ``_UNPINNED_DECODE_ROWS``).
        """
        context, batch = self._context, self._batch
        ordered = sorted(slots, key=lambda s: s.seq_id)
        n_groups = -(-len(ordered) // self._decode_rows)
        finished = []
        for group in np.array_split(np.arange(len(ordered)), n_groups):
            members = [ordered[i] for i in group]
            batch.clear()
            for slot in members:
                slot.batch_index = batch.add(slot.next_token, slot.position, slot.seq_id, True)
            context.decode(batch)
            for slot in members:
                slot.position += 1
                slot.next_token = None
                self._accept(slot, slot.sampler.sample(context.logits(slot.batch_index)))
                if slot.next_token is None:
                    finished.append(slot)
        return finished

    def _accept(self, slot: _Slot, token: int) -> None:
        """Take a sampled token: end the sequence, or keep its text and queue it for decoding.

        As vLLM: the end token ends it unless ``ignore_eos`` (then it is generated, without
        text); a stop token ends it, its text kept only with ``include_stop_str_in_output``;
        a stop string ends it from ``min_tokens`` on, the text cut before it (or after it).
        """
        sampling = slot.state.request.sampling
        if not sampling.ignore_eos and self._vocab.is_end_of_generation(token):
            slot.finish_reason = "stop"
            return
        slot.completion_tokens += 1
        if token in sampling.stop_token_ids:
            if sampling.include_stop_str_in_output:
                slot.pieces.append(slot.decoder.decode(self._vocab.piece(token)))
            slot.finish_reason = "stop"
            return
        piece = slot.decoder.decode(self._vocab.piece(token))
        slot.pieces.append(piece)
        if sampling.stop and slot.completion_tokens >= sampling.min_tokens and _cut_at_stop(slot, piece, sampling):
            slot.finish_reason = "stop"
            return
        limit = sampling.max_tokens
        if limit is None:
            limit = self.settings.ctx_size - slot.state.prompt_length
        if slot.completion_tokens >= limit:
            slot.finish_reason = "length"
            return
        slot.next_token = token

    def _finish(self, slot: _Slot, busy: dict[int, _Slot], free: list[int]) -> Completion:
        state = slot.state
        slot.pieces.append(slot.decoder.decode(b"", final=True))
        self._context.remove_sequence(slot.seq_id)
        slot.sampler.close()
        del busy[slot.seq_id]
        free.append(slot.seq_id)
        state.live.discard(slot)
        return Completion(
            key=state.request.key,
            sample_index=slot.sample_index,
            text="".join(slot.pieces),
            prompt_tokens=state.prompt_length,
            completion_tokens=slot.completion_tokens,
            finish_reason=slot.finish_reason,
        )

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Free the context, batch and model; the engine cannot generate afterwards."""
        generation, self._generation = self._generation, None
        if generation is not None:
            generation.close()
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        if self._context is not None:
            self._context.close()
            self._context = None
        if self._model is not None:
            self._model.close()
            self._model = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _cut_at_stop(slot: _Slot, piece: str, sampling: Sampling) -> bool:
    """End ``slot``'s text at the first stop string that its newest ``piece`` completes, as vLLM does.

    Only the end of the text is searched (the new piece and a stop string's length before
    it), so a stop string is found once, when it is completed.
    """
    text = "".join(slot.pieces)
    for stop in sampling.stop:
        index = text.find(stop, max(0, len(text) - len(piece) - len(stop)))
        if index < 0:
            continue
        end = index + len(stop) if sampling.include_stop_str_in_output else index
        slot.pieces = [text[:end]]
        slot.decoder.reset()  # bytes of text after the cut are dropped with it
        return True
    return False


class Tokenizer:
    """The model's tokenizer alone (llama.cpp vocab-only load): cheap, for chunking and dry runs."""

    def __init__(self, model_path: os.PathLike | str, verbose: bool = False) -> None:
        check_llama_cpp_vocabulary(read_model_info(model_path))
        llama.init_llama(verbose)
        self._model: llama.Model | None = llama.Model(model_path, vocab_only=True)

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        if self._model is None:
            raise EngineError("the tokenizer was closed")
        return self._model.vocab.tokenize(text, add_bos)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without BOS."""
        return len(self.tokenize(text, add_bos=False))

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None

    def __enter__(self) -> Tokenizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
