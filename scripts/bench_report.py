"""Time and peak memory of ``bonito-lite report`` against ``bonito-lite export`` on the same output.

Builds an output of N records from a real one (a toy run's examples, rejects and manifest):
record i repeats seed record i mod n with the words of its instruction and answer shuffled
(so instructions differ, as a real model's do), spread over 50 files of passages; a fifth as
many rejects. Then runs each command in its own process and reads its CPU time and peak RSS
from the kernel (``os.wait4``):

    bonito-lite generate examples/sample_notes.md -t all --model toy --num-samples 2 -o seed.jsonl
    python scripts/bench_report.py seed.jsonl --records 100000 --workdir bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bonito_lite.sinks import manifest_path, rejected_path


def shuffled(record: dict, rng: random.Random, number: int, files: int, per_file: int) -> dict:
    record = dict(record)
    context = record.get("context", "")
    if "input" in record:
        instruction = record["input"].replace(context, "").split()
        rng.shuffle(instruction)
        record["input"] = context + "\n\n" + " ".join(instruction)
        answer = record["output"].split()
        rng.shuffle(answer)
        record["output"] = " ".join(answer)
    passage = number // 16
    record["source"] = f"docs/file{passage // per_file % files:02d}.md"
    record["passage_index"] = passage % per_file
    record["char_start"] = 1000 * record["passage_index"]
    record["char_end"] = record["char_start"] + len(context)
    return record


def build(seed: Path, target: Path, records: int) -> None:
    rng = random.Random(0)
    examples = [json.loads(line) for line in seed.read_text(encoding="utf-8").splitlines()]
    rejects = [json.loads(line) for line in rejected_path(seed).read_text(encoding="utf-8").splitlines()]
    files = 50
    per_file = max(records // 16 // files, 1)
    with open(target, "w", encoding="utf-8") as out:
        for i in range(records):
            out.write(json.dumps(shuffled(examples[i % len(examples)], rng, i, files, per_file)) + "\n")
    with open(rejected_path(target), "w", encoding="utf-8") as out:
        for i in range(records // 5):
            out.write(json.dumps(shuffled(rejects[i % len(rejects)], rng, 5 * i, files, per_file)) + "\n")
    manifest = json.loads(manifest_path(seed).read_text(encoding="utf-8"))
    manifest["counts"] = {"parsed": records, "rejected": {}}  # the report notes the mismatch; no matter
    manifest_path(target).write_text(json.dumps(manifest), encoding="utf-8")


def measure(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in MB of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=Path, help="a bonito-lite output with its rejects file and manifest")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("bench-report"))
    args = parser.parse_args()
    args.workdir.mkdir(exist_ok=True)
    output = args.workdir / "notes.bonito.jsonl"
    build(args.seed, output, args.records)
    print(
        f"{args.records} records, {output.stat().st_size / 1e6:.1f} MB, "
        f"{rejected_path(output).stat().st_size / 1e6:.1f} MB of rejects"
    )
    cli = [sys.executable, "-m", "bonito_lite"]
    runs = {
        "export --format alpaca": cli + ["export", str(output), "--format", "alpaca", "--overwrite"],
        "export --format parquet": cli + ["export", str(output), "--format", "parquet", "--overwrite"],
        "report": cli + ["report", str(output), "--overwrite"],
    }
    results = {name: measure(command) for name, command in runs.items()}
    page = output.with_name("notes.bonito.report.html")
    base = results["export --format alpaca"]
    print(f"{'command':<26}{'wall s':>8}{'CPU s':>8}{'peak MB':>9}{'CPU vs alpaca':>15}")
    for name, (wall, cpu, rss) in results.items():
        print(f"{name:<26}{wall:>8.1f}{cpu:>8.1f}{rss:>9.0f}{cpu / base[1]:>14.1f}x")
    print(f"page: {page.stat().st_size / 1e6:.2f} MB")
    shutil.rmtree(output.with_name("notes.bonito.hf"), ignore_errors=True)


if __name__ == "__main__":
    main()
