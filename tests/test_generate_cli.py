"""``bonito-lite generate`` end to end on the bundled toy model, through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bonito_lite import filters
from bonito_lite.engines.generation import EngineSettings
from bonito_lite.models.paths import toy_model_path
from bonito_lite.record import Record
from bonito_lite.run import GenerateOptions, GenerateRun, passage_ctx_size

from cli_helpers import SAMPLE, read_jsonl, run_cli as run
from record_factory import PROVENANCE

RECORD_FIELDS = {"input", "output", *PROVENANCE, "unit"}
# Short generations keep the suite quick; the toy's examples are short anyway.
FAST = ["--model", "toy", "--max-tokens", "96", "--quiet"]


pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """One run over the sample document with two task types, shared by several tests."""
    folder = tmp_path_factory.mktemp("sample-run")
    output = folder / "notes.bonito.jsonl"
    result = run(["generate", str(SAMPLE), "-t", "exqa", "-t", "yes_no_qa", "-o", str(output), "--limit", "3", *FAST])
    assert result.exit_code == 0, result.output
    return output


def test_records_have_every_field_and_come_from_the_passages(sample_run):
    records = read_jsonl(sample_run)
    rejected = read_jsonl(sample_run.with_name("notes.bonito.rejected.jsonl"))
    document = SAMPLE.read_text(encoding="utf-8")
    assert len(records) + len(rejected) == 3 * 2
    # The toy writes parseable examples for most prompts; the bar is a rate, not exact text.
    filtered = [r for r in rejected if r["reason"] in filters.REASONS]
    assert len(records) + len(filtered) >= 3
    for record in records:
        assert set(record) == RECORD_FIELDS
        assert record["task_type"] in {"extractive question answering", "yes-no question answering"}
        assert document[record["char_start"] : record["char_end"]] == record["context"]
        assert record["source"] == str(SAMPLE)
        assert record["model"] == "toy-bonito.gguf"
        assert record["seed"] == 0
        assert "{{context}}" not in record["input"] + record["output"]
    for reject in rejected:
        if reject["reason"] in filters.REASONS:  # parsed, then rejected by a quality filter
            assert reject["detail"] and "input" in reject and "output" in reject
        else:
            assert reject["reason"] in {"no_pipe", "too_many_pipes", "truncated"}
            assert "generation" in reject


def test_manifest_counts_what_was_written(sample_run):
    manifest = json.loads(sample_run.with_name("notes.bonito.jsonl.manifest.json").read_text())
    records = read_jsonl(sample_run)
    assert manifest["status"] == "complete"
    assert manifest["counts"]["passages"] == 3
    assert manifest["counts"]["parsed"] == len(records)
    assert manifest["counts"]["generations"] == 6
    assert len(manifest["model"]["sha256"]) == 64
    assert manifest["task_types"] == ["extractive question answering", "yes-no question answering"]


def test_each_line_holds_exactly_the_declared_fields_in_the_declared_order(sample_run):
    kept = ["input", "output", *PROVENANCE, "unit"]
    unparsed = ["reason", "generation", *PROVENANCE, "unit"]
    filtered = ["reason", "detail", "input", "output", *PROVENANCE, "unit"]
    rejects = sample_run.with_name("notes.bonito.rejected.jsonl")
    for path, shapes in ((sample_run, [kept]), (rejects, [unparsed, filtered])):
        for line in path.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            assert list(data) in shapes
            assert json.dumps(Record.from_json(data).to_json(), ensure_ascii=False) == line


def test_same_seed_gives_the_same_records_and_another_seed_others(sample_run, tmp_path):
    again = tmp_path / "again.jsonl"
    other = tmp_path / "other.jsonl"
    args = ["generate", str(SAMPLE), "-t", "exqa", "-t", "yes_no_qa", "--limit", "3", *FAST]
    assert run([*args, "-o", str(again)]).exit_code == 0
    assert run([*args, "-o", str(other), "--seed", "5"]).exit_code == 0
    assert read_jsonl(again) == read_jsonl(sample_run)
    assert read_jsonl(again.with_name("again.rejected.jsonl")) == read_jsonl(
        sample_run.with_name("notes.bonito.rejected.jsonl")
    )

    def generated(path):
        return [r.get("output", r.get("generation")) for r in read_jsonl(path)]

    assert generated(other) + generated(other.with_name("other.rejected.jsonl")) != (
        generated(again) + generated(again.with_name("again.rejected.jsonl"))
    )


def test_sequences_get_the_context_their_passages_need_and_its_size_changes_no_record(sample_run, tmp_path):
    manifest = json.loads(sample_run.with_name("notes.bonito.jsonl.manifest.json").read_text())
    # --chunk-tokens 384 (default) + the template + --max-tokens 96, in steps of 64
    assert manifest["arguments"]["engine"]["ctx_size"] == passage_ctx_size(384, 96) == 576
    wide = tmp_path / "wide.jsonl"
    args = ["generate", str(SAMPLE), "-t", "exqa", "-t", "yes_no_qa", "--limit", "3", *FAST]
    assert run([*args, "-o", str(wide), "--ctx-size", "2048"]).exit_code == 0
    wide_manifest = json.loads(wide.with_name("wide.jsonl.manifest.json").read_text())
    assert wide_manifest["arguments"]["engine"]["ctx_size"] == 2048
    assert read_jsonl(wide) == read_jsonl(sample_run)
    assert read_jsonl(wide.with_name("wide.rejected.jsonl")) == read_jsonl(
        sample_run.with_name("notes.bonito.rejected.jsonl")
    )


@pytest.mark.slow
def test_default_output_is_named_after_the_first_input(tmp_path):
    shutil.copy(SAMPLE, tmp_path / "handbook.md")
    result = run(["generate", "handbook.md", "-t", "ynqa", "--limit", "1", *FAST])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "handbook.bonito.jsonl").exists()
    assert (tmp_path / "handbook.bonito.jsonl.manifest.json").exists()


def test_tables_in_every_format_are_read_from_their_context_column(tmp_path):
    rows = [
        {"body": "The boiler was serviced on 3 March by Ana Ruiz.", "id": 1},
        {"body": "Invoices above 500 euros need two signatures.", "id": 2},
    ]
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    (folder / "b.json").write_text(json.dumps(rows), encoding="utf-8")
    (folder / "c.csv").write_text("id,body\n" + "\n".join(f'{r["id"]},"{r["body"]}"' for r in rows), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), folder / "d.parquet")
    result = run(
        [
            "generate",
            str(folder),
            "-t",
            "exqa",
            "--context-col",
            "body",
            "-o",
            "out.jsonl",
            "--max-tokens",
            "48",
            "--model",
            "toy",
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    outcomes = read_jsonl(tmp_path / "out.jsonl") + read_jsonl(tmp_path / "out.rejected.jsonl")
    sources = sorted({o["source"] for o in outcomes})
    assert sources == sorted(
        f"{folder / name}#row={row}" for name in ("a.jsonl", "b.json", "c.csv", "d.parquet") for row in (0, 1)
    )
    assert {o["context"] for o in outcomes} == {r["body"] for r in rows}


def test_missing_context_column_lists_the_columns(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"body": "x"}\n', encoding="utf-8")
    result = run(["generate", "t.jsonl", "-t", "exqa", "--model", "toy"])
    assert result.exit_code == 2
    assert "body" in result.output and "Traceback" not in result.output


def test_dry_run_shows_passages_and_writes_nothing(tmp_path):
    result = run(["generate", str(SAMPLE), "-t", "exqa", "-t", "nli", "--model", "toy", "--dry-run"])
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert "passages, " in summary and "prompt tokens" in summary
    passages = int(summary.split()[0])
    assert passages >= 3
    assert f"{passages * 2} generations" in summary
    assert list(tmp_path.iterdir()) == []


def test_dry_run_estimate_counts_sequences_decoded_together():
    def estimate(parallel: int) -> float:
        options = GenerateOptions(
            inputs=(str(SAMPLE),),
            task_types=("exqa", "nli"),
            model="toy",
            engine=EngineSettings(parallel=parallel, threads=2),
        )
        return GenerateRun(options).dry_run().estimated_seconds

    one, eight, default, sixty_four = estimate(1), estimate(8), estimate(32), estimate(64)
    assert one > eight > default > 0
    # beyond the 32 sequences per step it was measured at, no faster
    assert sixty_four == default


def test_limit_stops_after_n_passages():
    result = run(["generate", str(SAMPLE), "-t", "exqa", "--limit", "2", "--dry-run", "--model", "toy"])
    assert result.output.strip().splitlines()[-1].startswith("2 passages, 2 generations")


@pytest.mark.slow
def test_stdout_output_streams_records():
    result = run(["generate", str(SAMPLE), "-t", "exqa", "--limit", "1", "-o", "-", *FAST])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert all(set(line) == RECORD_FIELDS for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "missing.txt", "-t", "exqa", "--model", "toy"], "missing.txt"),
        (["generate", str(SAMPLE), "-t", "extractive_qq", "--model", "toy"], "extractive_qa"),
        (["generate", str(SAMPLE), "-t", "exqa", "--model", "nope.gguf"], "nope.gguf"),
        (["generate", str(SAMPLE), "-t", "exqa", "--model", "BatsResearch/bonito-v1"], "bonito-lite convert"),
        (["generate", str(SAMPLE), "-t", "exqa"], "--model toy"),
        (["generate", str(SAMPLE), "-t", "exqa", "--model", "toy", "--top-p", "0"], "top-p"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(args, message):
    result = run(args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_existing_output_is_refused_without_overwrite(tmp_path):
    (tmp_path / "out.jsonl").write_text("keep me\n")
    result = run(["generate", str(SAMPLE), "-t", "exqa", "-o", "out.jsonl", "--limit", "1", *FAST])
    assert result.exit_code == 2
    assert "--overwrite" in result.output
    assert (tmp_path / "out.jsonl").read_text() == "keep me\n"
    result = run(["generate", str(SAMPLE), "-t", "exqa", "-o", "out.jsonl", "--limit", "1", "--overwrite", *FAST])
    assert result.exit_code == 0
    assert "keep me" not in (tmp_path / "out.jsonl").read_text()


@pytest.mark.slow
def test_model_is_found_in_models_folder_or_environment(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    shutil.copy(toy_model_path(), tmp_path / "models" / "mine.gguf")
    result = run(["generate", str(SAMPLE), "-t", "exqa", "--dry-run"])
    assert result.exit_code == 0, result.output
    shutil.copy(toy_model_path(), tmp_path / "models" / "other.gguf")
    result = run(["generate", str(SAMPLE), "-t", "exqa", "--dry-run"])
    assert result.exit_code == 2
    assert "mine.gguf" in result.output and "other.gguf" in result.output
    monkeypatch.setenv("BONITO_LITE_MODEL", str(tmp_path / "models" / "other.gguf"))
    result = run(["generate", str(SAMPLE), "-t", "exqa", "--dry-run"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_real_subprocess_generates_and_reports(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bonito_lite",
            "generate",
            str(SAMPLE),
            "-t",
            "summarization",
            "--limit",
            "1",
            "--model",
            "toy",
            "--max-tokens",
            "64",
            "-o",
            "sub.jsonl",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "toy" in proc.stderr
    assert " written to sub.jsonl" in proc.stderr
    # llama.cpp's own log stays silent at default verbosity.
    assert "llama_model_loader" not in proc.stderr and "llm_load" not in proc.stderr
    assert proc.stdout == ""


def test_a_gguf_from_llama_cpps_converter_and_a_hub_id_work_as_model(tmp_path):
    from bonito_lite.models.metadata import SOURCE_HF_REPOSITORY_KEY

    from model_factory import copy_gguf

    # No bonito.* keys, as llama.cpp's own converter writes; the hub id it came from, as ours does.
    (tmp_path / "models").mkdir()
    copy_gguf(
        toy_model_path(),
        tmp_path / "models" / "bonito-v1.Q8_0.gguf",
        drop_prefix="bonito.",
        extra={SOURCE_HF_REPOSITORY_KEY: "BatsResearch/bonito-v1"},
    )
    text = tmp_path / "notes.txt"
    text.write_text("The boiler was serviced on 3 March by Ana Ruiz, who found no leaks.\n")
    result = run(
        [
            "generate",
            str(text),
            "-t",
            "qg",
            "--model",
            "BatsResearch/bonito-v1",
            "--max-tokens",
            "48",
            "-o",
            "out.jsonl",
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    records = read_jsonl(tmp_path / "out.jsonl", missing_ok=True) + read_jsonl(
        tmp_path / "out.rejected.jsonl", missing_ok=True
    )
    assert [r["model"] for r in records] == ["bonito-v1.Q8_0.gguf"]
    missing = run(["generate", str(text), "-t", "qg", "--model", "BatsResearch/Llama-3.1-8B-bonito-v1"])
    assert missing.exit_code == 2
    assert "'bonito-lite convert BatsResearch/Llama-3.1-8B-bonito-v1'" in missing.output
