"""Time reading a table of each kind and a text file into passages, with this checkout's
readers and another checkout's, alternating, in one run.

    python scripts/bench_readers.py --against ../other-checkout --rows 20000 --repeats 3

The files are written once: JSON Lines, JSON, CSV and Parquet tables of ``--rows`` rows (a
paragraph of about 60 words in each), a Markdown file of the same paragraphs, and an HTML page
of a twentieth of them (a site menu, then an article whose paragraphs each hold a link; the
HTML reader's library parses a page whole, about 1.5 s a megabyte). Each reading
runs in a fresh process with one checkout first on its path, cutting passages with a word
counter (the readers and the chunker alone, no model); the figure is the child's CPU time,
which a loaded machine disturbs less than wall time. The PDF and DOCX readers spend their
time in their libraries; scripts/bench_documents.py measures PDFs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAGRAPH = (
    "Row {n}: the clinic on Harbour Street opens at 7:30 on weekdays and 9:00 on Saturdays. "
    "Patients without an appointment are seen in the order they arrive, after those with one. "
    "Parking is free in the north lot after 10:00; the bus stops at the door every twenty minutes."
)

_READ = """
import sys
from bonito_lite.inputs.documents import find_documents, iter_passages
n = 0
for p in iter_passages(find_documents([sys.argv[1]]), count_tokens=lambda s: len(s.split()), chunk_tokens=300):
    n += 1
print(n)
"""


def write_files(folder: Path, rows: int) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"id": n, "text": PARAGRAPH.format(n=n)} for n in range(rows)]
    jsonl, as_json, as_csv, parquet, text = (
        folder / "rows.jsonl",
        folder / "rows.json",
        folder / "rows.csv",
        folder / "rows.parquet",
        folder / "notes.md",
    )
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    as_json.write_text(json.dumps(records), encoding="utf-8")
    with open(as_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows(records)
    pq.write_table(pa.Table.from_pylist(records), parquet)
    text.write_text("\n\n".join(r["text"] for r in records), encoding="utf-8")
    page = folder / "page.html"
    menu = "".join(f'<li><a href="p{n}.html">Section {n}</a></li>' for n in range(40))
    body = "".join(
        f'<h2>Notice {r["id"]}</h2><p>{r["text"]} See <a href="n{r["id"]}.html">the notice</a>.</p>'
        for r in records[: max(1, rows // 20)]
    )
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Notices</title></head><body>'
        f'<nav><ul>{menu}</ul></nav><div class="sidebar"><ul>{menu}</ul></div><main><article>{body}</article></main>'
        "<footer><p>Copyright Harbour Clinic</p></footer></body></html>",
        encoding="utf-8",
    )
    return [jsonl, as_json, as_csv, parquet, text, page]


def cpu_seconds(checkout: Path, target: Path) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, "-c", _READ, str(target)],
        check=True,
        capture_output=True,
        text=True,
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
    ).stdout.strip()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (its root folder)")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ours, theirs = ROOT, args.against.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), args.rows)
        print(f"{'file':<14} {'passages':>8} {'this (s)':>9} {'other (s)':>9} {'ratio':>6}")
        for path in files:
            times: dict[Path, list[float]] = {ours: [], theirs: []}
            counts = set()
            for _ in range(args.repeats):
                for checkout in (ours, theirs):
                    seconds, count = cpu_seconds(checkout, path)
                    times[checkout].append(seconds)
                    counts.add(count)
            if len(counts) != 1:
                sys.exit(f"{path.name}: the checkouts cut different numbers of passages: {sorted(counts)}")
            mine, other = statistics.median(times[ours]), statistics.median(times[theirs])
            print(f"{path.name:<14} {counts.pop():>8} {mine:>9.2f} {other:>9.2f} {mine / other:>6.2f}")


if __name__ == "__main__":
    main()
