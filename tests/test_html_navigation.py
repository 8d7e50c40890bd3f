"""HTML pages as documentation generators write them: their navigation is not the document.

Each page is shaped like its generator's output (texinfo's makeinfo, mdBook, a Sphinx theme
for a documentation site), with the navigation text marked NAV so that a test can tell any
of it that got through.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bonito_lite.inputs.documents import find_documents, iter_passages


def words(text: str) -> int:
    return len(text.split())


def read(tmp_path: Path, name: str, page: str | bytes) -> tuple[str, list[str]]:
    """The page's text as read, and its passages."""
    path = tmp_path / name
    if isinstance(page, bytes):
        path.write_bytes(page)
    else:
        path.write_text(page, encoding="utf-8")
    [document] = find_documents([str(path)])
    passages = list(iter_passages([document], count_tokens=words, chunk_tokens=200))
    return document.read_text(), [p.text for p in passages]


def read_page(page: str) -> tuple[str, list[str]]:
    """:func:`read` of a page written to a temporary folder of its own."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return read(Path(folder), "page.html", page)


TEXINFO_PAGE = """<!DOCTYPE html>
<html><head><title>Closure Example (libfoo)</title></head>
<body lang="en">
<div class="section" id="Closure-Example">
<div class="header">
<p>
Next: <a href="Thread-Safety.html" accesskey="n" rel="next">NAV Thread Safety</a>, Previous:
<a href="The-Closure-API.html" accesskey="p" rel="prev">NAV The Closure API</a>, Up:
<a href="Using.html" accesskey="u" rel="up">NAV Using libfoo</a> &nbsp;
[<a href="Index.html" title="Index" rel="index">NAV Index</a>]</p>
</div>
<hr>
<span id="Closure-Example-1"></span><h3 class="section">2.6 Closure Example</h3>
<p>A trivial example that creates a new <code>puts</code> by binding <code>fputs</code>
with <code>stdout</code>.</p>
<dl class="def">
<dt id="index-foo_prep"><span class="category">Function: </span><strong>foo_prep</strong>
<a class="copiable-anchor" href="#index-foo_prep"> NAV</a></dt>
<dd><p>Prepares a closure.</p></dd>
</dl>
<table class="menu" border="0" cellspacing="0">
<tr><td align="left" valign="top">&bull; <a href="Sub-One.html" accesskey="1">NAV Sub One</a>:</td>
<td>&nbsp;&nbsp;</td><td align="left" valign="top">
</td></tr>
<tr><td align="left" valign="top">&bull; <a href="Sub-Two.html" accesskey="2">NAV Sub Two</a>:</td>
<td>&nbsp;&nbsp;</td><td align="left" valign="top">
</td></tr>
</table>
<hr>
<div class="nav-panel">
<p>Next: <a href="Thread-Safety.html">NAV Thread Safety</a>, Up: <a href="Using.html">NAV Using</a></p>
</div>
</div>
</body></html>
"""


def test_texinfo_next_previous_up_bars_and_menus_are_left_out(tmp_path):
    text, passages = read(tmp_path, "Closure-Example.html", TEXINFO_PAGE)
    assert "NAV" not in text
    assert passages == [
        "2.6 Closure Example\n\nA trivial example that creates a new puts by binding fputs with "
        "stdout.\n\nFunction: foo_prep\n\nPrepares a closure."
    ]


MDBOOK_PAGE = """<!DOCTYPE HTML>
<html lang="en" class="light sidebar-visible" dir="ltr">
<head><meta charset="UTF-8"><title>Installation - The Widget Book</title></head>
<body>
<div id="mdbook-help-container">
  <div id="mdbook-help-popup">
    <h2 class="mdbook-help-title">NAV Keyboard shortcuts</h2>
    <div>
      <p>NAV Press <kbd>&larr;</kbd> or <kbd>&rarr;</kbd> to navigate between chapters</p>
      <p>NAV Press <kbd>S</kbd> or <kbd>/</kbd> to search in the book</p>
    </div>
  </div>
</div>
<div id="body-container">
  <input type="checkbox" id="sidebar-toggle-anchor" class="hidden">
  <nav id="sidebar" class="sidebar" aria-label="Table of contents">
    <div class="sidebar-scrollbox"><ol class="chapter"><li class="chapter-item">
      <a href="intro.html">NAV Introduction</a></li></ol></div>
  </nav>
  <div id="page-wrapper" class="page-wrapper">
    <div class="page">
      <div id="menu-bar-hover-placeholder"></div>
      <div id="menu-bar" class="menu-bar sticky">
        <div class="left-buttons">
          <label id="sidebar-toggle" class="icon-button" for="sidebar-toggle-anchor"
                 title="Toggle Table of Contents"><i class="fa fa-bars"></i></label>
        </div>
        <h1 class="menu-title">NAV The Widget Book</h1>
        <div class="right-buttons">
          <a href="print.html" title="Print this book" aria-label="Print this book">
            <i id="print-button" class="fa fa-print"></i></a>
        </div>
      </div>
      <div id="search-wrapper" class="hidden">
        <form id="searchbar-outer" class="searchbar-outer"><input type="search" id="searchbar"></form>
        <div id="searchresults-outer" class="searchresults-outer hidden">
          <div id="searchresults-header" class="searchresults-header">NAV results</div>
        </div>
      </div>
      <div id="content" class="content">
        <main>
          <h1 id="installation"><a class="header" href="#installation">Installation</a></h1>
          <p>Widgets install with one command on any machine with a C compiler.</p>
          <h2 id="from-source"><a class="header" href="#from-source">From source</a></h2>
          <p>Clone the repository and run make, then make install.</p>
        </main>
        <nav class="nav-wrapper" aria-label="Page navigation">
          <a rel="prev" href="intro.html" class="mobile-nav-chapters previous">NAV prev</a>
        </nav>
      </div>
    </div>
  </div>
