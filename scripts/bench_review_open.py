#!/usr/bin/env python3
"""Time from ``bonito-lite review`` starting to its first screen, on a large output.

Writes an output of N generate-shaped records (a passage of about 600 characters each)
with a rejects file, then measures, in this one process:

  full parse    every line read and parsed with json.loads: what a review that loaded
                the file before drawing would pay first (the baseline)
  first screen  the sidecar opened and the Textual app (headless, 100×40) up with the
                first example's widgets filled in; the background index starts after
  full index    the background index done: every line found and its unit read

each as wall and CPU seconds, and prints them with ratios to the full parse. The app
opens on the first example, so the first screen does not grow with the file.

    python scripts/bench_review_open.py --examples 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bonito_lite.review import build_app
from bonito_lite.review.store import ReviewStore


def write_output(folder: Path, count: int) -> Path:
    passage = (
        "The Alder Creek clinic opens at 7:30 on weekdays and closes at 17:30. Dr. Amal Haddad "
        "leads the morning team, and new patients must arrive fifteen minutes early to fill in "
        "the intake form. "
    ) * 3
    output = folder / "big.bonito.jsonl"
    with open(output, "w", encoding="utf-8") as handle:
        for number in range(count):
            record = {
                "input": f"{passage}\n\nQuestion {number}: when does the clinic open?",
                "output": "7:30",
                "task_type": "extractive question answering",
                "context": passage,
                "source": "notes.md",
                "passage_index": number,
                "char_start": 0,
                "char_end": len(passage),
                "sample_index": 0,
                "model": "toy-bonito.gguf",
                "seed": 0,
                "unit": f"{number:016x}",
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    rejected = {"reason": "empty", "detail": "no words", **record, "unit": "f" * 16}
    (folder / "big.bonito.rejected.jsonl").write_text(json.dumps(rejected) + "\n", encoding="utf-8")
    return output


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def full_parse(output: Path) -> int:
    with open(output, "rb") as handle:
        return sum(1 for line in handle if json.loads(line))


async def first_screen(output: Path) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    store = ReviewStore.open(output)
    app = build_app(output, store)
    shown: dict[str, float] = {}
    draw = app.show

    def show_and_time() -> None:
        # The first example's widgets are filled in: what the next frame puts on screen.
        draw()
        if not shown:
            shown.update(
                wall=time.perf_counter() - wall,
                cpu=time.process_time() - cpu,
                indexed_at_first_screen=app.view.records.known,
            )

    app.show = show_and_time
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert "Example 1 of" in str(app.main.query_one("#status").render())
        await app.workers.wait_for_complete()
        shown["index_wall"] = time.perf_counter() - wall
        shown["index_cpu"] = time.process_time() - cpu
        assert app.view.records.complete
    store.close()
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        output = write_output(Path(folder), args.examples)
        size_mb = output.stat().st_size / 1e6
        count, parse_wall, parse_cpu = timed(lambda: full_parse(output))
        screen = asyncio.run(first_screen(output))
    print(f"{count:,} examples, {size_mb:.0f} MB")
    print("| step | wall s | CPU s | CPU vs full parse |")
    print("|---|---|---|---|")
    print(f"| full parse (baseline) | {parse_wall:.2f} | {parse_cpu:.2f} | 1.00 |")
    print(f"| first screen | {screen['wall']:.2f} | {screen['cpu']:.2f} | {screen['cpu'] / parse_cpu:.2f} |")
    print(
        f"| full index, in the background | {screen['index_wall']:.2f} | {screen['index_cpu']:.2f} | "
        f"{screen['index_cpu'] / parse_cpu:.2f} |"
    )
    print(f"lines indexed when the first screen was drawn: {screen['indexed_at_first_screen']:,}")


if __name__ == "__main__":
    main()
