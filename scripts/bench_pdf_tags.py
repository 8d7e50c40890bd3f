"""Time reading a tagged PDF (printed by Chromium) with its tagged headings and without, in one run.

    python scripts/bench_pdf_tags.py --sections 300 --repeats 2 --workdir bench-tags

The page is ``--sections`` sections, each an ``h2`` and twelve paragraphs of about 60 words,
printed to PDF by headless Chromium (Debian's package, networking off, as the tests run it):
a tagged PDF whose structure tree marks the headings, as Word's and LibreOffice's do. Each
reading runs in a fresh process, cutting passages with a word counter (the reader and the
chunker alone, no model), once as the reader runs and once with the structure tree ignored,
alternating; the figures are the child's CPU time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the clinic opens at seven and the desk team checks every booking before patients arrive".split()

_READ = """
import json, resource, sys, time
from bonito_lite.inputs.documents import find_documents, iter_passages
from bonito_lite.inputs.readers import pdf
if sys.argv[2] == "untagged":
    pdf.tagged_headings = lambda reader, source: {}
start = time.process_time()
n = sum(1 for _ in iter_passages(find_documents([sys.argv[1]]), count_tokens=lambda s: len(s.split()), chunk_tokens=300))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"passages": n, "cpu": time.process_time() - start, "peak_mb": peak}))
"""


def write_pdf(workdir: Path, sections: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    import headless_browser

    rng = random.Random(0)
    parts = ["<html lang='en'><meta charset='utf-8'><body style='font:11pt serif'>"]
    for number in range(sections):
        parts.append(f"<h2>Section {number} on <em>bookings</em></h2>")
        parts += ["<p>" + " ".join(rng.choice(WORDS) for _ in range(60)) + ".</p>" for _ in range(12)]
    html = workdir / "sections.html"
    html.write_text("".join(parts) + "</body></html>", encoding="utf-8")
    pdf = workdir / "sections.pdf"
    chromium = headless_browser.find_chromium()
    if chromium is None:
        sys.exit(f"needs chromium ({headless_browser.INSTALL})")
    return headless_browser.print_to_pdf(chromium, html, pdf, workdir / "browser")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("bench-tags"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    pdf = write_pdf(args.workdir, args.sections)
    runs: dict[str, list[dict]] = {"tagged": [], "untagged": []}
    for _ in range(args.repeats):
        for mode in runs:
            out = subprocess.run(
                [sys.executable, "-c", _READ, str(pdf), mode], capture_output=True, text=True, check=True, cwd=ROOT
            )
            runs[mode].append(json.loads(out.stdout))
    for mode, results in runs.items():
        cpu = statistics.median(r["cpu"] for r in results)
        print(
            f"{mode}: {results[0]['passages']} passages, CPU {cpu:.1f} s, peak {max(r['peak_mb'] for r in results)} MB"
        )
    ratio = statistics.median(r["cpu"] for r in runs["tagged"]) / statistics.median(r["cpu"] for r in runs["untagged"])
    print(f"tagged / untagged CPU: {ratio:.2f}")


if __name__ == "__main__":
    main()