</div>
</body></html>
"""


def test_mdbook_book_title_menu_and_keyboard_shortcuts_panel_are_left_out(tmp_path):
    text, passages = read(tmp_path, "installation.html", MDBOOK_PAGE)
    assert "NAV" not in text
    assert passages == [
        "Installation\n\nWidgets install with one command on any machine with a C compiler.",
        "From source\n\nClone the repository and run make, then make install.",
    ]


def test_an_mdbook_page_whose_one_h1_is_the_book_title_in_its_menu_bar_is_read_to_its_end(tmp_path):
    # A chapter whose own heading is an h2 leaves the menu bar's book title the page's one h1,
    # itself navigation: reading once went round it for ever.
    import threading

    page = MDBOOK_PAGE.replace('<h1 id="installation">', '<h2 id="installation">').replace(
        "Installation</a></h1>", "Installation</a></h2>"
    )
    assert page.count("<h1") == 1
    result = []
    reader = threading.Thread(target=lambda: result.append(read(tmp_path, "installation.html", page)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert result, "reading the page did not finish"
    text, passages = result[0]
    assert "NAV" not in text
    assert passages == [
        "Installation\n\nWidgets install with one command on any machine with a C compiler.",
        "From source\n\nClone the repository and run make, then make install.",
    ]


DOCS_SITE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signing - Widgets documentation</title></head>
<body>
<a class="skip-link" href="#main-content">NAV Skip to main content</a>
<div class="wy-grid-for-nav">
  <div class="wy-side-scroll"><div class="wy-menu wy-menu-vertical">
    <ul><li class="toctree-l1"><a href="intro.html">NAV Intro</a></li></ul></div></div>
  <section data-toggle="wy-nav-shift" class="wy-nav-content-wrap">
    <div class="wy-nav-content"><div class="rst-content">
      <div role="navigation" aria-label="Page navigation">
        <ul class="wy-breadcrumbs"><li><a href="index.html">NAV Docs</a> &raquo;</li>
          <li>NAV Signing</li></ul>
      </div>
      <ol class="breadcrumb" aria-label="breadcrumb"><li>NAV Home</li><li>NAV API</li></ol>
      <div role="main" class="document" id="main-content">
        <section id="signing">
          <h1>Signing<a class="headerlink" href="#signing" title="Permalink">NAV</a></h1>
          <p>A signer attaches a signature to a value, and checks it when the value comes back.
             See <a href="keys.html">key rotation</a> for changing keys.</p>
          <div class="toctree-wrapper compound"><ul>
            <li><a href="a.html">NAV First child page</a></li>
            <li><a href="b.html">NAV Second child page</a></li>
          </ul></div>
        </section>
      </div>
      <footer><div class="rst-footer-buttons" role="navigation">
        <a href="next.html" class="btn">NAV Next</a></div>
        <p>NAV Built with a theme.</p></footer>
    </div></div>
  </section>
</div>
<a href="#top" class="back-to-top">NAV Back to top</a>
</body></html>
"""


def test_a_docs_site_loses_skip_links_breadcrumbs_sidebars_and_pilcrows_but_keeps_its_content(tmp_path):
    text, passages = read(tmp_path, "signing.html", DOCS_SITE_PAGE)
    assert "NAV" not in text
    assert passages == [
        "Signing\n\nA signer attaches a signature to a value, and checks it when the value "
        "comes back. See key rotation for changing keys."
    ]


def test_a_headings_own_link_shown_as_a_sign_is_left_out(tmp_path):
    page = (
        "<html><body><h2>Contributing<span><a class='mark' href='#contributing' id='contributing'>#"
        "</a></span></h2><p>Report errors in <a href='https://example.org/issues'>the tracker</a>.</p>"
        "<h2>Limits<a href='#limits'>\u00b6</a></h2><p>Names are at most 64 bytes; see \u00a7 2.</p>"
        "</body></html>"
    )
    text, _ = read(tmp_path, "node.html", page)
    assert text == (
        "Contributing\n\nReport errors in the tracker.\n\nLimits\n\nNames are at most 64 bytes; see \u00a7 2."
    )


def test_a_paragraph_with_a_link_or_two_in_its_text_is_kept(tmp_path):
    page = (
        "<html><body><p>Read <a href='a.html'>the guide</a> and <a href='b.html'>the FAQ</a> "
        "before you call support, because most questions are answered there already.</p>"
        "<ul><li><a href='x.html'>Guide</a></li><li><a href='y.html'>FAQ</a></li></ul>"
        "</body></html>"
    )
    text, _ = read(tmp_path, "help.html", page)
    assert text == (
        "Read the guide and the FAQ before you call support, because most questions are answered there already."
    )


def test_latin1_html_without_a_charset_is_read_as_a_browser_reads_it(tmp_path):
    # Guessed from its bytes, this page came out as "Fran\ufffdois M\ufffdller".
    page = "<html><body><p>Licence par Fran\u00e7ois M\u00fcller</p></body></html>".encode("latin-1")
    text, _ = read(tmp_path, "latin.html", page)
    assert text == "Licence par Fran\u00e7ois M\u00fcller"
    utf8 = "<html><body><p>Fran\u00e7ois \u2014 \u00e9t\u00e9</p></body></html>".encode("utf-8")
    text, _ = read(tmp_path, "utf8.html", utf8)
    assert text == "Fran\u00e7ois \u2014 \u00e9t\u00e9"


