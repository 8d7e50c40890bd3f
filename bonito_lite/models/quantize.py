"""Quantization through llama.cpp's own quantizer (``llama_model_quantize``).

The K-quants and IQ4_NL need llama.cpp's importance-aware mixes (Q4_K_M keeps some
tensors at Q6_K, for example); writing them in Python would be slower and different, so
the converter writes a full-precision GGUF and llama.cpp quantizes it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from pathlib import Path

from ..errors import EngineError, InputError

logger = logging.getLogger(__name__)

# Written directly by the converter (see convert_tensors.FILE_TYPES).
DIRECT_TYPES = ("F32", "F16", "BF16", "Q8_0")

# Produced by llama.cpp's quantizer from a full-precision intermediate file; the values
# name llama.cpp's ``llama_ftype`` constants. This module does not import gguf: the
# quantizer process should hold llama.cpp and the tensors, not 20 MB of Python tables.
LLAMA_CPP_TYPES: dict[str, str] = {
    "Q6_K": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "Q5_K_M": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "Q5_K_S": "LLAMA_FTYPE_MOSTLY_Q5_K_S",
    "Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "Q4_K_S": "LLAMA_FTYPE_MOSTLY_Q4_K_S",
    "Q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
    "Q3_K_M": "LLAMA_FTYPE_MOSTLY_Q3_K_M",
    "Q2_K": "LLAMA_FTYPE_MOSTLY_Q2_K",
    "IQ4_NL": "LLAMA_FTYPE_MOSTLY_IQ4_NL",
}

DEFAULT_QUANT = "Q4_K_M"

# Approximate bits per weight of each type on a Mistral-7B-shaped model (llama.cpp's
# published sizes, rounded up), used only to check free disk before starting.
BITS_PER_WEIGHT: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.6,
    "Q5_K_M": 5.7,
    "Q5_K_S": 5.6,
    "Q4_K_M": 4.9,
    "Q4_K_S": 4.6,
    "Q4_0": 4.6,
    "Q3_K_M": 4.0,
    "Q2_K": 3.4,
    "IQ4_NL": 4.6,
}


def quant_names() -> list[str]:
    return [*DIRECT_TYPES, *LLAMA_CPP_TYPES]


def normalize_quant(quant: str) -> str:
    """The canonical name of a quantization type, matched without regard to case."""
    wanted = quant.strip().upper()
    for name in quant_names():
        if name == wanted:
            return name
    raise InputError(f"unknown quantization type {quant!r}; choose one of: {', '.join(quant_names())}")


_TENSOR_PROGRESS = re.compile(rb"\[\s*(\d+)/\s*(\d+)\]")

# Log callbacks llama.cpp may still call (a quantization abandoned on Ctrl-C keeps running
# until the process exits): kept referenced so that ctypes does not free them.
_LIVE_CALLBACKS: list[object] = []


def quantize_gguf(source: Path, destination: Path, quant: str, on_tensor=None, show_log: bool = False) -> None:
    """Quantize a full-precision GGUF to ``quant`` with llama.cpp, reporting each tensor.

    ``on_tensor(done, total)`` is called as llama.cpp finishes each tensor; llama.cpp's own
    log reaches stderr only with ``show_log``. The C call runs
    in a worker thread so that Ctrl-C reaches Python at once; the caller removes the files.
    """
    import llama_cpp
    from llama_cpp import _logger as llama_logger

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, LLAMA_CPP_TYPES[quant])
    params.nthread = os.cpu_count() or 1

    # llama.cpp reports each tensor it quantizes in its log ("[  12/ 291] blk.1..."):
    # the only progress signal it gives, so the log is read while quantizing.
    forward = llama_logger.llama_log_callback

    @llama_cpp.llama_log_callback
    def log_callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        match = _TENSOR_PROGRESS.search(text or b"")
        if match and on_tensor is not None:
            on_tensor(int(match[1]), int(match[2]))
        if show_log:
            forward(level, text, user_data)

    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["status"] = llama_cpp.llama_model_quantize(
                os.fsencode(source), os.fsencode(destination), ctypes.byref(params)
            )
        except BaseException as error:  # reported to the waiting thread
            outcome["error"] = error

    # A daemon thread: on Ctrl-C the process exits without waiting for llama.cpp to finish.
    worker = threading.Thread(target=run, name="llama-quantize", daemon=True)
    llama_cpp.llama_log_set(log_callback, ctypes.c_void_p(0))
    try:
        worker.start()
        while worker.is_alive():
            worker.join(timeout=0.2)
    finally:
        if worker.is_alive():
            _LIVE_CALLBACKS.append(log_callback)
        else:
            llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))
    if "error" in outcome:
        raise EngineError(f"llama.cpp failed to quantize {source.name}: {outcome['error']}")
    if outcome.get("status") != 0:
        raise EngineError(
            f"llama.cpp failed to quantize {source.name} to {quant} (status {outcome.get('status')});"
            " run with -v to see llama.cpp's log"
        )
