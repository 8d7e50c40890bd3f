"""Quality filters on crafted records: for each filter, an example it keeps and one it rejects."""

import pytest

from bonito_lite import filters
from bonito_lite.errors import InputError
from bonito_lite.filters import (
    ANSWER_CHECKS,
    Deduplicator,
    QualityFilter,
    listed_options,
    lsh_bands,
    normalise,
    quality_problem,
)
from bonito_lite.inputs.chunking import Passage
from bonito_lite.pipeline import GenerationSettings, RunStats, generate_outcomes
from bonito_lite.record import Record
from bonito_lite.run import GenerateOptions, validate_sampling
from bonito_lite.task_types import TASK_TYPES, resolve_task_type

PASSAGE = (
    "The clinic opens at 7:30 on weekdays and at 8:00 on Saturdays; it is closed on Sundays.\n"
    "Cancellations made less than twenty-four hours ahead are charged half the session fee,\n"
    "currently 45 dollars. Priya Ramanathan, the clinic coordinator, keeps the alarm code."
)
OTHER_PASSAGE = (
    "The library lends up to twelve books per card for three weeks. Overdue books cost ten cents "
    "a day, and the reading room closes at 21:00 on weekdays and at 17:00 on Saturdays."
)


def record(input, output, task="summarization", context=PASSAGE, unit=None):
    passage = Passage(context, "notes.md", 0, 0, len(context))
    return Record.of_passage(passage, resolve_task_type(task).full_name, 0, "toy.gguf", 0, unit=unit).parsed(
        input, output
    )


def ask(question, output, task="summarization", **kwargs):
    """An example whose input quotes the passage, then asks ``question``, as Bonito writes them."""
    return record(f"{PASSAGE}\n\n{question}", output, task, **kwargs)


def reason(rec):
    problem = quality_problem(rec)
    return problem.reason if problem else None


# --- normalisation ---


def test_normalise_folds_case_whitespace_unicode_and_edge_punctuation():
    assert normalise("  «Priya\n  RAMANATHAN.»  ") == "priya ramanathan"
    assert normalise("ﬁve") == "five"  # NFKC unfolds the ligature
    assert normalise("$8,000.") == "$8,000"  # a currency sign is not punctuation


def test_normalise_folds_typography_and_invisible_characters_but_keeps_a_numbers_sign():
    assert normalise("The patient\u2019s \u201cfile\u201d \u2014 kept") == normalise('the patient\'s "file" - kept')
    assert normalise("docu\u00adment\u200b") == "document"
    assert normalise("\u0130stanbul") == "istanbul"
    assert normalise("-20") == "-20" and normalise("(+3.5)") == "+3.5" and normalise("-- note") == "note"


@pytest.mark.parametrize(
    "context, answer",
    [
        ("The patient\u2019s file is kept by Dr. Lee.", "The patient's file"),
        ("Asked twice, she said \u201cyes\u201d loudly and left the room.", 'said "yes" loudly'),
        ("The fee is 5\u201310 euros.", "5-10 euros"),
        ("The docu\u00adment is signed.", "document"),
    ],
)
def test_an_extractive_answer_typed_with_other_quotes_dashes_or_hyphens_passes(context, answer):
    assert reason(record(f"{context}\n\nQuestion?", answer, "exqa", context=context)) is None


def test_a_negative_number_is_not_the_positive_one():
    context = "The account balance is 500 dollars."
    problem = quality_problem(record(f"{context}\n\nWhat is the balance?", "-500", "exqa", context=context))
    assert problem.reason == filters.ANSWER_NOT_IN_PASSAGE


def test_text_generation_whose_output_is_the_passage_is_kept_as_upstream_writes_it():
    # Upstream's text generation outputs "{{context}}": the passage is the text asked for.
    instruction = "Write a short notice about the clinic's hours and fees."
    assert reason(record(instruction, PASSAGE, "text_gen")) is None
    assert reason(record(instruction, PASSAGE, "summarization")) == filters.ECHO


def test_a_loop_that_is_the_passages_own_text_is_not_a_loop():
    table = "Results:\n| N/A | N/A |\n| N/A | N/A |\n| N/A | N/A |\n| N/A | N/A |\nGene: ATATATATATATATATATATATAT."
    assert (
        reason(record(f"{table[:60]}\n\nComplete the table.", "ATATATATATATATATATATATAT", "exqa", context=table))
        is None
    )
    assert reason(record(f"{table}\n\nWhat?", "no no no no no no no no no no", "open_qa", context=table)) == (
        filters.REPETITION
    )