BLOG_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Post</title></head><body>
<div id="cookie-consent" class="cookie-banner"><p>NAV We use cookies to improve your experience.</p></div>
<div class="modal" style="color: red; display : none !important"><p>NAV Subscribe to our newsletter!</p></div>
<main id="main"><article>
<header class="entry-header"><h1><a href="/2024/05/on-call/" rel="bookmark">On-call contacts</a></h1>
<div class="entry-meta">Posted by <a href="/author/amal">NAV Amal</a> in <a href="/c/news">NAV News</a></div></header>
<p>Call the doctor on duty for the ward.</p>
<table>
<tr><th>Ward</th><th>Doctor</th><th>Extension</th></tr>
<tr><td><a href="/wards/cardiology">Cardiology</a></td><td><a href="/staff/haddad">Dr. Amal Haddad</a></td><td>4411</td></tr>
<tr><td><a href="/wards/oncology">Oncology</a></td><td><a href="/staff/novak">Dr. Petra Novak</a></td><td>4420</td></tr>
</table>
</article></main>
<div class="copyright">NAV (c) 2024 Riverside Health Trust. All rights reserved.</div>
</body></html>"""


def test_an_articles_linked_table_and_linked_title_are_kept_and_banners_hidden_parts_are_not(tmp_path):
    text, _ = read(tmp_path, "post.html", BLOG_PAGE)
    assert "NAV" not in text
    assert text == (
        "On-call contacts\n\nCall the doctor on duty for the ward.\n\nWard | Doctor | Extension\n\n"
        "Cardiology | Dr. Amal Haddad | 4411\n\nOncology | Dr. Petra Novak | 4420"
    )


def test_a_layout_tables_empty_and_image_cells_add_no_separators(tmp_path):
    page = """<html><body><table><tr><td><img src="logo.gif"></td><td></td></tr></table>
<table><tr><td><img src="spacer.gif"></td><td><p>The clinic opens at 7:30.</p></td><td> </td></tr></table>
</body></html>"""
    text, passages = read(tmp_path, "old.html", page)
    assert text == "The clinic opens at 7:30."
    assert passages == ["The clinic opens at 7:30."]


def test_a_page_declared_latin1_is_read_as_windows_1252_as_browsers_do(tmp_path):
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9 \x93quoted\x94 \x80 5.</p></body></html>'
    text, _ = read(tmp_path, "latin.html", page.encode("latin-1"))
    assert text == "Café “quoted” € 5."


def test_an_old_layout_tables_menu_is_left_out_and_its_short_page_kept_though_the_table_is_mostly_links(tmp_path):
    # libxml's and libxslt's pages: one table holds a long menu and the page, whose few
    # sentences are outweighed by the menu's links.
    menu = "".join(f'<li><a href="p{i}.html">NAV Menu entry number {i}</a></li>' for i in range(30))
    page = f"""<html><body><table><tr><td><h1>The Widget Library</h1><h2>Contributions</h2></td></tr></table>
<table width="100%"><tr>
<td valign="top" width="200"><table><tr><td><b>NAV Main Menu</b></td></tr><tr><td><ul>{menu}</ul></td></tr></table></td>
<td valign="top"><ul><li><p>Ada Reese wrote the number support and the <a href="bench.html">benchmark</a>, and keeps
the test suite running on the older compilers that some of the library's users still build it with.</p></li>
<li><p>Bo Brack fixed many problems in early versions of the parser.</p></li>
<li><p>Cy Hale maintains the port to Windows, and provides binaries for each release.</p></li></ul></td>
</tr></table></body></html>"""
    text, _ = read(tmp_path, "contribs.html", page)
    assert "NAV" not in text
    assert text.startswith(
        "The Widget Library\n\nContributions\n\nAda Reese wrote the number support and the benchmark, and keeps"
    )
    assert text.endswith("Cy Hale maintains the port to Windows, and provides binaries for each release.")
    # A menu of bare links set apart with <br> in a cell of its own is left out too.
    bare = page.replace(f"<ul>{menu}</ul>", menu.replace("<li>", "").replace("</li>", "<br>"))
    assert read(tmp_path, "bare.html", bare)[0] == text
    # Links loose in the wrapper itself cannot be told from its text: the wrapper stays out.
    loose = f"<html><body><div id='wrap'><h1>Links</h1><p>{'An introduction to the links. ' * 5}</p>{menu}</div></body></html>"
    assert "NAV" not in read(tmp_path, "loose.html", loose.replace("<li>", "").replace("</li>", " "))[0]
    # A title page's short lines beside a contents list are not the page's own text.
    titlepage = (
        "<html><body><div class='book'><div class='titlepage'><h1>The Widget Manual</h1>"
        "<p>Release 3.19.0 11 Apr 2022</p><p>Copyright 2000-2022 The Widget Developers</p>"
        f"<p>Email: widgets@example.org</p></div><div class='toc'><ul>{menu}</ul></div></div></body></html>"
    )
    assert read(tmp_path, "titlepage.html", titlepage)[0] == "The Widget Manual"
    # A page that is a menu and nothing else still has no text.
    toc = f"<html><body><h3>Types</h3><table><tr><td><ul>{menu}</ul></td></tr></table></body></html>"
    assert read(tmp_path, "toc.html", toc)[0] == ""


def test_a_heading_named_a_header_is_a_title_not_page_furniture(tmp_path):
    # Bootstrap admin themes name the page's title "page-header"; a header element so named is furniture.
    page = """<html><body><nav>NAV menu</nav><div class="header">NAV Acme intranet</div>
