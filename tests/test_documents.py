"""Finding and reading inputs: every format, provenance, bad input, skipped files, memory."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bonito_lite.errors import InputError
from bonito_lite.inputs.documents import Document, find_documents, iter_passages

from passage_checks import assert_faithful, assert_nothing_lost_but_page_furniture

NOTES = "# Notes\n\nThe boiler is checked on Mondays.\n\nKeys are in the blue box.\n"


def words(text: str) -> int:
    return len(text.split())


def passages_of(inputs, budget=384, **kwargs):
    return list(iter_passages(find_documents(inputs, **kwargs), count_tokens=words, chunk_tokens=budget))


def assert_provenance(passages, text_of):
    """Offsets index each document's text; indexes count from 0 within each document."""
    expected_index: dict[str, int] = {}
    for passage in passages:
        text = text_of(passage.source)
        assert text[passage.char_start : passage.char_end] == passage.text
        assert passage.index == expected_index.get(passage.source, 0)
        expected_index[passage.source] = passage.index + 1


def file_text(source: str) -> str:
    # The documented meaning of offsets for files: what open() returns with the BOM dropped.
    with open(source, encoding="utf-8-sig") as handle:
        return handle.read()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


def one_line_input_error(inputs, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        list(find_documents(inputs, **kwargs))
    message = str(caught.value)
    assert "\n" not in message and message
    return message


# --- text files -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".txt", ".md", ".markdown", ".text", ".TXT"])
def test_text_files_of_every_suffix_are_read(tmp_path, suffix):
    path = write(tmp_path / f"notes{suffix}", NOTES)
    passages = passages_of([str(path)], budget=8)
    assert [p.text for p in passages] == [
        "# Notes\n\nThe boiler is checked on Mondays.",
        "Keys are in the blue box.",
    ]
    assert {p.source for p in passages} == {str(path)}
    assert_provenance(passages, file_text)


def test_crlf_and_a_bom_are_normalised_and_offsets_follow_the_documented_text(tmp_path):
    path = write(tmp_path / "windows.txt", b"\xef\xbb\xbfFirst line.\r\n\r\nSecond\r\nline.\rThird.\r\n")
    passages = passages_of([str(path)], budget=2)
    assert [p.text for p in passages] == ["First line.", "Second\nline.", "Third."]
    assert_provenance(passages, file_text)
    assert file_text(str(path)).startswith("First")


def test_the_source_is_the_path_as_given(tmp_path, monkeypatch):
    write(tmp_path / "sub" / "a.txt", "Alpha.")
    monkeypatch.chdir(tmp_path)
    assert [p.source for p in passages_of(["sub/a.txt", "sub"])] == ["sub/a.txt"]


def test_folders_are_searched_recursively_in_sorted_order_for_supported_files_only(tmp_path):
    write(tmp_path / "b.md", "Bee.")
    write(tmp_path / "a" / "z.txt", "Zed.")
    write(tmp_path / "a" / "image.png", b"\x89PNG\r\n\x1a\n\0\0")
    write(tmp_path / "c" / "d" / "e.txt", "Eee.")
    write(tmp_path / ".git" / "notes.txt", "hidden folder")
    write(tmp_path / ".hidden.txt", "hidden file")
    passages = passages_of([str(tmp_path)])
    assert [(Path(p.source).relative_to(tmp_path).as_posix(), p.text) for p in passages] == [
        ("a/z.txt", "Zed."),
        ("b.md", "Bee."),
        ("c/d/e.txt", "Eee."),
    ]


def test_glob_patterns_expand_to_matching_supported_files(tmp_path):
    write(tmp_path / "one.txt", "One.")
    write(tmp_path / "two.txt", "Two.")
    write(tmp_path / "three.md", "Three.")
    write(tmp_path / "deep" / "four.txt", "Four.")
    passages = passages_of([str(tmp_path / "*.txt")])
    assert [p.text for p in passages] == ["One.", "Two."]
    passages = passages_of([str(tmp_path / "**" / "*.txt")])
    assert sorted(p.text for p in passages) == ["Four.", "One.", "Two."]


def test_the_same_file_named_twice_is_read_once(tmp_path):
    path = write(tmp_path / "a.txt", "Once.")
    assert [p.text for p in passages_of([str(path), str(tmp_path), str(tmp_path / "*.txt")])] == ["Once."]


def test_documents_can_be_read_again(tmp_path):
    write(tmp_path / "a.txt", NOTES)
    documents = find_documents([str(tmp_path)])
    first = list(iter_passages(documents, count_tokens=words))
    assert first and list(iter_passages(documents, count_tokens=words)) == first


# --- stdin ------------------------------------------------------------------------------------


def test_stdin_from_a_text_stream(tmp_path):
    stream = io.StringIO("\ufeffFrom a pipe.\r\n\r\nSecond paragraph.")
    passages = passages_of(["-"], budget=3, stdin=stream)
    assert [(p.source, p.text) for p in passages] == [("-", "From a pipe."), ("-", "Second paragraph.")]
    assert_provenance(passages, lambda _: "From a pipe.\n\nSecond paragraph.")


def test_stdin_from_a_byte_stream_is_decoded_as_utf8_and_replayed(tmp_path):
    stdin = io.TextIOWrapper(io.BytesIO("Été à Paris.\r\n\r\nDeux.".encode()), encoding="latin-1")
    documents = find_documents(["-", str(write(tmp_path / "a.txt", "File."))], stdin=stdin)
    runs = [list(iter_passages(documents, count_tokens=words, chunk_tokens=3)) for _ in range(2)]
    assert runs[0] == runs[1]
    assert [(p.source, p.text) for p in runs[0]] == [
        ("-", "Été à Paris."),
        ("-", "Deux."),
        (str(tmp_path / "a.txt"), "File."),
    ]


def test_stdin_read_partly_is_read_in_full_the_next_time():
    stream = io.StringIO("\n\n".join(f"Paragraph {i}." for i in range(50)))
    documents = find_documents(["-"], stdin=stream)
    passages = iter_passages(documents, count_tokens=words, chunk_tokens=2)
    assert next(passages).text == "Paragraph 0."
    assert len(list(iter_passages(documents, count_tokens=words, chunk_tokens=2))) == 50


def test_stdin_that_stops_being_utf8_keeps_what_came_before_and_warns(caplog):
    good = ("Valid text here.\n\n" * 2000).encode()
    stdin = io.TextIOWrapper(io.BytesIO(good + b"bad \xff byte\n\nmore text"), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        passages = passages_of(["-"], budget=3, stdin=stdin)
    # What came before is kept back to the last line or sentence end: "bad" alone is not text.
    assert len(passages) == 2000 and passages[-1].text == "Valid text here."
    assert [r.getMessage() for r in caplog.records] == [
        "-: not valid UTF-8 (decoding as UTF-8 failed at byte 36004); the rest of it, from the sentence "
        "the byte is in, was skipped. Its encoding could not be told; convert it to UTF-8 first, e.g. iconv -f "
        "ENCODING -t UTF-8 (windows-1252 for most Western text from Windows)."
    ]
    stdin = io.TextIOWrapper(io.BytesIO(b"The clinic opens at seven. Meet at the caf\xe9 after."), encoding="utf-8")
    assert [p.text for p in passages_of(["-"], stdin=stdin)] == ["The clinic opens at seven."]
    stdin = io.TextIOWrapper(io.BytesIO("文。文。".encode() + b"\xff"), encoding="utf-8")
    assert [p.text for p in passages_of(["-"], stdin=stdin)] == ["文。文。"]


# --- tables -----------------------------------------------------------------------------------

ROWS = [
    {"id": 1, "text": "First row.\n\nIts second paragraph."},
    {"id": 2, "text": ""},
    {"id": 3, "text": None},
    {"id": 4, "text": "Fourth row."},
]


def write_table(path: Path, rows=ROWS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_json_table_whose_first_records_lack_the_column_is_read_from_the_rows_that_have_it(tmp_path, suffix, caplog):
    rows = [{"id": 0, "title": "Header"}, {"id": 1, "text": "First row."}, {"id": 2, "title": "x", "text": "Second."}]
    path = write_table(tmp_path / f"sparse{suffix}", rows)
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        passages = passages_of([str(path)])
    assert [(p.source, p.text) for p in passages] == [(f"{path}#row=1", "First row."), (f"{path}#row=2", "Second.")]
    skipped = [r.getMessage() for r in caplog.records if "rows skipped" in r.getMessage()]
    assert skipped == [f"{path}: 1 of 3 rows skipped (column 'text' missing, null, empty or not text)."]
    with pytest.raises(InputError, match="'body'.*'id', 'title', 'text'"):
        find_documents([str(path)], context_col="body")


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_each_table_row_with_text_is_a_document(tmp_path, suffix, caplog):
    path = write_table(tmp_path / f"table{suffix}")
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        passages = passages_of([str(path)], budget=3)
    assert [(p.source, p.index, p.text) for p in passages] == [
        (f"{path}#row=0", 0, "First row."),
        (f"{path}#row=0", 1, "Its second paragraph."),
        (f"{path}#row=3", 0, "Fourth row."),
    ]
    # Offsets index the cell's text as stored.
    assert_provenance(passages, lambda source: ROWS[int(source.rsplit("=", 1)[1])]["text"])
    skipped = [r.getMessage() for r in caplog.records if "rows skipped" in r.getMessage()]
    assert skipped == [f"{path}: 2 of 4 rows skipped (column 'text' missing, null, empty or not text)."]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_context_col_chooses_the_column(tmp_path, suffix):
    rows = [{"body": "Chosen column.", "text": "Not this one."}]
    path = write_table(tmp_path / f"t{suffix}", rows)
    assert [p.text for p in passages_of([str(path)], context_col="body")] == ["Chosen column."]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_a_missing_context_col_is_an_error_listing_the_columns(tmp_path, suffix):
    path = write_table(tmp_path / f"t{suffix}", [{"question": "q", "passage": "p"}])
    message = one_line_input_error([str(path)], context_col="text")
    assert str(path) in message and "'text'" in message
    assert "'question', 'passage'" in message and "--context-col" in message


def test_csv_cells_longer_than_the_csv_default_limit_are_read(tmp_path):
    long_text = "Long cell. " * 30000
    path = write_table(tmp_path / "long.csv", [{"text": long_text}])
    passages = passages_of([str(path)])
    assert "".join(p.text for p in passages).replace(" ", "") == long_text.replace(" ", "")


def test_a_malformed_jsonl_line_is_skipped_with_a_warning_and_keeps_its_row_number(tmp_path, caplog):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "Row zero."}\n\nnot json\n{"text": "Row two."}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        passages = passages_of([str(path)])
    assert [(p.source, p.text) for p in passages] == [(f"{path}#row=0", "Row zero."), (f"{path}#row=2", "Row two.")]
    assert [r.getMessage() for r in caplog.records] == [f"{path}#row=1: not a JSON object; skipped."]


def test_malformed_jsonl_lines_are_told_when_met_and_counted_at_the_end(tmp_path, caplog):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "Row zero."}\n[1]\n{"text": "Row two."}\nnot json\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        passages = iter_passages(find_documents([str(path)]), count_tokens=len, chunk_tokens=100)
        assert [p.text for p in itertools.islice(passages, 2)] == ["Row zero.", "Row two."]
        # A run stopped there (--limit 2) read past a bad row: it is told, though never counted.
        passages_of([str(path)])
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}#row=1: not a JSON object; skipped.",
        f"{path}#row=1: not a JSON object; skipped.",
        f"{path}: 2 rows in all skipped (not a JSON object).",
    ]


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"data": [{"text": "x"}]}', "expected a JSON list of objects"),
        ('["just", "strings"]', "found a list of strings"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_json_file_must_be_a_list_of_objects(tmp_path, content, expected):
    path = write(tmp_path / "t.json", content)
    assert expected in one_line_input_error([str(path)])


def test_a_jsonl_file_must_hold_objects(tmp_path):
    path = write(tmp_path / "t.jsonl", '\n"a string"\n')
    assert "line 2: expected a JSON object per line" in one_line_input_error([str(path)])
    path = write(tmp_path / "t.jsonl", "{oops\n")
    assert "line 1: not valid JSON" in one_line_input_error([str(path)])


def test_parquet_errors_name_the_problem(tmp_path):
    path = write(tmp_path / "broken.parquet", b"PAR1 this is not parquet")
    assert "not a readable Parquet file" in one_line_input_error([str(path)])
    path = write_table(tmp_path / "numbers.parquet", [{"text": 1}])
    assert "holds int64, not text" in one_line_input_error([str(path)])


def test_a_parquet_category_column_of_text_is_text(tmp_path):
    # pandas writes a category column as a dictionary-encoded one.
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "notes.parquet"
    column = pa.array(["Ward A opens at 7.", "Ward B opens at 8.", "Ward A opens at 7."]).dictionary_encode()
    pq.write_table(pa.table({"text": column}), path)
    assert [p.text for p in passages_of([str(path)])] == [
        "Ward A opens at 7.",
        "Ward B opens at 8.",
        "Ward A opens at 7.",
    ]


def test_a_table_without_any_text_rows_is_skipped_with_a_warning(tmp_path, caplog):
    path = write_table(tmp_path / "t.jsonl", [{"text": " "}, {"text": 5}])
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        assert passages_of([str(path)]) == []
    assert [r.getMessage() for r in caplog.records] == [f"{path}: no rows with text in column 'text'; skipped."]


# --- bad input --------------------------------------------------------------------------------


def test_bad_inputs_raise_one_line_input_errors(tmp_path):
    write(tmp_path / "report.rtf", b"{\\rtf1}")
    (tmp_path / "empty_folder").mkdir()
    write(tmp_path / "only_images" / "a.png", b"\x89PNG")
    cases = {
        str(tmp_path / "missing.txt"): "no such file or folder",
        str(tmp_path / "report.rtf"): "unsupported file type '.rtf'",
        str(tmp_path / "empty_folder"): "no supported files in this folder",
        str(tmp_path / "only_images"): "no supported files in this folder",
        str(tmp_path / "*.docx"): "the pattern matches nothing",
        str(tmp_path / "*.rtf"): "the pattern matches no supported files",
    }
    for spec, expected in cases.items():
        message = one_line_input_error([spec])
        assert message.startswith(spec) and expected in message
    assert "no input given" in one_line_input_error([])


def test_an_unreadable_file_is_an_input_error(tmp_path, monkeypatch):
    path = write(tmp_path / "secret.txt", "x")
    # Permissions cannot deny root, who runs some CI; the check asks os.access.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != str(path) and real_access(p, mode))
    assert "cannot be read" in one_line_input_error([str(path)])


def test_bad_input_is_reported_before_any_reading(tmp_path):
    # The error for the second input comes from find_documents itself, not from iterating.
    write(tmp_path / "a.txt", "A.")
    with pytest.raises(InputError):
        find_documents([str(tmp_path / "a.txt"), str(tmp_path / "nope.md")])


def test_non_utf8_binary_and_empty_files_are_skipped_with_a_warning_and_the_rest_is_read(tmp_path, caplog):
    write(tmp_path / "1_latin1.txt", "Caf\xe9 cr\xe8me.".encode("latin-1"))
    write(tmp_path / "2_binary.txt", b"text\0\0\x01\x02 more")
    write(tmp_path / "3_utf16.txt", "Hello".encode("utf-16"))
    write(tmp_path / "4_empty.md", b"")
    write(tmp_path / "5_blank.md", b"  \n\n\t\r\n")
    write(tmp_path / "6_latin1.csv", 'text\n"Caf\xe9"\n'.encode("latin-1"))
    write(tmp_path / "7_good.txt", "Still read.")
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        passages = passages_of([str(tmp_path)])
    assert [p.text for p in passages] == ["Still read."]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 6
    latin, binary, utf16, empty, blank, csv_latin = messages
    assert latin.startswith(str(tmp_path / "1_latin1.txt")) and "not valid UTF-8" in latin
    assert "byte 3" in latin and "skipped" in latin
    assert binary.startswith(str(tmp_path / "2_binary.txt")) and "binary" in binary
    assert "UTF-16" in utf16
    assert empty == f"{tmp_path / '4_empty.md'}: no text; skipped."
    assert blank == f"{tmp_path / '5_blank.md'}: no text; skipped."
    assert csv_latin.startswith(str(tmp_path / "6_latin1.csv")) and "not valid UTF-8" in csv_latin


def test_each_warning_is_given_once_per_run_even_when_inputs_are_read_twice(tmp_path, caplog):
    write(tmp_path / "bad.txt", b"\xff\xfe\xfa")
    write_table(tmp_path / "t.jsonl")
    documents = find_documents([str(tmp_path)])
    with caplog.at_level(logging.WARNING, logger="bonito_lite"):
        for _ in range(2):
            list(iter_passages(documents, count_tokens=words))
    assert len(caplog.records) == 2


def test_a_document_repr_never_shows_its_text():
    assert "secret" not in repr(Document("row", "text", text="secret diagnosis"))


# --- fuzzing the reader -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from(["a b", ". ", "\r\n", "\r", "\n\n", "# h\n", "\ufeff", "é", "\x00"]), max_size=80).map(
            lambda parts: "".join(parts).encode("utf-8")
        ),
    ),
    budget=st.integers(1, 12),
)
def test_any_bytes_in_a_text_file_are_read_faithfully_or_skipped_with_a_warning(tmp_path, content, budget):
    path = tmp_path / "fuzz.txt"
    path.write_bytes(content)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("bonito_lite")
    logger.addHandler(handler)
    try:
        passages = passages_of([str(path)], budget=budget)
    finally:
        logger.removeHandler(handler)
    if content.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        assert passages == [] and "byte-order mark); skipped" in records[0].getMessage()
        return
    if b"\0" in content[:8192]:
        assert passages == [] and "binary" in records[0].getMessage()
        return
    try:
        text = file_text(str(path))
    except UnicodeDecodeError:
        assert passages == [] and "not valid UTF-8" in records[0].getMessage()
        return
    assert_provenance(passages, lambda _: text)
    # Nothing is lost but space, and in text that form feeds paginate, its page furniture.
    assert_faithful(text, passages, source=str(path), page_furniture=True)
    if "\f" not in text:
        assert "".join("".join(p.text.split()) for p in passages) == "".join(text.split())
    assert bool(passages) != bool(records)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cells=st.lists(st.one_of(st.none(), st.text(max_size=80)), min_size=1, max_size=5),
    suffix=st.sampled_from([".jsonl", ".json", ".csv", ".parquet"]),
)
def test_any_cell_text_is_read_faithfully_from_every_table_format(tmp_path, cells, suffix):
    rows = [{"text": cell} for cell in cells]
    path = write_table(tmp_path / f"fuzz{suffix}", rows)
    passages = passages_of([str(path)], budget=3)
    assert_provenance(passages, lambda source: cells[int(source.rsplit("=", 1)[1])])
    for row, cell in enumerate(cells):
        # (CSV has no null: None is written as an empty field.)
        row_passages = [p for p in passages if p.source == f"{path}#row={row}"]
        assert_nothing_lost_but_page_furniture(cell or "", row_passages)


