"""Trainer formats: ``bonito-lite export`` and ``generate --format``, read back with ``datasets``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset, load_from_disk

from bonito_lite import export
from bonito_lite.errors import InputError, OutputExistsError
from bonito_lite.export import FORMATS, default_export_path, export_dataset

from cli_helpers import SAMPLE, read_jsonl, run_cli as run
from record_factory import record as generated, write_jsonl


def record(number: int, **changes) -> dict:
    """A record shaped like generate's, with text that JSON and Arrow must keep."""
    context = f'Passage {number}: the clinic opens at 7:30.\nDr. Ødegård signs "letters" — café ✓.'
    return generated(number, context=context, **{"output": f"7:30 ({number})", **changes})


RECORDS = [record(n) for n in range(3)]


pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.fixture
def notes(tmp_path) -> Path:
    return write_jsonl(tmp_path / "notes.bonito.jsonl", RECORDS)


@pytest.fixture
def cache(tmp_path) -> str:
    """Where the tests' own reading of the outputs caches, so nothing lands in the home folder."""
    return str(tmp_path.parent / f"{tmp_path.name}-reader-cache")


# Each format, read back ------------------------------------------------------------------------


def test_alpaca_rows_are_instruction_empty_input_and_output(notes, cache):
    result = run(["export", str(notes), "--format", "alpaca"])
    assert result.exit_code == 0, result.output
    path = notes.with_name("notes.bonito.alpaca.jsonl")
    assert f"Wrote {path} (3 examples, alpaca)" in result.output
    dataset = Dataset.from_json(str(path), cache_dir=cache)
    assert dataset.column_names == ["instruction", "input", "output"]
    assert dataset.to_list() == [{"instruction": r["input"], "input": "", "output": r["output"]} for r in RECORDS]


def test_messages_rows_are_one_user_and_one_assistant_turn(notes, cache):
    result = run(["export", str(notes), "--format", "messages"])
    assert result.exit_code == 0, result.output
    dataset = Dataset.from_json(str(notes.with_name("notes.bonito.messages.jsonl")), cache_dir=cache)
    assert dataset.column_names == ["messages"]
    assert dataset.to_list() == [
        {"messages": [{"role": "user", "content": r["input"]}, {"role": "assistant", "content": r["output"]}]}
        for r in RECORDS
    ]


def test_parquet_keeps_every_field_in_order(notes, cache):
    result = run(["export", str(notes), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    dataset = Dataset.from_parquet(str(notes.with_name("notes.bonito.parquet")), cache_dir=cache)
    assert dataset.column_names == list(RECORDS[0])
    assert dataset.features["passage_index"].dtype == "int64"
    assert dataset.to_list() == RECORDS


def test_hf_is_a_saved_dataset_with_every_field(notes):
    result = run(["export", str(notes), "--format", "hf"])
    assert result.exit_code == 0, result.output
    dataset = load_from_disk(str(notes.with_name("notes.bonito.hf")))
    assert isinstance(dataset, Dataset)
    assert dataset.column_names == list(RECORDS[0])
    assert dataset.to_list() == RECORDS
    # Our one line says what was written; datasets' own progress bar stays off.
    assert "Saving the dataset" not in result.output


def test_default_names_sit_beside_the_input():
    assert {fmt: default_export_path("out/notes.bonito.jsonl", fmt) for fmt in FORMATS} == {
        "alpaca": Path("out/notes.bonito.alpaca.jsonl"),
        "messages": Path("out/notes.bonito.messages.jsonl"),
        "parquet": Path("out/notes.bonito.parquet"),
        "hf": Path("out/notes.bonito.hf"),
    }


def test_output_option_names_the_file(notes, tmp_path):
    (tmp_path / "train").mkdir()
    result = run(["export", str(notes), "--format", "alpaca", "-o", "train/data.jsonl"])
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "train" / "data.jsonl")) == 3
    assert not notes.with_name("notes.bonito.alpaca.jsonl").exists()


def test_blank_lines_are_skipped(tmp_path):
    source = tmp_path / "notes.bonito.jsonl"
    source.write_text("\n" + json.dumps(RECORDS[0]) + "\n\n" + json.dumps(RECORDS[1]) + "\n  \n")
    assert export_dataset(source, "alpaca").records == 2


