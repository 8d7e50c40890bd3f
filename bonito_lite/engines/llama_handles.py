"""Owners of llama.cpp's C objects, through llama-cpp-python's low-level ctypes binding.

Each class here holds one C object (model, context, batch, grammar sampler), frees it in
``close()``, and turns llama.cpp's failure codes into :class:`EngineError`. The scheduler in
``local.py`` sits above them and never touches ``llama_cpp`` itself.

The high-level ``llama_cpp.Llama`` is not used: it decodes one sequence at a time and does
not expose ``use_extra_bufts``, which the CPU-repacking crash on AMX machines needs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import EngineError
from ..settings import CTX_SIZE, PARALLEL

# The variables through which libgomp's threads wait, and the spin bonito-lite sets.
OPENMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
OPENMP_SPIN_ROUNDS = 1000


@contextlib.contextmanager
def _waiting_politely() -> Iterator[None]:
    """Make llama.cpp's CPU threads sleep soon when they wait, not spin for milliseconds.

    ggml's threads meet at a barrier after every operation of a decode step. Built with
    OpenMP (llama-cpp-python's default with GCC), a thread that arrives first spins about
    300,000 rounds (milliseconds) before it sleeps. When another program holds one of the
    cores, the thread sharing that core is off it for whole time slices while the others
    spin on theirs, taking CPU from the other program and from the late thread alike: with
    one of two cores busy, a toy run took 13 to 20 times as long with two threads as with
    one. A passive policy with a short spin (1,000 rounds, microseconds: time for a partner
    that is running to arrive) brought that to the time of one thread or less, the CPU time
    to that of one thread (BENCHMARKS.md); it is meant to keep an idle machine's barriers
    quick too (not yet measured on a quiet machine). libgomp reads these variables once,
    when ``llama_cpp`` loads it, so they are set around that import only and then put
    back: the caller's environment (and its child processes) stay as they were. Values the
    user set are left alone (``OMP_WAIT_POLICY=active`` brings the spinning back). Builds without OpenMP
    (macOS) use ggml's own threadpool, which these do not reach; there, the number of
    threads decides.
    """
    chosen = not any(name in os.environ for name in OPENMP_WAIT_VARIABLES)
    if chosen:
        os.environ["OMP_WAIT_POLICY"] = "passive"
        os.environ["GOMP_SPINCOUNT"] = str(OPENMP_SPIN_ROUNDS)
    try:
        yield
    finally:
        if chosen:
            for name in OPENMP_WAIT_VARIABLES:
                os.environ.pop(name, None)


with _waiting_politely():
    import llama_cpp as llama  # noqa: E402  (libgomp reads the environment as it loads)

# llama.cpp's log goes through one process-wide callback. The ctypes wrappers below must stay
# referenced for as long as llama.cpp may call them, hence module-level objects.


@llama.llama_log_callback
def _discard_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    pass


@llama.llama_log_callback
def _stderr_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    sys.stderr.write(text.decode("utf-8", errors="replace"))
    sys.stderr.flush()


_backend_initialised = False

# ggml's CPU backend multiplies K-quant weights (Q4_K, Q5_K, Q6_K...) with per-row dot
# products below 8 rows and with a tiled kernel from 8 rows on, and the two round
# differently. This switch makes ggml take the tiled kernel at every row count, so a row's
# result never depends on how many rows share the call. ggml reads it once, at its first
# matrix product in the process: ``pin_cpu_kernel`` sets it before a context computes.
TILED_FORCE_ENV = "GGML_CPU_TILED_MM_FORCE"
TILED_SWITCH_ENV = "GGML_CPU_TILED_MM"


def pin_cpu_kernel() -> None:
    """Ask ggml for its tiled kernel at every row count, unless the environment already chose.

    Not done on import, so that importing bonito-lite leaves the caller's environment alone;
    every :class:`Context` calls it before it computes anything.
    """
    os.environ.setdefault(TILED_FORCE_ENV, "1")


def cpu_kernel_pinned() -> bool:
    """Whether ggml's CPU matrix kernel for quantized weights is the same at every batch size.

    False when the environment overrode the switches above (``GGML_CPU_TILED_MM_FORCE``
    other than 1, or ``GGML_CPU_TILED_MM=0``); the engine then keeps decode calls below 8
    rows, where the per-row kernel always runs.
    """
    switch = os.environ.get(TILED_SWITCH_ENV)
    return (switch is None or _c_atoi(switch) != 0) and _c_atoi(os.environ.get(TILED_FORCE_ENV, "")) == 1


def _c_atoi(text: str) -> int:
    """C's ``atoi``, which ggml reads its switches with: leading digits, else 0."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def init_llama(verbose: bool = False) -> None:
    """Route llama.cpp's own log to stderr (``verbose``) or nowhere, and start its backends."""
    global _backend_initialised
    llama.llama_log_set(_stderr_log if verbose else _discard_log, ctypes.c_void_p(0))
    if not _backend_initialised:
        llama.llama_backend_init()
        _backend_initialised = True


def system_info() -> str:
    """llama.cpp's own one-line report of its compiled backends and CPU features."""
    return llama.llama_print_system_info().decode("utf-8", errors="replace")


def reports_amx() -> bool:
    """Whether llama.cpp was built with AMX kernels, whose repacked weights crash on quantized models."""
    return "AMX_INT8 = 1" in system_info()


def supports_gpu_offload() -> bool:
    """Whether this llama.cpp build can put layers on a GPU (CUDA, Metal, Vulkan...)."""
    return bool(llama.llama_supports_gpu_offload())


def gpu_backend_name() -> str | None:
    """The GPU backend llama.cpp was built with, as its system info names it, or None."""
    info = system_info()
    for name in ("CUDA", "Metal", "Vulkan", "HIP", "ROCm", "SYCL", "OpenCL", "CANN", "MUSA"):
        if f"{name} :" in info or f"{name}:" in info:
            return name
    return "GPU" if supports_gpu_offload() else None


def max_parallel_sequences() -> int:
    """The most sequences one llama.cpp context can hold."""
    return int(llama.llama_max_parallel_sequences())


class _CtrlC:
    """A SIGINT handler that only remembers that Ctrl-C was pressed."""

    caught = False

    def __call__(self, signum: int, frame: object) -> None:
        self.caught = True


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[_CtrlC | None]:
    """Hold Ctrl-C off the llama.cpp calls in the block, then raise KeyboardInterrupt.

    Python runs a SIGINT handler at the next bytecode of the main thread, and inside a
    llama.cpp call that is a ctypes callback (the log callback, the abort callback): a
    KeyboardInterrupt raised there is printed and dropped by ctypes, so Ctrl-C would be
    lost. Inside the block SIGINT only sets a flag (yielded, for the abort callback to read).
    Only on the main thread under Python's own handler: a handler the program installed
    (or SIG_IGN, which a caller sets to finish its cleanup) is left alone, and None yielded.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield None
        return
    ctrl_c = _CtrlC()
    previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield ctrl_c
    finally:
        # A SIGINT whose handler has not run yet reaches ctrl_c or, once restored,
        # Python's handler (which raises here): KeyboardInterrupt either way.
        signal.signal(signal.SIGINT, previous)
    if ctrl_c.caught:
        raise KeyboardInterrupt


class Vocab:
    """Tokenizer functions of a loaded model (borrowed pointer: lives as long as its model)."""

    def __init__(self, vocab_ptr: llama.llama_vocab_p) -> None:
        self._ptr = vocab_ptr
        self.n_tokens = int(llama.llama_vocab_n_tokens(vocab_ptr))
        self._piece_buffer = ctypes.create_string_buffer(64)

    @property
    def ptr(self) -> llama.llama_vocab_p:
        return self._ptr

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        """Token ids of ``text``; special-token text such as ``</s>`` stays plain text."""
        data = text.encode("utf-8")
        capacity = len(data) + 2
        while True:
            buffer = (llama.llama_token * capacity)()
            count = llama.llama_tokenize(self._ptr, data, len(data), buffer, capacity, add_bos, False)
            if count >= 0:
                return list(buffer[:count])
            capacity = -count

    def piece(self, token: int) -> bytes:
        """The bytes one token stands for (a single raw byte for byte-fallback tokens)."""
        size = llama.llama_token_to_piece(self._ptr, token, self._piece_buffer, len(self._piece_buffer), 0, False)
        if size < 0:
            self._piece_buffer = ctypes.create_string_buffer(-size)
            size = llama.llama_token_to_piece(self._ptr, token, self._piece_buffer, len(self._piece_buffer), 0, False)
        return self._piece_buffer.raw[:size]

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama.llama_vocab_is_eog(self._ptr, token))


class Model:
    """A loaded GGUF model (``llama_model``)."""

    def __init__(
        self,
        path: os.PathLike | str,
        *,
        n_gpu_layers: int = 0,
        use_extra_bufts: bool = True,
        vocab_only: bool = False,
    ) -> None:
        params = llama.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers
        params.use_extra_bufts = use_extra_bufts
        params.vocab_only = vocab_only
        self._ptr = None
        try:
            with _ctrl_c_deferred():
                self._ptr = llama.llama_model_load_from_file(os.fsencode(path), params)
        except KeyboardInterrupt:
            self.close()
            raise
        if not self._ptr:
            raise EngineError(f"llama.cpp could not load {os.fspath(path)}; run with --verbose to see its log")
        self.vocab = Vocab(llama.llama_model_get_vocab(self._ptr))

    @property
    def ptr(self) -> llama.llama_model_p:
        if not self._ptr:
            raise EngineError("the model was already closed")
        return self._ptr

    def close(self) -> None:
        if self._ptr:
            llama.llama_model_free(self._ptr)
            self._ptr = None

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Batch:
    """A ``llama_batch`` of up to ``capacity`` tokens, each in one sequence."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._batch = llama.llama_batch_init(capacity, 0, 1)
        self._owned = True
        self.size = 0

    def clear(self) -> None:
        self.size = 0
        self._batch.n_tokens = 0

    def add(self, token: int, position: int, seq_id: int, want_logits: bool) -> int:
        """Append one token; returns its index in the batch (where its logits will be)."""
        if self.size >= self.capacity:
            raise EngineError(f"batch overflow: more than {self.capacity} tokens in one step")
        i = self.size
        b = self._batch
        b.token[i] = token
        b.pos[i] = position
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq_id
        b.logits[i] = want_logits
        self.size = i + 1
        b.n_tokens = self.size
        return i

    @property
    def struct(self) -> llama.llama_batch:
        return self._batch

    def close(self) -> None:
        if self._owned:
            llama.llama_batch_free(self._batch)
            self._owned = False


# llama_decode's return value when the abort callback stopped it (llama.h).
_DECODE_ABORTED = 2
# A null ggml_abort_callback.
_NO_ABORT_CHECK = llama.ggml_abort_callback()


class Context:
    """A ``llama_context`` holding up to ``n_seq_max`` sequences, each in its own KV cache.

    Per-sequence caches (``kv_unified = False``) and no flash attention make a sequence's
    logits independent of the other sequences in the batch: each sequence's cells sit at
    the same indices whatever else is running, and attention sums them in the same order.
    A unified cache interleaves the cells of all sequences, and flash attention switches to
    a split-KV kernel when one sequence runs alone; both change the rounding of the result
    with the batch (measured: logits differing by up to 0.03, enough to change sampled tokens).
    """

    def __init__(
        self,
        model: Model,
        *,
        n_ctx: int,
        n_seq_max: int,
        n_batch: int,
        threads: int,
    ) -> None:
        pin_cpu_kernel()
        params = llama.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_seq_max = n_seq_max
        params.n_batch = n_batch
        params.n_ubatch = self.n_ubatch = min(n_batch, 512)
        params.n_threads = threads
        params.n_threads_batch = threads
        params.kv_unified = False
        params.flash_attn_type = llama.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        self._ptr = None
        try:
            with _ctrl_c_deferred():
                self._ptr = llama.llama_init_from_model(model.ptr, params)
        except KeyboardInterrupt:
            self.close()
            raise
        if not self._ptr:
            raise EngineError(
                f"llama.cpp could not create a context of {n_ctx} tokens for {n_seq_max} sequences; "
                f"lower {CTX_SIZE.named()} or {PARALLEL.named()}"
            )
        self._memory = llama.llama_get_memory(self._ptr)
        self.n_vocab = model.vocab.n_tokens
        self._ctrl_c: _CtrlC | None = None
        # llama.cpp keeps only the C pointer; the ctypes object must live as long as the context.
        self._abort_check = llama.ggml_abort_callback(self._abort_requested)

    def _abort_requested(self, _data: ctypes.c_void_p) -> bool:
        # Called by ggml between graph nodes, on the thread that called llama_decode. Being
        # Python, it is also where the interpreter runs a pending SIGINT handler.
        return self._ctrl_c is not None and self._ctrl_c.caught

    def decode(self, batch: Batch) -> None:
        """Evaluate ``batch``; raises KeyboardInterrupt when Ctrl-C cut the evaluation short.

        A long prompt is one llama_decode call of seconds, and Python would see Ctrl-C only
        at its end; llama.cpp's abort callback stops it between graph nodes instead. After
        an interruption the KV cache may hold part of the batch: clear the affected
        sequences before going on.
        """
        if not self._ptr:
            raise EngineError("the context was already closed")
        with _ctrl_c_deferred() as ctrl_c:
            if ctrl_c is None:
                code = llama.llama_decode(self._ptr, batch.struct)
            else:
                self._ctrl_c = ctrl_c
                llama.llama_set_abort_callback(self._ptr, self._abort_check, None)
                try:
                    code = llama.llama_decode(self._ptr, batch.struct)
                finally:
                    # Null again: decodes outside this block have nothing to call back for.
                    llama.llama_set_abort_callback(self._ptr, _NO_ABORT_CHECK, None)
                    self._ctrl_c = None
        # Past the block, no Ctrl-C came (it raises KeyboardInterrupt otherwise).
        if code == _DECODE_ABORTED:
            raise EngineError("llama.cpp aborted a decode that nothing asked to stop")
        if code == 1:
            raise EngineError(f"llama.cpp found no room in the KV cache for this batch; lower {PARALLEL.named()}")
        if code != 0:
            raise EngineError(f"llama_decode failed with code {code}; run with --verbose to see llama.cpp's log")

    def logits(self, batch_index: int) -> np.ndarray:
        """A view of the logits of one batch position; valid until the next decode."""
        pointer = llama.llama_get_logits_ith(self._ptr, batch_index)
        if not pointer:
            raise EngineError(f"llama.cpp has no logits for batch position {batch_index}")
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def remove_sequence(self, seq_id: int) -> None:
        llama.llama_memory_seq_rm(self._memory, seq_id, -1, -1)

    # Sequences are copied through their saved state, at once. llama_memory_seq_cp between
    # per-sequence caches would copy the whole source cache at the next decode instead, after
    # anything written since: a prefix restored into the source's cache in the meantime
    # would land in the copy.

    def copy_sequence(self, src: int, dst: int, end_position: int) -> None:
        """Make ``dst`` (an empty sequence) hold the cells of ``src`` at positions below ``end_position``."""
        self.restore_sequence(dst, self.save_sequence(src))
        llama.llama_memory_seq_rm(self._memory, dst, end_position, -1)

    def move_sequence(self, src: int, dst: int) -> None:
        """Renumber sequence ``src`` as ``dst`` (an empty sequence), cells and all."""
        self.restore_sequence(dst, self.save_sequence(src))
        llama.llama_memory_seq_rm(self._memory, src, -1, -1)

    def save_sequence(self, seq_id: int) -> ctypes.Array:
        """The KV cells of sequence ``seq_id``, copied out of the cache (for :meth:`restore_sequence`)."""
        size = llama.llama_state_seq_get_size(self._ptr, seq_id)
        saved = (ctypes.c_uint8 * size)()
        if llama.llama_state_seq_get_data(self._ptr, saved, size, seq_id) != size:
            raise EngineError("llama.cpp could not copy a sequence out of the KV cache")
        return saved

    def restore_sequence(self, seq_id: int, saved: ctypes.Array) -> None:
        """Make sequence ``seq_id`` hold the cells :meth:`save_sequence` copied, and nothing else.

        An emptied per-sequence cache fills from its first cell, so the restored cells sit
        at the indices the copied ones had.
        """
        if llama.llama_state_seq_set_data(self._ptr, saved, len(saved), seq_id) != len(saved):
            raise EngineError(f"llama.cpp could not restore a sequence into the KV cache; lower {PARALLEL.named()}")

    def clear(self) -> None:
        llama.llama_memory_clear(self._memory, True)

    def close(self) -> None:
        if self._ptr:
            llama.llama_free(self._ptr)
            self._ptr = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# llama_token_data is {int32 id; float logit; float p} with no padding.
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama.llama_token_data)