<div id="page-wrapper"><div class="row"><h1 class="page-header">Dashboard</h1></div>
<div class="row"><h2 class="section-header">Orders</h2><p>Orders rose by a tenth this quarter.</p></div></div></body></html>"""
    text, _ = read(tmp_path, "dashboard.html", page)
    assert text == "Dashboard\n\nOrders\n\nOrders rose by a tenth this quarter."
    # Headings named for a footer or a copyright line are still furniture.
    footer = page.replace(
        "</body>",
        '<div class="bottom"><h6 class="copyright">NAV Copyright Acme</h6><h4 class="footer-title">NAV News</h4></div></body>',
    )
    assert read(tmp_path, "footer.html", footer)[0] == text


def test_a_windows_1252_page_with_a_byte_pythons_codec_leaves_unassigned_keeps_its_text(tmp_path):
    # 0x81 is unassigned in Python's cp1252; browsers read it as the C1 control U+0081.
    page = b'<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 \x93menu\x94 \x81 5.</p></body></html>'
    text, _ = read(tmp_path, "menu.html", page)
    assert text == "Caf\xe9 \u201cmenu\u201d \x81 5."
    undeclared, _ = read(tmp_path, "undeclared.html", page.replace(b'<meta charset="windows-1252">', b""))
    assert undeclared == text


def test_an_undeclared_page_that_is_not_utf8_is_read_as_windows_1252_only_when_its_text_is_western(tmp_path, caplog):
    western = [
        "Fran\xe7ois r\xe9pond \xe0 la lettre du march\xe9 aux fleurs.",
        # symbols beside the accents; a guess between Latin-alphabet encodings is not trusted
        "Gr\xf6\xdfere \xdcbungen f\xfcr \xc4pfel und \xd6l. Sch\xf6ne Gr\xfc\xdfe aus M\xfcnchen, \xa9 2003 M\xfcller GmbH.",
        "Le c\u0153ur de l\u2019\xe9t\xe9 \u2014 \xab tr\xe8s chaud \xbb. L\u2019\xe9l\xe8ve a re\xe7u \xbd kg de p\xe2t\xe9s pour 3 \xa3.",
    ]
    for number, sentence in enumerate(western):
        text, _ = read(tmp_path, f"western{number}.html", f"<p>{sentence}</p>".encode("cp1252"))
        assert text == sentence
    # A byte Python's cp1252 leaves unassigned among many accents.
    text, _ = read(tmp_path, "stray.html", "<p>Caf\xe9 \x81 ".encode("latin-1") + western[1].encode("cp1252") + b"</p>")
    assert text == "Caf\xe9 \x81 " + western[1]
    # UTF-8 with one stray Latin-1 byte is UTF-8, the byte shown as U+FFFD.
    text, _ = read(tmp_path, "utf8.html", f"<p>{western[1]} Caf".encode() + b"\xe9.</p>")
    assert text == western[1] + " Caf\ufffd."
    # Read as windows-1252, these would be mojibake ("\x8fO\x89@\x8bc..."): skipped, naming the encoding.
    japanese = (
        "<html><body><p>衆院議院運営委員会は９日午後の理事会で、１３日に本会議を開くことを決めた。</p></body></html>"
    )
    russian = "<html><body><p>Комитет рассмотрел отчёт о работе городской библиотеки за прошлый год.</p></body></html>"
    # ...also after a long inline style sheet.
    styled = russian.replace("<body>", "<head><style>" + "p { margin: 0 }\n" * 5000 + "</style></head><body>")
    # ...also beside English text and links, which a share of all letters would count.
    hebrew = (
        "<html><body><h1>חברה צודקת</h1><p>הוועדה דנה בדוח השנתי של הספרייה העירונית ובתקציב החדש.</p>"
        f"<p>{'The committee met on Tuesday to discuss the annual report of the city library. ' * 4}</p>"
        "<p>http://example.org/show.php?id=9&amp;sub=ספרייה</p></body></html>"
    )
    for name, page, encoding in (
        ("japanese.html", japanese, "CP932"),
        ("russian.html", russian, "CP1251"),
        ("styled.html", styled, "CP1251"),
        ("hebrew.html", hebrew, "CP1255"),
    ):
        caplog.clear()
        (tmp_path / name).write_bytes(page.encode(encoding))
        assert list(iter_passages(find_documents([str(tmp_path / name)]), count_tokens=words)) == []
        assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
            f"{tmp_path / name}: not UTF-8 and names no encoding; it looks like {encoding}; "
            f"convert it first, e.g. iconv -f {encoding} -t UTF-8; skipped."
        ]
        # Declared, it is read in its encoding.
        declared = page.replace("<html>", f'<html><head><meta charset="{encoding}"></head>')
        text, _ = read(tmp_path, name, declared.encode(encoding))
        assert page.split("<p>")[1].split("</p>")[0] in text


def test_a_privacy_policys_cookie_and_consent_sections_are_text():
    page = """<html><body><main><h1>Privacy policy</h1>
