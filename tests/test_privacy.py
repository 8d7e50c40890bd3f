"""Document text stays in the output's folder: never on the terminal, in a cache or a temp file.

A real ``bonito-lite generate`` subprocess reads documents that carry a unique marker string,
with HOME and TMPDIR pointed at fresh folders and no XDG_CACHE_HOME or HF_HOME, so that
anything written outside the output's folder can be found and inspected afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MARKER = "QX7-PRIVATE-MARKER-52118"
# Every sentence is distinctive, so that any one of them reaching the terminal is caught.
SENTENCES = [
    f"Patient {MARKER} was admitted to ward nine on a rainy Tuesday.",
    "Her cardiologist, Dr. Okonkwo-Lindqvist, prescribed forty milligrams of the blue tablets.",
    "The discharge letter was signed by the night registrar after the second ultrasound.",
    "A follow-up visit at the Harbourside clinic was booked for the eleventh of May.",
]
DOCUMENT = "# Clinical note\n\n" + "\n\n".join(SENTENCES) + "\n"


def _unique_bytes() -> list[bytes]:
    """What must not leak: the marker and each sentence, also as the JSON writer escapes them."""
    found = [MARKER.encode()]
    for sentence in SENTENCES:
        found += [sentence.encode(), json.dumps(sentence).strip('"').encode()]
    return found


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    """One generate run on private files in a sealed-off environment; returns its folders."""
    root = tmp_path_factory.mktemp("private")
    home, temp, work = root / "home", root / "tmp", root / "work"
    for folder in (home, temp, work, work / "out"):
        folder.mkdir()
    (work / "note.md").write_text(DOCUMENT, encoding="utf-8")
    # Inputs that are skipped with a warning, each holding the marker: warnings name the file
    # and say what is wrong, never what it holds.
    (work / "latin.txt").write_bytes(f"{MARKER} caf\u00e9 cr\u00e8me.".encode("latin-1"))
    (work / "rows.jsonl").write_text(
        json.dumps({"text": SENTENCES[1]}) + "\n" + f"not json {MARKER}\n" + json.dumps({"body": MARKER}) + "\n",
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "XDG_CACHE_HOME",
            "XDG_DATA_HOME",
            "XDG_CONFIG_HOME",
            "HF_HOME",
            "HF_DATASETS_CACHE",
            "BONITO_LITE_MODEL",
            "BONITO_LITE_DEBUG",
            "PYTHONPYCACHEPREFIX",
        )
    }
    env.update(HOME=str(home), TMPDIR=str(temp), TMP=str(temp), TEMP=str(temp))
    inputs = [str(work / "note.md"), str(work / "latin.txt"), str(work / "rows.jsonl")]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bonito_lite",
            "generate",
            *inputs,
            "-t",
            "exqa",
            "-t",
            "summarization",
            "--model",
            "toy",
            "--max-tokens",
            "64",
            "-o",
            str(work / "out" / "note.jsonl"),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=600,
    )
    return proc, home, temp, work


def test_the_run_succeeds_and_writes_the_text_where_asked(private_run):
    proc, _, _, work = private_run
    assert proc.returncode == 0, proc.stderr.decode()
    written = (work / "out" / "note.jsonl").read_text(encoding="utf-8") + (
        work / "out" / "note.rejected.jsonl"
    ).read_text(encoding="utf-8")
    assert MARKER in written  # the marker is in the data, so its absence elsewhere means something


def test_no_document_text_reaches_the_terminal_at_default_verbosity(private_run):
    proc, *_ = private_run
    terminal = proc.stdout + proc.stderr
    assert proc.stdout == b""
    for secret in _unique_bytes():
        assert secret not in terminal, f"{secret[:40]!r} reached the terminal"
    # What does reach it: the skipped files by name, the toy notice and the summary.
    stderr = proc.stderr.decode()
    assert "latin.txt: not valid UTF-8" in stderr
    assert "rows.jsonl" in stderr
    assert " written to " in stderr


def _files_holding_document_text(folder: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if any(path == s or s in path.parents for s in skip) or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if any(secret in data for secret in _unique_bytes()):
            found.append(path)
    return found


def test_no_copy_of_the_text_lands_outside_the_output_folder(private_run):
    _, home, temp, work = private_run
    inputs = (work / "note.md", work / "latin.txt", work / "rows.jsonl", work / "out")
    assert _files_holding_document_text(home) == []
    assert _files_holding_document_text(temp) == []
    assert _files_holding_document_text(work, skip=inputs) == []


def test_nothing_is_cached_in_the_home_folder_and_no_temporary_file_is_left(private_run):
    _, home, temp, work = private_run
    assert sorted(home.rglob("*")) == []
    assert sorted(temp.rglob("*")) == []
    assert sorted(p.name for p in (work / "out").iterdir()) == [
        "note.jsonl",
        "note.jsonl.manifest.json",
        "note.rejected.jsonl",
    ]
    assert sorted(p.name for p in work.iterdir()) == ["latin.txt", "note.md", "out", "rows.jsonl"]


def test_the_manifest_records_settings_not_text(private_run):
    _, _, _, work = private_run
    manifest = (work / "out" / "note.jsonl.manifest.json").read_bytes()
    for secret in _unique_bytes():
        assert secret not in manifest
