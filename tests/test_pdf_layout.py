"""PDF pages read as a reader reads them: without page numbers, running headers and footers,
with hyphenated words whole, without the table of contents and the index, and with numbered
section lines found by their bookmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonito_lite.inputs.documents import find_documents, iter_passages

import headless_browser
from pdf_factory import make_pdf, paginated

FRONT = [
    ["Widget Manual", "For widget version 2"],
    [
        "Table of Contents",
        "1 Introduction . . . . . . . . . . . . 1",
        "2 Setup . . . . . . . . . . . . . . . . 2",
        "2.1 Building . . . . . . . . . . . . 3",
        "Index . . . . . . . . . . . . . . . . . 5",
    ],
]
CHAPTERS = [
    [
        "1 Introduction",
        "Widgets keep records of every sale. The record manip-",
        "ulation functions are thread-safe.",
        "Each record holds a date and an amount.",
    ],
    ["A record is written once and never changed.", "Corrections are new records."],
    ["2 Setup", "Setup takes a minute on any machine.", "2.1 Building", "Run make, then make install."],
    ["The build needs a C compiler.", "Tests run with make check."],
]
INDEX = [
    [
        "Index",
        "building . . . . . . . . 3",
        "records . . . . . . . . 1",
        "setup . . . . . . . . . 3",
        "thread safety . . . . . 1",
    ]
]
OUTLINE = [("Introduction", 2), ("Setup", 4), ("Building", 4), ("Index", 6)]


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def manual(tmp_path) -> Path:
    # Chapter pages carry a running header ending in the page number and a running footer;
    # the first page of each chapter has only its number, as texinfo and LaTeX print them.
    pages = FRONT + paginated(CHAPTERS, header="Chapter 1: Introduction", footer="Widget Manual")
    pages[2][0] = "1"
    pages[4][0] = "3"
    pages += paginated(INDEX, first_number=5)
    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf(pages, outline=OUTLINE))
    return path


def read(path: Path):
    documents = list(find_documents([str(path)]))
    texts = {d.source: d.read_text() for d in documents}
    passages = list(iter_passages(documents, count_tokens=words, chunk_tokens=200))
    return texts, passages


def test_page_numbers_running_headers_and_footers_are_dropped(manual):
    texts, _ = read(manual)
    chapter_text = "\n".join(texts[f"{manual}#page={n}"] for n in (3, 4, 5, 6))
    assert "Chapter 1: Introduction" not in chapter_text
    assert "Widget Manual" not in chapter_text
    for text in texts.values():
        assert not any(line.strip().isdigit() for line in text.splitlines())
    assert texts[f"{manual}#page=4"] == ("A record is written once and never changed.\nCorrections are new records.\n")


def test_the_title_on_the_first_page_is_kept_when_later_pages_repeat_it_as_furniture(manual, tmp_path):
    # The manual's title is the running footer of its chapter pages.
    texts, _ = read(manual)
    assert texts[f"{manual}#page=1"] == "Widget Manual\nFor widget version 2"
    # Only the first line is the title's place: a short first page's footer is still left out.
    pages = [["Widget Manual", "Acme Corp confidential"]]
    pages += [[f"Step {word}.", "Acme Corp confidential"] for word in ("one", "two", "three", "four")]
    path = tmp_path / "short.pdf"
    path.write_bytes(make_pdf(pages))
    texts, _ = read(path)
    assert [text.strip() for text in texts.values()] == [
        "Widget Manual",
        "Step one.",
        "Step two.",
        "Step three.",
        "Step four.",
    ]
    # A report whose title is the running header of every page, the first one's included,
    # and whose first page also carries the header's number: read once, without the number.
    bodies = [["Annual Report 2025", "Revenue grew."], ["Costs fell."], ["Staff grew."]]
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(paginated(bodies, header="Quarterly figures")))
    texts, _ = read(path)
    expected = ["Annual Report 2025\nRevenue grew.", "Costs fell.", "Staff grew."]
    assert [text.strip() for text in texts.values()] == expected
    pages = [["Annual Report 2025", "Revenue grew.", "Page 1"], ["Annual Report 2025", "Costs fell.", "Page 2"]]
    pages.append(["Annual Report 2025", "Staff grew.", "Page 3"])
    path.write_bytes(make_pdf(pages))
    texts, _ = read(path)
    assert [text.strip() for text in texts.values()] == expected


def test_a_two_page_documents_running_header_and_footer_are_dropped_and_numbered_text_kept(tmp_path):
    bodies = [["Minutes of the May meeting", "The board met."], ["Minutes, continued", "It adjourned."]]
    path = tmp_path / "two.pdf"
    path.write_bytes(make_pdf(paginated(bodies, header="Board minutes, May")))
    texts, _ = read(path)
    # One neighbour is enough for a header that counts the pages with it.
    assert texts[f"{path}#page=1"] == "Minutes of the May meeting\nThe board met."
    assert texts[f"{path}#page=2"] == "Minutes, continued\nIt adjourned."
    # A header and footer without numbers: the same words at the same edge of both pages.
    memo = [["ACME Corp internal memo", "Page one text.", "Confidential - do not distribute"]]
    memo.append(["ACME Corp internal memo", "Page two text.", "Confidential - do not distribute"])
    path.write_bytes(make_pdf(memo))
    texts, _ = read(path)
    # The first page keeps its top line: that is where a document's title stands.
    assert [text.strip() for text in texts.values()] == ["ACME Corp internal memo\nPage one text.", "Page two text."]
    # Lines that count with the pages but are text: a step, a list running on, a year, and
    # a line at the bottom of one page repeated at the top of the next.
    for pages in (
        [["Step 1", "Do this."], ["Step 2", "Do that."]],
        [["Press the switch.", "3. Press power"], ["4. Wait for the light", "Done."]],
        [["Revenue 2023", "Up."], ["Revenue 2024", "Down."]],
        [["Intro.", "Signed by the board"], ["Signed by the board", "More."]],
    ):
        path.write_bytes(make_pdf(pages))
        texts, _ = read(path)
        assert list(texts.values()) == ["\n".join(page) for page in pages]


def test_a_word_hyphenated_across_a_line_end_is_whole_again(manual):
    texts, _ = read(manual)
    page = texts[f"{manual}#page=3"]
    assert "record manipulation functions are thread-safe." in page
    assert "manip-" not in page


def test_contents_and_index_pages_are_not_read(manual):
    texts, _ = read(manual)
    assert sorted(texts, key=lambda s: int(s.rsplit("=", 1)[1])) == [f"{manual}#page={n}" for n in (1, 3, 4, 5, 6)]


def test_numbered_section_lines_matching_bookmarks_start_passages(manual):
    texts, passages = read(manual)
    on_page_5 = [p.text for p in passages if p.source == f"{manual}#page=5"]
    assert on_page_5 == [
        "2 Setup\n\nSetup takes a minute on any machine.",
        "2.1 Building\n\nRun make, then make install.",
    ]
    assert [p.text for p in passages if p.source == f"{manual}#page=3"][0].startswith("1 Introduction\n\n")
    # Offsets index the page's text as read: cleaned, blocks a blank line apart.
    for passage in passages:
        assert texts[passage.source][passage.char_start : passage.char_end] == passage.text


def test_lines_that_do_not_repeat_or_count_pages_are_kept(tmp_path):
    # Three pages whose first lines look alike only once, and whose numbers count nothing.
    pages = [
        ["Revenue rose in 2023", "Sales were strong."],
        ["Costs fell by 12", "Suppliers cut prices."],
        ["Revenue rose in 2024", "Sales were stronger.", "See table 7"],
    ]
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(pages))
    texts, _ = read(path)
    assert [t.splitlines() for t in texts.values()] == pages


def test_a_table_of_numbers_and_a_price_list_are_text_and_a_skipped_contents_page_is_told(tmp_path, caplog):
    path = tmp_path / "report.pdf"
    path.write_bytes(
        make_pdf(
            [
                ["Visits in 2023", "Department Visits", "Cardiology 1,204", "Oncology 2,310", "Emergency 12,480"],
                [
                    "Fees from June",
                    "General consultation . . . . . . . . 45",
                    "Follow-up visit . . . . . . . . 30",
                    "Blood test . . . . . . . . 25",
                    "X-ray . . . . . . . . 80",
                ],
                *FRONT[1:],
            ]
        )
    )
    texts, _ = read(path)
    assert sorted(texts) == [f"{path}#page=1", f"{path}#page=2"]
    assert "Emergency 12,480" in texts[f"{path}#page=1"]
    assert "X-ray . . . . . . . . 80" in texts[f"{path}#page=2"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{path}: page 3 read as a table of contents or an index; skipped."
    ]


def test_a_sorted_price_list_is_text_and_skipped_contents_pages_are_told_in_one_line(tmp_path, caplog):
    # Prices in ascending order look like a table of contents, but point past the last page.
    prices = ["Fees", "Wash . . . . . . . . 10", "Cut . . . . . . . . 20", "Colour . . . . . . . . 45"]
    more_contents = ["3 Prices . . . . . . 3", "4 Hours . . . . . . 4", "5 Staff . . . . . . 5", "6 Map . . . . . . 6"]
    text = [["Opening hours are 9 to 5."], ["Five people work here."], ["The salon is on Quay Street."]]
    path = tmp_path / "salon.pdf"
    path.write_bytes(make_pdf([FRONT[1], more_contents, prices, *text]))
    texts, _ = read(path)
    assert sorted(texts) == [f"{path}#page={n}" for n in (3, 4, 5, 6)]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{path}: pages 1-2 read as a table of contents or an index; skipped."
    ]


def test_a_compound_broken_at_its_hyphen_keeps_it(tmp_path):
    path = tmp_path / "policy.pdf"
    lines = [
        "Every visit ends with a follow-up call. The intake-management-",
        "documentation form and the nurse's follow-",
        "up notes are kept; a physio-",
        "therapist signs them.",
    ]
    path.write_bytes(make_pdf([lines]))
    texts, _ = read(path)
    text = " ".join(texts[f"{path}#page=1"].split())
    # TeX breaks a word that has a hyphen only at its hyphen; browsers do not hyphenate.
    assert (
        "The intake-management-documentation form and the nurse's follow-up notes are kept; a physiotherapist signs"
        in text
    )


def test_typographic_ligatures_are_spelt_out(tmp_path, monkeypatch):
    # Pages set in fonts with ligature glyphs (TeX, browsers) extract them as U+FB00-FB06.
    from pypdf import PageObject

    path = tmp_path / "book.pdf"
    path.write_bytes(make_pdf([["placeholder"]]))
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: "An e\ufb03cient \ufb01le \ufb02ow.\n")
    texts, _ = read(path)
    assert texts[f"{path}#page=1"] == "An efficient file flow.\n"


def test_a_contents_page_of_an_extract_pointing_past_its_pages_is_still_skipped_and_told_when_reading_stops_early(
    tmp_path, caplog
):
    contents = ["Contents", "7 Maintenance . . . . 201", "7.1 Cleaning . . . . 202", "7.2 Oiling . . . . 203"]
    path = tmp_path / "part2.pdf"
    path.write_bytes(make_pdf([contents, ["Clean the widget weekly."], ["Oil the hinge monthly."]]))
    documents = iter(find_documents([str(path)]))
    first = next(documents)  # as --limit 1 reads: the rest of the file is never asked for
    assert first.source == f"{path}#page=2"
    del documents
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{path}: page 1 read as a table of contents or an index; skipped."
    ]


def test_a_contents_page_without_dot_leaders_is_skipped_and_a_titled_table_is_not(tmp_path, caplog):
    # LaTeX sets chapter lines without a leader; some word processors' styles set none at all.
    contents = ["Contents", "1 Introduction 1", "1.1 Background . . . . . 1", "2 Setup 2", "3 Maintenance 3"]
    # A page titled "Index" that is a table: its numbers are not in page order.
    table = ["Index", "Wash 12", "Cut 30", "Colour 3", "Dry 25", "Style 2"]
    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf([contents, ["Widgets keep records."], ["Run make."], table]))
    texts, _ = read(path)
    assert sorted(texts) == [f"{path}#page={n}" for n in (2, 3, 4)]
    assert "Colour 3" in texts[f"{path}#page=4"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{path}: page 1 read as a table of contents or an index; skipped."
    ]


def test_a_bookmark_of_several_words_matches_its_numbered_line(tmp_path):
    # Texinfo's bookmarks have no numbers and several words ("Simple parsing" for "2.3 Simple parsing").
    page = ["2.2 Naming", "Names are short.", "2.3 Simple parsing", "The parser reads one line at a time."]
    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf([page], outline=[("Naming", 0), ("Simple parsing", 0)]))
    _, passages = read(path)
    assert [p.text for p in passages] == [
        "2.2 Naming\n\nNames are short.",
        "2.3 Simple parsing\n\nThe parser reads one line at a time.",
    ]


@pytest.mark.parametrize(
    ("broken", "whole"),
    [
        ("при-\nняты", "приняты"),  # any script's small letters go on a word
        ("wy-\nświetlacz", "wyświetlacz"),
        ("επι-\nτροπή", "επιτροπή"),
        # A word in capitals, when the page writes it whole elsewhere; else two (HIV-AIDS).
        ("the OP-\nTIONAL field is OPTIONAL", "the OPTIONAL field is OPTIONAL"),
        ("HIV-\nAIDS", "HIV-\nAIDS"),
        ("the US-\nEU trade", "the US-\nEU trade"),
        ("non-\nEnglish", "non-\nEnglish"),  # a capital after a small letter: a compound
        ("A-\nB", "A-\nB"),
    ],
)
def test_words_hyphenated_at_a_line_end_in_any_script_are_whole_again(broken, whole):
    from bonito_lite.inputs.readers.pdf import _rejoined

    assert _rejoined(broken) == whole


def page_texts(path: Path) -> dict[int, str]:
    texts, passages = read(path)
    for passage in passages:
        assert texts[passage.source][passage.char_start : passage.char_end] == passage.text
    return {int(source.rsplit("=", 1)[1]): text for source, text in texts.items()}


def test_a_sentence_cut_by_a_page_break_is_finished_on_the_page_it_starts_on(tmp_path):
    bodies = [
        ["The intake form is signed at the desk.", "Each form is kept by the front desk until the patient leaves,"],
        ["and then it is filed in the records room. Forms are never taken home.", "Lost forms are reported."],
        ["Records are kept for seven years.", "After that they are shredded on site."],
    ]
    path = tmp_path / "policy.pdf"
    path.write_bytes(make_pdf(paginated(bodies, header="Front Desk Policy", footer="Alder Creek")))
    texts = page_texts(path)
    assert texts[1].splitlines() == [
        "The intake form is signed at the desk.",
        "Each form is kept by the front desk until the patient leaves,",
        "and then it is filed in the records room.",
    ]
    # The next page is read from the sentence after; its header and number stay left out.
    assert texts[2].splitlines() == ["Forms are never taken home.", "Lost forms are reported."]
    assert texts[3].splitlines() == bodies[2]


def test_a_word_hyphenated_across_a_page_break_is_whole_and_abbreviations_do_not_end_the_sentence(tmp_path):
    pages = [
        ["Staff check every record before its manip-"],
        ["ulation, e.g. the daily totals, and sign it. Then they file it.", "Audits are monthly."],
    ]
    path = tmp_path / "audit.pdf"
    path.write_bytes(make_pdf(pages))
    texts = page_texts(path)
    assert texts[1].splitlines() == [
        "Staff check every record before its manipulation, e.g. the daily totals, and sign it."
    ]
    assert texts[2].splitlines() == ["Then they file it.", "Audits are monthly."]


def test_the_rest_of_a_sentence_stops_at_a_list_an_abbreviation_does_not_and_a_compound_keeps_its_hyphen(tmp_path):
    pages = [
        ["To open the desk you will need"],
        ["the following items at hand:", "keys to the front door", "the alarm code"],
        ["Each month is shown on its own line"],
        ["in Fig. 3 and in the table below it. Sales grew."],
        ["We always book a follow-"],
        ["up call for every client. A second follow-up is rare."],
    ]
    path = tmp_path / "desk.pdf"
    path.write_bytes(make_pdf(pages))
    texts = page_texts(path)
    assert texts[1].splitlines()[-1] == "the following items at hand:"
    assert texts[2].splitlines() == ["keys to the front door", "the alarm code"]
    assert texts[3].splitlines()[-1] == "in Fig. 3 and in the table below it."
    assert texts[5].splitlines() == ["We always book a follow-up call for every client."]


def test_a_page_that_is_all_the_rest_of_a_sentence_is_read_with_the_page_before(tmp_path):
    pages = [
        ["Deliveries arrive on Mondays and are checked against"],
        ["the order by the warehouse lead before they are shelved."],
        ["Returns go back on Fridays."],
    ]
    path = tmp_path / "deliveries.pdf"
    path.write_bytes(make_pdf(pages))
    texts = page_texts(path)
    assert sorted(texts) == [1, 3]
    assert " ".join(texts[1].split()) == (
        "Deliveries arrive on Mondays and are checked against the order by the warehouse lead before they are shelved."
    )
    assert texts[3].splitlines() == ["Returns go back on Fridays."]


@pytest.mark.parametrize(
    "first, second",
    [
        # The page ends a sentence.
        (["The desk opens at eight."], ["then the phones are switched over."]),
        # The next page starts as a new sentence or a heading does.
        (["The desk opens at eight and"], ["The phones are switched over."]),
        # The page ends with a heading (a bookmark's line): its text follows.
        (["Opening the desk", "2.1 Morning routine"], ["turn on the lights first."]),
        # The rest runs on for more than a sentence's length, or lines, before ending one.
        (["The desk keeps these items"], ["pens and " * 80 + "paper."]),
        (
            ["The desk keeps"],
            ["the pens and the paper and", "the stamps and the forms and", "the keys and the codes and", "the cards."],
        ),
        # Code at the foot of the page, or a figure's labels at the top of the next.
        (["Start it with:", "    desk --open    # the port is"], ["set in the settings file."]),
        (["The figure shows the desk layout"], ["s1", "the desk is on the left."]),
        # A heading (a bookmark's line) in what would be carried, even one in small letters.
        (["The settings of the desk are kept in"], ["the settings file", "Installation", "It is run once."]),
        (["The desk opens at eight and"], ["iPhone app setup", "The app is optional."]),
    ],
)
def test_pages_are_not_joined_where_no_sentence_runs_over_the_break(tmp_path, first, second):
    path = tmp_path / "desk.pdf"
    outline = [("Morning routine", 0), ("Installation", 1), ("iPhone app setup", 1)]
    path.write_bytes(make_pdf([first, second], outline=outline))
    texts = page_texts(path)
    assert [texts[n].split() for n in (1, 2)] == [" ".join(first).split(), " ".join(second).split()]


def test_a_row_of_pages_without_a_full_stop_is_not_read_as_one_page(tmp_path):
    # Slides or verse: every page goes on in small letters and none ends a sentence.
    things = "rocks sand shells weed pools stones cliffs".split()
    pages = [[f"the tide comes in over the {thing} and", f"goes out past the {thing} and"] for thing in things]
    path = tmp_path / "verse.pdf"
    path.write_bytes(make_pdf(pages))
    texts = page_texts(path)
    assert len(texts) == len(pages)
    assert sum(len(text.split()) for text in texts.values()) == sum(len(" ".join(page).split()) for page in pages)


def test_the_soft_hyphens_chrome_prints_are_not_read_as_spaces(tmp_path):
    lines = [
        "Our in\u00adter\u00adna\u00adtion\u00adal\u00adi\u00adza\u00adtion effort covers eleven markets. The re\u00ad-",
        "con\u00adcil\u00adi\u00ada\u00adtion of ledgers is monthly.",
    ]
    path = tmp_path / "chrome.pdf"
    path.write_bytes(make_pdf([lines]))
    texts = page_texts(path)
    assert (
        texts[1].split()
        == "Our internationalization effort covers eleven markets. The reconciliation of ledgers is monthly.".split()
    )
    # Where the mark holds the hyphen drawn at a line end (LuaTeX, WeasyPrint), it is kept and joined.
    path.write_bytes(make_pdf([["The manip\u00ad", "ulation of ledgers is monthly."]], shown_soft_hyphens=True))
    assert page_texts(path)[1].split() == "The manipulation of ledgers is monthly.".split()


def chrome_pdf(tmp_path: Path, body: str) -> Path:
    """An English HTML page of ``body``, printed to PDF by headless Chromium."""
    html = tmp_path / "page.html"
    html.write_text(f"<html lang='en'><meta charset='utf-8'>{body}</html>", encoding="utf-8")
    chromium = headless_browser.require_chromium()
    return headless_browser.print_to_pdf(chromium, html, tmp_path / "page.pdf", tmp_path / "browser")


@pytest.mark.slow
def test_a_page_chrome_printed_with_hyphenation_reads_in_whole_words(tmp_path):
    # A narrow column of long words with soft hyphens, so that Chrome breaks some of them at
    # line ends and marks every other place a word may break.
    shy = "\u00ad"
    words = [f"in{shy}ter{shy}na{shy}tion{shy}al{shy}i{shy}za{shy}tion", f"re{shy}con{shy}cil{shy}i{shy}a{shy}tion"]
    sentence = f"Our {words[0]} effort and the {words[1]} of ledgers go on."
    pdf = chrome_pdf(tmp_path, f"<body style='width:2.6cm;font:12pt serif'><p>{' '.join([sentence] * 6)}</p>")
    text = " ".join(page_texts(pdf).values())
    assert text.split() == " ".join([sentence.replace(shy, "")] * 6).split()


def test_the_headings_a_tagged_pdf_marks_start_passages_as_bookmarks_do(tmp_path):
    pages = [
        [
            "Front Desk Handbook",
            "This page is what the desk team needs.",
            "2.1 Opening the clinic",
            "It opens at 7:30.",
        ],
        ["The opener checks the schedule.", "Payments", "Patients pay after each session.", "Refunds take a week."],
    ]
    # Line 0 of page 0 an H1, line 2 an H2 (numbered: the number is no part of the match),
    # and on page 1 a heading in the document's own role, which its RoleMap makes an H2.
    tags = {(0, 0): "H1", (0, 2): "H2", (1, 1): "Subhead"}
    path = tmp_path / "handbook.pdf"
    path.write_bytes(make_pdf(pages, tags=tags, role_map={"Subhead": "H2"}))
    texts, passages = read(path)
    starts = [(p.source.rsplit("=", 1)[1], p.text.split("\n")[0]) for p in passages]
    assert starts == [
        ("1", "Front Desk Handbook"),
        ("1", "2.1 Opening the clinic"),
        ("2", "The opener checks the schedule."),
        ("2", "Payments"),
    ]
    # Untagged, the same pages are a passage each.
    path.write_bytes(make_pdf(pages))
    assert len(read(path)[1]) == 2
    # A tree that loops back on itself is walked once.
    path.write_bytes(make_pdf(pages, tags=tags, role_map={"Subhead": "H2"}, looped_tree=True))
    assert [p.text.split("\n")[0] for p in read(path)[1]] == [text for _, text in starts]


def test_tagged_headings_drawn_after_the_text_below_them_are_read_where_they_stand(tmp_path):
    # Chrome draws the headings of some pages (Node.js's documentation) after all their other
    # text; in the order drawn they would all come at the page's end.
    pages = [
        [
            "Front Desk Handbook",
            "This page is what the desk team needs.",
            "Opening the clinic",
            "It opens at 7:30 on weekdays.",
            "Payments",
            "Patients pay after each session.",
        ]
    ]
    tags = {(0, 0): "H1", (0, 2): "H2", (0, 4): "H2"}
    path = tmp_path / "handbook.pdf"
    in_place = make_pdf(pages, tags=tags)
    path.write_bytes(in_place)
    expected = [p.text for p in read(path)[1]]
    assert [text.split("\n")[0] for text in expected] == ["Front Desk Handbook", "Opening the clinic", "Payments"]
    path.write_bytes(make_pdf(pages, tags=tags, drawn_last={(0, 0): 72, (0, 2): 72, (0, 4): 72}))
    assert [p.text for p in read(path)[1]] == expected
    # ...also drawn from the bottom up.
    path.write_bytes(make_pdf(pages, tags=tags, drawn_last={(0, 4): 72, (0, 2): 72, (0, 0): 72}))
    assert [p.text for p in read(path)[1]] == expected
    # A heading drawn in its place stays there when a line below it was drawn first (a footer).
    footed = [pages[0] + ["Printed from the staff wiki"]]
    path.write_bytes(make_pdf(footed, tags=tags, drawn_last={(0, n): 72 for n in range(6)}))
    assert [p.text.split("\n")[0] for p in read(path)[1]] == [text.split("\n")[0] for text in expected]
    # A heading drawn last in another column (its own x) is not moved into this one.
    path.write_bytes(make_pdf(pages, tags=tags, drawn_last={(0, 4): 320}))
    text = "\n".join(p.text for p in read(path)[1])
    assert text.index("Payments") > text.index("Patients pay after each session.")


def test_a_bookmark_whose_title_the_page_sets_on_two_lines_starts_a_passage(tmp_path):
    pages = [["The desk opens at eight.", "Setting up the desk before", "the morning shift", "Turn on the lights."]]
    path = tmp_path / "desk.pdf"
    path.write_bytes(make_pdf(pages, outline=[("Setting up the desk before the morning shift", 0)]))
    assert [p.text for p in read(path)[1]] == [
        "The desk opens at eight.",
        "Setting up the desk before\nthe morning shift\n\nTurn on the lights.",
    ]


def test_a_heading_on_several_lines_takes_no_line_of_the_text_above_and_keeps_a_compounds_hyphen(tmp_path):
    pages = [
        ["The survey was first", "published in", "2019", "Results", "Most staff replied."],
        ["The backups are made nightly.", "Long-", "term Storage Planning", "Tapes go off site weekly."],
        ["The sync runs hourly.", "Cross-", "Platform Synchronisation", "It covers every laptop."],
    ]
    outline = [("Results", 0), ("Long-term Storage Planning", 1), ("Cross-Platform Synchronisation", 2)]
    path = tmp_path / "plan.pdf"
    path.write_bytes(make_pdf(pages, outline=outline))
    assert [p.text for p in read(path)[1]] == [
        "The survey was first\npublished in\n2019",
        "Results\n\nMost staff replied.",
        "The backups are made nightly.",
        "Long-term Storage Planning\n\nTapes go off site weekly.",
        "The sync runs hourly.",
        "Cross-\nPlatform Synchronisation\n\nIt covers every laptop.",
    ]


def test_a_heading_tagged_twice_on_a_page_starts_a_passage_each_time_and_a_bookmarked_one_counts_once(tmp_path):
    pages = [
        [
            "open",
            "Opens a file.",
            "Parameters",
            "path: where it is.",
            "close",
            "Closes it.",
            "Parameters",
            "f: the file.",
        ]
    ]
    tags = {(0, 0): "H2", (0, 2): "H3", (0, 4): "H2", (0, 6): "H3"}
    path = tmp_path / "api.pdf"
    path.write_bytes(make_pdf(pages, outline=[("open", 0), ("Parameters", 0)], tags=tags))
    assert [p.text.split("\n")[0] for p in read(path)[1]] == ["open", "Parameters", "close", "Parameters"]


@pytest.mark.slow
def test_the_headings_of_a_page_chrome_printed_start_passages(tmp_path):
    pdf = chrome_pdf(
        tmp_path,
        "<body style='font:12pt serif;width:9cm'><h1>Front Desk Handbook</h1>"
        "<p>This page is what the desk team needs.</p><h2>Opening the clinic</h2><p>It opens at 7:30.</p>"
        "<h2>Payments and <em>insurance</em></h2><p>Patients pay after each session.</p>"
        "<h2>A long heading on refunds that the narrow page wraps onto two lines</h2><p>Refunds take a week.</p>"
        "</body>",
    )
    _, passages = read(pdf)
    assert [" ".join(p.text.split()) for p in passages] == [
        "Front Desk Handbook This page is what the desk team needs.",
        "Opening the clinic It opens at 7:30.",
        "Payments and insurance Patients pay after each session.",
        "A long heading on refunds that the narrow page wraps onto two lines Refunds take a week.",
    ]


def test_a_short_line_that_ends_a_sentence_ends_a_paragraph(tmp_path):
    page = [
        "The front desk opens at half past seven on weekdays and the opener",
        "checks the schedule for double bookings before patients arrive.",
        "Phones are forwarded at eight.",
        "Payments are taken at the desk after each session, by card or in cash,",
        "and a receipt is printed for every payment that is made there.",
        "Refunds take a week.",
    ]
    path = tmp_path / "desk.pdf"
    path.write_bytes(make_pdf([page]))
    texts, passages = read(path)
    assert texts[f"{path}#page=1"] == "\n".join([*page[:3], "", *page[3:]])
    # A passage too small for both paragraphs is cut between them.
    cut = list(iter_passages(find_documents([str(path)]), count_tokens=words, chunk_tokens=40))
    assert [p.text.split("\n")[-1] for p in cut] == [page[2], page[5]]


def test_lines_as_long_as_the_lines_around_them_end_no_paragraph_and_a_question_or_a_bullet_may_open_one(tmp_path):
    page = [
        "This report describes the sensors placed along the harbour wall in the spring of 2024 and",
        "what they measured over the following months, with the gaps in the record and their causes.",
        "The sensors were read every hour by the",
        "harbour office and the data kept there.",
        "Two of them failed in the first storm and",
        "were replaced.",
        "- Tide height, every ten minutes, at the",
        "end of the north pier.",
        "\u00bfWho reads them now? The harbour office does.",
    ]
    path = tmp_path / "sensors.pdf"
    path.write_bytes(make_pdf([page]))
    assert page_texts(path)[1] == "\n".join([*page[:6], "", *page[6:8], "", page[8]])