<section id="cookies" class="cookie-policy"><h2>How we use cookies</h2><p>We set one session cookie.</p></section>
<h2 id="consent">Patient consent</h2><div class="consent-form"><p>The patient agrees to the procedure.</p></div>
</main></body></html>"""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        text, _ = read(Path(folder), "privacy.html", page)
    assert "We set one session cookie." in text and "The patient agrees to the procedure." in text
    assert "How we use cookies" in text and "Patient consent" in text


def test_an_empty_data_cell_keeps_its_place_and_a_hidden_cell_adds_no_separator(tmp_path):
    page = """<html><body><table><tr><th>Name</th><th>Email</th><th>Age</th></tr>
<tr><td>Alice</td><td></td><td>42</td></tr>
<tr><td style="display:none">secret</td><td>Bob</td><td>37</td></tr></table></body></html>"""
    text, _ = read(tmp_path, "people.html", page)
    assert text == "Name | Email | Age\n\nAlice |  | 42\n\nBob | 37"


@pytest.mark.parametrize(
    "name, banner",
    [
        ("cookie_notice", True),
        ("cookies-banner", True),
        ("gdpr-cookie-notice", True),
        ("CybotCookiebotDialog", True),
        ("cookieConsent", True),
        ("cookies", False),
        ("cookie-policy cookies", False),
        ("consent-form", False),
    ],
)
def test_cookie_banners_go_by_their_names_and_a_policys_sections_stay(tmp_path, name, banner):
    page = f'<html><body><div id="{name}"><p>We use cookies. Accept all</p></div><p>Real text here.</p></body></html>'
    text, _ = read(tmp_path, "page.html", page)
    assert ("We use cookies" in text) is not banner
    assert "Real text here." in text


def test_cells_of_a_table_written_without_rows_are_still_separated(tmp_path):
    text, _ = read(tmp_path, "rowless.html", "<html><body><table><td>Alice</td><td>42</td></table></body></html>")
    assert text == "Alice | 42"


SPHINX_TABLE = """<html><body><div role="main"><h1>Options</h1>
<table class="docutils align-default">
<thead><tr><th class="head"><p>Option</p></th><th class="head"><p>Default</p></th></tr></thead>
<tbody><tr><td><p>timeout</p></td><td><p>30</p><p>seconds</p></td></tr>
<tr><td><p>retries</p></td><td><ul><li><p>3</p></li><li><p>0 turns them off</p></li></ul></td></tr></tbody></table>
<table><tr><td><h2>Layout cell</h2><p>A page laid out in a table keeps its paragraphs.</p></td></tr></table>
</div></body></html>"""


def test_a_table_row_whose_cells_hold_paragraphs_is_one_line():
    # Sphinx, AsciiDoc and Node.js's docs put a <p> (or a list) in every cell.
    text, passages = read_page(SPHINX_TABLE)
    assert text == (
        "Options\n\nOption | Default\n\ntimeout | 30 seconds\n\nretries | 3 0 turns them off"
        "\n\nLayout cell\n\nA page laid out in a table keeps its paragraphs."
    )


def test_line_numbers_of_code_listings_are_left_out():
    table_style = (
        '<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>1\n2</pre></div></td>'
        '<td class="code"><div class="highlight"><pre>import json\nprint(json)</pre></div></td></tr></table>'
    )
    inline_style = '<pre><span class="linenos">1</span>import os\n<span class="linenos">2</span>print(os)</pre>'
    text, _ = read_page(f"<html><body><main>{table_style}{inline_style}</main></body></html>")
    assert text == "import json\nprint(json)\n\nimport os\nprint(os)"


def test_a_sentence_whose_links_are_most_of_its_text_is_kept():
    page = (
        "<html><body><main><p>The <a href='fs.html#a'><code>fs.exists(path, callback)</code></a> API is "
        "deprecated.</p><p>Run <a href='#x'><code>fs.stat()</code></a> or <a href='#y'><code>fs.access()</code></a>"
        " instead.</p><p><a href='a.html'>Home</a> | <a href='b.html'>About the project</a></p></main></body></html>"
    )
    text, _ = read_page(page)
    assert text == "The fs.exists(path, callback) API is deprecated.\n\nRun fs.stat() or fs.access() instead."


def test_a_heading_over_left_out_navigation_goes_with_it_and_a_pages_title_stays():
    page = """<html><body><main><h1>Guide</h1><div class="toc"><ul><li><a href="#a">Install</a></li>
<li><a href="#b">Use</a></li></ul></div><h2>Intro</h2><p>Intro text.</p>
<h2>Table of Contents</h2><div class="contents"><ul><li><a href="#a">Install</a></li><li><a href="#b">Use</a></li></ul></div>
<h2 id="a">Install</h2><p>Unpack the archive.</p><h2>Search</h2><form><input name="q"></form></main></body></html>"""
    text, _ = read_page(page)
    assert text == "Guide\n\nIntro\n\nIntro text.\n\nInstall\n\nUnpack the archive."


def test_soft_hyphens_and_zero_width_spaces_do_not_split_words():
    page = (
        "<html><body><p>Die Donau\u00addampf\u00adschiff\u00adfahrt. Use very\u200blong\u2060names.</p></body></html>"
    )
    text, _ = read_page(page)
    assert text == "Die Donaudampfschifffahrt. Use verylongnames."


def test_readers_comments_under_a_post_are_left_out():
    page = """<html><body><main id="main"><article><h1>Build times</h1><p>We halved them.</p></article>
