"""Time reading a generated PDF into passages, and its peak memory, page count by page count.

    python scripts/bench_documents.py --pages 100 1000 --workdir bench-docs

Each PDF has dense text pages (a heading line and 45 lines, about 700 words) and an outline
entry per page, written by the tests' own PDF writer. Reading runs in a fresh process per
file, cutting passages with a word counter (the reader and the chunker alone, no model); a
process that only imports the same modules gives the baseline memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = "The café serves espresso, tea and pastries; the clinic opens at 7:30 on weekdays."

_READ = """
import json, sys, time
from bonito_lite.inputs.documents import find_documents, iter_passages
import pypdf
start = time.perf_counter()
n = chars = 0
if sys.argv[1] != "-":
    for p in iter_passages(find_documents([sys.argv[1]]), count_tokens=lambda s: len(s.split()),
                           chunk_tokens=int(sys.argv[2])):
        n += 1
        chars += len(p.text)
print(json.dumps({"passages": n, "chars": chars, "seconds": time.perf_counter() - start}))
"""


def write_pdf(path: Path, pages: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from pdf_factory import make_pdf

    content = [[f"Section {i + 1}"] + [f"{LINE} Line {k}." for k in range(45)] for i in range(pages)]
    path.write_bytes(make_pdf(content, outline=[(f"Section {i + 1}", i) for i in range(pages)]))


def measure(target: str, chunk_tokens: int) -> dict:
    """Run the reading in a child process; its peak RSS is the largest of the children so far."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _READ, target, str(chunk_tokens)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    result = json.loads(out)
    result["wall_seconds"] = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_rss_mb"] = peak / 1024 if peak > before else None  # Linux: KB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[100])
    parser.add_argument("--chunk-tokens", type=int, default=300, help="budget in words")
    parser.add_argument("--workdir", type=Path, default=Path("bench-docs"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    # The smallest process first, so that each later peak is its own (peaks only grow).
    print("baseline (imports only):", json.dumps(measure("-", args.chunk_tokens)))
    for pages in sorted(args.pages):
        path = args.workdir / f"pages-{pages}.pdf"
        write_pdf(path, pages)
        result = measure(str(path), args.chunk_tokens)
        result.update(pages=pages, file_mb=round(path.stat().st_size / 1e6, 2))
        print(json.dumps(result))


if __name__ == "__main__":
    main()