# Batches: columns that come and go, across more than one batch -------------------------------------


def test_parquet_and_hf_take_columns_from_every_batch(tmp_path, monkeypatch, cache):
    monkeypatch.setattr(export, "_BATCH_ROWS", 2)
    rows = [record(0), record(1), record(2, score=0.5), record(3, score=1), record(4)]
    del rows[4]["seed"]
    source = write_jsonl(tmp_path / "mixed.jsonl", rows)
    expected = [{**record(n), "score": None} for n in range(5)]
    expected[2]["score"], expected[3]["score"], expected[4]["seed"] = 0.5, 1.0, None

    assert export_dataset(source, "parquet").records == 5
    parquet = Dataset.from_parquet(str(tmp_path / "mixed.parquet"), cache_dir=cache)
    assert parquet.column_names == [*RECORDS[0], "score"]
    assert parquet.to_list() == expected

    assert export_dataset(source, "hf").records == 5
    assert load_from_disk(str(tmp_path / "mixed.hf")).to_list() == expected


def test_a_field_with_clashing_types_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "_BATCH_ROWS", 1)
    source = write_jsonl(tmp_path / "clash.jsonl", [record(0), record(1, seed="not a number")])
    result = run(["export", str(source), "--format", "parquet"])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {source}: a field holds values of different types")
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clash.jsonl"]


# Bad input: one line, exit 2, nothing left behind --------------------------------------------------

BAD = {
    "not JSON": ([RECORDS[0]], '{"input": "half a line', "line 2 is not JSON"),
    "not an object": ([RECORDS[0], ["a", "list"]], "", "line 2 is not a JSON object"),
    "no output": ([RECORDS[0], {"input": "q"}], "", "line 2 has no output; it is not a bonito-lite example"),
    "no input or output": ([{"text": "x"}], "", "line 1 has no input or output"),
    "a rejected record": (
        [{"reason": "no_pipe", "generation": "x", "task_type": "t"}],
        "",
        "line 1 is a rejected generation (it has a 'reason'), not an example",
    ),
    # A quality filter's reject keeps its input and output, yet is no training example.
    "a filtered record": (
        [RECORDS[0], record(1, reason="duplicate", detail="same as unit 0")],
        "",
        "line 2 is a rejected generation (it has a 'reason'), not an example; "
        "rejected generations are never training data",
    ),
    "output not text": ([record(0, output=7)], "", "line 1: output is int, not text"),
    "empty": ([], "", "holds no examples; nothing to export"),
}


