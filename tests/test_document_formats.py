"""PDF, DOCX and HTML inputs: what is read, where passages break, provenance, bad files, the extra."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn
from hypothesis import given, settings, strategies as st
from pypdf import PdfReader, PdfWriter

from bonito_lite.cli import cli
from bonito_lite.errors import InputError
from bonito_lite.inputs.chunking import BLOCK_SEPARATOR, Block, _title_line, split_blocks
from bonito_lite.inputs.documents import find_documents, iter_passages

from cli_helpers import run_cli as run
from pdf_factory import make_pdf

EXTRA_HINT = 'needs the docs extra: pip install "bonito-lite[docs]"'


def words(text: str) -> int:
    return len(text.split())


def passages_of(inputs, budget=384):
    return list(iter_passages(find_documents(inputs), count_tokens=words, chunk_tokens=budget))


def texts_by_source(inputs) -> dict[str, str]:
    return {document.source: document.read_text() for document in find_documents(inputs)}


def assert_provenance(passages, texts):
    """Offsets index each document's extracted text; indexes count from 0 within each one."""
    expected_index: dict[str, int] = {}
    for passage in passages:
        assert texts[passage.source][passage.char_start : passage.char_end] == passage.text
        assert passage.index == expected_index.get(passage.source, 0)
        expected_index[passage.source] = passage.index + 1


