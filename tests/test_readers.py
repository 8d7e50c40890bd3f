"""The table from suffix to reader: every suffix in it reads a file of its kind, and the
messages and folder scans follow it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from test_documents import write_table

from bonito_lite.errors import InputError
from bonito_lite.inputs.documents import find_documents, iter_passages
from bonito_lite.inputs.readers import READERS, reader_for

from odt_factory import make_odt
from pdf_factory import make_pdf

SENTENCE = "The clinic opens at 7:30 on weekdays."


def _text(path: Path) -> Path:
    path.write_text(SENTENCE + "\n", encoding="utf-8")
    return path


def _table(path: Path) -> Path:
    return write_table(path, [{"id": 1, "text": SENTENCE}])


def _pdf(path: Path) -> Path:
    path.write_bytes(make_pdf([[SENTENCE]]))
    return path


def _docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph(SENTENCE)
    document.save(path)
    return path


def _odt(path: Path) -> Path:
    return make_odt(path, f"<text:p>{SENTENCE}</text:p>")


def _html(path: Path) -> Path:
    path.write_text(f"<html><body><nav><a href='/'>Home</a></nav><p>{SENTENCE}</p></body></html>", encoding="utf-8")
    return path


# A small file of each kind, and the source its one document has.
SAMPLES: dict[str, tuple[Callable[[Path], Path], str]] = {
    ".txt": (_text, ""),
    ".md": (_text, ""),
    ".markdown": (_text, ""),
    ".text": (_text, ""),
    ".jsonl": (_table, "#row=0"),
    ".json": (_table, "#row=0"),
    ".csv": (_table, "#row=0"),
    ".parquet": (_table, "#row=0"),
    ".pdf": (_pdf, "#page=1"),
    ".docx": (_docx, ""),
    ".odt": (_odt, ""),
    ".html": (_html, ""),
    ".htm": (_html, ""),
}


def words(text: str) -> int:
    return len(text.split())


def test_every_suffix_in_the_table_has_a_sample_here():
    assert set(SAMPLES) == set(READERS)


@pytest.mark.parametrize("suffix", list(READERS))
def test_each_suffix_in_the_table_reads_a_small_file_of_its_kind(tmp_path, suffix):
    write, fragment = SAMPLES[suffix]
    path = write(tmp_path / f"sample{suffix}")
    documents = find_documents([str(path)])
    assert [item.reader for item in documents.inputs] == [READERS[suffix]]
    passages = list(iter_passages(documents, count_tokens=words))
    assert [(p.source, p.text) for p in passages] == [(f"{path}{fragment}", SENTENCE)]


@pytest.mark.parametrize("suffix", list(READERS))
def test_the_suffix_is_matched_in_any_case(suffix):
    assert reader_for(f"notes{suffix.upper()}") is READERS[suffix]


def test_a_folder_scan_finds_every_kind_in_the_table_and_nothing_else(tmp_path):
    for number, (suffix, (write, _)) in enumerate(SAMPLES.items()):
        write(tmp_path / f"{number:02d}{suffix}")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "notes.rtf").write_text(SENTENCE)
    passages = list(iter_passages(find_documents([str(tmp_path)]), count_tokens=words))
    assert [p.text for p in passages] == [SENTENCE] * len(SAMPLES)


def test_an_unsupported_file_is_told_every_suffix_the_table_reads(tmp_path):
    path = tmp_path / "notes.rtf"
    path.write_text(SENTENCE)
    with pytest.raises(InputError) as caught:
        find_documents([str(path)])
    assert f"bonito-lite reads {', '.join(READERS)} (" in str(caught.value)


def test_a_json_lines_table_written_by_bonito_lite_is_its_own_file_but_a_csv_never_is(tmp_path):
    record = {"input": "Q", "output": "A", "task_type": "summarization", "context": SENTENCE, "unit": "u1"}
    own = tmp_path / "made.jsonl"
    own.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="a file bonito-lite wrote"):
        find_documents([str(own)], context_col="context")
    table = write_table(tmp_path / "made.csv", [record])
    assert [d.read_text() for d in find_documents([str(table)], context_col="context")] == [SENTENCE]


def test_the_text_column_help_names_the_table_suffixes_and_only_them():
    from cli_helpers import run_cli

    help_text = " ".join(run_cli(["generate", "--help"]).output.split())
    line = help_text[help_text.index("--context-col") :].split("[default")[0]
    named = {suffix for suffix in READERS if suffix in line.replace("/", " ").split()}
    assert named == {".jsonl", ".json", ".csv", ".parquet"}