@pytest.mark.parametrize("fmt", ["messages", "hf"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_2(tmp_path, case, fmt):
    rows, tail, message = BAD[case]
    source = write_jsonl(tmp_path / "bad.jsonl", rows, tail)
    result = run(["export", str(source), "--format", fmt])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {source}")
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    # No output, no temporary file or folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_rejects_file_is_refused_by_its_name(tmp_path, fmt):
    # Even rows that look like examples: the file is where generate puts what it rejected.
    source = write_jsonl(tmp_path / "notes.bonito.rejected.jsonl", RECORDS)
    result = run(["export", str(source), "--format", fmt])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: {source} holds rejected generations, which are never exported; export the "
        "examples file beside it, not its .rejected.jsonl.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.bonito.rejected.jsonl"]


def test_text_that_is_not_utf8_is_one_line(tmp_path):
    source = tmp_path / "latin.jsonl"
    source.write_bytes(json.dumps(RECORDS[0]).encode() + b"\n" + '{"input": "caf\u00e9"}\n'.encode("latin-1"))
    result = run(["export", str(source), "--format", "alpaca"])
    assert result.exit_code == 2
    assert f"Error: {source} line 2 is not UTF-8 text" in result.output


def test_missing_input_and_folder_input_are_usage_errors(tmp_path):
    for args in (["export", "nope.jsonl", "--format", "alpaca"], ["export", str(tmp_path), "--format", "alpaca"]):
        result = run(args)
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_unknown_format_is_refused(notes):
    result = run(["export", str(notes), "--format", "csv"])
    assert result.exit_code == 2
    assert "alpaca" in result.output and "hf" in result.output
    with pytest.raises(InputError, match="unknown format 'csv'"):
        export_dataset(notes, "csv")


def test_the_input_itself_is_never_the_output(notes):
    result = run(["export", str(notes), "--format", "alpaca", "-o", str(notes), "--overwrite"])
    assert result.exit_code == 2
    assert "is the input" in result.output
    assert read_jsonl(notes) == RECORDS


def test_missing_output_folder_is_refused(notes):
    result = run(["export", str(notes), "--format", "parquet", "-o", "no/such/folder/x.parquet"])
    assert result.exit_code == 2
    assert "output folder no/such/folder does not exist" in result.output


# --overwrite ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_existing_output_is_refused_then_replaced_with_overwrite(notes, fmt, cache):
    target = default_export_path(notes, fmt)
    assert run(["export", str(notes), "--format", fmt]).exit_code == 0
    before = sorted(p.name for p in notes.parent.rglob("*"))

    write_jsonl(notes, [record(7)])
    result = run(["export", str(notes), "--format", fmt])
    assert result.exit_code == 2
    assert result.output == f"Error: {target} exists; pass --overwrite to replace it, or -o to write elsewhere.\n"

    result = run(["export", str(notes), "--format", fmt, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert f"(1 example, {fmt})" in result.output
    # The same files as before (no leftover temporary name), now holding the new record.
    assert sorted(p.name for p in notes.parent.rglob("*")) == before
    if fmt == "hf":
        rows = load_from_disk(str(target)).to_list()
    elif fmt == "parquet":
        rows = Dataset.from_parquet(str(target), cache_dir=cache).to_list()
    else:
        rows = read_jsonl(target)
    assert len(rows) == 1 and "(7)" in json.dumps(rows[0])


def test_overwrite_never_replaces_a_folder_that_is_not_a_dataset(notes, tmp_path):
    folder = tmp_path / "notes.bonito.hf"
    folder.mkdir()
    (folder / "thesis.tex").write_text("mine")
    for overwrite in ([], ["--overwrite"]):  # not first told to pass --overwrite, then that it does not help
        result = run(["export", str(notes), "--format", "hf", *overwrite])
        assert result.exit_code == 2
        assert "does not hold a saved dataset, which --overwrite never replaces" in result.output
    assert (folder / "thesis.tex").read_text() == "mine"


def test_an_output_under_a_file_says_the_file_is_no_folder(notes):
    result = run(["export", str(notes), "--format", "alpaca", "-o", f"{notes}/train.jsonl"])
    assert result.exit_code == 2
    assert f"{notes} is a file, not a folder; choose another -o." in result.output


def test_a_folder_is_not_replaced_by_a_file_nor_a_file_by_a_folder(notes, tmp_path):
    (tmp_path / "notes.bonito.parquet").mkdir()
    (tmp_path / "notes.bonito.hf").write_text("a file")
    assert "is a folder" in run(["export", str(notes), "--format", "parquet", "--overwrite"]).output
    assert "is a file and hf writes a folder" in run(["export", str(notes), "--format", "hf", "--overwrite"]).output


def test_library_raises_output_exists(notes):
    export_dataset(notes, "alpaca")
    with pytest.raises(OutputExistsError):
        export_dataset(notes, "alpaca")


# Ctrl-C: never a half file ------------------------------------------------------------------------------


def test_ctrl_c_while_writing_json_lines_leaves_no_file(notes, monkeypatch):
    calls = []

    def interrupted(row):
        calls.append(row)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return {"instruction": row["input"]}

    monkeypatch.setitem(export._ROWS, "alpaca", interrupted)
    result = run(["export", str(notes), "--format", "alpaca"])
    assert result.exit_code == 130
    assert result.output == "Interrupted.\n"
    assert sorted(p.name for p in notes.parent.iterdir()) == ["notes.bonito.jsonl"]


def test_ctrl_c_while_saving_keeps_the_old_dataset_whole(notes, monkeypatch):
    assert run(["export", str(notes), "--format", "hf"]).exit_code == 0

    def interrupted(self, *args, **kwargs):
        Path(args[0]).mkdir()
        (Path(args[0]) / "data-00000-of-00001.arrow").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Dataset, "save_to_disk", interrupted)
    write_jsonl(notes, [record(9)])
    result = run(["export", str(notes), "--format", "hf", "--overwrite"])
    assert result.exit_code == 130
    monkeypatch.undo()
    assert sorted(p.name for p in notes.parent.iterdir()) == ["notes.bonito.hf", "notes.bonito.jsonl"]
    assert load_from_disk(str(notes.with_name("notes.bonito.hf"))).to_list() == RECORDS


# Privacy: datasets caches nothing ------------------------------------------------------------------------


def test_exports_leave_nothing_in_the_cache_home_or_temp_folder(tmp_path, notes):
    home, temp, cache = tmp_path / "home", tmp_path / "tmp", tmp_path / "hf-cache"
    for folder in (home, temp, cache):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "HF_HOME", "HF_DATASETS_CACHE")}
    env.update(HOME=str(home), TMPDIR=str(temp), HF_DATASETS_CACHE=str(cache), HF_HOME=str(cache / "home"))
    script = (
        "import sys\nfrom bonito_lite.export import export_dataset\n"
        "for fmt in ('alpaca', 'messages', 'parquet', 'hf'):\n"
        "    export_dataset(sys.argv[1], fmt)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(notes)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(cache.rglob("*")) == [] and sorted(home.rglob("*")) == [] and sorted(temp.rglob("*")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hf-cache",
        "home",
        "notes.bonito.alpaca.jsonl",
        "notes.bonito.hf",
        "notes.bonito.jsonl",
        "notes.bonito.messages.jsonl",
        "notes.bonito.parquet",
        "tmp",
    ]


