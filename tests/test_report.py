"""``bonito-lite report``: the figures on crafted records, the page they make, and bad input."""

from __future__ import annotations

import json
import os
import re
import stat
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bonito_lite import report_page
from bonito_lite.errors import InputError
from bonito_lite.report import (
    DistinctNgrams,
    FileCoverage,
    PassageCoverage,
    Reservoir,
    TopCounter,
    answer_span,
    distinct_n,
    file_of,
    near_identical_key,
    opening,
    read_report,
)
from bonito_lite.report_page import coverage_cells, write_report

from cli_helpers import run_cli as run
from record_factory import record, write_jsonl

pytestmark = pytest.mark.usefixtures("in_tmp")

PASSAGES = {
    ("notes.md", 0): "The clinic opens at 7:30 on weekdays. Dr. Amal Haddad leads the morning team.",
    ("notes.md", 1): "Parking is free for patients in the north lot after 10:00.",
    ("notes.md", 2): "Invoices are sent on the first of each month by the billing office.",
    ("report.pdf#page=2", 0): "Page two: the alarm code changes every quarter.",
    ("report.pdf#page=1", 0): "Page one: the building closes at 22:00.",
}


def example(
    source: str, index: int, instruction: str, answer: str, task: str = "extractive question answering", sample: int = 0
) -> dict:
    """A record shaped like generate's: the input holds the passage and the instruction."""
    context = PASSAGES[(source, index)]
    return record(
        index,
        context=context,
        start=1000 * index,
        input=f"{context}\n\n{instruction}",
        output=answer,
        task_type=task,
        source=source,
        sample_index=sample,
        unit=f"{index:016x}",
    )


def reject(source: str, index: int, reason: str, task: str = "extractive question answering", **fields) -> dict:
    record = example(source, index, "Q: what?", "nothing", task)
    if reason in ("no_pipe", "truncated"):
        del record["input"], record["output"]
        record["generation"] = "a generation without its pipe"
    return {"reason": reason, "detail": f"why: {reason}", **record, **fields}


