"""OpenDocument text files read as LibreOffice shows them: headings, paragraphs, lists and
table rows in order, with what a reader does not read left out."""

from __future__ import annotations

import logging

from bonito_lite.inputs.documents import find_documents, iter_passages

from odt_factory import make_odt


def read(path):
    documents = find_documents([str(path)])
    texts = [d.read_text() for d in documents]
    passages = list(iter_passages(documents, count_tokens=lambda t: len(t.split()), chunk_tokens=30))
    for passage in passages:
        assert texts[0][passage.char_start : passage.char_end] == passage.text
    return texts, passages


BODY = (
    '<text:p text:style-name="P1">Front Desk Handbook</text:p>'
    "<text:table-of-content><text:index-body><text:p>Opening the clinic 1</text:p></text:index-body>"
    "</text:table-of-content>"
    "<text:p>This page is   what the\n  desk team <text:span>needs</text:span> on a normal week"
    '<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body>'
    "<text:p>FOOTNOTE text.</text:p></text:note-body></text:note>.</text:p>"
    '<text:h text:outline-level="1">Opening <text:span>the</text:span> clinic</text:h>'
    "<text:tracked-changes><text:changed-region><text:deletion><text:p>DELETED words.</text:p>"
    "</text:deletion></text:changed-region></text:tracked-changes>"
    '<text:p>It opens at<text:s text:c="2"/>7:30.<text:tab/>Sharp.<text:line-break/>Every weekday'
    "<office:annotation><dc:creator>Ana</dc:creator><text:p>COMMENT text.</text:p></office:annotation>.</text:p>"
    "<text:p>See the box<draw:frame><draw:text-box><text:p>TEXT BOX words.</text:p></draw:text-box>"
    "</draw:frame><draw:custom-shape><text:p>SHAPE words.</text:p></draw:custom-shape>.</text:p>"
    "<text:list><text:list-item><text:p>Turn on the lights.</text:p></text:list-item>"
    "<text:list-item><text:p>Forward the phones.</text:p><text:list><text:list-item><text:p>"
    '<text:a xlink:href="https://example.org">Both</text:a> lines.</text:p></text:list-item></text:list>'
    "</text:list-item></text:list>"
    '<text:soft-page-break/><text:section text:name="S1"><text:p text:style-name="Text_20_body">In a section.</text:p>'
    "</text:section>"
    '<table:table table:name="Hours"><table:table-column table:number-columns-repeated="4"/>'
    "<table:table-header-rows><table:table-row><table:table-cell><text:p>Day</text:p></table:table-cell>"
    "<table:table-cell><text:p>Opens</text:p></table:table-cell><table:table-cell/>"
    "<table:table-cell><text:p>Closes</text:p></table:table-cell></table:table-row></table:table-header-rows>"
    '<table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>Sunday</text:p></table:table-cell>'
    "<table:covered-table-cell/><table:table-cell/><table:table-cell><text:p>closed</text:p></table:table-cell>"
    '<table:table-cell table:number-columns-repeated="1020"/></table:table-row>'
    "<table:table-row><table:table-cell><text:p>Tuesday</text:p></table:table-cell>"
    '<table:table-cell table:number-columns-repeated="2"/><table:table-cell><text:p>18:00</text:p>'
    "</table:table-cell></table:table-row>"
    "<table:table-row><table:table-cell><text:p>Monday</text:p></table:table-cell><table:table-cell><text:p>7:30"
    "</text:p></table:table-cell><table:table-cell/><table:table-cell><table:table><table:table-row>"
    "<table:table-cell><text:p>17:00</text:p></table:table-cell><table:table-cell><text:p>(late)</text:p>"
    "</table:table-cell></table:table-row></table:table></table:table-cell></table:table-row>"
    '<table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="1024"/>'
    "</table:table-row></table:table>"
    '<text:p text:style-name="P2">The end<text:hidden-text text:condition="ooow:true" text:string-value="HIDDEN">HIDDEN</text:hidden-text>.</text:p>'
)
STYLES = (
    '<style:style style:name="P1" style:family="paragraph" style:parent-style-name="Title"/>'
    '<style:style style:name="P2" style:family="paragraph" style:parent-style-name="Text_20_body"/>'
)