# generate --format, end to end on the toy model ---------------------------------------------------------

# Formats are under test here, not the quality filters: keep every parsed example.
FAST = ["--model", "toy", "--max-tokens", "64", "--no-filter"]


@pytest.mark.slow
def test_generate_writes_the_formats_from_its_output(tmp_path, cache):
    result = run(
        [
            "generate",
            str(SAMPLE),
            "-t",
            "exqa",
            "--limit",
            "2",
            "-o",
            "out.jsonl",
            "--format",
            "messages",
            "--format",
            "parquet",
            *FAST,
        ]
    )
    assert result.exit_code == 0, result.output
    records = read_jsonl(tmp_path / "out.jsonl")
    assert records
    assert "Wrote out.messages.jsonl" in result.output and "Wrote out.parquet" in result.output
    messages = Dataset.from_json(str(tmp_path / "out.messages.jsonl"), cache_dir=cache).to_list()
    assert [[m["content"] for m in row["messages"]] for row in messages] == [[r["input"], r["output"]] for r in records]
    assert Dataset.from_parquet(str(tmp_path / "out.parquet"), cache_dir=cache).to_list() == records


@pytest.mark.slow
def test_a_resumed_run_writes_the_formats_from_every_run(tmp_path):
    first = run(["generate", str(SAMPLE), "-t", "exqa", "--limit", "1", "-o", "out.jsonl", "--quiet", *FAST])
    assert first.exit_code == 0, first.output
    result = run(
        [
            "generate",
            str(SAMPLE),
            "-t",
            "exqa",
            "--limit",
            "2",
            "-o",
            "out.jsonl",
            "--quiet",
            "--format",
            "alpaca",
            "--format",
            "hf",
            *FAST,
        ]
    )
    assert result.exit_code == 0, result.output
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(read_jsonl(tmp_path / "out.rejected.jsonl")) + len(records) == 2
    assert read_jsonl(tmp_path / "out.alpaca.jsonl") == [
        {"instruction": r["input"], "input": "", "output": r["output"]} for r in records
    ]
    assert load_from_disk(str(tmp_path / "out.hf")).to_list() == records
    # A later complete run replaces the views it wrote, without --overwrite.
    again = run(["generate", str(SAMPLE), "-t", "exqa", "--limit", "2", "-o", "out.jsonl", "--format", "alpaca", *FAST])
    assert again.exit_code == 0, again.output
    assert "Wrote out.alpaca.jsonl" in again.output


@pytest.mark.slow
def test_an_interrupted_run_writes_no_format_and_says_so(tmp_path, monkeypatch):
    from bonito_lite import run as run_module

    def ctrl_c(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module.Progress, "advance", ctrl_c)
    result = run(
        ["generate", str(SAMPLE), "-t", "exqa", "--limit", "2", "-o", "out.jsonl", "--format", "alpaca", *FAST]
    )
    assert result.exit_code == 130
    assert "Not written as alpaca: the run did not finish" in result.output
    assert not (tmp_path / "out.alpaca.jsonl").exists()