# --- empty ---


def test_an_example_with_words_on_both_sides_is_not_empty():
    assert reason(ask("When does the clinic open on Saturdays?", "8:00")) is None


@pytest.mark.parametrize("output", ["", "   ", " . ", "?!", "____", "_ _ _"])
def test_an_output_without_words_is_rejected_as_empty(output):
    problem = quality_problem(ask("When does the clinic open?", output))
    assert problem.reason == filters.EMPTY
    assert "output" in problem.detail


def test_an_input_without_words_is_rejected_as_empty():
    problem = quality_problem(record(" -- ", "Yes"))
    assert (problem.reason, problem.detail) == (filters.EMPTY, "the input has no words")


# --- echo ---


def test_an_answer_that_differs_from_its_question_is_not_an_echo():
    assert reason(ask("Who keeps the alarm code?", "Priya Ramanathan", "open_qa")) is None


def test_an_output_that_repeats_the_input_is_an_echo():
    rec = record("Summarize: the clinic opens at 7:30.", "summarize:  The clinic opens at 7:30")
    assert quality_problem(rec).detail == "the output repeats the input"
    assert reason(rec) == filters.ECHO


def test_an_output_that_repeats_the_instruction_is_an_echo():
    problem = quality_problem(ask("Write a short summary of this text.", "Write a short summary of this text"))
    assert (problem.reason, problem.detail) == (filters.ECHO, "the output repeats the instruction")


def test_an_output_that_copies_the_passage_is_an_echo():
    problem = quality_problem(ask("Summarize the text above.", PASSAGE.upper()))
    assert (problem.reason, problem.detail) == (filters.ECHO, "the output copies the passage")


def test_a_short_span_of_the_passage_is_not_an_echo():
    assert reason(ask("Who keeps the alarm code?", "Priya Ramanathan", "exqa")) is None


def test_an_input_that_is_only_the_passage_is_an_echo():
    problem = quality_problem(record(PASSAGE + "\n\n", "The clinic opens early."))
    assert (problem.reason, problem.detail) == (filters.ECHO, "the input is the passage with no instruction")


def test_an_example_repeating_the_prompt_tags_is_an_echo():
    problem = quality_problem(ask("Summarize.", "<|tasktype|>\nsummarization"))
    assert problem.reason == filters.ECHO
    assert "<|tasktype|>" in problem.detail


def test_a_prompt_tag_inside_the_passage_is_not_an_echo():
    passage = "Our parser splits generations on <|pipe|> and nothing else."
    assert (
        reason(record(f"{passage}\n\nWhat does the parser do?", "It splits generations.", "qa", context=passage))
        is None
    )


def test_an_output_that_is_the_task_type_is_an_echo():
    assert reason(ask("What is this?", "Summarization.")) == filters.ECHO


# --- repetition ---


def test_a_long_varied_output_is_not_a_loop():
    summary = (
        "The clinic opens at 7:30 on weekdays and 8:00 on Saturdays, closes on Sundays, charges "
        "half the fee for late cancellations, and its coordinator Priya keeps the alarm code."
    )
    assert reason(ask("Summarize the text above.", summary)) is None


def test_a_phrase_repeated_in_a_row_is_a_loop():
    problem = quality_problem(ask("Summarize the text above.", "The fee is 45 dollars. " * 5))
    assert problem.reason == filters.REPETITION
    assert "in a row" in problem.detail and "output" in problem.detail


def test_a_long_text_of_few_distinct_word_triples_is_a_loop():
    # No exact repeat of a 40-character piece, but the same triples over and over.
    words = []
    for i in range(12):
        words += ["the", "clinic", "opens", "at", str(i % 2)]
    problem = quality_problem(ask("Summarize the text above.", " ".join(words)))
    assert problem.reason == filters.REPETITION
    assert "word triples" in problem.detail


def test_a_loop_in_the_instruction_is_rejected_but_a_repetitive_passage_is_not():
    table = "| day | hours |\n" + "| Monday | 7:30 to 19:00 |\n" * 6
    assert reason(record(f"{table}\n\nWhen does the clinic close on Mondays?", "19:00", context=table)) is None
    looping = ask("Answer the question. " * 4 + "When?", "At 7:30.")
    assert quality_problem(looping).reason == filters.REPETITION
    assert "instruction" in quality_problem(looping).detail