<div id="comments" class="comments-area"><h2 class="comments-title">2 thoughts on "Build times"</h2>
<ol class="comment-list"><li><article class="comment-body"><p>Great write-up!</p></article></li></ol>
<div id="respond" class="comment-respond"><h3>Leave a Reply</h3></div></div></main></body></html>"""
    text, _ = read_page(page)
    assert text == "Build times\n\nWe halved them."
    # A page's content wrapped in an element of that name is still the page.
    text, _ = read_page('<html><body><div id="comments"><main><p>All of it.</p></main></div></body></html>')
    assert text == "All of it."


def test_a_section_about_comments_and_headings_in_wrappers_are_text():
    # Docutils gives a section titled "Comments" the id "comments"; it is not readers' comments.
    text, _ = read_page(
        '<html><body><div role="main"><h1>Lexical analysis</h1><section id="comments"><h2>Comments</h2>'
        "<p>A comment starts with a hash character.</p></section></div></body></html>"
    )
    assert text == "Lexical analysis\n\nComments\n\nA comment starts with a hash character."
    # A heading whose wrapper holds only its own link, or an icon: what it heads follows.
    text, _ = read_page(
        '<html><body><article><h1>Guide</h1><div class="heading-wrapper"><h2 id="install">Install</h2>'
        '<a class="anchor" href="#install" aria-hidden="true">#</a></div><p>Run pip install.</p>'
        '<h2>Formula</h2><math><mi>x</mi></math><h2>Linux</h2><svg aria-hidden="true"></svg><p>Use apt.</p>'
        "</article></body></html>"
    )
    assert text == "Guide\n\nInstall\n\nRun pip install.\n\nFormula\n\nLinux\n\nUse apt."


def test_a_layout_wrapper_named_for_its_sidebar_keeps_the_page():
    # GitHub's wiki layout, a body class: words that say where the sidebar goes.
    text, _ = read_page(
        '<html><body><main><div class="Layout Layout--sidebarPosition-end"><div class="Layout-main">'
        "<p>The release ships every second Tuesday.</p></div>"
        '<div class="Layout-sidebar"><a href="/a">NAV A</a> <a href="/b">NAV B</a></div></div></main></body></html>'
    )
    assert text == "The release ships every second Tuesday."
    text, _ = read_page(
        '<html><body class="with-sidebar"><div class="content"><h1>Leave policy</h1><p>Employees get 30 days.</p>'
        '</div><div class="sidebar"><a href="/">NAV Home</a></div></body></html>'
    )
    assert text == "Leave policy\n\nEmployees get 30 days."


@pytest.mark.parametrize(
    "header",
    [
        '<header id="title-block-header"><h1 class="title">Travel expenses</h1></header>',  # pandoc
        '<div class="page-header"><h1>Travel expenses</h1></div>',  # Bootstrap
        '<div id="main-header"><div id="breadcrumbs"><a href="/">NAV Home</a> <a href="/e">NAV Eng</a></div>'
        '<h1 id="title-heading">Travel expenses</h1></div>',  # Confluence
    ],
)
def test_the_pages_one_h1_is_kept_from_a_header_left_out(header):
    text, _ = read_page(f"<html><body>{header}<p>Claims are paid monthly.</p></body></html>")
    assert text == "Travel expenses\n\nClaims are paid monthly."


def test_wiki_furniture_inside_the_content_is_left_out():
    page = """<html><body><div id="content"><a class="mw-jump-link" href="#nav">Jump to navigation</a>
<div id="siteSub">From Acme Wiki</div><div id="siteNotice">NAV maintenance tonight</div>
<div class="mw-parser-output"><div id="toc" class="toc"><div id="toctitle"><h2>Contents</h2></div>
<ul><li><a href="#Build">1 Build</a></li></ul></div>
<h2>Build<span class="mw-editsection">[<a href="?action=edit">edit</a>]</span></h2>
<p>The build compiles the service.<sup><a href="#cite-1">[1]</a></sup></p>
<table class="navbox"><tr><th>Delivery</th><td><a href="/a">NAV Pipeline</a></td></tr></table>
<ol class="references"><li id="cite-1"><span class="mw-cite-backlink"><a href="#r1">^</a></span> Handbook, 2023.</li></ol>
<div class="printfooter">Retrieved from "https://wiki/index.php?oldid=1"</div></div></div></body></html>"""
    text, _ = read_page(page)
    assert text == "Build\n\nThe build compiles the service.[1]\n\n1. Handbook, 2023."


def test_rustdocs_version_and_source_link_beside_each_item_are_left_out():
    page = """<html><body class="rustdoc struct"><main><section id="main-content" class="content">
<h1 class="fqn"><span class="in-band">Struct <a class="struct" href="#">Bytes</a></span><span class="out-of-band">\
<span class="since" title="Stable since Rust version 1.0.0">1.0.0</span> <a class="srclink" href="../src/io.rs.html">source</a></span></h1>
<div class="docblock"><p>An iterator over the bytes of a reader.</p></div>
<details class="toggle method-toggle" open><summary><section id="method.len" class="method"><span class="rightside">\
<span class="since" title="Stable since Rust version 1.0.0">1.0.0</span> · <a class="src" href="../src/vec.rs.html#2400">Source</a></span>\
<h4 class="code-header">pub fn <a href="#method.len" class="fn">len</a>(&amp;self) -&gt; usize</h4></section></summary>
<div class="docblock"><p>Returns the number of elements in the vector.</p></div></details></section></main></body></html>"""
    text, _ = read_page(page)
    assert text == (
        "Struct Bytes\n\nAn iterator over the bytes of a reader.\n\npub fn len(&self) -> usize\n\n"
        "Returns the number of elements in the vector."
    )


@pytest.mark.parametrize(
    ("checked", "shown"),
    [(" checked", "import { readFile } from 'node:fs';"), ("", "const { readFile } = require('node:fs');")],
)
def test_of_nodes_two_flavours_of_an_example_only_the_one_its_checkbox_shows_is_read(checked, shown):
    page = f"""<html><body><main><p>Read a file:</p>
