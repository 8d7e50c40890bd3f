"""Generation throughput: bonito-lite's engine against what users would run instead.

On one GGUF, one set of passages and one sampling setup, in one run:

  llama-loop    a plain sequential loop over llama-cpp-python's ``Llama`` (repacking off,
                the AMX workaround: ``Llama`` has no parameter for it, so the loop patches
                ``llama_model_default_params``), llama.cpp's own kernel choice
  engine-P      bonito-lite's Engine with ``parallel`` P, sharing the template's part before the
                passage as ``generate`` does (``-whole`` with --no-shared-prefix: every prompt whole)
  transformers  ``generate`` on CPU on the Hugging Face checkpoint the GGUF came from, batch 1
  batched-bench llama.cpp's ``llama-batched-bench --no-repack`` at the same batch sizes
  toy-P         ``bonito-lite generate`` end to end on the bundled toy model (examples/min),
                with and without ``--constrain``

Each system runs in its own process (peak RSS from ``wait4``); the systems of one round run
back to back, so that on a shared machine each comparison shares the same conditions, and
the load average is recorded beside each number. With ``--interleave`` the loop runs again
after each engine run, and each engine run is compared with the loop runs on either side,
per second of wall time and per second of CPU time (with one thread, the CPU time is what
a run actually got of a core: the ratio that holds on a loaded machine). Random weights
never emit the end token, so every system generates exactly ``--new-tokens`` per prompt.

    python scripts/make_bench_model.py /tmp/bench
    python scripts/bench_generate.py --model /tmp/bench/random-1.1b.Q4_K_M.gguf \\
        --checkpoint /tmp/bench/checkpoint --batched-bench llama.cpp/build/bin/llama-batched-bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASK_TYPE = "extractive question answering"
WORDS = (
    "the committee reviewed annual budget approved new funding for local schools river bridge "
    "engineers report inspection found cracks north pier repairs begin spring traffic will "
    "move one lane during work council members asked about costs timeline contractor said "
    "materials arrive next month weather permitting residents may attend meeting library"
).split()
# ggml reads this once per process; the baselines run with llama.cpp's own kernel choice.
TILED_FORCE_ENV = "GGML_CPU_TILED_MM_FORCE"


# -- workers (run in a child process each) ------------------------------------------------


def make_prompts(model: str, count: int, passage_tokens: int) -> list[str]:
    """``count`` Bonito prompts around passages of exactly ``passage_tokens`` tokens."""
    from bonito_lite.engines import llama_handles as llama
    from bonito_lite.prompt import build_prompt

    llama.init_llama(False)
    vocab_model = llama.Model(model, vocab_only=True)
    prompts = []
    for i in range(count):
        rng = random.Random(i)
        text = " ".join(rng.choice(WORDS) for _ in range(passage_tokens * 2))
        tokens = vocab_model.vocab.tokenize(text, add_bos=False)[:passage_tokens]
        passage = llama.tokens_text(vocab_model.vocab, tokens).strip()
        prompts.append(build_prompt(TASK_TYPE, passage))
    vocab_model.close()
    return prompts


def run_llama_loop(args: dict) -> dict:
    import llama_cpp
    import llama_cpp.llama_cpp as low

    if not args.get("repack"):
        default_params = low.llama_model_default_params

        def without_repacking():
            params = default_params()
            params.use_extra_bufts = False
            return params

        low.llama_model_default_params = without_repacking
    started = time.perf_counter()
    llm = llama_cpp.Llama(
        args["model"], n_ctx=args["ctx"], n_threads=args["threads"], n_threads_batch=args["threads"], verbose=False
    )
    loaded = time.perf_counter()
    cpu_started = time.process_time()
    prompt_tokens = generated = 0
    for i, prompt in enumerate(args["prompts"]):
        out = llm.create_completion(
            prompt,
            max_tokens=args["new_tokens"],
            temperature=args["temperature"],
            top_p=args["top_p"],
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
            seed=i,
        )
        prompt_tokens += out["usage"]["prompt_tokens"]
        generated += out["usage"]["completion_tokens"]
    return dict(
        load_s=loaded - started,
        gen_s=time.perf_counter() - loaded,
        gen_cpu_s=time.process_time() - cpu_started,
        prompt_tokens=prompt_tokens,
        generated_tokens=generated,
        sequences=len(args["prompts"]),
    )


def run_engine(args: dict) -> dict:
    from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
    from bonito_lite.engines.local import Engine
    from bonito_lite.prompt import prompt_prefix

    sampling = Sampling(max_tokens=args["new_tokens"], temperature=args["temperature"], top_p=args["top_p"])
    # As bonito-lite's pipeline asks: the template's part before the passage is shared.
    shared = "" if args.get("no_shared_prefix") else prompt_prefix(TASK_TYPE)
    requests = [
        GenerationRequest(i, p, seeds=(i,), sampling=sampling, shared_prefix=shared)
        for i, p in enumerate(args["prompts"])
    ]
    started = time.perf_counter()
    settings = EngineSettings(
        parallel=args["parallel"], threads=args["threads"], ctx_size=args["ctx"], constrain=args.get("constrain", False)
    )
    with Engine(args["model"], settings) as engine:
        loaded = time.perf_counter()
        cpu_started = time.process_time()
        completions = list(engine.generate(requests))
        done = time.perf_counter()
        cpu = time.process_time() - cpu_started
    return dict(
        load_s=loaded - started,
        gen_s=done - loaded,
        gen_cpu_s=cpu,
        prompt_tokens=sum(c.prompt_tokens for c in completions),
        generated_tokens=sum(c.completion_tokens for c in completions),
        sequences=len(completions),
        texts_sha1=_digest(sorted((c.key, c.text) for c in completions)),
    )


def run_transformers(args: dict) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args["threads"])
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args["checkpoint"], dtype=getattr(torch, args["torch_dtype"]))
    model.eval()
    loaded = time.perf_counter()
    prompt_tokens = generated = 0
    # Token ids from the GGUF's own tokenizer (the checkpoint's SentencePiece model, BOS added).
    for i, ids in enumerate(args["prompt_ids"]):
        torch.manual_seed(i)
        inputs = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                do_sample=True,
                temperature=args["temperature"],
                top_p=args["top_p"],
                top_k=0,
                max_new_tokens=args["new_tokens"],
                min_new_tokens=args["new_tokens"],
            )
        prompt_tokens += len(ids)
        generated += out.shape[1] - len(ids)
    return dict(
        load_s=loaded - started,
        gen_s=time.perf_counter() - loaded,
        prompt_tokens=prompt_tokens,
        generated_tokens=generated,
        sequences=len(args["prompt_ids"]),
    )


def run_toy_cli(args: dict) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "out.jsonl"
        command = [
            str(Path(sys.executable).parent / "bonito-lite"),
            "generate",
            str(REPO / "examples" / "sample_notes.md"),
            "-t",
            "all",
            "--num-samples",
            str(args["num_samples"]),
            "--model",
            "toy",
            "-o",
            str(output),
            "--parallel",
            str(args["parallel"]),
            "--threads",
            str(args["threads"]),
            "-q",
            "--constrain" if args["constrain"] else "--no-constrain",
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=folder)
        wall = time.perf_counter() - started
        manifest = json.loads(output.with_name(output.name + ".manifest.json").read_text())
    counts = manifest["counts"]
    return dict(
        load_s=0.0, gen_s=wall, generations=counts["generations"], parsed=counts["parsed"], rejected=counts["rejected"]
    )


WORKERS = {"llama-loop": run_llama_loop, "engine": run_engine, "transformers": run_transformers, "toy": run_toy_cli}


def _digest(value) -> str:
    import hashlib

    return hashlib.sha1(json.dumps(value).encode()).hexdigest()[:12]


# -- parent ---------------------------------------------------------------------------------


def baseline_env() -> dict:
    env = dict(os.environ)
    env.pop(TILED_FORCE_ENV, None)
    return env


def run_worker(system: str, args: dict, env: dict | None = None) -> dict:
    """Run one system in a child process; its result, with the child's wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--worker", system], input=json.dumps(args), capture_output=True, text=True, env=env
    )
    if done.returncode:
        raise SystemExit(f"{system} failed with code {done.returncode}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - started
    return result


def batched_bench(
    binary: str, model: str, prompt_tokens: int, new_tokens: int, batch_sizes: list[int], threads: int
) -> list[dict]:
    command = [
        "/usr/bin/time",
        "-f",
        "MAXRSS %M",
        binary,
        "-m",
        model,
        "-c",
        str(max(batch_sizes) * (prompt_tokens + new_tokens + 16)),
        "-b",
        "2048",
        "-ub",
        "512",
        "-npp",
        str(prompt_tokens),
        "-ntg",
        str(new_tokens),
        "-npl",
        ",".join(map(str, batch_sizes)),
        "-t",
        str(threads),
        "--no-repack",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=baseline_env())
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"llama-batched-bench failed: {done.stderr[-2000:]}")
    rss = next((int(line.split()[1]) * 1024 for line in done.stderr.splitlines() if line.startswith("MAXRSS")), 0)
    rows = []
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[0].isdigit():
            pp, tg, b, n_kv, t_pp, s_pp, t_tg, s_tg, t, s = cells
            rows.append(
                dict(
                    system=f"batched-bench-{b}",
                    batch=int(b),
                    prompt_tokens=int(pp) * int(b),
                    generated_tokens=int(tg) * int(b),
                    gen_s=float(t),
                    prompt_tok_s=float(s_pp),
                    tg_phase_tok_s=float(s_tg),
                    total_tok_s=float(s),
                    process_wall_s=wall,
                    peak_rss=rss,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", help="GGUF (Q4_K_M of --checkpoint)")
    parser.add_argument("--checkpoint", help="Hugging Face folder for transformers")
    parser.add_argument("--batched-bench", help="llama-batched-bench binary")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument(
        "--baseline-prompts", type=int, default=None, help="prompts for the one-at-a-time systems (default: --prompts)"
    )
    parser.add_argument(
        "--prompts-per-slot",
        type=int,
        default=0,
        help="engine at P runs max(baseline prompts, k*P) prompts (0: all --prompts)",
    )
    parser.add_argument("--constrain", action="store_true", help="engine runs with the pipe grammar")
    parser.add_argument(
        "--no-shared-prefix",
        action="store_true",
        help="engine evaluates every prompt whole (by default the template's part before the "
        "passage is evaluated once and shared, as bonito-lite generate does)",
    )
    parser.add_argument("--bracket", action="store_true", help="run the llama-loop again after the others")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="run the llama-loop again after each engine run; each engine run's ratio divides "
        "by the mean of the loop runs on either side, per second of wall time and of CPU "
        "time (one thread: CPU time is what the run got of a core on a shared machine)",
    )
    parser.add_argument("--passage-tokens", type=int, default=100)
    parser.add_argument("--new-tokens", type=int, default=96)
    parser.add_argument("--parallel", default="1,4,8,16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--systems", default="llama-loop,engine,transformers,batched-bench,toy")
    parser.add_argument("--torch-dtype", default="float32")
    parser.add_argument("--toy-parallel", default="1,16")
    parser.add_argument("--toy-samples", type=int, default=2)
    parser.add_argument("--out", type=Path, help="append JSON lines of results here")
    args = parser.parse_args()
    if args.worker:
        result = WORKERS[args.worker](json.loads(sys.stdin.read()))
        import resource

        result["peak_rss"] = 1024 * max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
        print(json.dumps(result))
        return

    systems = args.systems.split(",")
    parallels = [int(p) for p in args.parallel.split(",")]
    common = dict(model=args.model, threads=args.threads, new_tokens=args.new_tokens, temperature=0.5, top_p=0.95)
    results = []

    def record(system: str, result: dict) -> None:
        result.update(
            system=result.get("system", system),
            load_avg=round(os.getloadavg()[0], 2),
            utc=time.strftime("%H:%M:%S", time.gmtime()),
        )
        if "generated_tokens" in result:
            result["gen_tok_s"] = result["generated_tokens"] / result["gen_s"]
            if "gen_cpu_s" in result:
                result["gen_tok_cpu_s"] = result["generated_tokens"] / result["gen_cpu_s"]
            result["total_tok_s"] = result.get("total_tok_s") or (
                (result["generated_tokens"] + result["prompt_tokens"]) / result["gen_s"]
            )
        if "generations" in result:
            result["examples_per_min"] = result["parsed"] * 60 / result["gen_s"]
        results.append(result)
        print(json.dumps(result), flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(result) + "\n")

    if args.model:
        prompts = run_worker_prompts(args.model, args.prompts, args.passage_tokens)
        baseline_prompts = prompts[: args.baseline_prompts or args.prompts]
        longest = max(len(run_worker_tokens(args.model, p)) for p in prompts)
        ctx = 16 * ((longest + args.new_tokens) // 16 + 1)

        def loop() -> dict:
            result = run_worker(
                "llama-loop", dict(common, prompts=baseline_prompts, ctx=max(512, ctx)), env=baseline_env()
            )
            record("llama-loop", result)
            return result

        if "llama-loop" in systems:
            before = loop()
        if "engine" in systems:
            for parallel in parallels:
                count = len(prompts)
                if args.prompts_per_slot:
                    count = min(count, max(len(baseline_prompts), args.prompts_per_slot * parallel))
                name = (
                    f"engine-{parallel}"
                    + ("-constrain" if args.constrain else "")
                    + ("-whole" if args.no_shared_prefix else "")
                )
                engine = run_worker(
                    "engine",
                    dict(
                        common,
                        prompts=prompts[:count],
                        ctx=ctx,
                        parallel=parallel,
                        constrain=args.constrain,
                        no_shared_prefix=args.no_shared_prefix,
                    ),
                )
                record(name, engine)
                if args.interleave and "llama-loop" in systems:
                    after = loop()
                    loop_tok_s = (before["gen_tok_s"] + after["gen_tok_s"]) / 2
                    loop_tok_cpu_s = (before["gen_tok_cpu_s"] + after["gen_tok_cpu_s"]) / 2
                    print(
                        f"{name}: {engine['gen_tok_s'] / loop_tok_s:.2f}x the loop in generated tokens per "
                        f"second of wall time ({engine['gen_tok_s']:.2f} against {before['gen_tok_s']:.2f} before, "
                        f"{after['gen_tok_s']:.2f} after), {engine['gen_tok_cpu_s'] / loop_tok_cpu_s:.2f}x per "
                        f"second of CPU time ({engine['gen_tok_cpu_s']:.2f} against {before['gen_tok_cpu_s']:.2f}, "
                        f"{after['gen_tok_cpu_s']:.2f})",
                        file=sys.stderr,
                        flush=True,
                    )
                    before = after
        if "transformers" in systems and args.checkpoint:
            prompt_ids = [run_worker_tokens(args.model, p) for p in baseline_prompts]
            record(
                "transformers",
                run_worker(
                    "transformers",
                    dict(common, prompt_ids=prompt_ids, checkpoint=args.checkpoint, torch_dtype=args.torch_dtype),
                ),
            )
        if "batched-bench" in systems and args.batched_bench:
            prompt_tokens = len(run_worker_tokens(args.model, prompts[0]))
            for row in batched_bench(
                args.batched_bench, args.model, prompt_tokens, args.new_tokens, parallels, args.threads
            ):
                record(row["system"], row)
        if "llama-loop" in systems and args.bracket:
            loop()
    if "toy" in systems:
        for parallel in [int(p) for p in args.toy_parallel.split(",")]:
            for constrain in (False, True):
                record(
                    f"toy-{parallel}-{'constrain' if constrain else 'no-constrain'}",
                    run_worker(
                        "toy",
                        dict(
                            parallel=parallel, threads=args.threads, constrain=constrain, num_samples=args.toy_samples
                        ),
                    ),
                )


def run_worker_prompts(model: str, count: int, passage_tokens: int) -> list[str]:
    return make_prompts(model, count, passage_tokens)


def run_worker_tokens(model: str, prompt: str) -> list[int]:
    from bonito_lite.engines import llama_handles as llama

    with llama.Model(model, vocab_only=True) as vocab_model:
        return vocab_model.vocab.tokenize(prompt, add_bos=True)


if __name__ == "__main__":
    main()