# --- memory -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_large_file_is_streamed_in_flat_memory(tmp_path):
    paragraph = " ".join(f"Word{i % 97} sits in sentence {i}." for i in range(40))
    long_paragraph = " ".join([paragraph] * 3)  # over the budget: split at sentence ends
    block = ("## Section\n\n" + "\n\n".join([paragraph] * 30 + [long_paragraph]) + "\n\n").encode()
    path = tmp_path / "large.txt"
    with open(path, "wb") as handle:
        for _ in range(200_000_000 // len(block)):
            handle.write(block)
    size_mb = path.stat().st_size / 1e6
    assert size_mb > 190
    script = textwrap.dedent(
        """
        import resource, sys
        from bonito_lite.inputs.documents import find_documents, iter_passages
        def peak_kb():
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / 1024 if sys.platform == "darwin" else peak  # bytes on macOS
        before = peak_kb()
        count = 0
        last = None
        for last in iter_passages(find_documents([sys.argv[1]]), count_tokens=lambda s: len(s.split())):
            count += 1
        print(count, last.char_end, int(peak_kb() - before))
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    passages, last_end, growth_kb = map(int, result.stdout.split())
    assert passages > 10_000
    assert last_end > (size_mb - 1) * 1e6  # it really read to the end
    assert growth_kb < 100 * 1024, f"peak memory grew by {growth_kb / 1024:.0f} MB"