def warnings_of(caplog) -> list[str]:
    """bonito-lite's own warnings (the CLI keeps pypdf's repair notes off the terminal)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bonito_lite")]


# --- chunking of blocks --------------------------------------------------------------------------


def test_heading_blocks_start_passages_and_offsets_index_the_blocks_joined_by_a_blank_line():
    blocks = [
        Block("Intro", heading=True),
        Block("One two."),
        Block("Three four."),
        Block("  Next  ", heading=True),
        Block("Five six.\n\nSeven eight."),
    ]
    passages = list(split_blocks(blocks, "doc", count_tokens=words, chunk_tokens=100))
    text = BLOCK_SEPARATOR.join(block.text for block in blocks)
    assert [p.text for p in passages] == [
        "Intro\n\nOne two.\n\nThree four.",
        "Next  \n\nFive six.\n\nSeven eight.",
    ]
    for passage in passages:
        assert text[passage.char_start : passage.char_end] == passage.text


def test_a_hash_at_the_start_of_a_block_is_text_not_a_heading():
    blocks = [Block("Priorities"), Block("# 1 is safety."), Block("```"), Block("# 2 is cost.")]
    passages = list(split_blocks(blocks, "doc", count_tokens=words, chunk_tokens=100))
    assert len(passages) == 1


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.lists(
        st.builds(Block, st.text(alphabet=" \n\t.ab#\u3002", max_size=40), st.booleans()),
        max_size=8,
    ),
    budget=st.sampled_from([1, 3, 50]),
)
def test_any_blocks_are_cut_faithfully(blocks, budget):
    text = BLOCK_SEPARATOR.join(block.text for block in blocks)
    passages = list(split_blocks(blocks, "doc", count_tokens=words, chunk_tokens=budget))
    for passage in passages:
        assert passage.text and passage.text == passage.text.strip()
        assert text[passage.char_start : passage.char_end] == passage.text
    # Nothing but whitespace is lost, and passages come in order.
    assert "".join("".join(p.text.split()) for p in passages) == "".join(text.split())
    assert all(a.char_end <= b.char_start for a, b in zip(passages, passages[1:]))
    # Every heading starts a passage, unless it follows headings only (they share one) or a
    # title line that starts a passage, or nothing but headings follows it (they join the
    # passage before).
    starts, offset, spans = {p.char_start for p in passages}, 0, []
    for block in blocks:
        if block.text.strip():
            spans.append((offset + len(block.text) - len(block.text.lstrip()), block.heading, block.text.strip()))
        offset += len(block.text) + 2
    for number, (start, heading, _) in enumerate(spans):
        if heading and start not in starts:
            before = spans[number - 1] if number else None
            after_headings = before is not None and before[1]
            after_title = before is not None and before[0] in starts and _title_line(before[2])
            headings_to_the_end = all(h for _, h, _ in spans[number:])
            assert after_headings or after_title or headings_to_the_end


# --- PDF -----------------------------------------------------------------------------------------

REPORT_PAGES = [
    ["Introduction", "The café opens at 7:30 on weekdays.", "Staff arrive at 7:00."],
    ["The kitchen closes at 15:00.", "Deliveries come on Tuesdays."],
    ["Prices are in euros (€).", "Findings", "Coffee sales rose by a third.", "Tea stayed flat."],
]


@pytest.fixture
def report_pdf(tmp_path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(REPORT_PAGES, outline=[("Introduction", 0), ("Findings", 2)]))
    return path


def test_each_pdf_page_is_a_document_named_by_its_page(report_pdf):
    texts = texts_by_source([str(report_pdf)])
    source = str(report_pdf)
    assert list(texts) == [f"{source}#page=1", f"{source}#page=2", f"{source}#page=3"]
    assert "café" in texts[f"{source}#page=1"] and "€" in texts[f"{source}#page=3"]
    passages = passages_of([source])
    assert_provenance(passages, texts)
    # A page break always ends a passage, so every passage has one exact page.
    assert [p.source.rsplit("#", 1)[1] for p in passages] == ["page=1", "page=2", "page=3", "page=3"]


def test_outline_titles_start_passages_inside_a_page(report_pdf):
    page3 = [p for p in passages_of([str(report_pdf)]) if p.source.endswith("#page=3")]
    assert [p.text.splitlines()[0] for p in page3] == ["Prices are in euros (€).", "Findings"]
    assert page3[1].text.startswith("Findings\n\nCoffee sales rose")
    page1 = passages_of([str(report_pdf)])[0]
    assert page1.text.startswith("Introduction\n\nThe café opens")


def test_without_an_outline_only_page_breaks_cut(tmp_path):
    path = tmp_path / "plain.pdf"
    path.write_bytes(make_pdf(REPORT_PAGES))
    passages = passages_of([str(path)])
    assert len(passages) == 3
    assert passages[2].text.startswith("Prices are in euros") and "Findings" in passages[2].text


def test_a_long_pdf_page_is_cut_at_sentences_within_the_page(tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_pdf([[f"Sentence number {i} is here." for i in range(40)]]))
    passages = passages_of([str(path)], budget=25)
    assert len(passages) > 5
    assert {p.source for p in passages} == {f"{path}#page=1"}
    assert_provenance(passages, texts_by_source([str(path)]))
    assert all(p.text.endswith(".") for p in passages)


def test_blank_pages_are_passed_over_without_a_warning(tmp_path, caplog):
    path = tmp_path / "gaps.pdf"
    path.write_bytes(make_pdf([["First page."], [], None, ["Fourth page."]]))
    passages = passages_of([str(path)])
    assert [p.source for p in passages] == [f"{path}#page=1", f"{path}#page=4"]
    assert not warnings_of(caplog)


def test_a_scanned_pdf_without_a_text_layer_is_skipped_with_an_ocr_hint(tmp_path, caplog):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([None, None]))
    (tmp_path / "notes.txt").write_text("Readable notes.")
    passages = passages_of([str(tmp_path)])
    assert [p.source for p in passages] == [str(tmp_path / "notes.txt")]
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{tmp_path / 'scan.pdf'}: no text layer on any of its 2 pages")
    assert "ocrmypdf" in warning and "\n" not in warning


def _encrypted(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_password_protected_pdf_is_skipped_with_a_warning(tmp_path, caplog):
    data = make_pdf([["Secret salary table."]])
    (tmp_path / "locked.pdf").write_bytes(_encrypted(data, user_password="hunter2"))
    (tmp_path / "open.pdf").write_bytes(_encrypted(data, user_password=""))
    passages = passages_of([str(tmp_path)])
    # Only an owner password (restrictions, no password to open) does not stop reading.
    assert [p.source for p in passages] == [f"{tmp_path / 'open.pdf'}#page=1"]
    assert passages[0].text == "Secret salary table."
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{tmp_path / 'locked.pdf'}: encrypted with a password; skipped.")
    assert "Secret" not in warning


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_pdf_is_skipped_with_one_warning_even_when_named(tmp_path, caplog, damage):
    good = make_pdf([["Zebra-7391 owes 4,000 euros."]])
    content = {"truncated": good[: len(good) // 2], "garbage": b"%PDF-1.4\nnot a pdf", "empty": b""}
    path = tmp_path / "broken.pdf"
    path.write_bytes(content[damage])
    (tmp_path / "notes.md").write_text("Readable notes.")
    passages = passages_of([str(path), str(tmp_path / "notes.md")])
    assert [p.text for p in passages] == ["Readable notes."]
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{path}: not a readable PDF (") and warning.endswith("skipped.")
    assert "Zebra" not in warning


def test_a_pdf_without_pages_is_skipped_with_a_warning(tmp_path, caplog):
    out = io.BytesIO()
    PdfWriter().write(out)
    path = tmp_path / "hollow.pdf"
    path.write_bytes(out.getvalue())
    assert passages_of([str(path)]) == []
    assert warnings_of(caplog) == [f"{path}: a PDF without pages; skipped."]


def test_a_page_whose_text_cannot_be_extracted_is_skipped_and_the_others_are_read(report_pdf, monkeypatch, caplog):
    from pypdf import PageObject

    original = PageObject.extract_text

    def failing_on_page_two(page, *args, **kwargs):
        if page.page_number == 1:
            raise KeyError("/Font")
        return original(page, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", failing_on_page_two)
    passages = passages_of([str(report_pdf)])
    assert [p.source.rsplit("#", 1)[1] for p in passages] == ["page=1", "page=3", "page=3"]
    assert warnings_of(caplog) == [f"{report_pdf}#page=2: text could not be extracted (KeyError: '/Font'); skipped."]


# --- DOCX ----------------------------------------------------------------------------------------


@pytest.fixture
def handbook_docx(tmp_path) -> Path:
    document = docx.Document()
    document.add_heading("Staff handbook", 0)  # the Title style
    document.add_paragraph("Welcome to the café on Rue Haute.")
    document.add_heading("Hours", 1)
    document.add_paragraph("We open at 7:30.")
    document.add_paragraph("")  # spacing paragraphs are not text
    document.add_paragraph("We close at 17:30.")
    table = document.add_table(rows=2, cols=2)
    for row, (day, hours) in enumerate([("Monday", "7:30-17:30"), ("Sunday", "closed")]):
        table.cell(row, 0).text, table.cell(row, 1).text = day, hours
    custom = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 2"]
    document.add_paragraph("Safety", style="Chapter")
    document.add_paragraph("Fire doors stay shut.")
    document.add_heading("Contacts", 3)
    document.add_paragraph("Ask the manager.")
    path = tmp_path / "handbook.docx"
    document.save(path)
    return path


def test_docx_paragraphs_tables_and_headings_are_read_in_order(handbook_docx):
    [document] = find_documents([str(handbook_docx)])
    blocks = list(document.blocks())
    assert [(b.text, b.heading) for b in blocks] == [
        ("Staff handbook", True),
        ("Welcome to the café on Rue Haute.", False),
        ("Hours", True),
        ("We open at 7:30.", False),
        ("We close at 17:30.", False),
        ("Monday | 7:30-17:30", False),
        ("Sunday | closed", False),
        ("Safety", True),  # a style based on a heading style
        ("Fire doors stay shut.", False),
        ("Contacts", True),
        ("Ask the manager.", False),
    ]


def test_docx_headings_start_passages_and_offsets_index_the_extracted_text(handbook_docx):
    passages = passages_of([str(handbook_docx)])
    assert [p.text.split("\n")[0] for p in passages] == ["Staff handbook", "Hours", "Safety", "Contacts"]
    assert passages[1].text == (
        "Hours\n\nWe open at 7:30.\n\nWe close at 17:30.\n\nMonday | 7:30-17:30\n\nSunday | closed"
    )
    assert {p.source for p in passages} == {str(handbook_docx)}
    assert_provenance(passages, texts_by_source([str(handbook_docx)]))


def _docx_with_body_xml(path: Path, replacements: dict[str, str]) -> Path:
    """A .docx saved by python-docx, then with marker runs replaced by hand-written XML (the
    markup Word itself writes for tracked changes, content controls, fields and the like)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["word/document.xml"].decode()
    for marker, replacement in replacements.items():
        assert marker in xml, marker
        xml = xml.replace(marker, replacement)
    parts["word/document.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_docx_text_is_read_as_word_shows_it_through_changes_controls_fields_and_nested_tables(tmp_path):
    document = docx.Document()
    for marker in ("INS", "DEL", "SDT", "FIELD", "SMART", "LINK", "PTAB", "RUBY"):
        document.add_paragraph(f"{marker.title()} paragraph: ").add_run(f"@{marker}@")
    # Hidden text (Font > Hidden) is not shown by Word; a run unhidden explicitly is.
    hidden = document.add_paragraph("Hidden paragraph: shown,")
    hidden.add_run(" the reviewer's private note,").font.hidden = True
    hidden.add_run(" and shown again.").font.hidden = False
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Ward", "Extensions"
    table.cell(1, 0).text = "Cardiology"
    inner = table.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "day 4411", "night 4412"
    document.add_paragraph("@BLOCK@")
    document.add_paragraph("The end.")
    path = tmp_path / "contract.docx"
    document.save(path)

    def run(text: str, deleted: bool = False) -> str:
        tag = "w:delText" if deleted else "w:t"
        return f'<w:r><{tag} xml:space="preserve">{text}</{tag}></w:r>'

    _docx_with_body_xml(
        path,
        {
            "<w:r><w:t>@INS@</w:t></w:r>": f'<w:ins w:id="1" w:author="A">{run("the fee is 45 euros.")}</w:ins>',
            "<w:r><w:t>@DEL@</w:t></w:r>": f'{run("kept,")}<w:del w:id="2" w:author="A">{run(" struck", True)}</w:del>',
            "<w:r><w:t>@SDT@</w:t></w:r>": (
                '<w:sdt><w:sdtPr><w:alias w:val="Client"/><w:placeholder><w:docPart w:val="x"/></w:placeholder>'
                f"</w:sdtPr><w:sdtContent>{run('Amal Haddad')}</w:sdtContent></w:sdt>"
            ),
            "<w:r><w:t>@FIELD@</w:t></w:r>": f'<w:fldSimple w:instr=" DOCPROPERTY Company ">{run("Riverside")}</w:fldSimple>',
            "<w:r><w:t>@SMART@</w:t></w:r>": f'<w:smartTag w:element="place">{run("Springfield")}</w:smartTag>',
            "<w:r><w:t>@LINK@</w:t></w:r>": f'<w:hyperlink w:anchor="top">{run("see above")}</w:hyperlink>',
            "<w:r><w:t>@PTAB@</w:t></w:r>": (
                '<w:r><w:t>left</w:t><w:ptab w:relativeTo="margin" w:alignment="right" w:leader="none"/>'
                "<w:t>right</w:t></w:r>"
            ),
            "<w:r><w:t>@RUBY@</w:t></w:r>": (
                f"<w:r><w:ruby><w:rubyPr/><w:rt>{run('kanji')}</w:rt><w:rubyBase>{run('漢字')}</w:rubyBase></w:ruby></w:r>"
            ),
            "<w:p><w:r><w:t>@BLOCK@</w:t></w:r></w:p>": (
                f"<w:sdt><w:sdtPr/><w:sdtContent><w:p>{run('A paragraph in a content control.')}</w:p>"
                "</w:sdtContent></w:sdt>"
            ),
        },
    )
    [document] = find_documents([str(path)])
    assert [b.text for b in document.blocks()] == [
        "Ins paragraph: the fee is 45 euros.",
        "Del paragraph: kept,",
        "Sdt paragraph: Amal Haddad",
        "Field paragraph: Riverside",
        "Smart paragraph: Springfield",
        "Link paragraph: see above",
        "Ptab paragraph: left\tright",
        "Ruby paragraph: 漢字",
        "Hidden paragraph: shown, and shown again.",
        "Ward | Extensions",
        "Cardiology | day 4411 | night 4412",
        "A paragraph in a content control.",
        "The end.",
    ]
    assert_provenance(passages_of([str(path)]), texts_by_source([str(path)]))


def test_docx_contents_and_placeholders_are_left_out_and_equations_read_in_linear_form(tmp_path):
    document = docx.Document()
    document.add_paragraph("@TOC@")
    # A contents field outside a content control: paragraphs in the "toc 1" style.
    toc_style = document.styles.add_style("TOC1", WD_STYLE_TYPE.PARAGRAPH)
    toc_style.element.find(qn("w:name")).set(qn("w:val"), "toc 1")
    document.add_paragraph("2 Results\t4", style=toc_style)
    document.add_paragraph("Reviewed by: ").add_run("@FORM@")
    document.add_paragraph("The rate is ").add_run("@MATH@")
    document.add_paragraph("And ").add_run("@MORE@")
    # A contents style without an id (the id is optional) names no paragraph.
    nameless = document.styles.add_style("Nameless", WD_STYLE_TYPE.PARAGRAPH).element
    nameless.find(qn("w:name")).set(qn("w:val"), "toc 2")
    del nameless.attrib[qn("w:styleId")]
    document.add_paragraph("Signed: ").add_run("@FILLED@")
    path = tmp_path / "report.docx"
    document.save(path)
    math = "http://schemas.openxmlformats.org/officeDocument/2006/math"

    def m(text: str) -> str:
        return f"<m:r><m:t>{text}</m:t></m:r>"

    def control(properties: str, content: str) -> str:
        return f"<w:sdt><w:sdtPr>{properties}</w:sdtPr><w:sdtContent>{content}</w:sdtContent></w:sdt>"

    _docx_with_body_xml(
        path,
        {
            "<w:p><w:r><w:t>@TOC@</w:t></w:r></w:p>": control(
                '<w:docPartObj><w:docPartGallery w:val="Table of Contents"/></w:docPartObj>',
                "<w:p><w:r><w:t>Contents</w:t></w:r></w:p><w:p><w:r><w:t>1 Introduction</w:t></w:r>"
                "<w:r><w:tab/></w:r><w:r><w:t>2</w:t></w:r></w:p>",
            ),
            "<w:r><w:t>@FORM@</w:t></w:r>": control(
                "<w:showingPlcHdr/><w:text/>", "<w:r><w:t>Click or tap here to enter text.</w:t></w:r>"
            ),
            "<w:r><w:t>@FILLED@</w:t></w:r>": control("<w:text/>", "<w:r><w:t>Dr Okafor</w:t></w:r>"),
            "<w:r><w:t>@MATH@</w:t></w:r>": (
                f'<m:oMath xmlns:m="{math}">{m("R=")}<m:f><m:fPr/><m:num>{m("N")}</m:num><m:den>{m("H+1")}</m:den>'
                f"</m:f>{m('+')}<m:sSup><m:e>{m('x')}</m:e><m:sup>{m('2')}</m:sup></m:sSup>{m('+')}"
                f"<m:rad><m:radPr/><m:deg/><m:e>{m('y')}</m:e></m:rad></m:oMath>"
                '<w:r><w:t xml:space="preserve">, where N counts incidents.</w:t></w:r>'
            ),
            "<w:r><w:t>@MORE@</w:t></w:r>": (
                f'<m:oMath xmlns:m="{math}">{m("2")}<m:d><m:dPr/><m:e>{m("a+b")}</m:e></m:d>{m("+")}'
                f'<m:d><m:dPr><m:begChr m:val="|"/><m:endChr m:val="|"/></m:dPr><m:e>{m("x")}</m:e></m:d>{m("+")}'
                f"<m:rad><m:radPr/><m:deg>{m('3')}</m:deg><m:e>{m('z')}</m:e></m:rad>{m('=')}"
                f'<m:nary><m:naryPr><m:chr m:val="\u2211"/></m:naryPr><m:sub>{m("i=1")}</m:sub><m:sup>{m("n")}</m:sup>'
                f"<m:e>{m('x')}</m:e></m:nary>{m('+')}<m:func><m:funcPr/><m:fName>{m('sin')}</m:fName>"
                f"<m:e>{m('t')}</m:e></m:func></m:oMath>"
            ),
        },
    )
    [document] = find_documents([str(path)])
    assert [b.text for b in document.blocks()] == [
        "Reviewed by: ",
        "The rate is R=N/(H+1)+x^2+\u221a(y), where N counts incidents.",
        "And 2(a+b)+|x|+\u221a(3&z)=\u2211_(i=1)^n x+sin t",
        "Signed: Dr Okafor",
    ]


def test_a_damaged_docx_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04Zebra-7391 not a zip")
    (tmp_path / "notes.txt").write_text("Readable notes.")
    assert [p.text for p in passages_of([str(path), str(tmp_path / "notes.txt")])] == ["Readable notes."]
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{path}: not a readable .docx (") and "Zebra" not in warning


def test_an_old_word_file_is_an_error_when_named_and_a_warning_in_a_folder(tmp_path, caplog):
    old = tmp_path / "minutes.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    with pytest.raises(InputError, match=r"minutes\.doc: old Word format \(\.doc\) is not read; save it as \.docx"):
        find_documents([str(old)])
    (tmp_path / "notes.txt").write_text("Readable notes.")
    assert [p.text for p in passages_of([str(tmp_path)])] == ["Readable notes."]
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{old}: old Word format (.doc) is not read; skipped;")


# --- HTML ----------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>Clinic</title><style>p { color: red }</style>
<script>var tracking = "SCRIPT-NOISE";</script></head>
<body>
<header><a href="/">SITE-BANNER</a></header>
<nav><ul><li>NAV-HOME</li><li>NAV-ABOUT</li></ul></nav>
<main><article>
<header><h1>Clinic   hours</h1></header>
<p>The clinic opens at <b>7:30</b> on weekdays &amp; closes
   at 17:30.<br>Call   first.</p>
<!-- COMMENT-NOISE -->
<h2>Staff</h2>
<ul><li>Dr. Haddad</li><li>Nurse Café</li></ul>
<table><tr><th>Day</th><th>Open</th></tr><tr><td>Monday</td><td>7:30</td></tr></table>
<pre>line 1
   indented line 2</pre>
<p hidden>HIDDEN-NOISE</p><div aria-hidden="true">ARIA-NOISE</div>
<footer>Reviewed in May.</footer>
</article></main>
<aside>ASIDE-NOISE</aside>
<footer>FOOTER-NOISE</footer>
<noscript>NOSCRIPT-NOISE</noscript>
<div role="navigation">ROLE-NOISE</div>
</body></html>
"""


def test_html_text_is_read_without_boilerplate(tmp_path):
    path = tmp_path / "clinic.html"
    path.write_text(PAGE, encoding="utf-8")
    [document] = find_documents([str(path)])
    assert [(b.text, b.heading) for b in document.blocks()] == [
        ("Clinic hours", True),  # an article's own header is part of it
        ("The clinic opens at 7:30 on weekdays & closes at 17:30.\nCall first.", False),
        ("Staff", True),
        ("Dr. Haddad", False),
        ("Nurse Café", False),
        ("Day | Open", False),
        ("Monday | 7:30", False),
        ("line 1\n   indented line 2", False),
        ("Reviewed in May.", False),
    ]
    assert "NOISE" not in document.read_text() and "SITE-BANNER" not in document.read_text()


def test_html_headings_start_passages(tmp_path):
    path = tmp_path / "clinic.htm"
    path.write_text(PAGE, encoding="utf-8")
    passages = passages_of([str(path)])
    assert [p.text.split("\n")[0] for p in passages] == ["Clinic hours", "Staff"]
    assert_provenance(passages, texts_by_source([str(path)]))


def test_html_encoding_comes_from_the_page(tmp_path):
    path = tmp_path / "latin.html"
    path.write_bytes(
        '<html><head><meta charset="iso-8859-1"></head><body><p>Crème brûlée.</p></body></html>'.encode("latin-1")
    )
    assert [p.text for p in passages_of([str(path)])] == ["Crème brûlée."]


@pytest.mark.parametrize(
    "content",
    [
        "https://example.com/page",
        '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p></body></html>',
    ],
)
def test_html_that_looks_odd_to_beautifulsoup_gives_no_python_warnings(tmp_path, content):
    path = tmp_path / "odd.html"
    path.write_text(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        passages = passages_of([str(path)])
    assert len(passages) == 1


def test_deeply_nested_html_is_read(tmp_path):
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 3000 + "Deep text." + "</div>" * 3000 + "</body></html>")
    assert [p.text for p in passages_of([str(path)])] == ["Deep text."]


def test_binary_content_in_an_html_file_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "image.html"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (tmp_path / "notes.txt").write_text("Readable notes.")
    assert [p.text for p in passages_of([str(path), str(tmp_path / "notes.txt")])] == ["Readable notes."]
    assert warnings_of(caplog) == [f"{path}: looks binary (NUL bytes), not HTML; skipped."]


# --- finding files, and the missing extra --------------------------------------------------------


def _mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.pdf").write_bytes(make_pdf([["A pdf page."]]))
    (folder / "sub" / "b.html").write_text("<p>An html page.</p>")
    (folder / "sub" / "c.HTM").write_text("<p>An htm page.</p>")
    document = docx.Document()
    document.add_paragraph("A docx file.")
    document.save(folder / "d.docx")
    (folder / "e.txt").write_text("A text file.")
    return folder


def files_found(inputs) -> tuple[str, ...]:
    return tuple(item.source for item in find_documents(inputs).inputs)


def test_folders_and_globs_find_the_new_formats(tmp_path):
    folder = _mixed_folder(tmp_path)
    assert files_found([str(folder)]) == tuple(
        str(folder / name) for name in ["a.pdf", "d.docx", "e.txt", "sub/b.html", "sub/c.HTM"]
    )
    assert files_found([str(folder / "**" / "*.htm*")]) == (str(folder / "sub" / "b.html"),)
    assert [p.text for p in passages_of([str(folder)])] == [
        "A pdf page.",
        "A docx file.",
        "A text file.",
        "An html page.",
        "An htm page.",
    ]


@pytest.fixture
def without_the_extra(monkeypatch):
    """The docs extra not installed: importing its libraries fails."""
    for module in ("pypdf", "docx", "bs4", "lxml"):
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("name", ["a.pdf", "d.docx", "sub/b.html", "sub/c.HTM"])
def test_a_named_file_without_the_extra_is_a_one_line_error_with_the_install_command(tmp_path, without_the_extra, name):
    path = _mixed_folder(tmp_path) / name
    with pytest.raises(InputError) as caught:
        find_documents([str(path)])
    suffix = path.suffix.lower()
    assert str(caught.value) == f"{path}: reading {suffix} {EXTRA_HINT}"


def test_a_folder_without_the_extra_skips_those_files_with_one_warning(tmp_path, without_the_extra, caplog):
    folder = _mixed_folder(tmp_path)
    assert [p.text for p in passages_of([str(folder)])] == ["A text file."]
    assert warnings_of(caplog) == [f"{folder}: 4 file(s) skipped; reading .docx, .htm, .html, .pdf {EXTRA_HINT}"]
    (folder / "e.txt").unlink()
    with pytest.raises(InputError, match=r"4 file\(s\) found, but reading .* needs the docs extra"):
        find_documents([str(folder)])


def test_only_the_missing_library_matters(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pypdf", None)
    folder = _mixed_folder(tmp_path)
    assert files_found([str(folder / "d.docx")]) == (str(folder / "d.docx"),)
    with pytest.raises(InputError, match=r"reading \.pdf needs the docs extra"):
        find_documents([str(folder / "a.pdf")])


# --- end to end ----------------------------------------------------------------------------------

FAST = ["--model", "toy", "--max-tokens", "64", "--quiet"]


def _one_of_each(tmp_path: Path) -> dict[str, Path]:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(make_pdf(REPORT_PAGES, outline=[("Introduction", 0), ("Findings", 2)]))
    html = tmp_path / "clinic.html"
    html.write_text(PAGE, encoding="utf-8")
    document = docx.Document()
    document.add_heading("Hours", 1)
    document.add_paragraph("The café opens at 7:30 on weekdays and closes at 17:30.")
    word = tmp_path / "hours.docx"
    document.save(word)
    return {"pdf": pdf, "docx": word, "html": html}


@pytest.mark.slow
def test_generate_on_each_format_writes_records_with_their_provenance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = _one_of_each(tmp_path)
    inputs = [str(paths[kind]) for kind in ("pdf", "docx", "html")]
    output = tmp_path / "out.jsonl"
    result = run(["generate", *inputs, "-t", "exqa", "-o", str(output), *FAST])
    assert result.exit_code == 0, result.output
    records = []
    for path in (output, output.with_name("out.rejected.jsonl")):
        if path.exists():
            records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_passage = {(r["source"], r["passage_index"]): r for r in records}
    expected = passages_of(inputs)
    assert len(records) == len(by_passage) == len(expected)
    texts = texts_by_source(inputs)
    for passage in expected:
        record = by_passage[passage.source, passage.index]
        assert record["context"] == passage.text
        assert texts[record["source"]][record["char_start"] : record["char_end"]] == record["context"]
    assert {r["source"] for r in records} == {
        f"{paths['pdf']}#page=1",
        f"{paths['pdf']}#page=2",
        f"{paths['pdf']}#page=3",
        str(paths["docx"]),
        str(paths["html"]),
    }


def test_dry_run_shows_the_page_of_each_pdf_passage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pdf = _one_of_each(tmp_path)["pdf"]
    result = run(["generate", str(pdf), "-t", "exqa", "--dry-run", "--model", "toy"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith(str(pdf))]
    assert [line.split(" [")[0] for line in lines] == [
        f"{pdf}#page=1 #0",
        f"{pdf}#page=2 #0",
        f"{pdf}#page=3 #0",
        f"{pdf}#page=3 #1",
    ]
    assert "Findings" in lines[3]


@pytest.mark.slow
def test_a_damaged_pdf_gives_the_terminal_one_warning_line_and_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pdf = _one_of_each(tmp_path)["pdf"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(pdf.read_bytes()[:300])
    # A real process: under pytest, logging from other libraries never reaches stderr.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bonito_lite",
            "generate",
            str(broken),
            str(pdf),
            "-t",
            "exqa",
            "--dry-run",
            "--model",
            "toy",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # pypdf's own notes on the damage stay off the terminal; one line of ours names the file.
    lines = [line for line in proc.stderr.splitlines() if "toy model" not in line]
    assert len(lines) == 1 and lines[0].startswith(f"Warning: {broken}: not a readable PDF"), proc.stderr
    assert f"{pdf}#page=3 #1" in proc.stdout


def test_generate_without_the_extra_says_how_to_install_it(tmp_path, monkeypatch, without_the_extra):
    monkeypatch.chdir(tmp_path)
    pdf = _one_of_each(tmp_path)["pdf"]
    result = CliRunner().invoke(cli, ["generate", str(pdf), "-t", "exqa", "--model", "toy"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"Error: {pdf}: reading .pdf {EXTRA_HINT}"


def test_docx_empty_cells_keep_their_place_and_cells_merged_down_are_read_once(tmp_path):
    document = docx.Document()
    form = document.add_table(rows=1, cols=5)
    for index, text in enumerate(["", "Allergies", "", "Smoker", "No"]):
        form.cell(0, index).text = text
    wards = document.add_table(rows=2, cols=2)
    wards.cell(0, 0).text, wards.cell(0, 1).text, wards.cell(1, 1).text = "Cardiology", "day 4411", "night 4412"
    wards.cell(0, 0).merge(wards.cell(1, 0))
    path = tmp_path / "form.docx"
    document.save(path)
    [document] = find_documents([str(path)])
    # An empty cell between two with text keeps its place, as in HTML; none is added at the ends.
    assert [b.text for b in document.blocks()] == ["Allergies |  | Smoker | No", "Cardiology | day 4411", "night 4412"]


def test_docx_automatic_numbering_symbols_and_form_check_boxes_read_as_word_shows_them(tmp_path):
    from docx.oxml import parse_xml

    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    levels = [("decimal", "%1."), ("decimal", "%1.%2"), ("lowerLetter", "(%3)"), ("bullet", "\u2022")]
    level_xml = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(f'<w:abstractNum {ns} w:abstractNumId="9">{level_xml}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {ns} w:numId="9"><w:abstractNumId w:val="9"/></w:num>'))

    def numbered(text: str, level: int, style: str | None = None):
        paragraph = document.add_paragraph(text, style=style)
        number = f'<w:numPr {ns}><w:ilvl w:val="{level}"/><w:numId w:val="9"/></w:numPr>'
        paragraph._p.get_or_add_pPr().append(parse_xml(number))
        return paragraph

    numbered("Term", 0, "Heading 1")
    numbered("This Agreement runs for 24 months.", 1)
    numbered("Either party may end it if the other", 1)
    numbered("commits a breach; or", 2)
    numbered("becomes insolvent.", 2)
    numbered("Fees", 0, "Heading 1")
    numbered("Invoices are paid in 30 days.", 1)
    numbered("A bullet carries no number.", 3)
    symbols = document.add_paragraph("GP review: ")
    for font, char, after in (
        ("Wingdings", "F0FE", " Yes "),
        ("Wingdings", "F0A8", " No. eGFR "),
        ("Symbol", "F0B3", " 60."),
    ):
        symbols._p.append(parse_xml(f'<w:r {ns}><w:sym w:font="{font}" w:char="{char}"/></w:r>'))
        symbols.add_run(after)
    form = document.add_paragraph("Smoker: ")
    for checked, after in (("1", " yes "), ("0", " no")):
        form._p.append(
            parse_xml(
                f'<w:r {ns}><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:default w:val="{checked}"/>'
                "</w:checkBox></w:ffData></w:fldChar></w:r>"
            )
        )
        form._p.append(parse_xml(f'<w:r {ns}><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>'))
        form._p.append(parse_xml(f'<w:r {ns}><w:fldChar w:fldCharType="end"/></w:r>'))
        form.add_run(after)
    path = tmp_path / "contract.docx"
    document.save(path)
    [document] = find_documents([str(path)])
    assert [(b.text, b.heading) for b in document.blocks()] == [
        ("1. Term", True),
        ("1.1 This Agreement runs for 24 months.", False),
        ("1.2 Either party may end it if the other", False),
        ("(a) commits a breach; or", False),
        ("(b) becomes insolvent.", False),
        ("2. Fees", True),  # a new item restarts the levels below it
        ("2.1 Invoices are paid in 30 days.", False),
        ("A bullet carries no number.", False),
        ("GP review: \u2611 Yes \u2610 No. eGFR \u2265 60.", False),
        ("Smoker: \u2612 yes \u2610 no", False),
    ]


def test_docx_lists_sharing_a_definition_count_on_also_in_table_cells_and_legal_levels_show_decimals(tmp_path):
    from docx.oxml import parse_xml

    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    numbering = document.part.numbering_part.element
    legal = (
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/><w:lvlText w:val="Article %1"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:isLgl/><w:lvlText w:val="Section %1.%2"/></w:lvl>'
    )
    numbering.insert(0, parse_xml(f'<w:abstractNum {ns} w:abstractNumId="77">{legal}</w:abstractNum>'))
    # Two lists on one definition: Word counts on from one to the other.
    for num_id in ("77", "78"):
        numbering.append(parse_xml(f'<w:num {ns} w:numId="{num_id}"><w:abstractNumId w:val="77"/></w:num>'))

    def numbered(container, text: str, num_id: str, level: int = 0):
        paragraph = container.add_paragraph(text)
        number = f'<w:numPr {ns}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'
        paragraph._p.get_or_add_pPr().append(parse_xml(number))

    numbered(document, "Definitions", "77")
    numbered(document, "Terms", "77", 1)
    cell = document.add_table(rows=1, cols=1).cell(0, 0)
    cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)
    numbered(cell, "Fees", "78")  # in a table cell, and on the second list: still counted
    numbered(document, "Term", "78")
    path = tmp_path / "agreement.docx"
    document.save(path)
    [document] = find_documents([str(path)])
    assert [b.text for b in document.blocks()] == [
        "Article I Definitions",
        "Section 1.1 Terms",  # a legal level shows its parents' numbers as decimals
        "Article II Fees",
        "Article III Term",
    ]


@pytest.mark.parametrize(
    "restart, expected",
    [
        (None, ["(a) Services", "(i) Late fees", "(b) Goods", "(ii) Interest", "(a) Invoices", "(i) Penalties"]),
        # 0: the second level counts on across the first's items.
        ("0", ["(a) Services", "(i) Late fees", "(b) Goods", "(ii) Interest", "(c) Invoices", "(i) Penalties"]),
    ],
)
def test_docx_numbering_levels_restart_as_their_lvl_restart_says(tmp_path, restart, expected):
    from docx.oxml import parse_xml

    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    rule = f'<w:lvlRestart w:val="{restart}"/>' if restart is not None else ""
    # The third level restarts only after the first (lvlRestart 1): "(ii)" after "(b)", "(i)" after "2.".
    levels = (
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
        f'<w:lvl w:ilvl="1"><w:start w:val="1"/>{rule}<w:numFmt w:val="lowerLetter"/><w:lvlText w:val="(%2)"/></w:lvl>'
        '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:lvlRestart w:val="1"/><w:numFmt w:val="lowerRoman"/>'
        '<w:lvlText w:val="(%3)"/></w:lvl>'
    )
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(f'<w:abstractNum {ns} w:abstractNumId="905">{levels}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {ns} w:numId="905"><w:abstractNumId w:val="905"/></w:num>'))
    items = [("Scope", 0), ("Services", 1), ("Late fees", 2), ("Goods", 1), ("Interest", 2)]
    items += [("Fees", 0), ("Invoices", 1), ("Penalties", 2)]
    for text, level in items:
        paragraph = document.add_paragraph(text)
        number = f'<w:numPr {ns}><w:ilvl w:val="{level}"/><w:numId w:val="905"/></w:numPr>'
        paragraph._p.get_or_add_pPr().append(parse_xml(number))
    path = tmp_path / "terms.docx"
    document.save(path)
    [document] = find_documents([str(path)])
    read = [b.text for b in document.blocks()]
    assert read[0] == "1. Scope" and read[5] == "2. Fees"
    assert read[1:5] + read[6:] == expected
