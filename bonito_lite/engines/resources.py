"""What the machine can give a run: memory for the model and its KV cache, and idle CPUs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from ..errors import ResourceError
from ..models.info import ModelInfo
from ..settings import CTX_SIZE, PARALLEL

logger = logging.getLogger(__name__)

# Memory llama.cpp needs beyond weights and KV cache (compute buffers, runtime), kept free
# so that a run that "fits" does not push the machine into swap.
_RUNTIME_RESERVE_BYTES = 256 * 1024 * 1024

# Memory the plan leaves to everything else: the system and the desktop, other programs
# growing while a run of hours goes on, the page cache of the documents being read, and
# the error of the estimate above. Without it, a run sized to fill every byte the OS
# called available left nothing, and the machine swapped. The larger of 1 GiB and a tenth
# of the machine's memory: 1.6 GB on a 16 GB laptop, 2.3 GB on 23 GB.
_HEADROOM_MIN_BYTES = 1024 * 1024 * 1024
_HEADROOM_FRACTION = 0.10

# How long default_threads watches the CPUs before choosing; short beside loading a model.
_CPU_SAMPLE_S = 0.2


@dataclass(frozen=True)
class MemoryState:
    """The machine's memory as the OS reports it now."""

    available: int  # what it can give without swapping: free memory plus reclaimable page cache
    total: int

    @property
    def headroom(self) -> int:
        """Bytes a run leaves free for everything else (see ``_HEADROOM_FRACTION``)."""
        return max(_HEADROOM_MIN_BYTES, int(self.total * _HEADROOM_FRACTION))


def memory_state() -> MemoryState | None:
    """Available and total memory (Linux: MemAvailable; macOS and Windows: their own counts), or None."""
    try:
        memory = psutil.virtual_memory()
    except (OSError, RuntimeError, AttributeError):
        return None
    return MemoryState(available=int(memory.available), total=int(memory.total))


def available_memory_bytes() -> int | None:
    """Memory the OS can give this process now without swapping, or None if unknown."""
    state = memory_state()
    return state.available if state is not None else None


def memory_needed(info: ModelInfo, ctx_size: int, parallel: int) -> int:
    """Bytes for the weights plus an F16 KV cache of ``parallel × ctx_size`` tokens.

    The weights count once, at the file's size, whether or not their pages are in the page
    cache already (generate reads the file to hash it): llama.cpp maps the file, so cached
    pages are the memory the model runs from, not a copy, and ``MemoryState.available``
    already counts them as reclaimable. They must stay resident (every decode step reads
    every weight), so they are not free for the caches either.
    """
    return info.file_size + info.kv_bytes_per_token() * ctx_size * parallel + _RUNTIME_RESERVE_BYTES


def fit_parallel(info: ModelInfo, ctx_size: int, parallel: int, memory: MemoryState | None) -> int:
    """The largest ``parallel`` up to the one asked for whose model + KV cache fits, headroom kept."""
    if memory is None:
        return parallel
    budget = memory.available - memory.headroom
    fitting = parallel
    while fitting >= 1 and memory_needed(info, ctx_size, fitting) > budget:
        fitting -= 1
    if fitting < 1:
        need_gb = memory_needed(info, ctx_size, 1) / 1e9
        ctx_name = CTX_SIZE.named()
        raise ResourceError(
            f"{info.path.name} needs {need_gb:.1f} GB (model + KV cache for {ctx_name} {ctx_size}) "
            f"and {memory.headroom / 1e9:.1f} GB stays free for the system, but "
            f"{memory.available / 1e9:.1f} GB is available; close other programs, lower {ctx_name} "
            "or use a smaller quantization"
        )
    if fitting < parallel:
        logger.warning(
            "%s %d needs %.1f GB but %.1f GB is available and %.1f GB stays free for the "
            "system; running %d sequences at a time",
            PARALLEL.named(),
            parallel,
            memory_needed(info, ctx_size, parallel) / 1e9,
            memory.available / 1e9,
            memory.headroom / 1e9,
            fitting,
        )
    return fitting


def usable_cpus() -> list[int]:
    """The CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows: no affinity here
        return list(range(os.cpu_count() or 1))


def cpu_busy_percent() -> list[float]:
    """How busy each CPU is, in percent, over a short look (psutil; one value per CPU number)."""
    return psutil.cpu_percent(interval=_CPU_SAMPLE_S, percpu=True)


def default_threads(busy: Sequence[float] | None = None, cpus: Sequence[int] | None = None) -> int:
    """Threads for llama.cpp: the CPUs this process may use that other programs leave idle now.

    llama.cpp's threads meet after every operation of a decode step, so a thread that
    shares a CPU with a busy program holds all the others back: with one of two cores busy,
    two threads ran a toy job 13 to 20 times slower than one (BENCHMARKS.md). So the threads
    are the idle capacity of the usable CPUs (their idle percentages summed, rounded), at
    least 1, and never more than the physical cores (a second hyper-thread of a core adds
    waiting, not speed). Load that arrives during a run is met by llama.cpp's waiting
    threads sleeping rather than spinning (see ``llama_handles``). ``busy`` is per CPU
    number, as :func:`cpu_busy_percent` gives it.
    """
    cpus = list(cpus) if cpus is not None else usable_cpus()
    try:
        busy = list(busy) if busy is not None else cpu_busy_percent()
    except (OSError, RuntimeError):
        busy = []
    idle = sum(max(0.0, 100.0 - busy[cpu]) for cpu in cpus if cpu < len(busy)) / 100.0 if busy else len(cpus)
    physical = psutil.cpu_count(logical=False) or len(cpus)
    return max(1, min(int(idle + 0.5), len(cpus), physical))