def test_an_odt_reads_as_libreoffice_shows_it_with_tracked_changes_accepted(tmp_path):
    path = make_odt(tmp_path / "handbook.odt", BODY, STYLES)
    texts, passages = read(path)
    assert texts == [
        "Front Desk Handbook\n\nThis page is what the desk team needs on a normal week.\n\n"
        "Opening the clinic\n\nIt opens at  7:30.\tSharp.\nEvery weekday.\n\nSee the box.\n\n"
        "Turn on the lights.\n\nForward the phones.\n\nBoth lines.\n\nIn a section.\n\n"
        "Day | Opens |  | Closes\n\nSunday |  | closed\n\nTuesday |  |  | 18:00\n\n"
        "Monday | 7:30 |  | 17:00 | (late)\n\nThe end."
    ]
    # The Title-style paragraph and the heading start passages, and the header (styles.xml),
    # the contents, footnote, change log, comment and text box are nowhere.
    assert [p.text.split("\n")[0] for p in passages][:2] == ["Front Desk Handbook", "Opening the clinic"]
    document = next(iter(find_documents([str(path)])))
    assert [b.text for b in document.blocks() if b.heading] == ["Front Desk Handbook", "Opening the clinic"]
    for left_out in ("HEADER", "FOOTNOTE", "DELETED", "COMMENT", "TEXT BOX", "SHAPE", "HIDDEN", "clinic 1"):
        assert left_out not in texts[0]


def test_a_password_protected_or_damaged_odt_is_skipped_with_a_warning(tmp_path, caplog):
    make_odt(tmp_path / "locked.odt", "<text:p>Secret.</text:p>", encrypted=True)
    (tmp_path / "broken.odt").write_bytes(b"PK\x03\x04 not really a zip")
    make_odt(tmp_path / "fine.odt", "<text:p>The desk opens at eight.</text:p>")
    with caplog.at_level(logging.WARNING):
        documents = find_documents([str(tmp_path)])
        passages = list(iter_passages(documents, count_tokens=lambda t: len(t.split()), chunk_tokens=30))
    assert [p.text for p in passages] == ["The desk opens at eight."]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("locked.odt: encrypted with a password; skipped" in w for w in warnings)
    assert any("broken.odt: not a readable .odt" in w for w in warnings)
    assert sorted(documents.skipped) == [str(tmp_path / "broken.odt"), str(tmp_path / "locked.odt")]


def test_an_odt_whose_text_part_unpacks_past_any_document_is_skipped_unread(tmp_path, monkeypatch, caplog):
    from bonito_lite.inputs.readers import odt

    path = make_odt(tmp_path / "bomb.odt", "<text:p>" + "x " * 5000 + "</text:p>")
    monkeypatch.setattr(odt, "_MOST_PART_BYTES", 4096)
    with caplog.at_level(logging.WARNING):
        documents = find_documents([str(path)])
        assert list(iter_passages(documents, count_tokens=lambda t: len(t.split()), chunk_tokens=30)) == []
    assert documents.skipped == (str(path),)
    assert "bomb.odt: its content.xml unpacks to 0 MB, more than any document holds; skipped." in caplog.text


