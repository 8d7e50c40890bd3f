"""The review sidecar, its checks, and export applying its decisions (no terminal needed)."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from datasets import Dataset, load_from_disk
from review_factory import example, rejected, sidecar_lines, write_jsonl, write_output

from bonito_lite.errors import InputError
from bonito_lite.export import export_dataset
from bonito_lite.review import check_output
from bonito_lite.review.records import RecordFile
from bonito_lite.review.store import DROP, EDIT, KEEP, REJECT, RESTORE, ReviewStore, read_decisions, sidecar_path

from cli_helpers import read_jsonl, run_cli

pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.fixture
def output(tmp_path):
    return write_output(tmp_path)


def decide(output, *decisions) -> None:
    store = ReviewStore.open(output)
    try:
        for unit, decision, *edits in decisions:
            store.decide(unit, decision, *edits)
    finally:
        store.close()


# The sidecar -------------------------------------------------------------------------------------


def test_sidecar_sits_beside_the_output_and_names_it_first(output):
    decide(output, ("u000000000000001", KEEP))
    assert sidecar_path(output) == output.with_name("notes.bonito.review.jsonl")
    header, line = sidecar_lines(output)
    assert header["review_of"] == str(output.resolve())
    assert header["first_unit"] == "u000000000000000"
    assert header["first_rejected_unit"] == "u000000000000100"
    assert line["unit"] == "u000000000000001" and line["decision"] == KEEP and line["time"]


def test_every_decision_is_on_disk_when_decide_returns(output):
    store = ReviewStore.open(output)
    try:
        store.decide("u000000000000000", KEEP)
        assert [line.get("decision") for line in sidecar_lines(output)] == [None, KEEP]
        store.decide("u000000000000001", DROP)
        assert [line.get("decision") for line in sidecar_lines(output)] == [None, KEEP, DROP]
    finally:
        store.close()


def test_sidecar_is_owner_only_whatever_the_umask(output):
    previous = os.umask(0o000)
    try:
        decide(output, ("u000000000000000", KEEP))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(sidecar_path(output).stat().st_mode) == 0o600


def test_each_line_carries_the_edits_so_the_last_one_is_in_force(output):
    decide(
        output,
        ("u000000000000002", EDIT, "a new question"),
        ("u000000000000002", EDIT, None, "a new answer"),
        ("u000000000000002", DROP),
    )
    decision = read_decisions(output)["u000000000000002"]
    assert (decision.decision, decision.input, decision.output) == (DROP, "a new question", "a new answer")
    assert not decision.included
    decide(output, ("u000000000000002", EDIT))
    assert read_decisions(output)["u000000000000002"].included


def test_reopening_keeps_every_decision_and_appends(output):
    decide(output, ("u000000000000000", KEEP))
    decide(output, ("u000000000000001", DROP))
    assert {u: d.decision for u, d in read_decisions(output).items()} == {
        "u000000000000000": KEEP,
        "u000000000000001": DROP,
    }
    assert sum("review_of" in line for line in sidecar_lines(output)) == 1


def test_a_half_written_last_decision_is_ignored_then_cut_on_reopening(output):
    decide(output, ("u000000000000000", KEEP))
    with open(sidecar_path(output), "a", encoding="utf-8") as handle:
        handle.write('{"unit": "u000000000000001", "deci')
    assert set(read_decisions(output)) == {"u000000000000000"}
    decide(output, ("u000000000000003", DROP))
    assert [line.get("unit") for line in sidecar_lines(output)][1:] == ["u000000000000000", "u000000000000003"]


def test_generate_appending_to_the_output_leaves_decisions_in_force(output):
    decide(output, ("u000000000000001", DROP))
    with open(output, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(example(7)) + "\n")
    assert read_decisions(output)["u000000000000001"].decision == DROP


def test_a_sidecar_from_another_output_is_refused_with_the_reason(output, tmp_path):
    decide(output, ("u000000000000001", DROP))
    write_jsonl(output, [example(n) for n in range(10, 12)])  # regenerated: other units
    with pytest.raises(InputError, match="reviews another output") as error:
        ReviewStore.open(output)
    assert "u000000000000000" in str(error.value) and "u000000000000010" in str(error.value)


def test_a_file_that_is_not_a_review_is_refused(output):
    sidecar_path(output).write_text('{"some": "thing"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="not a bonito-lite review"):
        ReviewStore.open(output)


def test_a_damaged_decision_line_is_named(output):
    decide(output, ("u000000000000001", DROP))
    with open(sidecar_path(output), "a", encoding="utf-8") as handle:
        handle.write('{"unit": "u000000000000002", "decision": "maybe"}\n')
    with pytest.raises(InputError, match="line 3 is not a review decision"):
        read_decisions(output)


def test_a_read_only_folder_is_refused_before_anything_is_written(output, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if str(path) == str(output.parent) else real_access(path, mode)
    )
    with pytest.raises(InputError, match="its folder is read-only"):
        ReviewStore.open(output)
    result = run_cli(["review", str(output)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "is read-only" in result.output
    assert not sidecar_path(output).exists()


def test_a_second_review_of_the_same_output_is_refused(output):
    store = ReviewStore.open(output)
    try:
        with pytest.raises(InputError, match="open in another review"):
            ReviewStore.open(output)
    finally:
        store.close()


# Reading the output lazily ---------------------------------------------------------------------------


def test_records_are_found_only_as_far_as_asked(tmp_path, monkeypatch):
    from bonito_lite.review import records

    monkeypatch.setattr(records, "_BLOCK", 4096)
    path = write_jsonl(tmp_path / "big.bonito.jsonl", [example(n) for n in range(500)])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"input": "half a li')  # a killed run's last line
    lines = RecordFile(path)
    assert lines.record(0)["unit"] == "u000000000000000"
    assert not lines.complete and lines.known < 50
    assert lines.unit(321) == "u000000000000321"
    assert lines.record(499)["output"] == example(499)["output"]
    assert len(lines) == 500 and lines.complete and not lines.has(500)
    lines.close()


def test_the_unit_is_read_even_when_it_is_not_the_last_field(tmp_path):
    record = example(3)
    moved = {"unit": record.pop("unit"), **record}
    lines = RecordFile(write_jsonl(tmp_path / "x.jsonl", [moved]))
    assert lines.unit(0) == "u000000000000003"
    lines.close()


# What review refuses to open ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, needle",
    [
        ("not json at all\n", "line 1 is not UTF-8 JSON"),
        ('["a list"]\n', "line 1 is not a JSON object"),
        ('{"text": "a table row"}\n', "is not a bonito-lite example"),
        (json.dumps(rejected(1)) + "\n", "is a rejects file"),
    ],
)
def test_review_refuses_what_is_not_an_output_in_one_line(tmp_path, content, needle):
    path = tmp_path / "notes.bonito.jsonl"
    path.write_text(content, encoding="utf-8")
    result = run_cli(["review", str(path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and needle in result.output and "Error: " in result.output


def test_review_refuses_an_output_with_nothing_to_review(tmp_path):
    path = tmp_path / "notes.bonito.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no examples and no rejects"):
        check_output(path)


def test_review_refuses_its_own_sidecar_as_input(output):
    decide(output, ("u000000000000001", DROP))
    result = run_cli(["review", str(sidecar_path(output))])
    assert result.exit_code == 2 and "give the output it reviews" in result.output


def test_review_refuses_a_foreign_sidecar_before_the_screen(output):
    decide(output, ("u000000000000001", DROP))
    write_jsonl(output, [example(20)])
    result = run_cli(["review", str(output)])
    assert result.exit_code == 2 and "reviews another output" in result.output


def test_review_without_a_terminal_is_one_line(output):
    result = run_cli(["review", str(output)])
    assert result.exit_code == 2 and "review runs in a terminal" in result.output
    assert not sidecar_path(output).exists()


def test_review_without_textual_names_the_extra(output, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual", None)
    result = run_cli(["review", str(output)])
    assert result.exit_code == 2 and 'pip install "bonito-lite[review]"' in result.output


# Export applies the decisions ----------------------------------------------------------------------


REVIEWED = (
    ("u000000000000000", KEEP),
    ("u000000000000001", DROP),
    ("u000000000000002", EDIT, "Edited question?", "Edited answer"),
    ("u000000000000100", RESTORE),  # a filtered example taken back
    ("u000000000000101", REJECT),  # a parse failure left rejected
)


def test_export_leaves_out_drops_applies_edits_and_takes_back_rejects(output):
    decide(output, *REVIEWED)
    result = run_cli(["export", str(output), "--format", "alpaca"])
    assert result.exit_code == 0, result.output
    assert (
        "Review applied: 1 kept, 1 edited, 1 dropped, 1 taken back from the rejects, 2 not reviewed." in result.output
    )
    assert "(5 examples, alpaca)" in result.output
    rows = read_jsonl(output.with_name("notes.bonito.alpaca.jsonl"))
    assert [r["instruction"] for r in rows] == [
        example(0)["input"],
        "Edited question?",
        example(3)["input"],
        example(4)["input"],
        example(100)["input"],
    ]
    assert rows[1]["output"] == "Edited answer"


@pytest.mark.parametrize("fmt", ["parquet", "hf"])
def test_parquet_and_hf_carry_a_review_column(output, fmt, tmp_path):
    decide(output, *REVIEWED)
    result = export_dataset(output, fmt)
    if fmt == "hf":
        dataset = load_from_disk(str(result.path))
    else:
        dataset = Dataset.from_parquet(str(result.path), cache_dir=str(tmp_path / "reader-cache"))
    rows = dataset.to_list()
    assert [(r["unit"], r["review"]) for r in rows] == [
        ("u000000000000000", "kept"),
        ("u000000000000002", "edited"),
        ("u000000000000003", "unreviewed"),
        ("u000000000000004", "unreviewed"),
        ("u000000000000100", "restored"),
    ]
    assert rows[1]["input"] == "Edited question?" and rows[1]["output"] == "Edited answer"
    assert "reason" not in dataset.column_names  # a taken-back reject is an example again
    assert (result.review.kept, result.review.edited, result.review.dropped, result.review.restored) == (1, 1, 1, 1)


def test_ignore_review_exports_as_generated(output):
    decide(output, *REVIEWED)
    result = run_cli(["export", str(output), "--format", "messages", "--ignore-review"])
    assert result.exit_code == 0, result.output
    assert "Review applied" not in result.output
    rows = read_jsonl(output.with_name("notes.bonito.messages.jsonl"))
    assert [r["messages"][0]["content"] for r in rows] == [example(n)["input"] for n in range(5)]


def test_without_a_review_export_adds_no_column(output):
    result = export_dataset(output, "parquet")
    assert result.review is None
    assert "review" not in Dataset.from_parquet(str(result.path), cache_dir=str(output.parent / "c")).column_names


def test_decisions_for_units_no_longer_in_the_output_are_reported(output):
    decide(output, ("u000000000000001", DROP), ("u000000000000004", KEEP))
    write_jsonl(output, [example(n) for n in range(4)])  # example 4 is gone; the first line stays
    result = run_cli(["export", str(output), "--format", "alpaca"])
    assert result.exit_code == 0, result.output
    assert "1 decision is for examples no longer in the output (u000000000000004)" in result.output


def test_a_parse_failure_is_taken_back_only_with_both_sides_written(output):
    decide(output, ("u000000000000101", RESTORE, "Written question?", "Written answer"))
    rows = read_jsonl(export_dataset(output, "alpaca").path)
    assert rows[-1] == {"instruction": "Written question?", "input": "", "output": "Written answer"}


def test_export_refuses_a_foreign_sidecar(output):
    decide(output, ("u000000000000001", DROP))
    write_jsonl(output, [example(30)])
    result = run_cli(["export", str(output), "--format", "alpaca"])
    assert result.exit_code == 2 and "reviews another output" in result.output
    assert run_cli(["export", str(output), "--format", "alpaca", "--ignore-review"]).exit_code == 0


def test_everything_dropped_is_refused_in_one_line(tmp_path):
    output = write_output(tmp_path, examples=1, rejects=[])
    decide(output, ("u000000000000000", DROP))
    result = run_cli(["export", str(output), "--format", "alpaca"])
    assert result.exit_code == 2 and "every example" in result.output and "--ignore-review" in result.output


def test_generate_format_applies_the_review_and_a_rerun_that_appends_keeps_it(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text(
        "The boiler in the north wing was serviced on 3 March by Ana Ruiz. The next service is due "
        "in September, and the key is kept at the front desk.\n",
        encoding="utf-8",
    )
    args = [
        "generate",
        str(notes),
        "-t",
        "question_generation",
        "--model",
        "toy",
        "--max-tokens",
        "96",
        "--no-filter",
        "-o",
        str(tmp_path / "notes.bonito.jsonl"),
        "-q",
    ]
    assert run_cli(args + ["--num-samples", "2"]).exit_code == 0
    output = tmp_path / "notes.bonito.jsonl"
    first, second = read_jsonl(output)
    decide(output, (first["unit"], DROP), (second["unit"], EDIT, None, "A reviewed answer"))

    loud = [a for a in args if a != "-q"]
    result = run_cli(loud + ["--num-samples", "4", "--format", "alpaca", "--format", "messages"])  # appends two
    assert result.exit_code == 0, result.output
    examples = read_jsonl(output)
    assert examples[:2] == [first, second]
    said = (
        f"Review applied: 0 kept, 1 edited, 1 dropped, 0 taken back from the rejects, {len(examples) - 2} not reviewed."
    )
    assert result.output.count(said) == 1  # once, for both formats
    rows = read_jsonl(output.with_name("notes.bonito.alpaca.jsonl"))
    assert [r["output"] for r in rows] == ["A reviewed answer"] + [r["output"] for r in examples[2:]]

    result = run_cli(args + ["--num-samples", "4", "--format", "alpaca", "--ignore-review"])
    rows = read_jsonl(output.with_name("notes.bonito.alpaca.jsonl"))
    assert [r["output"] for r in rows] == [r["output"] for r in examples]


def test_readme_states_the_smallest_window():
    from pathlib import Path

    from bonito_lite.review.app import MIN_HEIGHT, MIN_WIDTH

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"a window smaller than {MIN_WIDTH}×{MIN_HEIGHT}" in readme


@pytest.mark.parametrize("fmt", ["alpaca", "hf"])
def test_rejects_taken_back_from_an_output_with_no_examples_are_exported(tmp_path, fmt):
    output = write_output(tmp_path, examples=0)
    decide(output, ("u000000000000100", RESTORE))
    result = export_dataset(output, fmt)
    assert result.records == 1 and result.review.restored == 1
    # Without a review, or with none taken back, there is still nothing to export.
    store_path = sidecar_path(output)
    store_path.unlink()
    with pytest.raises(InputError, match="holds no examples; nothing to export"):
        export_dataset(output, fmt, tmp_path / f"again-{fmt}", overwrite=True)
    assert not (tmp_path / f"again-{fmt}").exists()
