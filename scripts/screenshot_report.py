"""The README's screenshot: the report on the toy's run over examples/sample_notes.md, as headless Chromium shows it.

    python scripts/screenshot_report.py                    # generates, reports, writes docs/report.png
    python scripts/screenshot_report.py --from OUT.jsonl   # reports an output you already have

Generates with the bundled toy (every task type, two samples per passage; a few minutes on a
laptop CPU), writes the report, opens it in Chromium (Debian's ``chromium``) with networking
off, and keeps the top of the page as a small palette PNG.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Headless Chromium is opened as the report's browser test opens it.
sys.path.insert(0, str(ROOT / "tests"))
from headless_browser import INSTALL, browse, find_chromium  # noqa: E402  (a test helper, not part of the package)

WIDTH = 1200


def screenshot(page: Path, png: Path, height: int, work: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        sys.exit(f"needs Chromium: {INSTALL}")
    browse(chromium, page, work, f"--screenshot={png}", width=WIDTH, height=height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="an existing bonito-lite output")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--height", type=int, default=2300, help="pixels of the page's top to keep")
    args = parser.parse_args()
    from PIL import Image

    cli = [sys.executable, "-m", "bonito_lite"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = args.source
        if source is None:
            source = work / "sample_notes.bonito.jsonl"
            # From the checkout, so that records name examples/sample_notes.md as a user's would.
            subprocess.run(
                cli
                + [
                    "generate",
                    "examples/sample_notes.md",
                    "-t",
                    "all",
                    "--model",
                    "toy",
                    "--num-samples",
                    "2",
                    "-o",
                    str(source),
                    "--quiet",
                ],
                check=True,
                cwd=ROOT,
            )
        page = work / "report.html"
        # From the output's folder, so that the page names it as a user's would.
        subprocess.run(cli + ["report", source.name, "-o", str(page)], check=True, cwd=source.parent)
        shot = work / "shot.png"
        screenshot(page, shot, args.height, work)
        # A palette of 128 colours keeps text and charts sharp at a fraction of the size.
        image = Image.open(shot).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        image.save(args.output, optimize=True)
    print(f"Wrote {args.output} ({args.output.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