class Candidates:
    """A reusable candidate array (one entry per vocabulary token) for llama.cpp's grammar sampler."""

    def __init__(self, n_vocab: int) -> None:
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._array = llama.llama_token_data_array(
            data=ctypes.cast(self._data.ctypes.data, llama.llama_token_data_p),
            size=n_vocab,
            selected=-1,
            sorted=False,
        )

    def load(self, logits: np.ndarray) -> ctypes.c_void_p:
        # Samplers may reorder and shrink the array in place, so it is rebuilt for every use.
        self._data["id"] = self._ids
        self._data["logit"] = logits
        self._data["p"] = 0.0
        self._array.size = len(self._data)
        self._array.selected = -1
        self._array.sorted = False
        return ctypes.byref(self._array)

    def logits(self) -> np.ndarray:
        """The candidates' logits by token id, as a sampler applied to the loaded array left them."""
        if self._array.size != len(self._data) or self._array.sorted:
            raise EngineError("a sampler reordered the candidates; their logits are no longer by token id")
        return self._data["logit"]


class Grammar:
    """llama.cpp's grammar sampler for one sequence, as ``sampler.SamplerChain`` consults it.

    ``candidates`` is the array the whole vocabulary is loaded into when the grammar must
    rule on every token; one can serve every sequence of an engine.
    """

    def __init__(self, vocab: Vocab, grammar: str, candidates: Candidates) -> None:
        self._candidates = candidates
        self._sampler = llama.llama_sampler_init_grammar(vocab.ptr, grammar.encode("utf-8"), b"root")
        if not self._sampler:
            raise EngineError("llama.cpp could not create the grammar sampler")
        self._single = np.zeros(1, dtype=_TOKEN_DATA)
        self._single_array = llama.llama_token_data_array(
            data=ctypes.cast(self._single.ctypes.data, llama.llama_token_data_p), size=1, selected=-1, sorted=False
        )

    def allows(self, token: int) -> bool:
        """Whether the grammar takes ``token`` next."""
        self._single["id"] = token
        self._single["logit"] = 0.0
        self._single_array.size = 1
        self._single_array.selected = -1
        llama.llama_sampler_apply(self._sampler, ctypes.byref(self._single_array))
        return bool(np.isfinite(self._single["logit"][0]))

    def restrict(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` by token id with every token the grammar does not take next at -inf."""
        llama.llama_sampler_apply(self._sampler, self._candidates.load(logits))
        return self._candidates.logits()

    def accept(self, token: int) -> None:
        llama.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            llama.llama_sampler_free(self._sampler)
            self._sampler = None


def tokens_text(vocab: Vocab, tokens: Sequence[int]) -> str:
    """The text of a token sequence, decoding UTF-8 across byte-fallback tokens."""
    return b"".join(vocab.piece(t) for t in tokens).decode("utf-8", errors="replace")
