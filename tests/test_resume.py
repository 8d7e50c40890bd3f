"""Resume and durability of ``generate``: stopped runs continue where they stopped.

Real ``python -m bonito_lite generate`` subprocesses on the bundled toy model are stopped
with SIGINT and SIGKILL once their first records are on disk, rerun, and compared with an
uninterrupted run of the same command.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from bonito_lite import sinks
from bonito_lite.cli import EXIT_INTERRUPTED, cli
from bonito_lite.errors import InputError, OutputExistsError, ResourceError
from bonito_lite.models.info import file_sha256
from bonito_lite.resume import model_sha256, read_finished, repair_partial_line

import cli_helpers
from cli_helpers import SAMPLE, default_sigint

# Four passages × two task types: eight generations, up to a few seconds each on the toy.
# One sequence at a time writes records one by one, so a signal sent after the first
# lands mid-run rather than after a batch of eight that finishes all at once.
COMMAND = [
    "generate",
    str(SAMPLE),
    "-t",
    "exqa",
    "-t",
    "ynqa",
    "--limit",
    "4",
    "--model",
    "toy",
    "--max-tokens",
    "64",
    "--parallel",
    "1",
]
GENERATIONS = 8


def read_jsonl(path: Path) -> list[dict]:
    return cli_helpers.read_jsonl(path, missing_ok=True)


def outputs(folder: Path) -> tuple[list[dict], list[dict]]:
    return read_jsonl(folder / "out.jsonl"), read_jsonl(folder / "out.rejected.jsonl")


def lines_on_disk(folder: Path) -> int:
    return sum(
        path.read_bytes().count(b"\n")
        for path in (folder / "out.jsonl", folder / "out.rejected.jsonl")
        if path.exists()
    )


def start(folder: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BONITO_LITE_MODEL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bonito_lite", *COMMAND, "-o", "out.jsonl", *extra],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, stderr = proc.communicate(timeout=300)
    return proc.returncode, stderr


def stop_after_first_record(folder: Path, signum: int, *extra: str) -> tuple[int, str]:
    proc = start(folder, *extra)
    deadline = time.monotonic() + 240
    while lines_on_disk(folder) == 0:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no record written"
        time.sleep(0.05)
    proc.send_signal(signum)
    return finish(proc)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[list[dict], list[dict]]:
    folder = tmp_path_factory.mktemp("uninterrupted")
    code, stderr = finish(start(folder))
    assert code == 0, stderr
    records, rejected = outputs(folder)
    assert len(records) + len(rejected) == GENERATIONS
    return records, rejected


def test_ctrl_c_then_rerun_gives_the_uninterrupted_records(tmp_path, uninterrupted):
    code, stderr = stop_after_first_record(tmp_path, signal.SIGINT)
    assert code == EXIT_INTERRUPTED, stderr
    assert "Rerun the same command to resume" in stderr
    assert "Traceback" not in stderr
    # Whatever was written is whole, and the manifest says the run was interrupted.
    records, rejected = outputs(tmp_path)
    assert 1 <= len(records) + len(rejected) < GENERATIONS
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["counts"]["generations"] == len(records) + len(rejected)

    done = len(records) + len(rejected)
    code, stderr = finish(start(tmp_path))
    assert code == 0, stderr
    assert f"{done} of {GENERATIONS} generations already done, {GENERATIONS - done} new" in stderr
    # Progress counts the work left, not the work already on disk.
    left = GENERATIONS - done
    assert f"{left}/{left} generations" in stderr and f"/{GENERATIONS} generations" not in stderr
    # Same records in the same order: none missing, none generated twice.
    assert outputs(tmp_path) == uninterrupted
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["generations"] == GENERATIONS
    assert manifest["counts"]["parsed"] == len(uninterrupted[0])
    assert manifest["this_run"]["generations"] == GENERATIONS - done
    assert manifest["arguments"]["output"] == str((tmp_path / "out.jsonl").resolve())


def test_sigterm_stops_a_run_as_ctrl_c_does_and_an_overwrite_run_says_how_to_resume(tmp_path, uninterrupted):
    # kill, timeout, docker stop and batch schedulers send SIGTERM, not SIGINT.
    code, stderr = stop_after_first_record(tmp_path, signal.SIGTERM, "--overwrite")
    assert code == 128 + signal.SIGTERM, stderr
    assert "Terminated after " in stderr and "Traceback" not in stderr
    # The same command, --overwrite and all, would empty the output again.
    assert "Rerun the same command without --overwrite to resume." in stderr
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    records, rejected = outputs(tmp_path)
    assert manifest["counts"]["generations"] == len(records) + len(rejected) >= 1
    code, stderr = finish(start(tmp_path))
    assert code == 0, stderr
    assert outputs(tmp_path) == uninterrupted


def test_kill_9_and_a_half_written_line_are_repaired_on_rerun(tmp_path, uninterrupted):
    code, _ = stop_after_first_record(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    records, rejected = outputs(tmp_path)  # parses: only whole lines were written
    assert 1 <= len(records) + len(rejected) < GENERATIONS
    # The line that was being written when the process died.
    with (tmp_path / "out.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"input": "What time does the clinic op')

    code, stderr = finish(start(tmp_path))
    assert code == 0, stderr
    assert "half-written line" in stderr
    assert outputs(tmp_path) == uninterrupted

    from datasets import load_dataset

    dataset = load_dataset(
        "json",
        data_files=str(tmp_path / "out.jsonl"),
        split="train",
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert dataset.num_rows == len(uninterrupted[0])
    assert dataset["unit"] == [r["unit"] for r in uninterrupted[0]]


@pytest.mark.slow
def test_rerun_of_a_finished_run_generates_nothing_and_a_new_seed_is_new_work(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("The boiler was serviced on 3 March by Ana Ruiz, who found no leaks.\n")
    args = [
        "generate",
        str(text),
        "-t",
        "exqa",
        "-o",
        str(tmp_path / "out.jsonl"),
        "--model",
        "toy",
        "--max-tokens",
        "48",
    ]
    runner = CliRunner()
    assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    first = outputs(tmp_path)
    assert sum(map(len, first)) == 1

    manifest = (tmp_path / "out.jsonl.manifest.json").read_bytes()
    again = runner.invoke(cli, [*args, "--num-samples", "1", "--threads", "1"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "1 of 1 generations already done, 0 new; nothing to generate." in again.output
    assert "Nothing to generate: " in again.output
    assert outputs(tmp_path) == first
    # The manifest still describes the run that made the output, not the one that did nothing.
    assert (tmp_path / "out.jsonl.manifest.json").read_bytes() == manifest

    other_seed = runner.invoke(cli, [*args, "--seed", "7"], catch_exceptions=False)
    assert other_seed.exit_code == 0, other_seed.output
    assert "0 of 1 generations already done, 1 new" in other_seed.output
    assert "1 records already there are not part of this run (other task types, samples, inputs or settings" in (
        other_seed.output
    )
    records, rejected = outputs(tmp_path)
    assert len(records) + len(rejected) == 2
    assert len({r["unit"] for r in records + rejected}) == 2
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"]["generations"] == 2

    fresh = runner.invoke(cli, [*args, "--overwrite"], catch_exceptions=False)
    assert fresh.exit_code == 0
    assert outputs(tmp_path) == first


def test_unit_keys_are_read_back_and_a_foreign_line_is_refused(tmp_path):
    output, rejects = tmp_path / "out.jsonl", tmp_path / "out.rejected.jsonl"
    output.write_text('{"unit": "a"}\n{"unit": "a"}\n{"unit": "b"}\n')
    rejects.write_text('{"unit": "c", "reason": "no_pipe"}\n{"unit": "d", "rea')
    finished = read_finished(output, rejects)
    assert finished.parsed == 3 and finished.rejected == {"no_pipe": 1}
    # The same passage twice in the inputs is two units with one key: each is taken once.
    assert [finished.take("a") for _ in range(3)] == [True, True, False]
    assert finished.take("d") is False and finished.left() == 2

    assert repair_partial_line(rejects) == len('{"unit": "d", "rea')
    assert rejects.read_text() == '{"unit": "c", "reason": "no_pipe"}\n'
    assert repair_partial_line(rejects) == 0

    output.write_text('{"unit": "a"}\nnot json\n')
    with pytest.raises(OutputExistsError) as error:
        read_finished(output, rejects)
    # Records before it: mending the line keeps them, --overwrite would not.
    assert "line 2" in str(error.value) and "remove or mend that line to resume" in str(error.value)
    assert "--overwrite would discard the records before it too" in str(error.value)
    output.write_text("my own notes\n")
    with pytest.raises(OutputExistsError) as error:
        read_finished(output, rejects)
    assert "line 1" in str(error.value) and "pass --overwrite to replace it, or -o" in str(error.value)


def _disk_full_after(writes: int, monkeypatch) -> None:
    """Let ``writes`` lines through, then write half of the next one and fail like a full disk."""
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] > writes:
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(sinks, "_write", write)


def test_disk_full_leaves_no_half_line(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    _disk_full_after(1, monkeypatch)
    writer = sinks.JsonlWriter.open(path)
    writer.write({"unit": "a", "text": "first"})
    with pytest.raises(ResourceError, match="disk full"):
        writer.write({"unit": "b", "text": "second " * 50})
    writer.close()
    assert read_jsonl(path) == [{"unit": "a", "text": "first"}]


@pytest.mark.slow
def test_disk_full_during_generate_is_one_line_and_exit_1(tmp_path, monkeypatch):
    text = tmp_path / "notes.txt"
    text.write_text("Invoices above 500 euros need two signatures from the finance team.\n")
    _disk_full_after(0, monkeypatch)
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            str(text),
            "-t",
            "exqa",
            "-o",
            str(tmp_path / "out.jsonl"),
            "--model",
            "toy",
            "--max-tokens",
            "48",
            "--quiet",
        ],
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: disk full while writing")
    assert len(result.output.strip().splitlines()) == 1
    assert outputs(tmp_path) == ([], [])
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["status"] == "failed"


def test_a_second_writer_of_the_same_output_is_refused(tmp_path):
    path = tmp_path / "out.jsonl"
    with sinks.JsonlWriter.open(path) as first:
        first.write({"unit": "a"})
        with pytest.raises(InputError, match="another bonito-lite run is writing"):
            sinks.JsonlWriter.open(path, overwrite=True)
    assert read_jsonl(path) == [{"unit": "a"}]


def test_model_hash_comes_from_the_previous_manifest_while_the_file_is_unchanged(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(100))
    manifest = tmp_path / "out.jsonl.manifest.json"
    stat = model.stat()
    recorded = {"file": str(model.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": "recorded"}
    manifest.write_text(json.dumps({"model": recorded}))
    assert model_sha256(model, manifest) == "recorded"
    model.write_bytes(b"GGUF" + bytes(101))  # another file: hashed again
    assert model_sha256(model, manifest) == file_sha256(model) != "recorded"
    assert model_sha256(model, None) == file_sha256(model)


@pytest.mark.slow
def test_samples_of_one_passage_resume_one_by_one(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("The library lends projectors for up to three days; late returns cost 5 euros a day.\n")
    args = [
        "generate",
        str(text),
        "-t",
        "exqa",
        "--num-samples",
        "3",
        "-o",
        str(tmp_path / "out.jsonl"),
        "--model",
        "toy",
        "--max-tokens",
        "48",
        "--quiet",
    ]
    runner = CliRunner()
    assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    records, rejected = outputs(tmp_path)
    full = records + rejected
    assert sorted(r["sample_index"] for r in full) == [0, 1, 2]
    # A run stopped after the first sample of the passage: the other two are still to do.
    first = min(full, key=lambda r: r["sample_index"])
    for name, kept in (("out.jsonl", records), ("out.rejected.jsonl", rejected)):
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in kept if r is first]
        (tmp_path / name).write_text("".join(lines), encoding="utf-8")
    result = runner.invoke(cli, [a for a in args if a != "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 of 3 generations already done, 2 new" in result.output
    resumed = sum(outputs(tmp_path), [])

    def by_unit(rs):
        return sorted(rs, key=lambda r: r["unit"])

    assert by_unit(resumed) == by_unit(full)


def test_unit_keys_at_the_default_sampling_are_the_keys_earlier_outputs_hold():
    from bonito_lite.resume import UnitKeys

    keys = UnitKeys(
        model_sha256="ab" * 32, seed=3, max_tokens=96, temperature=0.5, top_p=0.95, chunk_tokens=384, constrain=True
    )
    # The key as outputs written before --top-k, --min-p, --repetition-penalty and --stop hold it.
    passage = "The boiler was serviced on 3 March."
    fields = [hashlib.sha256(passage.encode()).hexdigest(), "summarization", 1, 96, 0.5, 0.95, 3, 384, True, "ab" * 32]
    assert keys.key(passage, "summarization", 1) == hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]
    changed = {
        replace(keys, **{name: value}).key(passage, "summarization", 1)
        for name, value in [("top_k", 40), ("min_p", 0.05), ("repetition_penalty", 1.1), ("stop", ("###",))]
    }
    assert len(changed) == 4 and keys.key(passage, "summarization", 1) not in changed


def test_new_sampling_flags_are_in_the_manifest_and_the_unit_keys_and_resume(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("The boiler was serviced on 3 March by Ana Ruiz, who found no leaks.\n")
    args = [
        "generate",
        str(text),
        "-t",
        "qg",
        "-o",
        str(tmp_path / "out.jsonl"),
        "--model",
        "toy",
        "--max-tokens",
        "48",
    ]
    flags = ["--top-k", "20", "--min-p", "0.05", "--repetition-penalty", "1.1", "--stop", "###", "--stop", "\n\n"]
    runner = CliRunner()
    assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    first = outputs(tmp_path)
    result = runner.invoke(cli, [*args, *flags], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 of 1 generations already done, 1 new" in result.output
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    arguments = manifest["arguments"]
    assert (arguments["top_k"], arguments["min_p"], arguments["repetition_penalty"], arguments["stop"]) == (
        20,
        0.05,
        1.1,
        ["###", "\n\n"],
    )
    again = runner.invoke(cli, [*args, *flags], catch_exceptions=False)
    assert "1 of 1 generations already done, 0 new" in again.output
    records, rejected = outputs(tmp_path)
    assert len({r["unit"] for r in records + rejected}) == 2
    assert first[0] + first[1] == [
        r for r in records + rejected if r["unit"] in {u["unit"] for u in first[0] + first[1]}
    ]