<pre class="with-40-chars"><input class="js-flavor-toggle" type="checkbox"{checked} aria-label="Show modern ES modules syntax">\
<code class="language-js mjs">import {{ readFile }} from 'node:fs';</code><code class="language-js cjs">const {{ readFile }} = require('node:fs');</code>\
<button class="copy-button">copy</button></pre>
<pre><code class="language-js cjs">// a lone example has no checkbox and is kept</code></pre></main></body></html>"""
    text, _ = read_page(page)
    assert text == f"Read a file:\n\n{shown}\n\n// a lone example has no checkbox and is kept"


def test_a_table_written_one_tag_a_line_has_single_spaces_around_its_separators():
    text, _ = read_page(
        "<html><body><table>\n<tr>\n<td>Alice</td>\n<td>42</td>\n</tr>\n<tr>\n<td>Bob</td>\n<td></td>\n<td>7</td>\n</tr>\n</table></body></html>"
    )
    assert text == "Alice | 42\n\nBob |  | 7"


def test_a_footnote_block_whose_text_is_mostly_links_is_kept_when_it_reads_as_a_sentence():
    # Google Docs' "Download as HTML": each footnote is a div, its number and source linked.
    text, _ = read_page(
        '<html><body><p>Vendors are approved first<sup><a href="#ftnt1" id="ftnt_ref1">[1]</a></sup>.</p><hr>'
        '<div><p><a href="#ftnt_ref1" id="ftnt1">[1]</a> See the <a href="https://intranet/proc">procurement'
        " handbook</a>, section 2.</p></div>"
        '<div><p><a href="/a">NAV Home</a> | <a href="/b">NAV About us</a></p></div></body></html>'
    )
    assert text == "Vendors are approved first[1].\n\n[1] See the procurement handbook, section 2."


def test_a_layout_cell_that_starts_a_block_leaves_no_lone_separator():
    text, _ = read_page(
        "<html><body><table><tr><td>Module x</td><td><h2>Head</h2><p>Para one.</p></td></tr></table></body></html>"
    )
    assert text == "Module x\n\nHead\n\nPara one."


def test_ordered_list_items_carry_the_numbers_a_browser_shows():
    text, _ = read_page(
        '<html><body><ol><li>Deploy.</li><li>Shift traffic.</li></ol><ol start="2" type="a"><li>x</li>'
        '<li value="7">y</li><li>z</li></ol><ol reversed><li>c</li><li>b</li></ol><ul><li>A bullet.</li></ul>'
        "</body></html>"
    )
    assert text == "1. Deploy.\n\n2. Shift traffic.\n\nb. x\n\ng. y\n\nh. z\n\n2. c\n\n1. b\n\nA bullet."


def test_tab_labels_and_tags_set_apart_by_style_are_separate_words_but_code_is_as_written():
    text, _ = read_page(
        '<html><body><main><div class="tabbed-set"><div class="tabbed-labels"><label for="t1">Python</label>'
        '<label for="t2">JavaScript</label></div><div class="tabbed-content"><p>Run pip.</p><p>Run npm.</p></div></div>'
        '<p>Tags: <span class="tag is-small">Marketing</span><span class="tag is-small">Product</span></p>'
        '<p>Status <span class="label label-info">New</span><span class="label label-warning">Beta</span></p>'
        '<table class="properties"><tr><th>Tags</th><td><span class="selected-value select-value-color-blue">HR'
        '</span><span class="selected-value select-value-color-red">Policy</span></td></tr></table>'
        '<p>Split<span class="hl">ting</span> a word<span class="x">s</span> stays whole.</p>'
        '<pre><code><span class="token tag">&lt;div&gt;</span><span class="token tag">&lt;/div&gt;</span></code></pre>'
        "</main></body></html>"
    )
    assert text == (
        "Python JavaScript\n\nRun pip.\n\nRun npm.\n\nTags: Marketing Product\n\nStatus New Beta\n\nTags | HR Policy\n\n"
        "Splitting a words stays whole.\n\n<div></div>"
    )


def test_list_numbers_go_before_the_items_first_text_and_a_pipe_the_page_writes_stays():
    text, _ = read_page(
        '<html><body><ol start="3"><li><p>Para item</p><p>More of it.</p></li><li><h3>Step title</h3></li>'
        '<li hidden>skipped</li><li>\n  Plain.</li></ol><ol type="A" start="26000000"><li>Huge.</li></ol>'
        '<ol type="a" start="26"><li>z</li><li>aa</li><li>ab</li></ol><ol type="a" start="0"><li>Zero.</li></ol>'
        "<p>Separate the choices with <code>|</code></p><table><tr><td><code>|</code></td><td>or</td></tr></table>"
        "</body></html>"
    )
    # Letters count on past z as browsers count them (aa, ab), not as Word does (aa, bb).
    assert text == (
        "3. Para item\n\nMore of it.\n\n4. Step title\n\n5. Plain.\n\nBDWGMZ. Huge.\n\n"
        "z. z\n\naa. aa\n\nab. ab\n\n0. Zero.\n\nSeparate the choices with |\n\n| | or"
    )