def test_text_a_style_hides_is_left_out_and_what_libreoffice_does_not_show_is_not_read(tmp_path):
    styles = (
        '<style:style style:name="T1" style:family="text"><style:text-properties text:display="none"/></style:style>'
        '<style:style style:name="Hidden" style:family="paragraph"><style:text-properties text:display="none"/>'
        "</style:style>"
        '<style:style style:name="P3" style:family="paragraph" style:parent-style-name="Hidden"/>'
    )
    body = (
        '<text:p>  Shown <text:span text:style-name="T1">SECRET </text:span>text,<text:span> with  </text:span> '
        "a hy\u00adphen\u200bated word <text:ruby><text:ruby-base>\u6f22\u5b57</text:ruby-base><text:ruby-text>READING"
        '</text:ruby-text></text:ruby><text:script script:language="js">SCRIPT</text:script>'
        '<text:s text:c="200000000"/>end.</text:p>'
        '<text:p text:style-name="P3">HIDDEN paragraph.</text:p>'
        '<text:section text:name="S" text:display="none"><text:p>HIDDEN section.</text:p></text:section>'
        '<text:list><text:list-item><text:h text:outline-level="1"><text:number>1.</text:number>Intro</text:h>'
        "</text:list-item></text:list>"
        "<table:table><table:table-row-group><table:table-header-rows><table:table-row><table:table-cell><text:p>"
        "Day</text:p></table:table-cell></table:table-row></table:table-header-rows><table:table-row-group>"
        "<table:table-rows><table:table-row><table:table-cell><text:p>Monday</text:p></table:table-cell>"
        "</table:table-row></table:table-rows></table:table-row-group></table:table-row-group><table:table-row>"
        '<table:table-cell table:number-columns-repeated="10"><text:p>x</text:p></table:table-cell>'
        '<table:table-cell table:number-columns-repeated="16384"><text:p>y</text:p></table:table-cell>'
        "</table:table-row></table:table>"
    )
    path = make_odt(
        tmp_path / "hidden.odt",
        body.replace("<text:script", '<text:script xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0"'),
        styles,
    )
    [text] = read(path)[0]
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Shown text, with a hyphenated word \u6f22\u5b57" + " " * 1024 + "end."
    assert paragraphs[1:4] == ["Intro", "Day", "Monday"]
    # A row is no wider than LibreOffice's widest sheet.
    assert paragraphs[4] == " | ".join(["x"] * 10 + ["y"] * 16374)
    for left_out in ("SECRET", "HIDDEN", "READING", "SCRIPT", "1."):
        assert left_out not in text


def test_an_odt_with_a_damaged_number_is_skipped_and_the_rest_of_the_folder_read(tmp_path, caplog):
    make_odt(
        tmp_path / "a.odt",
        '<table:table><table:table-row><table:table-cell table:number-columns-repeated="two">'
        "<text:p>Cell.</text:p></table:table-cell></table:table-row></table:table>",
    )
    make_odt(tmp_path / "b.odt", '<text:p>Lots<text:s text:c="lots"/>of space.</text:p>')
    make_odt(tmp_path / "c.odt", "<text:p>The desk opens at eight.</text:p>")
    with caplog.at_level(logging.WARNING):
        documents = find_documents([str(tmp_path)])
        passages = list(iter_passages(documents, count_tokens=lambda t: len(t.split()), chunk_tokens=30))
    assert [p.text for p in passages] == ["The desk opens at eight."]
    assert sorted(documents.skipped) == [str(tmp_path / "a.odt"), str(tmp_path / "b.odt")]
    assert caplog.text.count("not a readable .odt (ValueError") == 2


def test_a_style_that_shows_what_its_parent_hides_shows_it_and_the_headers_styles_hide_nothing_in_the_body(tmp_path):
    styles = (
        '<style:style style:name="Hidden" style:family="paragraph"><style:text-properties text:display="none"/>'
        "</style:style>"
        '<style:style style:name="P1" style:family="paragraph" style:parent-style-name="Hidden">'
        '<style:text-properties text:display="true"/></style:style>'
        '<style:style style:name="T1" style:family="text"/>'
    )
    # The header's own automatic styles reuse the body's names, hidden.
    header = (
        '<style:style style:name="P1" style:family="paragraph"><style:text-properties text:display="none"/>'
        '</style:style><style:style style:name="T1" style:family="text"><style:text-properties text:display="none"/>'
        "</style:style>"
    )
    body = (
        '<text:p text:style-name="P1">Shown by its own style, <text:span text:style-name="T1">and this</text:span>.'
        "<draw:rect><text:p>RECT text.</text:p></draw:rect><draw:g><draw:ellipse><text:p>GROUP text.</text:p>"
        "</draw:ellipse></draw:g></text:p>"
        '<text:numbered-paragraph text:level="1"><text:p>A numbered paragraph.</text:p></text:numbered-paragraph>'
    )
    path = make_odt(tmp_path / "shown.odt", body, styles, header_styles=header)
    assert read(path)[0] == ["Shown by its own style, and this.\n\nA numbered paragraph."]
