"""How long a local ``generate`` run should take: the speed model behind ``--dry-run``'s estimate.

Throughput is counted per GB of model file, on 2 CPU threads of an idle machine, as measured
on a 1.1 B Q4_K_M model (0.67 GB; BENCHMARKS.md): prompts at 205 tok/s, and 129 generated
tok/s with 32 sequences in each decode step. Fewer sequences per step are counted as
proportionally slower, which over-estimates; one thread as half the speed, and more than two
as no faster (decoding is bound by memory bandwidth, which more threads share): the estimate
is meant not to promise less than a run takes on an idle machine.
"""

from __future__ import annotations

from pathlib import Path

_PROMPT_TOK_S_PER_GB = 137.0
_GENERATED_TOK_S_PER_GB = 86.0
_GENERATED_RATE_PARALLEL = 32
_RATE_THREADS = 2
# Start-up: Python, the libraries and the toy model (BENCHMARKS.md); a larger model is read
# twice before the first token (hashed, then loaded), counted at 500 MB/s.
_START_S = 5.0
_READ_S_PER_GB = 4.0


def estimated_seconds(
    model: Path, prompt_tokens: int, generations: int, max_tokens: int, threads: int, parallel: int
) -> float:
    """Seconds to load ``model``, read ``prompt_tokens`` and write ``generations`` of ``max_tokens`` each.

    ``threads`` are the CPU threads that compute, ``parallel`` the sequences decoded together.
    """
    size_gb = model.stat().st_size / 1e9
    scale = min(threads, _RATE_THREADS) / _RATE_THREADS
    in_step = min(parallel, generations, _GENERATED_RATE_PARALLEL)
    return (
        _START_S
        + size_gb * _READ_S_PER_GB
        + prompt_tokens * size_gb / (_PROMPT_TOK_S_PER_GB * scale)
        + generations * max_tokens * size_gb / (_GENERATED_TOK_S_PER_GB * scale * in_step / _GENERATED_RATE_PARALLEL)
    )