@pytest.mark.parametrize(
    "header",
    [
        '<header><div hidden><h1>NAV hidden title</h1></div><a href="/">NAV Home</a></header>',
        '<header><nav><h1><a href="/">NAV Acme</a></h1></nav></header>',
        '<div class="cookie-banner"><h1>NAV We value your privacy</h1></div>',
    ],
)
def test_a_title_is_not_kept_from_hidden_navigation_or_a_banner(header):
    text, _ = read_page(f"<html><body>{header}<p>Body text.</p></body></html>")
    assert text == "Body text."


def test_a_lead_in_line_does_not_make_a_link_list_text_and_a_short_pages_footer_stays_out():
    text, _ = read_page(
        '<html><body><main><p>Intro text here.</p><div class="related"><p>You might also like these:</p>'
        '<a href="/a">NAV Alpha article</a> <a href="/b">NAV Beta article</a> <a href="/c">NAV Gamma</a></div>'
        "</main><footer>NAV Copyright 2024 Acme GmbH, registered office Berlin.</footer></body></html>"
    )
    assert text == "Intro text here."


@pytest.mark.parametrize(
    "language_tag, encoding, sentence",
    [
        ('<html lang="pl">', "iso8859_2", "Zażółć gęślą jaźń: świeże śliwki są już w sklepie."),
        ('<html xml:lang="cs-CZ" lang="cs-CZ">', "cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy."),
        ('<html><head><meta http-equiv="Content-Language" content="tr, en">', "cp1254", "Şişli'de ığdır çiçekleri."),
        ("<html lang='lt'>", "cp1257", "Įlankoje plaukė žuvėdros ir šešios gulbės."),
        ('<html lang="hu-Latn-HU">', "iso8859_2", "Árvíztűrő tükörfúrógép, öt őszi levél."),
        # Windows-1258 writes some of Vietnamese's tone marks as combining marks.
        ('<html lang="vi">', "cp1258", "Tôi yêu tiê\u0301ng Viê\u0323t."),
    ],
)
def test_an_undeclared_page_in_a_latin_alphabet_language_is_read_in_the_encoding_its_browsers_default_to(
    tmp_path, language_tag, encoding, sentence
):
    page = f"{language_tag}<body><p>{sentence}</p></body></html>"
    text, _ = read(tmp_path, "page.html", page.encode(encoding))
    assert text == sentence
    # Without its language it is read as windows-1252, as before: the letters are wrong.
    bare = page.replace(language_tag, "<html>")
    assert read(tmp_path, "bare.html", bare.encode(encoding))[0] != sentence
    # A declared encoding, or UTF-8, is not second-guessed by the language.
    declared = page.replace("<body>", '<head><meta charset="utf-8"></head><body>')
    assert read(tmp_path, "declared.html", declared.encode())[0] == sentence
    assert read(tmp_path, "utf8.html", page.encode())[0] == sentence


def test_a_language_whose_browsers_default_to_windows_1252_or_written_only_in_a_comment_changes_nothing(tmp_path):
    sentence = "Fran\xe7ois r\xe9pond \xe0 la lettre \u201cdu march\xe9\u201d."
    for name, start in (("fr.html", '<html lang="fr-CA">'), ("comment.html", '<!-- <html lang="pl"> --><html>')):
        text, _ = read(tmp_path, name, f"{start}<body><p>{sentence}</p></body></html>".encode("cp1252"))
        assert text == sentence
    # Only lang counts, the first one written: an HTML page's xml:lang is no language.
    for name, start in (("xml.html", '<html lang="en" xml:lang="pl">'), ("twice.html", '<html lang="en" lang="pl">')):
        text, _ = read(tmp_path, name, f"{start}<body><p>{sentence}</p></body></html>".encode("cp1252"))
        assert text == sentence
    # A byte windows-1250 leaves unassigned is the C1 control of its number, as browsers read
    # it; windows-1257's unassigned 0xa1 is U+FFFD, as the encoding standard leaves it.
    page = '<html lang="cs"><body><p>Kůň 5.</p></body></html>'.encode("cp1250").replace(b"5.", b"\x81 5.")
    assert read(tmp_path, "cs.html", page)[0] == "Kůň \x81 5."
    page = '<html lang="lt"><body><p>Žuvėdros 5.</p></body></html>'.encode("cp1257").replace(b"5.", b"\xa1 5.")
    assert read(tmp_path, "lt.html", page)[0] == "Žuvėdros \ufffd 5."


def test_a_page_whose_language_is_written_in_another_script_is_judged_by_its_bytes(tmp_path, caplog):
    # Azeri in Cyrillic letters, Kurdish in Arabic ones: the language's Latin-alphabet default
    # would make mojibake of them; they are skipped as any undeclared page in another script.
    russian = "Комитет рассмотрел отчёт о работе городской библиотеки за прошлый год."
    arabic = "ناوەندی شار کتێبخانەیەکی نوێی کردەوە بۆ هەموو خەڵکی ناوچەکە."
    for name, start, sentence, encoding in (
        ("az.html", '<html lang="az-Cyrl">', russian, "cp1251"),
        ("ku.html", '<html lang="ku">', arabic, "cp1256"),
    ):
        caplog.clear()
        page = f"{start}<body><p>{sentence}</p></body></html>".encode(encoding, errors="replace")
        (tmp_path / name).write_bytes(page)
        assert list(iter_passages(find_documents([str(tmp_path / name)]), count_tokens=words)) == []
        assert any("not UTF-8 and names no encoding" in r.getMessage() for r in caplog.records)
