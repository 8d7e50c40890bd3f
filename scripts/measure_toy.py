"""How many examples the toy Bonito keeps, per task type, on documents it was not trained on.

Runs the project's own ``bonito-lite generate -t all`` with its defaults (chunking, the
llama.cpp engine, the pipe grammar, the parser and the quality filters; fixed seed) over the
held-out documents: the README's quick-start
document (``examples/sample_notes.md``) and the short documents of ``tests/data/toy_heldout/``
(the tests' clinic note, deploy wiki and contract clause, the README's clinic passage, and
paragraphs of prose written for this measurement: history, a recipe, nature, a library
policy, a council report, an onboarding email). None of them comes from the training corpus.

    python scripts/measure_toy.py                    # the bundled toy, 2 samples per passage
    python scripts/measure_toy.py --model other.gguf --samples 1 --seed 3
    python scripts/measure_toy.py --model other.gguf --samples 8 -s 3 -s 4 -s 5 -s 6 -t exqa -t mcqa

Prints kept / generated per task type, the share kept, and the target each type is held to;
with several seeds, one run each, their sums and each seed's count kept. Two samples make 30
generations per type, whose share moves by about 15 points from one seed to the next; to
choose between two models, use ``--samples 8`` and four seeds, 480 generations a type (two
seeds, 240, once read noise as a loss: BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bonito_lite.errors import UnknownTaskTypeError
from bonito_lite.filters import ANSWER_NOT_IN_PASSAGE, normalise
from bonito_lite.sinks import manifest_path, rejected_path
from bonito_lite.task_types import TASK_TYPES, resolve_task_types

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = (ROOT / "examples" / "sample_notes.md", *sorted((ROOT / "tests" / "data" / "toy_heldout").glob("*.txt")))

# Share of generations each task type should keep (by short form); every other type: OTHER_TARGET.
TARGETS = {"exqa": 0.5, "ynqa": 0.8, "mcqa": 0.7}
OTHER_TARGET = 0.85


def answer_miss(answer: str, passage: str) -> str:
    """How an extractive answer that is not a whole-word span of its passage misses it, word
    by word (normalised as the filter does): ``invented`` (its first word is nowhere in the
    passage: an answer from memory, or to a garbled question), ``strays`` (it opens with words
    of the passage, then leaves it: a copy that went wrong) or ``part-word`` (all of it is in
    the passage, but not as whole words: "Rivers" for "Riverside")."""
    words, passage = normalise(answer).split(), normalise(passage)
    copied = 0
    while copied < len(words) and " ".join(words[: copied + 1]) in passage:
        copied += 1
    return "invented" if not copied else "part-word" if copied == len(words) else "strays"


def measure(
    model: str,
    samples: int,
    seed: int,
    threads: int | None = None,
    documents=HELD_OUT,
    task_types: tuple[str, ...] = ("all",),
) -> tuple[dict[str, tuple[int, int, dict]], collections.Counter]:
    """(kept, generated, rejections by reason) per task type's full name (of ``task_types``,
    as ``-t`` takes them), from the manifest of one ``bonito-lite generate`` run with the
    command's defaults, and how the extractive answers not in their passage miss it
    (:func:`answer_miss`)."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "heldout.jsonl"
        command = [
            sys.executable,
            "-m",
            "bonito_lite",
            "generate",
            *map(str, documents),
            *(option for task_type in task_types for option in ("-t", task_type)),
            "--model",
            model,
            "--num-samples",
            str(samples),
            "--seed",
            str(seed),
            "-o",
            str(output),
            "-q",
        ]
        if threads:
            command += ["--threads", str(threads)]
        subprocess.run(command, check=True)
        by_task = json.loads(manifest_path(output).read_text(encoding="utf-8"))["counts"]["by_task_type"]
        misses = collections.Counter()
        with rejected_path(output).open(encoding="utf-8") as rejects:
            for line in rejects:
                reject = json.loads(line)
                if reject["reason"] == ANSWER_NOT_IN_PASSAGE:
                    misses[answer_miss(reject["output"], reject["context"])] += 1
    out = {}
    for task in _chosen(task_types):
        counts = by_task.get(task.full_name, {"kept": 0, "rejected": {}})
        kept, rejected = counts["kept"], counts["rejected"]
        out[task.full_name] = (kept, kept + sum(rejected.values()), rejected)
    return out, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy", help="GGUF file, or 'toy' for the bundled model")
    parser.add_argument("--samples", type=int, default=2, help="samples per passage and task type")
    parser.add_argument(
        "-s", "--seed", type=int, action="append", help="sampling seed; repeat to sum runs [default: 0]"
    )
    parser.add_argument(
        "-t",
        "--task-type",
        action="append",
        help="task type to measure, as generate takes it; repeatable [default: all]",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama.cpp threads (default: the command's; 1 is quicker on a busy machine)",
    )
    args = parser.parse_args()
    seeds = args.seed or [0]
    task_types = tuple(args.task_type or ["all"])
    try:
        tasks = _chosen(task_types)
    except UnknownTaskTypeError as error:
        parser.error(str(error))

    started = time.monotonic()
    runs = [measure(args.model, args.samples, seed, args.threads, task_types=task_types) for seed in seeds]
    misses = sum((run_misses for _, run_misses in runs), collections.Counter())
    missed = 0
    print(f"{'task type':40} {'kept':>9} {'share':>6} {'target':>6}  rejected")
    for task in tasks:
        per_seed = [results[task.full_name] for results, _ in runs]
        kept, total = sum(r[0] for r in per_seed), sum(r[1] for r in per_seed)
        rejected = sum((collections.Counter(r[2]) for r in per_seed), collections.Counter())
        target = TARGETS.get(task.short, OTHER_TARGET)
        share = kept / total if total else 0.0
        missed += share < target
        reasons = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common())
        seed_counts = f" ({' + '.join(str(r[0]) for r in per_seed)})" if len(seeds) > 1 else ""
        flag = "" if share >= target else "  <- below target"
        print(f"{task.full_name:40} {kept:>4}/{total:<4} {share:>6.0%} {target:>6.0%}  {reasons}{seed_counts}{flag}")
    kept = sum(r[0] for results, _ in runs for r in results.values())
    total = sum(r[1] for results, _ in runs for r in results.values())
    print(f"{'all':40} {kept:>4}/{total:<4} {kept / max(1, total):>6.0%}")
    if misses:
        print("extractive answers not in the passage: " + ", ".join(f"{kind} {n}" for kind, n in misses.most_common()))
    print(
        f"{len(HELD_OUT)} documents, {args.samples} sample(s) per passage and task type, "
        f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}, "
        f"{time.monotonic() - started:.0f} s; {missed} task type(s) below target"
    )


def _chosen(task_types: tuple[str, ...]):
    """The task types ``-t`` names ("all": every one), in the table's order."""
    chosen = resolve_task_types(task_types)
    return tuple(task for task in TASK_TYPES if task in chosen)


if __name__ == "__main__":
    main()