def test_format_with_stdout_is_refused_before_any_work(tmp_path):
    result = run(["generate", str(SAMPLE), "-t", "exqa", "-o", "-", "--format", "alpaca", *FAST])
    assert result.exit_code == 2
    assert "--format needs an output file" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_format_that_could_not_be_written_is_refused_before_generating(tmp_path):
    (tmp_path / "out.hf").mkdir()
    (tmp_path / "out.hf" / "thesis.tex").write_text("not a dataset")
    result = run(
        ["generate", str(SAMPLE), "-t", "exqa", "-o", "out.jsonl", "--format", "alpaca", "--format", "hf", *FAST]
    )
    assert result.exit_code == 2
    assert "out.hf is a folder that does not hold a saved dataset" in result.output
    assert "move it aside (--format hf)" in result.output
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.alpaca.jsonl").exists()


def test_a_review_of_the_output_an_overwrite_replaces_is_refused_before_generating(tmp_path):
    write_jsonl(tmp_path / "out.jsonl", RECORDS)
    sidecar = tmp_path / "out.review.jsonl"
    sidecar.write_text('{"output": "out.jsonl"}\n')
    before = (tmp_path / "out.jsonl").read_bytes()
    args = ["generate", str(SAMPLE), "-t", "exqa", "-o", "out.jsonl", "--overwrite", "--format", "alpaca", *FAST]
    result = run(args)
    assert result.exit_code == 2
    assert "out.review.jsonl reviews an earlier out.jsonl, which this run replaces" in result.output
    assert (tmp_path / "out.jsonl").read_bytes() == before and sidecar.exists()


@pytest.mark.parametrize(
    "companion", ["notes.bonito.rejected.jsonl", "notes.bonito.jsonl.manifest.json", "notes.bonito.review.jsonl"]
)
def test_an_export_or_a_report_never_replaces_a_file_that_goes_with_its_input(notes, companion):
    path = notes.with_name(companion)
    path.write_text("kept\n")
    for command in (["export", str(notes), "--format", "messages"], ["report", str(notes)]):
        result = run([*command, "-o", str(path), "--overwrite"])
        assert result.exit_code == 2, result.output
        assert "is the input's" in result.output
    assert path.read_text() == "kept\n"


def test_an_output_named_as_a_folder_is_refused(tmp_path):
    result = run(["generate", str(SAMPLE), "-t", "exqa", "-o", "newdir/", *FAST])
    assert result.exit_code == 2
    assert "newdir/ is a folder; give -o a file name" in result.output
    assert not list(tmp_path.glob("newdir*"))


def test_several_formats_are_each_written_beside_the_input(notes):
    result = run(["export", str(notes), "--format", "alpaca", "--format", "messages"])
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(notes.with_name("notes.bonito.alpaca.jsonl"))) == 3
    assert len(read_jsonl(notes.with_name("notes.bonito.messages.jsonl"))) == 3
    # One -o cannot name two files.
    result = run(["export", str(notes), "--format", "alpaca", "--format", "parquet", "-o", "train.jsonl"])
    assert result.exit_code == 2 and "-o names one output" in result.output


@pytest.mark.parametrize("command", [["export", "--format", "alpaca"], ["report"]])
def test_standard_output_is_refused_not_taken_for_a_file_named_dash(notes, tmp_path, command):
    result = run([command[0], str(notes), *command[1:], "-o", "-"])
    assert result.exit_code == 2
    assert "-o - (standard output) is not taken here" in result.output
    assert not (tmp_path / "-").exists()


def test_several_formats_are_all_checked_before_any_is_written(notes):
    notes.with_name("notes.bonito.messages.jsonl").write_text("mine\n")
    result = run(["export", str(notes), "--format", "alpaca", "--format", "messages"])
    assert result.exit_code == 2
    assert result.output.strip().endswith("notes.bonito.messages.jsonl exists; pass --overwrite to replace it.")
    assert not notes.with_name("notes.bonito.alpaca.jsonl").exists()