# --- task-type checks: one table ---


def test_the_task_type_checks_live_in_one_table_keyed_by_short_form():
    assert set(ANSWER_CHECKS) == {"exqa", "ynqa", "mcqa"}
    assert set(ANSWER_CHECKS) <= {t.short for t in TASK_TYPES}


def test_a_task_type_without_a_check_keeps_a_free_answer():
    assert reason(ask("What is the main point of this passage?", "Clinic hours and fees.")) is None


# --- extractive QA ---


@pytest.mark.parametrize(
    "answer",
    [
        "Priya Ramanathan",
        "priya   ramanathan.",
        "“45 dollars”",
        "twenty-four hours",
        "7:30",
    ],
)
def test_an_extractive_answer_found_in_the_passage_passes(answer):
    assert reason(ask("Question: ...?", answer, "exqa")) is None


def test_an_extractive_answer_is_matched_after_nfkc():
    passage = "The ﬁrst session lasts sixty minutes."
    rec = record(f"{passage}\n\nHow long is the first session?", "sixty minutes", "exqa", context=passage)
    assert reason(rec) is None
    rec = record(f"{passage}\n\nWhich session?", "first session", "exqa", context=passage)
    assert reason(rec) is None


@pytest.mark.parametrize("answer", ["Tomas Lindqvist", "open", "Satur"])
def test_an_extractive_answer_not_in_the_passage_is_rejected(answer):
    problem = quality_problem(ask("Who keeps the alarm code?", answer, "exqa"))
    assert problem.reason == filters.ANSWER_NOT_IN_PASSAGE
    assert repr(answer) in problem.detail


# --- yes-no QA ---


@pytest.mark.parametrize("answer", ["Yes", "no.", " NO ", "True", "false"])
def test_a_yes_no_answer_passes(answer):
    assert reason(ask("Is the clinic open on Sundays?", answer, "ynqa")) is None


@pytest.mark.parametrize("answer", ["Maybe", "Yes, at 7:30", "The clinic is closed."])
def test_an_answer_that_is_not_yes_or_no_is_rejected(answer):
    problem = quality_problem(ask("Is the clinic open on Sundays?", answer, "ynqa"))
    assert problem.reason == filters.NOT_YES_NO


# --- multiple-choice QA ---

DASHES = "Question: Who keeps the alarm code?\nOptions:\n- the practice manager\n- Priya Ramanathan\n- the opener"
LETTERS = "Who keeps the alarm code?\n\nA. the practice manager\nB. Priya Ramanathan\nC. the opener\n\nAnswer:"
INLINE = "What is the sentiment of the passage? Options: positive, negative"
INLINE_LETTERS = "Who keeps the alarm code? (A) the practice manager (B) Priya Ramanathan (C) the opener"
FLAN = 'Can we conclude that "The clinic opens on Sundays"?\n\nOPTIONS:\n- Yes\n- It\'s impossible to say\n- No'
TIGHT_DASHES = "Who keeps the alarm code?\nOPTIONS:\n-the practice manager\n-Priya Ramanathan"


@pytest.mark.parametrize(
    "layout, answer",
    [
        (DASHES, "Priya Ramanathan"),
        (DASHES, "priya ramanathan."),
        (LETTERS, "B"),
        (LETTERS, "(B)"),
        (LETTERS, "B. Priya Ramanathan"),
        (LETTERS, "Priya Ramanathan"),
        (INLINE, "Negative"),
        (INLINE_LETTERS, "B"),
        (INLINE_LETTERS, "the opener"),
        (FLAN, "It's impossible to say"),
        (TIGHT_DASHES, "Priya Ramanathan"),
    ],
)
def test_a_multiple_choice_answer_among_the_listed_options_passes(layout, answer):
    assert reason(ask(layout, answer, "mcqa")) is None


@pytest.mark.parametrize(
    "layout, answer",
    [
        (DASHES, "Tomas Lindqvist"),
        (LETTERS, "D"),
        (LETTERS, "B. the opener"),
        (INLINE, "neutral"),
        (FLAN, "Maybe"),
    ],
)
def test_a_multiple_choice_answer_not_among_the_options_is_rejected(layout, answer):
    problem = quality_problem(ask(layout, answer, "mcqa"))
    assert problem.reason == filters.ANSWER_NOT_IN_OPTIONS
    assert repr(answer) in problem.detail


