"""Files that hold document text are the owner's only, whatever the umask; existing files keep their mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bonito_lite import sinks

from cli_helpers import read_jsonl, run_cli as run

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_notes.md"

pytestmark = [
    pytest.mark.usefixtures("in_tmp", "usual_umask"),
    pytest.mark.skipif(os.name != "posix", reason="POSIX file modes"),
]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_jsonl_is_owner_only_under_a_usual_umask(tmp_path):
    path = tmp_path / "out.jsonl"
    with sinks.JsonlWriter.open(path) as writer:
        writer.write({"context": "private text"})
    assert mode(path) == 0o600


def test_a_new_jsonl_is_readable_and_writable_by_its_owner_even_under_a_strict_umask(tmp_path):
    os.umask(0o277)  # would leave the owner read-only; restored by the usual_umask fixture
    path = tmp_path / "out.jsonl"
    with sinks.JsonlWriter.open(path) as writer:
        writer.write({"context": "private text"})
    assert mode(path) == 0o600


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_existing_jsonl_keeps_its_mode_when_appended_to_or_emptied(tmp_path, overwrite):
    path = tmp_path / "out.jsonl"
    path.write_text('{"unit": "a"}\n')
    os.chmod(path, 0o640)  # shared with a group on purpose
    with sinks.JsonlWriter.open(path, overwrite=overwrite) as writer:
        writer.write({"unit": "b"})
    assert mode(path) == 0o640
    assert [r["unit"] for r in read_jsonl(path)] == (["b"] if overwrite else ["a", "b"])


def test_a_replaced_file_is_owner_only_when_new_and_keeps_the_mode_of_the_one_it_replaces(tmp_path):
    target = tmp_path / "notes.bonito.alpaca.jsonl"
    with sinks.replaced_file(target) as tmp, open(tmp, "w") as handle:
        handle.write("first\n")
    assert mode(target) == 0o600
    os.chmod(target, 0o644)
    with sinks.replaced_file(target) as tmp, open(tmp, "w") as handle:
        handle.write("second\n")
    assert (mode(target), target.read_text()) == (0o644, "second\n")


def test_a_private_folder_is_owner_only_and_set_tree_mode_reaches_every_file(tmp_path):
    folder = tmp_path / "data.hf"
    sinks.make_private_folder(folder)
    assert mode(folder) == 0o700
    (folder / "sub").mkdir()
    (folder / "sub" / "shard.arrow").write_bytes(b"x")
    (folder / "state.json").write_text("{}")
    assert mode(folder / "state.json") == 0o644  # what a library writes under the umask
    sinks.set_tree_mode(folder)
    assert [mode(p) for p in (folder, folder / "sub")] == [0o700, 0o700]
    assert [mode(p) for p in (folder / "state.json", folder / "sub" / "shard.arrow")] == [0o600, 0o600]


def test_generate_writes_its_output_rejects_and_manifest_owner_only(tmp_path):
    output = tmp_path / "notes.bonito.jsonl"
    result = run(
        [
            "generate",
            str(SAMPLE),
            "-t",
            "qg",
            "-t",
            "exqa",
            "-o",
            str(output),
            "--limit",
            "2",
            "--model",
            "toy",
            "--max-tokens",
            "48",
            "--quiet",
            "--format",
            "messages",
            "--format",
            "hf",
        ]
    )
    assert result.exit_code == 0, result.output
    rejects = sinks.rejected_path(output)
    written = [output, rejects, sinks.manifest_path(output), tmp_path / "notes.bonito.messages.jsonl"]
    # The toy's questions pass the filters; its extractive answers are made up and rejected.
    assert read_jsonl(output) and read_jsonl(rejects)
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}
    hf = tmp_path / "notes.bonito.hf"
    assert mode(hf) == 0o700
    assert {mode(p) for p in hf.rglob("*")} == {0o600}


def test_a_resumed_generate_keeps_the_modes_of_the_files_it_appends_to(tmp_path):
    output = tmp_path / "notes.bonito.jsonl"
    args = ["generate", str(SAMPLE), "-t", "ynqa", "-o", str(output), "--model", "toy", "--max-tokens", "48", "--quiet"]
    assert run([*args, "--limit", "1"]).exit_code == 0
    for path in (output, sinks.rejected_path(output)):
        path.touch()
        os.chmod(path, 0o640)
    assert run([*args, "--limit", "2"]).exit_code == 0
    assert mode(output) == mode(sinks.rejected_path(output)) == 0o640
    assert json.loads(sinks.manifest_path(output).read_text())["this_run"]["resumed_after"] == 1


def test_a_link_to_a_missing_file_is_written_through_not_looped_on(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    link = tmp_path / "out.jsonl"
    link.symlink_to(target)
    with sinks.JsonlWriter.open(link) as writer:
        writer.write({"unit": "a"})
    assert read_jsonl(target) == [{"unit": "a"}] and mode(target) == 0o600
