"""Quality filters end to end on the bundled toy model: the CLI, resume, stdout and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from datasets import Dataset

from bonito_lite import SamplingParams, filters
from bonito_lite.cli import cli
from bonito_lite.filters import normalise
from bonito_lite.task_types import resolve_task_type

import cli_helpers

# Two passages of the sample handbook, enough for the toy to write a few examples.
TEXT = """The clinic opens at 7:30 on weekdays and at 8:00 on Saturdays; it is closed on Sundays and on
public holidays. Whoever opens switches off the alarm with the four-digit code kept in the
sealed envelope in the manager's office, turns on the treatment room heaters, and starts the
laundry from the previous evening.

Cancellations made less than twenty-four hours before the appointment are charged at half the
session fee, currently 45 dollars for a follow-up and 70 dollars for an initial assessment.
The fee is waived once per patient per year, and always when the patient is unwell.
"""
# Question generation: the toy's examples of it pass every check but deduplication.
QG = resolve_task_type("qg").full_name
FAST = ["--model", "toy", "--max-tokens", "64", "--chunk-tokens", "64", "-t", "qg", "--num-samples", "2"]


def run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def read_jsonl(path: Path) -> list[dict]:
    return cli_helpers.read_jsonl(path, missing_ok=True)


def example(record: dict) -> tuple[str, str]:
    return normalise(record["input"]), normalise(record["output"])


@pytest.fixture(autouse=True)
def in_tmp(in_tmp):
    tmp_path = in_tmp
    (tmp_path / "a.md").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.md").write_text(TEXT, encoding="utf-8")  # the same text again
    return tmp_path


@pytest.mark.slow
def test_a_duplicate_passage_gives_duplicate_rejects_naming_the_kept_example(in_tmp):
    run(["generate", "a.md", "b.md", "-o", "out.jsonl", "-q", *FAST])
    kept = read_jsonl(in_tmp / "out.jsonl")
    rejected = read_jsonl(in_tmp / "out.rejected.jsonl")
    from_a = [r for r in kept if r["source"].endswith("a.md")]
    assert from_a, "the toy kept no example of the first copy"
    assert not [r for r in kept if r["source"].endswith("b.md")]
    duplicates = [r for r in rejected if r["reason"] == filters.DUPLICATE]
    assert len(duplicates) >= len(from_a)
    units = {r["unit"] for r in from_a}
    for reject in duplicates:
        assert reject["source"].endswith("b.md")
        assert reject["detail"].startswith("same input and output as kept example ")
        assert reject["detail"].rsplit(" ", 1)[1] in units
    assert len(set(map(example, kept))) == len(kept)

    manifest = json.loads((in_tmp / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"]["parsed"] == len(kept)
    assert manifest["counts"]["rejected"][filters.DUPLICATE] == len(duplicates)
    assert manifest["counts"]["by_task_type"][QG]["kept"] == len(kept)
    assert manifest["counts"]["by_task_type"][QG]["rejected"][filters.DUPLICATE] == len(duplicates)
    assert manifest["arguments"]["quality_filters"] is True
    assert manifest["arguments"]["dedup_threshold"] == 0.8


@pytest.mark.slow
def test_no_filter_keeps_the_duplicates(in_tmp):
    run(["generate", "a.md", "b.md", "-o", "out.jsonl", "-q", "--no-filter", *FAST])
    kept = read_jsonl(in_tmp / "out.jsonl")
    from_a = sorted(example(r) for r in kept if r["source"].endswith("a.md"))
    from_b = sorted(example(r) for r in kept if r["source"].endswith("b.md"))
    assert from_a and from_a == from_b
    assert not [r for r in read_jsonl(in_tmp / "out.rejected.jsonl") if r["reason"] in filters.REASONS]
    manifest = json.loads((in_tmp / "out.jsonl.manifest.json").read_text())
    assert manifest["arguments"]["quality_filters"] is False


@pytest.mark.slow
def test_a_resumed_run_adds_no_duplicate_of_an_earlier_runs_example(in_tmp):
    run(["generate", "a.md", "-o", "out.jsonl", "-q", *FAST])
    first = read_jsonl(in_tmp / "out.jsonl")
    assert first
    # The second run resumes into the same output with one more input: the same text,
    # so each of its generations repeats one the first run kept or rejected.
    result = CliRunner().invoke(cli, ["generate", "a.md", "b.md", "-o", "out.jsonl", *FAST], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Resuming out.jsonl" in result.output
    kept = read_jsonl(in_tmp / "out.jsonl")
    assert kept == first  # nothing new: every new generation duplicates the first run's
    duplicates = [r for r in read_jsonl(in_tmp / "out.rejected.jsonl") if r["reason"] == filters.DUPLICATE]
    assert duplicates and all(r["source"].endswith("b.md") for r in duplicates)
    assert {r["detail"].rsplit(" ", 1)[1] for r in duplicates} <= {r["unit"] for r in first}
    manifest = json.loads((in_tmp / "out.jsonl.manifest.json").read_text())
    assert manifest["this_run"]["rejected"][filters.DUPLICATE] == len(duplicates)
    assert manifest["this_run"]["by_task_type"][QG]["kept"] == 0

    # Filtered-out generations are finished too: a third run has nothing left to do, and
    # leaves the manifest of the run that made the output as it was.
    result = CliRunner().invoke(cli, ["generate", "a.md", "b.md", "-o", "out.jsonl", *FAST], catch_exceptions=False)
    assert "nothing to generate" in result.output
    assert json.loads((in_tmp / "out.jsonl.manifest.json").read_text()) == manifest
    assert manifest["counts"]["by_task_type"][QG]["kept"] == len(first)


@pytest.mark.slow
def test_stdout_gets_filtered_examples_and_no_rejects_file(in_tmp):
    result = CliRunner().invoke(cli, ["generate", "a.md", "b.md", "-o", "-", "-q", *FAST], catch_exceptions=False)
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(r["source"].endswith("a.md") for r in records)
    assert len(set(map(example, records))) == len(records)
    assert not list(in_tmp.glob("*.jsonl"))


@pytest.mark.slow
def test_the_summary_counts_each_task_type(in_tmp):
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "a.md",
            "b.md",
            "-o",
            "out.jsonl",
            "--model",
            "toy",
            "--max-tokens",
            "64",
            "--chunk-tokens",
            "64",
            "-t",
            "qg",
            "-t",
            "exqa",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    qg_line = next(line for line in lines if line.strip().startswith(QG))
    exqa_line = next(line for line in lines if line.strip().startswith("extractive question answering"))
    assert "kept" in qg_line and "duplicate" in qg_line
    assert "kept" in exqa_line
    manifest = json.loads((in_tmp / "out.jsonl.manifest.json").read_text())
    counted = manifest["counts"]["by_task_type"]
    assert set(counted) == {QG, "extractive question answering"}
    assert sum(c["kept"] for c in counted.values()) == manifest["counts"]["parsed"]
    assert sum(sum(c["rejected"].values()) for c in counted.values()) == sum(manifest["counts"]["rejected"].values())


def test_a_bad_dedup_threshold_is_refused(in_tmp):
    result = CliRunner().invoke(cli, ["generate", "a.md", "-t", "qg", "--model", "toy", "--dedup-threshold", "0"])
    assert result.exit_code == 2
    assert "--dedup-threshold" in result.output


# --- the Python API ---


@pytest.mark.slow
def test_the_api_filters_by_default_and_returns_what_it_rejected(bonito):
    passage = TEXT.split("\n\n")[0]
    rows = Dataset.from_dict({"text": [passage, passage, passage]})
    # Greedy: each of the three identical rows gives the same example (sampled, identical
    # rows would draw independently; greedy allows one sample per row, as vLLM does).
    params = SamplingParams(max_tokens=64, n=1, temperature=0.0)
    kept, rejected = bonito.generate_tasks(rows, "text", "qg", params, return_rejected=True)
    everything = bonito.generate_tasks(rows, "text", "qg", params, quality_filters=False)
    assert everything.num_rows == 3
    assert kept.num_rows + rejected.num_rows == 3
    assert kept.num_rows == 1
    duplicates = [r for r in rejected.to_list() if r["reason"] == filters.DUPLICATE]
    assert len(duplicates) == 2
    assert all("dataset#row=0" in r["detail"] for r in duplicates)
    assert {r["source"] for r in duplicates} == {"dataset#row=1", "dataset#row=2"}
    assert {"reason", "detail", "input", "output", "generation"} <= set(rejected.column_names)
