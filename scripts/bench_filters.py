"""Time and memory of the quality filters and their dedup index on N synthetic examples.

Ten examples per passage of 300 words, each a 14-word question and a 1 to 30-word answer
over a 50,000-word vocabulary (so nearly all are kept and the index grows by N):

    python scripts/bench_filters.py 100000
"""

from __future__ import annotations

import random
import resource
import sys
import time

from bonito_lite.filters import QualityFilter


def rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def main(n: int) -> None:
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(50_000)]
    passages = [" ".join(rng.choices(vocab, k=300)) for _ in range(2000)]
    quality = QualityFilter()
    base = rss_mb()
    started = time.perf_counter()
    kept = 0
    for i in range(n):
        passage = passages[(i // 10) % len(passages)]
        record = {
            "input": passage + "\n\nQuestion: " + " ".join(rng.choices(vocab, k=14)) + "?",
            "output": " ".join(rng.choices(vocab, k=rng.randint(1, 30))),
            "task_type": "question answering without choices",
            "context": passage,
            "unit": f"{i:016x}",
        }
        kept += quality(record) is None
    seconds = time.perf_counter() - started
    grown = rss_mb() - base
    print(
        f"{n} examples, {kept} kept: {seconds:.1f} s ({seconds / n * 1e6:.0f} us each); "
        f"peak RSS grew {grown:.0f} MB ({grown * 1e6 / n:.0f} bytes per example); "
        f"LSH {quality.dedup.bands} bands x {quality.dedup.rows} rows"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