def test_a_multiple_choice_input_without_options_is_rejected():
    problem = quality_problem(ask("Who keeps the alarm code?", "Priya Ramanathan", "mcqa"))
    assert (problem.reason, problem.detail) == (filters.NO_OPTIONS, "the input lists no answer options")


def test_a_list_inside_the_passage_is_not_taken_for_options():
    passage = "Opening duties:\n- switch off the alarm\n- turn on the heaters\n- start the laundry"
    rec = record(f"{passage}\n\nWhat does the opener do first?", "switch off the alarm", "mcqa", context=passage)
    assert quality_problem(rec).reason == filters.NO_OPTIONS


def test_options_are_read_in_every_layout():
    assert [o.text for o in listed_options(DASHES)] == ["the practice manager", "Priya Ramanathan", "the opener"]
    assert [(o.label, o.text) for o in listed_options(LETTERS)] == [
        ("a", "the practice manager"),
        ("b", "Priya Ramanathan"),
        ("c", "the opener"),
    ]
    assert [o.text for o in listed_options(INLINE)] == ["positive", "negative"]
    assert [o.label for o in listed_options(INLINE_LETTERS)] == ["a", "b", "c"]
    assert [o.text for o in listed_options("Answer choices: yes or no")] == ["yes", "no"]
    topics = "Classify the text into one of these topics: law; office administration; health."
    assert [normalise(o.text) for o in listed_options(topics)] == ["law", "office administration", "health"]
    # A statement with commas is not a list of options without a label before it.
    assert listed_options("Question: The clinic opens at 7:30, closes at 19:00, or later.") == []


# --- deduplication ---


def test_an_exact_duplicate_after_normalisation_is_rejected_naming_the_kept_unit():
    quality = QualityFilter()
    first = ask("Who keeps the alarm code?", "Priya Ramanathan", "open_qa", unit="aaaa000011112222")
    again = ask("who keeps   the alarm code?", "Priya Ramanathan.", "open_qa", unit="bbbb000011112222")
    assert quality(first) is None
    problem = quality(again)
    assert problem.reason == filters.DUPLICATE
    assert "aaaa000011112222" in problem.detail


QUESTION = (
    "According to the front desk handbook of the clinic, at what time does the clinic open its doors "
    "to patients on Saturdays, and who is expected to switch off the alarm before the first patient arrives?"
)


@pytest.mark.parametrize(
    "variant",
    [
        QUESTION.replace("its doors", "the doors"),  # one word of 40: Jaccard 0.91
        QUESTION.replace("handbook of the clinic,", "handbook of the clinic"),  # punctuation only
    ],
)
def test_a_reworded_question_with_the_same_answer_is_a_near_duplicate(variant):
    quality = QualityFilter()
    assert quality(ask(QUESTION, "At 8:00 on Saturdays.", "open_qa", unit="first")) is None
    problem = quality(ask(variant, "At 8:00 on Saturdays.", "open_qa", unit="second"))
    assert problem.reason == filters.NEAR_DUPLICATE
    assert "first" in problem.detail and "threshold 0.8" in problem.detail


def test_different_questions_about_one_passage_are_kept():
    quality = QualityFilter()
    assert quality(ask(QUESTION, "At 8:00.", "open_qa")) is None
    assert quality(ask("How much is the late cancellation fee?", "45 dollars.", "open_qa")) is None
    assert quality(ask("Who keeps the alarm code?", "Priya Ramanathan.", "open_qa")) is None


def test_the_same_question_with_another_answer_is_not_a_near_duplicate():
    quality = QualityFilter()
    assert quality(ask(QUESTION, "At 8:00 on Saturdays.", "open_qa")) is None
    assert quality(ask(QUESTION, "It stays closed all weekend.", "open_qa")) is None


def test_the_same_question_about_another_passage_is_kept():
    quality = QualityFilter()
    question = "Summarize the text above in one sentence."
    assert quality(record(f"{PASSAGE}\n\n{question}", "Opening hours and fees.")) is None
    assert quality(record(f"{OTHER_PASSAGE}\n\n{question}", "Opening hours and fees.", context=OTHER_PASSAGE)) is None


