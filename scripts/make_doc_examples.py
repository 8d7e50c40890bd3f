"""Write the README's PDF and Word examples into ``examples/docs/``.

    python scripts/make_doc_examples.py

Each is a short fictional document laid out the way real ones are, so that the README's
docs command shows what reading them leaves out and where passages start:

- ``report.pdf``: two pages under a running header with the page number, an outline
  (bookmarks) that names the sections, and a word hyphenated at a line end;
- ``handbook.docx``: Word's Title and Heading styles, a table, a spacing paragraph;
- ``page.html`` (written by hand, not by this script): a wiki page with navigation, a
  cookie banner and a footer around its ``<main>``, which hold no passage text.

The PDF is written byte by byte (``tests/pdf_factory.py``), the Word file with python-docx (the
docs extra). Word files hold a timestamp, so a rerun changes bytes but not text.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pdf_factory import make_pdf, paginated  # noqa: E402

OUTPUT = ROOT / "examples" / "docs"

REPORT_PAGES = [
    [
        "Harbor Street pilot: report to the town council",
        "",
        "Summary",
        "The town council of Millbrook closed Harbor Street to cars on weekends from June",
        "to September as a pilot. Footfall in the street's shops rose by a fifth against the",
        "same months of the year before, and the market on the old quay doubled its stalls.",
        "",
        "Traffic",
        "Cars that used Harbor Street moved to Mill Lane, where the average weekend queue at",
        "the bridge grew from four minutes to eleven. The council's traffic officer, Dana",
        "Whitfield, counted 1,240 cars on a typical Saturday, against 980 before the pilot.",
    ],
    [
        "Residents",
        "Residents of the streets around the quay complained that parking was already scarce",
        "and got worse. Of the 212 replies to the council's survey, 131 asked for the pilot to",
        "continue and 64 for it to end; the rest had no view. Most who asked for it to end",
        "lived within two hundred metres of the closed section and named the evening deli-",
        "veries as the main nuisance.",
        "",
        "Recommendation",
        "The report recommends closing Harbor Street again next summer, with a loading window",
        "from 6:00 to 9:00 for the shops and twenty residents' permits for Mill Lane.",
    ],
]
REPORT_OUTLINE = [("Summary", 0), ("Traffic", 0), ("Residents", 1), ("Recommendation", 1)]


def write_report(folder: Path) -> Path:
    pages = paginated(REPORT_PAGES, header="Millbrook town council, October 2026")
    path = folder / "report.pdf"
    path.write_bytes(make_pdf(pages, REPORT_OUTLINE))
    return path


def write_handbook(folder: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Millbrook library: lending handbook", 0)
    document.add_paragraph(
        "This handbook is for the staff at the lending desk. It describes the rules as the library "
        "board set them in January; everything in it is a fictional example."
    )
    document.add_heading("Loans", 1)
    document.add_paragraph(
        "Members may borrow up to twelve items at a time. Books are lent for three weeks and films for "
        "one week; a loan can be renewed twice unless another member has reserved the item."
    )
    document.add_paragraph("")  # a spacing paragraph, as Word users make them
    table = document.add_table(rows=3, cols=2)
    for row, (item, fee) in enumerate([("Item", "Late fee per day"), ("Book", "0.20 EUR"), ("Film", "1.00 EUR")]):
        table.cell(row, 0).text, table.cell(row, 1).text = item, fee
    document.add_heading("Lost items", 1)
    document.add_paragraph(
        "A member who loses an item pays its replacement price and a processing fee of five euros. "
        "If the item turns up within three months, the replacement price is paid back."
    )
    path = folder / "handbook.docx"
    document.save(path)
    return path


def main() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for write in (write_report, write_handbook):
        path = write(OUTPUT)
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
