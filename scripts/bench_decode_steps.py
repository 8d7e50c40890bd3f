"""Cost of one decode step against the number of sequences in it, on one GGUF.

For each size B: B prompts of 100 tokens are evaluated (five to a call), then six steps
decode one token of each of the B sequences in one call. Prints the prompt rate and the
step's cost per token: how much batching saves on this machine with this model. Uses the
engine's own context settings (per-sequence caches, no flash attention, no repacking, ggml's
tiled kernel forced).

    python scripts/bench_decode_steps.py models/random-1.1b.Q4_K_M.gguf --threads 2
"""

from __future__ import annotations

import argparse
import time

from bonito_lite.engines import llama_handles as llama

PROMPT_TOKENS = 100
STEPS = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="8,16,32,64,128,256")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    llama.init_llama(False)
    model = llama.Model(args.model, use_extra_bufts=False)
    largest = max(sizes)
    ctx_size = PROMPT_TOKENS + STEPS + 54
    context = llama.Context(
        model, n_ctx=largest * ctx_size, n_seq_max=largest, n_batch=max(512, largest), threads=args.threads
    )
    batch = llama.Batch(max(512, largest))
    per_call = 512 // PROMPT_TOKENS
    for size in sizes:
        context.clear()
        started = time.perf_counter()
        for first in range(0, size, per_call):
            batch.clear()
            for seq in range(first, min(size, first + per_call)):
                for i in range(PROMPT_TOKENS):
                    batch.add(1000 + (i * 7 + seq) % 5000, i, seq, i == PROMPT_TOKENS - 1)
            context.decode(batch)
        prompt_s = time.perf_counter() - started
        started = time.perf_counter()
        for step in range(STEPS):
            batch.clear()
            for seq in range(size):
                batch.add(2000 + seq + step, PROMPT_TOKENS + step, seq, True)
            context.decode(batch)
        step_s = (time.perf_counter() - started) / STEPS
        print(
            f"{size:4d} sequences: prompts {size * PROMPT_TOKENS / prompt_s:6.1f} tok/s, "
            f"step {step_s * 1000:7.1f} ms, {step_s / size * 1000:6.2f} ms per token",
            flush=True,
        )
    batch.close()
    context.close()
    model.close()


if __name__ == "__main__":
    main()