def test_the_same_example_about_a_slightly_edited_passage_is_a_near_duplicate():
    quality = QualityFilter()
    edited = PASSAGE.replace("currently 45 dollars", "currently 45 dollars or so")
    assert quality(ask(QUESTION, "At 8:00 on Saturdays.", "open_qa")) is None
    rec = record(f"{edited}\n\n{QUESTION}", "At 8:00 on Saturdays.", "open_qa", context=edited)
    assert quality(rec).reason == filters.NEAR_DUPLICATE


def test_a_threshold_of_one_keeps_rewordings():
    quality = QualityFilter(dedup_threshold=1.0)
    assert quality(ask(QUESTION, "At 8:00 on Saturdays.", "open_qa")) is None
    assert quality(ask(QUESTION.replace("its doors", "the doors"), "At 8:00 on Saturdays.", "open_qa")) is None


def test_a_rejected_example_does_not_enter_the_index():
    quality = QualityFilter()
    wrong = ask("Who keeps the alarm code?", "Tomas Lindqvist", "exqa")
    assert quality(wrong).reason == filters.ANSWER_NOT_IN_PASSAGE
    assert quality(wrong).reason == filters.ANSWER_NOT_IN_PASSAGE
    assert len(quality.dedup) == 0


def test_remembered_examples_reject_their_duplicates():
    quality = QualityFilter()
    quality.remember(ask(QUESTION, "At 8:00.", "open_qa", unit="from-an-earlier-run"))
    problem = quality(ask(QUESTION, "At 8:00.", "open_qa"))
    assert problem.reason == filters.DUPLICATE and "from-an-earlier-run" in problem.detail


def test_the_index_grows_past_its_first_allocation():
    dedup = Deduplicator()
    for i in range(1500):
        assert dedup.check(record(f"Question number {i} about item {i * 7}?", f"Answer {i}.")) is None
    assert len(dedup) == 1500
    assert dedup.check(record("Question number 3 about item 21?", "Answer 3.")).reason == filters.DUPLICATE


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
def test_lsh_bands_find_most_pairs_at_the_threshold(threshold):
    bands, rows = lsh_bands(threshold)
    assert bands * rows <= 128
    assert 1 - (1 - threshold**rows) ** bands >= 0.95


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_a_threshold_outside_zero_to_one_is_refused(threshold):
    with pytest.raises(ValueError):
        Deduplicator(threshold)
    with pytest.raises(InputError, match="--dedup-threshold"):
        validate_sampling(GenerateOptions(inputs=("x.txt",), task_types=("exqa",), dedup_threshold=threshold))


# --- in the pipeline ---


def test_the_pipeline_rejects_with_reason_and_detail_and_counts_per_task_type(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "{{context}}\n\nWhat does the clinic do?<|pipe|>It opens at 7:30.")
    settings = GenerationSettings(task_types=(resolve_task_type("exqa"), resolve_task_type("qa")), num_samples=2)
    stats = RunStats()
    passage = Passage(PASSAGE, "notes.md", 0, 0, len(PASSAGE))
    outcomes = list(generate_outcomes(engine, [passage], settings, "toy.gguf", stats, review=QualityFilter()))
    assert [o.reason for o in outcomes] == [
        filters.ANSWER_NOT_IN_PASSAGE,
        filters.ANSWER_NOT_IN_PASSAGE,
        None,
        filters.DUPLICATE,
    ]
    assert outcomes[0].record.detail == "the answer 'It opens at 7:30.' does not occur in the passage"
    assert outcomes[0].record.input.endswith("What does the clinic do?")
    assert stats.parsed == 1 and stats.generations == 4
    assert stats.rejected == {filters.ANSWER_NOT_IN_PASSAGE: 2, filters.DUPLICATE: 1}
    exqa, qa = (stats.by_task[resolve_task_type(t).full_name] for t in ("exqa", "qa"))
    assert (exqa.kept, dict(exqa.rejected)) == (0, {filters.ANSWER_NOT_IN_PASSAGE: 2})
    assert (qa.kept, dict(qa.rejected)) == (1, {filters.DUPLICATE: 1})


def test_emphasis_with_asterisks_is_not_a_list_of_options():
    text = "*Passage*: the clinic opens at 7:30.\n*Question*: When does it open?"
    assert listed_options(text) == []
    assert normalise("-.5") == "-.5" and normalise("- 20") == "20"