EXAMPLES = [
    example("notes.md", 0, "Question: When does the clinic open?", "7:30"),
    example("notes.md", 0, "Question: Who leads the morning team?", "Dr. Amal Haddad", sample=1),
    example("notes.md", 1, "question: when does the clinic open??", "after 10:00"),
    example("report.pdf#page=2", 0, "Is the code changed? Yes or no?", "Yes", task="yes-no question answering"),
]
REJECTS = [
    reject("notes.md", 2, "answer_not_in_passage"),
    reject("notes.md", 2, "no_pipe"),
    reject("report.pdf#page=1", 0, "not_yes_no", task="yes-no question answering"),
    reject("notes.md", 0, "duplicate"),
]
MANIFEST = {
    "bonito_lite_version": "0.1.0",
    "llama_cpp_python_version": "0.3.36",
    "model": {"file": "/nowhere/toy-bonito.gguf", "sha256": "ab" * 32},
    "backend": "CPU",
    "arguments": {
        "temperature": 0.5,
        "top_p": 0.95,
        "max_tokens": 256,
        "num_samples": 2,
        "seed": 7,
        "chunk_tokens": 384,
        "quality_filters": True,
        "dedup_threshold": 0.8,
        "engine": {"constrain": True},
    },
    "task_types": ["extractive question answering", "yes-no question answering"],
    "counts": {"parsed": 4, "rejected": {"answer_not_in_passage": 1, "no_pipe": 1, "not_yes_no": 1, "duplicate": 1}},
    "status": "complete",
    "started_at": "2026-11-30T10:00:00+00:00",
    "ended_at": "2026-11-30T10:03:20+00:00",
}


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """A bonito-lite output with its rejects file and manifest."""
    path = write_jsonl(tmp_path / "notes.bonito.jsonl", EXAMPLES)
    write_jsonl(tmp_path / "notes.bonito.rejected.jsonl", REJECTS)
    (tmp_path / "notes.bonito.jsonl.manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    return path


# --- figures -------------------------------------------------------------------------------------


def test_distinct_n_counts_distinct_word_ngrams_over_all_ngrams():
    texts = ["the cat sat", "The cat ran", "a dog"]
    # words: the cat sat the cat ran a dog -> 8 unigrams, 5 distinct (the, cat, sat, ran, a, dog = 6)
    assert distinct_n(texts, 1) == pytest.approx(6 / 8)
    # bigrams: (the cat) (cat sat) (the cat) (cat ran) (a dog) -> 5, 4 distinct; none across texts
    assert distinct_n(texts, 2) == pytest.approx(4 / 5)
    assert distinct_n(["one"], 2) is None


def test_distinct_ngrams_stay_exact_past_their_buffer():
    counter = DistinctNgrams(1)
    for i in range(3 * DistinctNgrams._FLUSH // 2):
        counter.add([f"w{i % 5000}", f"w{i}"])
    assert counter.total == 3 * DistinctNgrams._FLUSH
    assert counter.distinct == 3 * DistinctNgrams._FLUSH // 2  # w0..wN-1; the i % 5000 ones repeat them


def test_opening_is_the_first_words_case_folded():
    assert opening("What is the   main topic of the passage?") == "what is the"
    assert opening("Why?") == "why"


def test_near_identical_key_sets_aside_case_punctuation_spacing_and_numbers():
    same = [
        "Question: When does the clinic open?",
        "question  when does the clinic open??",
        "QUESTION - when does the CLINIC open",
    ]
    assert len({near_identical_key(t) for t in same}) == 1
    assert near_identical_key("Is room 3 free at 7:30?") == near_identical_key("Is room 12 free at 10:00?")
    assert near_identical_key("When does the clinic open?") != near_identical_key("When does the clinic close?")


def test_top_counter_is_exact_until_trimmed_and_keeps_the_frequent_keys():
    counter = TopCounter(capacity=3)
    for key, n in (("a", 5), ("b", 3), ("c", 2)):
        for i in range(n):
            counter.add(key, f"{key} text {i}")
    assert counter.exact
    assert counter.most_common(2) == [("a", 5, "a text 0"), ("b", 3, "b text 0")]
    assert counter.most_common(10, least=3) == [("a", 5, "a text 0"), ("b", 3, "b text 0")]
    for i in range(10):  # many rare keys: the table is trimmed, the frequent ones survive
        counter.add(f"rare{i}", "rare")
    assert not counter.exact
    assert [key for key, _, _ in counter.most_common(3)] == ["a", "b", "c"]
    assert len(counter._counts) <= 2 * counter.capacity


def test_reservoir_is_bounded_seeded_and_samples_the_whole_stream():
    def draw(seed: str) -> list[int]:
        sample = Reservoir(5, seed)
        for i in range(1000):
            sample.add(i)
        return sample.items

    assert draw("a") == draw("a")
    assert draw("a") != draw("b")
    assert len(draw("a")) == 5 and max(draw("a")) >= 5  # not just the first five
    # Over many seeds every part of the stream is drawn about equally often.
    halves = Counter(i < 500 for seed in range(200) for i in draw(str(seed)))
    assert 400 < halves[True] < 600


def test_answer_span_finds_whole_words_verbatim_then_ignoring_case():
    passage = "The clinic opens at 7:30. Nobody knows the code."
    assert answer_span(passage, "7:30") == (20, 24)
    assert answer_span(passage, "the CLINIC") == (0, 10)
    assert answer_span(passage, "no") is None  # inside "Nobody", not a word
    assert answer_span(passage, "closes at 9") is None


def test_pdf_pages_and_table_rows_are_parts_of_their_file():
    assert file_of("report.pdf#page=3") == "report.pdf"
    assert file_of("table.csv#row=7") == "table.csv"
    assert file_of("notes#1.md") == "notes#1.md"


def test_coverage_counts_examples_per_passage_and_the_text_share_that_yielded_one(output):
    report = read_report(output)
    files = {f.file: f for f in report.files}
    assert list(files) == ["notes.md", "report.pdf"]
    notes = files["notes.md"]
    assert [(p.index, p.kept, p.rejected) for p in notes.passages] == [(0, 2, 1), (1, 1, 0), (2, 0, 2)]
    lengths = [len(PASSAGES[("notes.md", i)]) for i in range(3)]
    assert notes.covered_share == pytest.approx((lengths[0] + lengths[1]) / sum(lengths))
    assert notes.barren == 1 and notes.examples == 3
    # Pages in page order, whatever order the records came in.
    pdf = files["report.pdf"]
    assert [p.source for p in pdf.passages] == ["report.pdf#page=1", "report.pdf#page=2"]
    assert [p.kept for p in pdf.passages] == [0, 1]
    # Passages that yielded nothing are listed with why their generations were rejected.
    barren = {(p.source, p.index): p for p in report.barren}
    assert set(barren) == {("notes.md", 2), ("report.pdf#page=1", 0)}
    assert barren[("notes.md", 2)].reasons == Counter({"answer_not_in_passage": 1, "no_pipe": 1})
    assert barren[("notes.md", 2)].preview.startswith("Invoices are sent")
    assert report.barren_count == 2


def test_coverage_cells_follow_the_text_and_merge_long_files():
    def passage(index: int, chars: int, kept: int) -> PassageCoverage:
        return PassageCoverage("f.md", index, 0, chars, kept=kept)

    cells = coverage_cells(FileCoverage("f.md", [passage(0, 300, 0), passage(1, 100, 2), passage(2, 100, 3)]))
    # The first passage is 60% of the text and yielded nothing; the next two share one colour.
    assert cells == [(0.0, pytest.approx(0.6), 0), (pytest.approx(0.6), pytest.approx(0.4), 2)]
    many = FileCoverage("f.md", [passage(i, 10, i % 2) for i in range(1000)])
    merged = coverage_cells(many, cells=100)
    assert sum(w for _, w, _ in merged) == pytest.approx(1.0)
    assert {b for _, _, b in merged} == {1}  # every run of 10 passages has examples (mean 0.5)


def test_task_figures_count_lengths_diversity_openings_and_groups(output):
    report = read_report(output)
    assert list(report.tasks) == ["extractive question answering", "yes-no question answering"]
    exqa = report.tasks["extractive question answering"]
    assert exqa.kept == 3 and exqa.rejected == Counter({"answer_not_in_passage": 1, "no_pipe": 1, "duplicate": 1})
    # Instructions are the inputs without their passage.
    assert exqa.instruction_words == Counter({6: 3})
    assert exqa.answer_words == Counter({1: 1, 2: 1, 3: 1})  # "7:30", "after 10:00", "Dr. Amal Haddad"
    assert exqa.openings.most_common(1) == [("question when does", 2, "Question: When does")]
    assert [(count, text) for _, count, text in exqa.groups.most_common(5, least=2)] == [
        (2, "Question: When does the clinic open?")  # the first of them, as written
    ]
    words = "question when does the clinic open question who leads the morning team question when does the clinic open".split()
    assert exqa.distinct1.ratio == pytest.approx(len(set(words)) / len(words))
    assert report.examples == 4
    assert report.rejected == Counter({"answer_not_in_passage": 1, "no_pipe": 1, "not_yes_no": 1, "duplicate": 1})


def test_samples_are_bounded_and_seeded(tmp_path):
    rows = [example("notes.md", 0, f"Question {i}: when?", "7:30", sample=i) for i in range(50)]
    path = write_jsonl(tmp_path / "many.bonito.jsonl", rows)
    first = read_report(path, seed=1, samples=4).tasks["extractive question answering"].samples.items
    assert len(first) == 4
    assert first == read_report(path, seed=1, samples=4).tasks["extractive question answering"].samples.items
    assert first != read_report(path, seed=2, samples=4).tasks["extractive question answering"].samples.items


def test_sampling_settings_a_run_set_are_shown_and_unset_ones_are_not(output):
    manifest = output.with_name("notes.bonito.jsonl.manifest.json")
    assert run(["report", str(output)]).exit_code == 0
    plain = output.with_name("notes.bonito.report.html").read_text(encoding="utf-8")
    assert "top-k" not in plain and "min-p" not in plain
    arguments = {**MANIFEST["arguments"], "top_k": 40, "min_p": 0.0, "repetition_penalty": 1.1}
    manifest.write_text(json.dumps({**MANIFEST, "arguments": arguments}), encoding="utf-8")
    assert run(["report", str(output), "--overwrite"]).exit_code == 0
    text = output.with_name("notes.bonito.report.html").read_text(encoding="utf-8")
    assert "top-p 0.95, top-k 40, repetition penalty 1.1, max tokens 256" in text


# --- the manifest, and runs that did not finish ---------------------------------------------------


def test_the_run_facts_come_from_the_manifest(output):
    report = read_report(output)
    assert report.notes == [] and report.status == "complete"
    html = output.with_name("notes.bonito.report.html")
    assert run(["report", str(output)]).exit_code == 0
    text = html.read_text(encoding="utf-8")
    assert "/nowhere" not in text  # the model file by its name: the page names none of the user's folders
    for fact in (
        "toy-bonito.gguf",
        "ab" * 32,
        "temperature 0.5, top-p 0.95, max tokens 256",
        "2026-11-30T10:00:00+00:00",
        "3 min 20 s",
        "bonito-lite 0.1.0",
    ):
        assert fact in text


def test_a_missing_manifest_is_said_and_its_facts_are_unknown(output):
    output.with_name("notes.bonito.jsonl.manifest.json").unlink()
    report = read_report(output)
    assert report.status == "unknown"
    assert any("No manifest" in note and "unknown" in note for note in report.notes)
    assert report.examples == 4  # the counts still come from the files


def test_an_interrupted_run_is_marked(output):
    manifest = output.with_name("notes.bonito.jsonl.manifest.json")
    manifest.write_text(json.dumps({**MANIFEST, "status": "interrupted"}), encoding="utf-8")
    report = read_report(output)
    assert report.status == "interrupted"
    assert any("interrupted" in note for note in report.notes)
    html = report_page.render(report)
    assert 'id="status">interrupted<' in html


def test_a_half_written_last_line_marks_a_killed_run(output):
    write_jsonl(output, EXAMPLES, tail='{"input": "half a li')
    report = read_report(output)
    assert report.killed and report.status == "killed" and report.examples == 4
    assert any("half-written line" in note for note in report.notes)


def test_counts_that_differ_from_the_manifest_are_said(output):
    write_jsonl(output, EXAMPLES[:2])
    notes = read_report(output).notes
    assert any("manifest counts 4 examples" in note and "files hold 2" in note for note in notes)


def test_an_output_with_no_examples_but_rejects_is_reported(output):
    write_jsonl(output, [])
    report = read_report(output)
    assert report.examples == 0 and sum(report.rejected.values()) == 4
    assert "No example of this task type was kept" in report_page.render(report)


# --- the page ---------------------------------------------------------------------------------------


class _Resources(HTMLParser):
    """Every URL the page would load or link: attributes and url(...) in styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data") and value:
                self.urls.append(value)
            if name == "style" and value:
                self.urls += re.findall(r"url\(([^)]*)\)", value)

    def handle_data(self, data):
        self.urls += re.findall(r"url\(\s*['\"]?(?!#)([^)'\"]*)", data) if "{" in data else []


def test_the_page_names_no_web_resource_and_runs_no_script(output):
    # A passage that mentions a web address shows it as text, never as something to load.
    rows = EXAMPLES + [dict(example("notes.md", 1, "See https://example.org/x.js <script>alert(1)</script>", "ok"))]
    write_jsonl(output, rows)
    result = write_report(output)
    html = result.path.read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(html)
    assert parser.urls and all(url.startswith("#") for url in parser.urls), parser.urls
    assert not parser.tags & {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source"}
    assert "<script>" not in html and "&lt;script&gt;" in html
    # Apart from that passage's own text, no address appears at all (no namespace or font URLs).
    addresses = re.findall(r"https?://[\w.]*", html)
    assert addresses and set(addresses) == {"https://example.org"}
    assert "@import" not in html and "@font-face" not in html


def test_the_page_is_owner_only_whatever_the_umask(output):
    old = os.umask(0)
    try:
        result = run(["report", str(output)])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    page = output.with_name("notes.bonito.report.html")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert [p.name for p in output.parent.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_default_path_overwrite_and_o(output, tmp_path):
    result = run(["report", str(output)])
    assert result.exit_code == 0, result.output
    page = output.with_name("notes.bonito.report.html")
    assert f"Wrote {page} (4 examples, 4 rejected;" in result.output
    again = run(["report", str(output)])
    assert again.exit_code == 2 and "exists; pass --overwrite" in again.output
    assert run(["report", str(output), "--overwrite"]).exit_code == 0
    chosen = tmp_path / "elsewhere.html"
    assert run(["report", str(output), "-o", str(chosen)]).exit_code == 0
    assert "notes.bonito.jsonl" in chosen.read_text(encoding="utf-8")


def test_the_page_shows_the_counts_coverage_and_marked_answers(output):
    html = report_page.render(read_report(output))
    assert 'id="examples">4<' in html and 'id="rejected">4<' in html and 'id="passages">5<' in html
    assert "<mark>7:30</mark>" in html or "<mark>Dr. Amal Haddad</mark>" in html or "<mark>after 10:00</mark>" in html
    assert html.count("<svg") == 4  # counts, coverage, and lengths for each of the two task types
    assert "answer_not_in_passage" in html and "why: answer_not_in_passage" in html


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json at all\n", "is not a bonito-lite output (line 1 is not JSON)"),
        ('{"input": "q", "output": "a"}\n["a", "list"]\n', "line 2 is not a JSON object"),
        ('{"input": "q"}\n', "line 1 has no output; it is not a bonito-lite example"),
        ("", "holds no examples and no rejects file beside it; nothing to report"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    result = run(["report", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad.report.html").exists()


def test_the_rejects_file_and_a_missing_file_are_refused(output):
    result = run(["report", str(output.with_name("notes.bonito.rejected.jsonl"))])
    assert result.exit_code == 2 and "is a rejects file; give the examples file" in result.output
    assert run(["report", "missing.jsonl"]).exit_code == 2


def test_a_missing_extra_is_one_line_naming_it(output, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_matplotlib(name, *args):
        if name == "matplotlib":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(report_page.importlib, "import_module", without_matplotlib)
    result = run(["report", str(output)])
    assert result.exit_code == 2
    assert result.output == 'Error: the report needs the report extra: pip install "bonito-lite[report]"\n'
    with pytest.raises(InputError, match=r"bonito-lite\[report\]"):
        write_report(output)


# --- generate --report ------------------------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_notes.md"


def test_generate_with_report_writes_the_page_of_a_complete_run(tmp_path):
    result = run(
        [
            "generate",
            str(SAMPLE),
            "-t",
            "question_generation",
            "--limit",
            "1",
            "--model",
            "toy",
            "--max-tokens",
            "48",
            "-o",
            "n.jsonl",
            "--report",
        ]
    )
    assert result.exit_code == 0, result.output
    page = tmp_path / "n.report.html"
    assert f"Wrote {page.name} (report," in result.output
    kept = len((tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines())
    html = page.read_text(encoding="utf-8")
    assert f'id="examples">{kept}<' in html and 'id="status">complete<' in html
    assert stat.S_IMODE(page.stat().st_mode) == 0o600


def test_generate_with_report_needs_an_output_file():
    result = run(["generate", str(SAMPLE), "-t", "qg", "--model", "toy", "-o", "-", "--report"])
    assert result.exit_code == 2 and "--report needs an output file" in result.output


def test_the_list_of_barren_passages_is_bounded_and_their_count_exact(output, monkeypatch):
    from bonito_lite import report as report_module

    monkeypatch.setattr(report_module, "LISTED_BARREN", 1)
    report = read_report(output)
    assert report.barren_count == 2 and len(report.barren) == 1
    assert "The first 1 of 2 are listed." in report_page.render(report)
