"""Cost of the sampler per token against a decode step, and against an earlier sampler.

Logits come from the bundled toy model (a trained Bonito, Mistral's 32,000-token
vocabulary) at every position of Bonito prompts around the bundled sample passages: the
peaked distributions of a trained model, not random weights' flat ones. Each sampler setup
draws one token from each logit vector, round after round, alternating setups so that a
loaded machine slows all of them alike; CPU time per token is reported (the share of a
core a draw takes). With ``--baseline REF`` the SamplerChain of that git revision (one from
before the sampler left ``llama_handles``) is timed in the same rounds (Bonito's defaults
only: it has no other fields). With ``--model`` a decode step of 32 sequences on that GGUF
is timed in the same run, for the sampler's share of a step.

    python scripts/bench_sampler.py --baseline e567472 --model /tmp/bench/random-1.1b.Q4_K_M.gguf
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bonito_lite.engines import llama_handles as llama  # noqa: E402
from bonito_lite.engines.sampler import SamplerChain  # noqa: E402
from bonito_lite.models.paths import toy_model_path  # noqa: E402
from bonito_lite.prompt import build_prompt  # noqa: E402

BONITO = dict(temperature=0.5, top_p=0.95)
SETUPS = {
    "bonito defaults (T 0.5, top-p 0.95)": BONITO,
    "T 1.0, top-p 0.95": dict(temperature=1.0, top_p=0.95),
    "top-k 40 + top-p 0.95": dict(BONITO, top_k=40),
    "min-p 0.05, top-p 1": dict(temperature=0.5, top_p=1.0, min_p=0.05),
    "penalties (rep 1.1, freq 0.2, pres 0.2)": dict(
        BONITO, repetition_penalty=1.1, frequency_penalty=0.2, presence_penalty=0.2
    ),
}
STEP_SEQUENCES = 32
STEP_PROMPT_TOKENS = 100


def toy_logits(limit: int) -> tuple[np.ndarray, llama.Model]:
    """Next-token logits at every position of Bonito prompts over the sample passages, and a vocabulary."""
    passages = [p for p in (REPO / "bonito_lite" / "data" / "sample_passages.txt").read_text().split("\n\n") if p]
    llama.init_llama(False)
    model = llama.Model(toy_model_path(), use_extra_bufts=False)
    context = llama.Context(model, n_ctx=1024, n_seq_max=1, n_batch=1024, threads=1)
    batch = llama.Batch(1024)
    rows = []
    for passage in passages:
        tokens = model.vocab.tokenize(build_prompt("extractive question answering", passage))
        context.clear()
        batch.clear()
        for i, token in enumerate(tokens):
            batch.add(token, i, 0, True)
        context.decode(batch)
        rows += [context.logits(i).copy() for i in range(len(tokens))]
        if len(rows) >= limit:
            break
    batch.close()
    context.close()
    vocab_model = llama.Model(toy_model_path(), vocab_only=True)
    model.close()
    return np.array(rows[:limit]), vocab_model


def baseline_module(ref: str):
    """``bonito_lite/llama_handles.py`` as it was at git revision ``ref``, imported under another name."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:bonito_lite/llama_handles.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp())
    package = folder / "baseline_handles"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text((REPO / "bonito_lite" / "errors.py").read_text())
    (package / "llama_handles.py").write_text(source)
    sys.path.insert(0, str(folder))
    spec = importlib.util.find_spec("baseline_handles.llama_handles")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def step_seconds(model_path: str, threads: int) -> tuple[float, float]:
    """CPU and wall seconds of one decode step of 32 sequences (100-token prompts), mean of 6."""
    model = llama.Model(model_path, use_extra_bufts=False)
    context = llama.Context(model, n_ctx=STEP_SEQUENCES * 160, n_seq_max=STEP_SEQUENCES, n_batch=512, threads=threads)
    batch = llama.Batch(512)
    for first in range(0, STEP_SEQUENCES, 5):
        batch.clear()
        for seq in range(first, min(STEP_SEQUENCES, first + 5)):
            for i in range(STEP_PROMPT_TOKENS):
                batch.add(1000 + (i * 7 + seq) % 5000, i, seq, i == STEP_PROMPT_TOKENS - 1)
        context.decode(batch)
    cpu = time.process_time()
    wall = time.perf_counter()
    for step in range(6):
        batch.clear()
        for seq in range(STEP_SEQUENCES):
            batch.add(2000 + seq + step, STEP_PROMPT_TOKENS + step, seq, True)
        context.decode(batch)
    result = (time.process_time() - cpu) / 6, (time.perf_counter() - wall) / 6
    batch.close()
    context.close()
    model.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision whose SamplerChain to time alongside")
    parser.add_argument("--model", help="GGUF whose decode step of 32 sequences to time")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--positions", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logits, vocab_model = toy_logits(args.positions)
    vocab = vocab_model.vocab
    setups = {name: (None, settings) for name, settings in SETUPS.items()}
    if args.baseline:
        setups[f"{args.baseline}: bonito defaults"] = (baseline_module(args.baseline), BONITO)
    seconds = {name: 0.0 for name in setups}
    for round_ in range(args.rounds):
        for name, (module, settings) in setups.items():
            if module is None:
                sampler = SamplerChain(vocab.n_tokens, seed=round_, **settings)
                draw = sampler.sample
            else:  # the earlier chain took the vocabulary and a candidate array
                sampler = module.SamplerChain(vocab, seed=round_, **settings)
                candidates = module.Candidates(vocab.n_tokens)
                draw = functools.partial(sampler.sample, candidates=candidates)
            started = time.process_time()
            for row in logits:
                draw(row)
            seconds[name] += time.process_time() - started
            sampler.close()
    draws = args.rounds * len(logits)
    print(f"{len(logits)} logit vectors of {vocab.n_tokens} tokens, {args.rounds} rounds; CPU ms per token:")
    for name, total in seconds.items():
        print(f"  {name:45s} {total / draws * 1000:6.3f}")
    if args.model:
        cpu, wall = step_seconds(args.model, args.threads)
        per_sequence = cpu / STEP_SEQUENCES
        print(
            f"decode step of {STEP_SEQUENCES} sequences on {Path(args.model).name}, {args.threads} threads: "
            f"{cpu * 1000:.1f} ms CPU ({wall * 1000:.1f} ms wall), {per_sequence * 1000:.2f} ms CPU per sequence"
        )
        for name, total in seconds.items():
            print(f"  {name:45s} {total / draws / per_sequence * 100:5.1f}% of a sequence's share of the step")
    vocab_model.close()


if __name__ == "__main__":
    main()
