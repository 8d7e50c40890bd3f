"""Folders as users have them: bonito-lite's own outputs inside, stray data files, links,
unreadable corners, legacy encodings, and the names and summaries a run gives them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from bonito_lite.errors import InputError
from bonito_lite.inputs.documents import find_documents, guess_encoding, iter_passages
from bonito_lite.inputs.readers.text import encoding_candidates
from bonito_lite.run import default_output

from cli_helpers import read_jsonl, run_cli

NOTES = "The boiler in the north wing was serviced on 3 March by Ana Ruiz.\n"
RECORD = {
    "input": "Who serviced the boiler?",
    "output": "Ana Ruiz",
    "task_type": "question generation",
    "context": NOTES.strip(),
    "source": "notes.md",
    "passage_index": 0,
    "char_start": 0,
    "char_end": 66,
    "sample_index": 0,
    "model": "toy-bonito.gguf",
    "seed": 0,
    "unit": "0123456789abcdef",
}
MANIFEST = {"bonito_lite_version": "0.1.0", "arguments": {}, "counts": {}}
FAST = ["--model", "toy", "--max-tokens", "48"]


def words(text: str) -> int:
    return len(text.split())


def sources(inputs, **kwargs) -> list[str]:
    return [d.source for d in find_documents(inputs, **kwargs)]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def warnings_in(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# --- bonito-lite's own files -------------------------------------------------------------------


def test_a_folder_scan_passes_over_every_file_bonito_lite_writes(tmp_path, caplog):
    docs = tmp_path / "docs"
    write(docs / "notes.md", NOTES)
    # Default names: the output, its rejects, manifest and exports.
    write(docs / "notes.bonito.jsonl", jsonl(RECORD))
    write(docs / "notes.bonito.rejected.jsonl", jsonl({**RECORD, "reason": "unparsed"}))
    write(docs / "notes.bonito.jsonl.manifest.json", json.dumps(MANIFEST))
    write(docs / "notes.bonito.alpaca.jsonl", jsonl({"instruction": "q", "input": "", "output": "a"}))
    write(docs / "notes.bonito.messages.jsonl", jsonl({"messages": []}))
    # Named after a default output, without a manifest: a review and a report page.
    write(docs / "old.bonito.review.jsonl", jsonl({"unit": "0123456789abcdef", "verdict": "drop"}))
    write(docs / "old.bonito.report.html", "<html><body><h1>Report</h1><p>3 examples.</p></body></html>")
    # An output named with -o: known by the manifest beside it, with whatever is named after it.
    write(docs / "data.jsonl", jsonl(RECORD))
    write(docs / "data.jsonl.manifest.json", json.dumps(MANIFEST))
    write(docs / "data.rejected.jsonl", jsonl({**RECORD, "reason": "unparsed"}))
    write(docs / "data.review.jsonl", jsonl({"unit": "0123456789abcdef", "verdict": "ok"}))
    write(docs / "data.report.html", "<html><body><h1>Report</h1><p>12 examples.</p></body></html>")
    write(docs / "data.hf" / "dataset_info.json", json.dumps({"features": {}}))
    write(docs / "data.hf" / "state.json", json.dumps({"_data_files": []}))
    # Records sent to stdout and saved under any name are still generated records.
    write(docs / "saved.jsonl", jsonl(RECORD))
    # The user's own files that merely look alike are documents.
    write(docs / "data.md", "Data retention: invoices are kept for seven years.\n")
    write(docs / "bonito.md", "Bonito is a fish of the tuna family.\n")
    # ... and so are files that share the output's stem without a name bonito-lite writes.
    write(docs / "data.en.html", "<html><body><p>Invoices are kept for seven years.</p></body></html>")
    write(docs / "data.sheet.json", json.dumps([{"text": "Receipts are kept for two years."}]))
    with caplog.at_level(logging.WARNING):
        found = sources([str(docs)])
    assert found == [
        str(docs / "bonito.md"),
        str(docs / "data.en.html"),
        str(docs / "data.md"),
        str(docs / "data.sheet.json#row=0"),
        str(docs / "notes.md"),
    ]
    assert warnings_in(caplog) == []


def test_a_json_manifest_that_bonito_lite_did_not_write_marks_nothing(tmp_path):
    docs = tmp_path / "docs"
    write(docs / "app.md", "The app starts in three seconds.\n")
    write(docs / "app.manifest.json", json.dumps([{"text": "A table row of the user's."}]))
    assert sources([str(docs)]) == [str(docs / "app.manifest.json#row=0"), str(docs / "app.md")]


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.bonito.jsonl", jsonl(RECORD)),
        ("notes.bonito.rejected.jsonl", jsonl({**RECORD, "reason": "unparsed"})),
        ("saved.jsonl", jsonl(RECORD)),
    ],
)
def test_a_bonito_lite_output_named_as_input_is_a_one_line_error(tmp_path, name, content):
    path = write(tmp_path / name, content)
    with pytest.raises(InputError) as caught:
        list(find_documents([str(path)]))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: a file bonito-lite wrote")
    assert "not a document" in message


def test_rerunning_inside_the_input_folder_resumes_instead_of_reading_its_own_output(in_tmp):
    write(in_tmp / "notes.md", NOTES)
    first = run_cli(["generate", ".", "-t", "qg", *FAST, "--format", "alpaca"])
    assert first.exit_code == 0, first.output
    output = in_tmp / "output.bonito.jsonl"
    assert output.exists() and (in_tmp / "output.bonito.jsonl.manifest.json").exists()
    written = read_jsonl(output) + read_jsonl(in_tmp / "output.bonito.rejected.jsonl")
    second = run_cli(["generate", ".", "-t", "qg", *FAST, "--format", "alpaca"])
    assert second.exit_code == 0, second.output
    assert "Nothing to generate" in second.stderr
    assert read_jsonl(output) + read_jsonl(in_tmp / "output.bonito.rejected.jsonl") == written
    assert {r["source"] for r in written} == {os.path.join(".", "notes.md")}


# --- documents in formats that are not read --------------------------------------------------------


def test_documents_in_formats_not_read_are_told_in_one_warning_and_a_source_trees_files_pass_in_silence(
    tmp_path, caplog
):
    docs = tmp_path / "docs"
    write(docs / "notes.md", NOTES)
    for name in ("minutes.rtf", "plan.RTF", "deck.pptx", "wiki/index.rst", "build.py", "logo.png"):
        write(docs / name, "x")
    with caplog.at_level(logging.WARNING):
        found = [d.source for d in find_documents([str(docs)])]
        assert found == [str(docs / "notes.md")]
        assert warnings_in(caplog) == [
            f"{docs}: passed over 1 .pptx, 1 .rst, 2 .rtf (formats bonito-lite does not read); "
            "convert them to .docx, .pdf, .html, .md or .txt (a spreadsheet to .csv) to include them."
        ]
        caplog.clear()
        for name in ("app.py", "logo.png", "Makefile", "README.md", "certs/server.key", "msg/Pose.msg"):
            write(tmp_path / "src" / name, "x")
        find_documents([str(tmp_path / "src")])
        assert warnings_in(caplog) == []
    (docs / "notes.md").unlink()
    with pytest.raises(
        InputError, match=r"no supported files in this folder .*; passed over 1 \.pptx, 1 \.rst, 2 \.rtf"
    ):
        find_documents([str(docs)])


# --- tables that are not tables of text ---------------------------------------------------------


@pytest.fixture
def stray_folder(tmp_path) -> Path:
    docs = tmp_path / "docs"
    write(docs / "guide.md", "Press the red button twice to restart the pump.\n")
    write(docs / "CMakeUserPresets.json", json.dumps({"version": 3, "configurePresets": []}))
    write(docs / "bench.csv", "threads,seconds\n1,4.2\n2,2.3\n")
    write(docs / "broken.json", "{ not json")
    write(docs / "rows.jsonl", jsonl({"text": "Invoices above 500 euros need two signatures."}))
    return docs


def test_a_folder_scan_skips_tables_without_text_with_one_warning_each(stray_folder, caplog):
    with caplog.at_level(logging.WARNING):
        documents = find_documents([str(stray_folder)])
        found = [d.source for d in documents]
    assert found == [str(stray_folder / "guide.md"), str(stray_folder / "rows.jsonl#row=0")]
    skipped = [str(stray_folder / n) for n in ("CMakeUserPresets.json", "bench.csv", "broken.json")]
    assert list(documents.skipped) == skipped
    warnings = warnings_in(caplog)
    assert len(warnings) == 3
    for name, warning in zip(skipped, warnings):
        assert warning.startswith(f"{name}: ") and warning.endswith("; skipped.")
    assert "no column 'text'" in warnings[1] and "'threads'" in warnings[1]


def test_a_pattern_skips_tables_without_text_too(stray_folder):
    documents = find_documents([str(stray_folder / "*")])
    assert len(documents.skipped) == 3


def test_the_same_table_named_explicitly_is_still_an_error(stray_folder):
    for name in ("CMakeUserPresets.json", "bench.csv", "broken.json"):
        with pytest.raises(InputError):
            find_documents([str(stray_folder / name)])


def test_a_folder_of_tables_without_the_column_is_a_one_line_error(tmp_path):
    write(tmp_path / "docs" / "bench.csv", "threads,seconds\n1,4.2\n")
    with pytest.raises(InputError) as caught:
        find_documents([str(tmp_path / "docs")])
    assert "--context-col" in str(caught.value) and "\n" not in str(caught.value)


def test_skipped_tables_are_counted_in_the_summary_and_the_manifest(stray_folder, in_tmp):
    result = run_cli(["generate", str(stray_folder), "-t", "qg", *FAST, "-o", "out.jsonl"])
    assert result.exit_code == 0, result.output
    assert "3 files skipped (see the warnings)" in result.stderr
    manifest = json.loads((in_tmp / "out.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["skipped_files"] == 3
    assert manifest["skipped_files"] == [
        str(stray_folder / n) for n in ("CMakeUserPresets.json", "bench.csv", "broken.json")
    ]
    dry = run_cli(["generate", str(stray_folder), "-t", "qg", "--model", "toy", "--dry-run"])
    assert "prompt tokens; 3 files skipped (see the warnings)" in dry.stdout.splitlines()[-1]


def test_files_found_unreadable_or_empty_while_reading_are_counted_as_skipped_too(tmp_path, in_tmp):
    docs = tmp_path / "docs"
    write(docs / "notes.md", NOTES)
    write(docs / "empty.txt", "  \n\n")
    write(docs / "latin.txt", "Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve r\xe9sum\xe9.\n".encode("cp1252"))
    write(docs / "scan.pdf", b"%PDF-1.4 not really a PDF")
    write(docs / "rows.jsonl", '{"text": ""}\n{"text": null}\n')
    skipped = [str(docs / n) for n in ("empty.txt", "latin.txt", "rows.jsonl", "scan.pdf")]
    result = run_cli(["generate", str(docs), "-t", "qg", *FAST, "-o", "out.jsonl"])
    assert result.exit_code == 0, result.output
    assert "4 files skipped (see the warnings)" in result.stderr
    manifest = json.loads((in_tmp / "out.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["skipped_files"]) == skipped and manifest["counts"]["skipped_files"] == 4
    dry = run_cli(["generate", str(docs), "-t", "qg", "--model", "toy", "--dry-run"])
    assert "prompt tokens; 4 files skipped (see the warnings)" in dry.stdout.splitlines()[-1]


# --- folders that cannot be read, and links --------------------------------------------------------


def test_a_linked_folder_is_reported_and_not_followed(tmp_path, caplog):
    docs = tmp_path / "docs"
    write(docs / "a.md", NOTES)
    write(tmp_path / "elsewhere" / "b.md", NOTES)
    os.symlink(tmp_path / "elsewhere", docs / "linked")
    with caplog.at_level(logging.WARNING):
        found = sources([str(docs)])
    assert found == [str(docs / "a.md")]
    assert warnings_in(caplog) == [f"{docs / 'linked'}: a link to a folder, not followed; name it to read it."]
    # Named itself, it is read.
    assert sources([str(docs / "linked")]) == [str(docs / "linked" / "b.md")]


def test_a_link_to_nothing_is_reported_as_such_not_as_a_permission_problem(tmp_path, caplog):
    docs = tmp_path / "docs"
    write(docs / "a.md", NOTES)
    os.symlink(tmp_path / "gone.md", docs / "b.md")
    with caplog.at_level(logging.WARNING):
        found = sources([str(docs)])
    assert found == [str(docs / "a.md")]
    assert warnings_in(caplog) == [f"{docs / 'b.md'}: a link to {tmp_path / 'gone.md'}, which does not exist; skipped."]


def test_an_unreadable_folder_is_reported_and_the_rest_is_read(tmp_path, caplog, monkeypatch):
    docs = tmp_path / "docs"
    write(docs / "a.md", NOTES)
    write(docs / "private" / "b.md", NOTES)
    blocked = str(docs / "private")
    real_scandir = os.scandir

    def scandir(path="."):
        # What a folder without read permission gives (tests may run as root, who reads all).
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.WARNING):
        found = sources([str(docs)])
    assert found == [str(docs / "a.md")]
    assert warnings_in(caplog) == [f"{blocked}: folder cannot be read (Permission denied); skipped."]
    # Named itself, it is one error line, not a warning and then "no supported files".
    caplog.clear()
    with pytest.raises(
        InputError, match=r"private: folder cannot be read \(Permission denied\); check its permissions"
    ):
        sources([blocked])
    assert warnings_in(caplog) == []


# --- names and summaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, expected",
    [
        ("notes.md", "notes.bonito.jsonl"),
        ("docs/", "docs.bonito.jsonl"),
        (".", "output.bonito.jsonl"),
        ("-", "stdin.bonito.jsonl"),
        ("docs/*.txt", "docs.bonito.jsonl"),
        ("docs/**/*.md", "docs.bonito.jsonl"),
        ("docs/notes-*.md", "notes.bonito.jsonl"),
        ("*.md", "output.bonito.jsonl"),
    ],
)
def test_the_default_output_is_named_after_the_first_input_or_its_folder(first, expected):
    assert default_output((first,)) == Path(expected)


def test_a_quoted_pattern_names_the_output_after_its_folder(in_tmp):
    write(in_tmp / "docs" / "a.txt", NOTES)
    result = run_cli(["generate", "docs/*.txt", "-t", "qg", *FAST, "-q"])
    assert result.exit_code == 0, result.output
    assert (in_tmp / "docs.bonito.jsonl").exists()
    assert not list(in_tmp.glob("[*]*"))


def test_stdout_runs_say_their_rejects_are_not_kept_rather_than_naming_no_file(in_tmp):
    write(in_tmp / "notes.md", NOTES * 3)
    # The toy's extractive-QA answers are rejected by the filters: there are rejects to report.
    result = run_cli(["generate", "notes.md", "-t", "exqa", *FAST, "-o", "-"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stderr.splitlines() if " rejected (" in line)
    assert "None" not in line and line.endswith("not kept: -o - writes the examples only.")


# --- encodings -------------------------------------------------------------------------------------


BIG5_TEXT = "這是一份關於診所營業時間的說明文件。病人請提前十五分鐘到達，並填寫登記表。\n" * 3


def test_a_non_utf8_file_is_skipped_naming_its_likely_encoding(tmp_path, caplog):
    path = write(tmp_path / "clinic.txt", BIG5_TEXT.encode("big5"))
    with caplog.at_level(logging.WARNING):
        passages = list(iter_passages(find_documents([str(path)]), count_tokens=words))
    assert passages == []
    [warning] = warnings_in(caplog)
    assert warning.startswith(f"{path}: not valid UTF-8")
    assert "It looks like BIG5" in warning and "iconv -f BIG5 -t UTF-8" in warning
    assert "latin" not in warning.lower()


def test_too_little_non_ascii_text_names_no_encoding():
    assert guess_encoding("Ol\u00e1, mundo.".encode("latin-1")) is None
    assert guess_encoding(b"plain ascii only") is None
    assert guess_encoding(BIG5_TEXT.encode("big5")) == "BIG5"


FRENCH = "La crème brûlée est servie froide. Naïve idée, très bien. Le garçon a mangé à côté."


@pytest.mark.parametrize(
    "text, encoding, named",
    [
        # A few sentences of Western text: the detector alone took this French for CP775.
        (FRENCH, "latin-1", ["CP1252"]),
        # Umlauts read the same in Windows-1250 and 1252: one name.
        ("Größe und Maße: Über die Straße gehen. Fünf Äpfel für Jürgen.", "latin-1", ["CP1252"]),
        ("Zażółć gęślą jaźń. Pchnąć w tę łódź jeża.", "cp1250", ["CP1250"]),
        ("Привет, как дела? Это тестовый документ для проверки.", "cp1251", ["CP1251"]),
        # Text both read as letters, differently: both are named.
        ("Le café coûte 3 € – « très » cher. Où? À côté, près du théâtre.", "cp1252", ["CP1252", "CP1250"]),
    ],
)
def test_the_encodings_named_for_a_few_sentences(text, encoding, named):
    assert encoding_candidates(text.encode(encoding)) == named


def test_two_possible_encodings_are_both_named_with_a_way_to_check(tmp_path, caplog):
    path = write(
        tmp_path / "menu.txt", "Le café coûte 3 € – « très » cher. Où? À côté, près du théâtre.".encode("cp1252")
    )
    with caplog.at_level(logging.WARNING):
        assert list(iter_passages(find_documents([str(path)]), count_tokens=words)) == []
    [warning] = warnings_in(caplog)
    assert "It looks like CP1252 or CP1250 (too little text to tell which)" in warning
    assert "iconv -f CP1252 -t UTF-8 FILE | head" in warning


# --- headings ------------------------------------------------------------------------------------


def test_hash_lines_are_headings_in_markdown_files_only(tmp_path):
    text = "Log follows.\n\n# 3 pumps checked\n\nAll fine.\n"
    texts = {}
    for name in ("log.txt", "log.text", "log.md"):
        path = write(tmp_path / name, text)
        passages = list(iter_passages(find_documents([str(path)]), count_tokens=words, chunk_tokens=6))
        texts[name] = [p.text for p in passages]
    assert texts["log.txt"] == texts["log.text"] == ["Log follows.\n\n# 3 pumps checked", "All fine."]
    assert texts["log.md"] == ["Log follows.", "# 3 pumps checked\n\nAll fine."]


def test_a_sphinx_builds_source_copies_indexes_and_search_page_are_passed_over(tmp_path):
    build = tmp_path / "docs" / "html"
    (build / "_sources").mkdir(parents=True)
    (build / "_static").mkdir()
    (build / "guide").mkdir()
    page = "<html><body><p>{}</p></body></html>"
    (build / "index.html").write_text(page.format("The page itself."))
    (build / "guide" / "start.html").write_text(page.format("A page in a subfolder."))
    (build / "_sources" / "index.rst.txt").write_text("The page itself, as reST.\n")
    (build / "_static" / "notes.txt").write_text("Theme notes.\n")
    for name in ("genindex.html", "genindex-A.html", "search.html", "py-modindex.html"):
        (build / name).write_text(page.format("Generated."))

    def found():
        return sorted(os.path.relpath(d.source, build) for d in find_documents([str(tmp_path)]))

    everything = [
        "_sources/index.rst.txt",
        "_static/notes.txt",
        "genindex-A.html",
        "genindex.html",
        "guide/start.html",
        "index.html",
        "py-modindex.html",
        "search.html",
    ]
    assert found() == everything  # without Sphinx's search index, nothing says it is a build
    (build / "searchindex.js").write_text('Search.setIndex({"docnames": ["index"]})')
    assert found() == ["guide/start.html", "index.html"]


def test_installed_packages_beside_the_documents_are_passed_over_unless_named(tmp_path, caplog):
    wiki = tmp_path / "wiki"
    for folder in ("docs", "node_modules/pkg", "venv/lib", "env/conda-meta", "vendor", "__pycache__"):
        (wiki / folder).mkdir(parents=True)
    (wiki / "docs" / "policy.md").write_text("Our deploy policy.\n")
    (wiki / "node_modules" / "pkg" / "README.md").write_text("A package's readme.\n")
    (wiki / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")  # a virtual environment, whatever its name
    (wiki / "venv" / "lib" / "LICENSE.txt").write_text("A licence.\n")
    (wiki / "env" / "notes.txt").write_text("A conda environment's file.\n")
    (wiki / "vendor" / "contract.txt").write_text("The vendor's contract terms.\n")  # a user's folder
    (wiki / "__pycache__" / "cached.txt").write_text("Cached.\n")
    (tmp_path / "only" / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "only" / "node_modules" / "pkg" / "README.md").write_text("A package's readme.\n")

    def found(*given: str) -> list[str]:
        return sorted(os.path.relpath(d.source, wiki) for d in find_documents([str(wiki / g) for g in given]))

    with caplog.at_level(logging.INFO, logger="bonito_lite"):
        assert found("") == ["docs/policy.md", "vendor/contract.txt"]
    assert "passed over 4 folder(s) of installed packages" in caplog.text
    assert found("**/*.md") == ["docs/policy.md"]
    assert found("*/*.txt") == ["vendor/contract.txt"]
    # Named, by a pattern or as a folder, they are read.
    assert found("node_modules/*/README.md") == ["node_modules/pkg/README.md"]
    assert found("node*/**/*.md") == ["node_modules/pkg/README.md"]
    assert found("venv") == ["venv/lib/LICENSE.txt"]
    # A pattern's literal start may end inside a folder's name; "*" names nothing.
    assert found("v*/**/*.txt") == ["vendor/contract.txt"]
    assert found("venv*/**/*.txt") == ["venv/lib/LICENSE.txt"]
    assert found("*/**/*.md") == ["docs/policy.md"]
    assert found("docs//../**/*.md") == ["docs/policy.md"]
    # After "**" a later part names a folder at any depth; "*s" or "[!.]*" names nothing.
    assert found("**/node_modules/*/*.md") == ["node_modules/pkg/README.md"]
    assert found("[!.]*/**/*.md") == ["docs/policy.md"]
    # A folder and the files in it, both matched, are read once.
    assert found("docs/**") == ["docs/policy.md"]
    # A folder with nothing else says why it has nothing to read.
    with pytest.raises(InputError, match=r"passed over 1 folder\(s\) of installed packages \(.*node_modules\)"):
        find_documents([str(tmp_path / "only")])


REDIRECTS = {
    # rustdoc, mdBook and Hugo's aliases
    "old.html": '<html><head><meta http-equiv="refresh" content="0; URL=new.html"></head>'
    "<body><p>Redirecting to... <a href='new.html'>new.html</a>.</p></body></html>",
    # content before http-equiv, single quotes, no "url="
    "moved.htm": "<head><META content='2;guide.html' HTTP-EQUIV='Refresh'></head><body>Moved.</body>",
    # after a self-closing svg icon
    "icon.html": '<head><svg width="1"/><meta http-equiv="refresh" content="0; url=new.html"></head><p>Moved.</p>',
    # "you will be redirected in 5 seconds"
    "wait.html": '<meta http-equiv=refresh content="5; url=https://example.org/"><p>You will be redirected.</p>',
}
PAGES = {
    "new.html": "<html><body><h1>Guide</h1><p>The guide's own text.</p></body></html>",
    # reloads itself every minute: a page shown, not a redirect
    "board.html": '<meta http-equiv="refresh" content="60"><p>Build status: all green.</p>',
    # shown for ten minutes before it moves on
    "session.html": '<meta http-equiv="refresh" content="600; url=login.html"><p>Your open orders.</p>',
    # a delay no browser waits through
    "stuck.html": f'<meta http-equiv="refresh" content="{"9" * 5000}; url=new.html"><p>Stuck here.</p>',
    # reloads itself after five seconds
    "status.html": '<meta http-equiv="refresh" content="5; url=./status.html?x=1"><p>Queue length: 3.</p>',
    # a refresh for browsers without scripts: with them, the page is shown
    "app.html": '<head><noscript><meta http-equiv="refresh" content="0; url=basic.html"></noscript></head><p>The app.</p>',
    # a refresh a script writes when it chooses to
    "later.html": "<script>if (old) document.write('<meta http-equiv=\"refresh\" content=\"0;url=' + u + '\">')</script><p>Now.</p>",
    # reloads itself with another query or at a fragment
    "lang.html": '<meta http-equiv="refresh" content="0; url=?lang=en"><p>Hello.</p>',
    "top.html": '<meta http-equiv="refresh" content="0; url=#top"><p>Back to the top.</p>',
    # a redirect left in a comment
    "draft.html": '<head><!-- <meta http-equiv="refresh" content="0; url=new.html"> --></head><p>Draft notes.</p>',
    # a page about redirects
    "howto.html": '<p>Write &lt;meta http-equiv="refresh" content="0; url=new.html"&gt; in the head.</p>',
}


def test_pages_that_only_redirect_to_another_are_passed_over_in_a_folder_and_refused_by_name(tmp_path, caplog):
    site = tmp_path / "site"
    for name, page in {**REDIRECTS, **PAGES}.items():
        write(site / name, page)
    with caplog.at_level(logging.INFO, logger="bonito_lite"):
        assert sorted(os.path.basename(s) for s in sources([str(site)])) == sorted(PAGES)
    assert "passed over 4 page(s) that only redirect to another page" in caplog.text
    assert not warnings_in(caplog)
    assert sorted(os.path.basename(s) for s in sources([str(site / "*.htm*")])) == sorted(PAGES)
    # Named, a redirect is read, and found to hold no text of its own: skipped with one line.
    caplog.clear()
    [document] = find_documents([str(site / "old.html")])
    assert list(iter_passages([document], count_tokens=words)) == []
    [warning] = warnings_in(caplog)
    assert warning == (
        f"{site / 'old.html'}: a page that only redirects to {site / 'new.html'} (no text a reader sees); "
        "read that page instead; skipped."
    )
    # A folder of redirects alone says why it has nothing to read.
    for name, page in REDIRECTS.items():
        write(tmp_path / "moved" / name, page)
    with pytest.raises(
        InputError, match=r"moved: nothing to read; passed over 4 page\(s\) that only redirect to another page\.$"
    ):
        find_documents([str(tmp_path / "moved")])
