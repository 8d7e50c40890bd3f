"""The pipeline's bookkeeping, with a scripted engine (the real engine has its own tests)."""

from bonito_lite.engines.generation import Sampling
from bonito_lite.filters import Rejection
from bonito_lite.inputs.chunking import Passage
from bonito_lite.pipeline import (
    TRUNCATED,
    GenerationSettings,
    RunStats,
    generate_outcomes,
    sample_seed,
)
from bonito_lite.task_types import resolve_task_type


def passages(*texts):
    return [Passage(t, "doc.txt", i, 0, len(t)) for i, t in enumerate(texts)]


EXQA = resolve_task_type("exqa")
YNQA = resolve_task_type("ynqa")


def test_outcomes_come_in_passage_then_task_then_sample_order(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: f"Q {seed}<|pipe|>A")
    settings = GenerationSettings(task_types=(EXQA, YNQA), num_samples=2, seed=7)
    outcomes = list(generate_outcomes(engine, passages("one", "two"), settings, "m.gguf"))
    order = [(o.record.context, o.record.task_type, o.record.sample_index) for o in outcomes]
    assert order == [(c, t, s) for c in ("one", "two") for t in (EXQA.full_name, YNQA.full_name) for s in (0, 1)]


def test_records_carry_provenance_and_the_parsed_example(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "What sat?<|pipe|>{{context}}")
    settings = GenerationSettings(task_types=(EXQA,), seed=3)
    [outcome] = generate_outcomes(engine, passages("The cat sat."), settings, "toy.gguf")
    assert outcome.record.to_json() == {
        "input": "What sat?",
        "output": "The cat sat.",
        "task_type": "extractive question answering",
        "context": "The cat sat.",
        "source": "doc.txt",
        "passage_index": 0,
        "char_start": 0,
        "char_end": 12,
        "sample_index": 0,
        "model": "toy.gguf",
        "seed": 3,
    }


def test_unparsable_generations_are_kept_with_their_reason(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "no separator", finish_reason="stop")
    stats = RunStats()
    settings = GenerationSettings(task_types=(EXQA,))
    [outcome] = generate_outcomes(engine, passages("x"), settings, "m", stats)
    assert not outcome.parsed
    assert outcome.record.reason == "no_pipe"
    assert outcome.record.generation == "no separator"
    assert (stats.generations, stats.parsed, stats.rejected["no_pipe"]) == (1, 0, 1)


def test_generation_cut_by_max_tokens_is_rejected_as_truncated(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "a question that never", finish_reason="length")
    settings = GenerationSettings(task_types=(EXQA,))
    [outcome] = generate_outcomes(engine, passages("x"), settings, "m")
    assert outcome.reason == TRUNCATED


def test_prompts_follow_the_template_and_seeds_are_derived_per_sample(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "a<|pipe|>b")
    settings = GenerationSettings(task_types=(YNQA,), num_samples=3, seed=11, sampling=Sampling(max_tokens=9))
    list(generate_outcomes(engine, passages("  Text.  "), settings, "m"))
    [request] = engine.requests
    assert request.prompt == "<|tasktype|>\nyes-no question answering\n<|context|>\nText.\n<|task|>\n"
    assert request.seeds == tuple(sample_seed(11, "  Text.  ", YNQA, i) for i in range(3))
    assert len(set(request.seeds)) == 3
    assert request.sampling.max_tokens == 9


def test_seed_depends_on_run_seed_passage_task_and_sample():
    base = sample_seed(0, "p", EXQA, 0)
    assert base == sample_seed(0, "p", EXQA, 0)
    assert (
        len(
            {
                base,
                sample_seed(1, "p", EXQA, 0),
                sample_seed(0, "q", EXQA, 0),
                sample_seed(0, "p", YNQA, 0),
                sample_seed(0, "p", EXQA, 1),
            }
        )
        == 5
    )
    assert 0 <= base < 0xFFFFFFFF


def test_requests_name_everything_before_the_passage_as_their_shared_prefix(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "Q<|pipe|>A")
    settings = GenerationSettings(task_types=(EXQA, YNQA), seed=1)
    list(generate_outcomes(engine, passages("one", "two"), settings, "m.gguf"))
    assert len(engine.requests) == 4
    for request, passage in zip(engine.requests, ("one", "one", "two", "two")):
        assert request.prompt[len(request.shared_prefix) :].startswith(passage + "\n")
        assert request.prompt.startswith(request.shared_prefix)
    assert len({r.shared_prefix for r in engine.requests}) == 2


def test_every_record_gets_its_unit_key_once_and_review_sees_it(scripted_engine):
    replies = {0: "What sat?<|pipe|>The cat", 1: "no separator", 2: "Who?<|pipe|>A dog"}
    engine = scripted_engine(lambda prompt, seed: replies[seed % 3])
    asked: list[tuple[str, str, int]] = []

    def unit_key(text: str, task_type: str, sample_index: int) -> str:
        asked.append((text, task_type, sample_index))
        return f"{text}/{sample_index}"

    seen: list[str] = []

    def review(record):
        seen.append(record.unit)
        return Rejection("duplicate", f"repeats {record.unit}") if "dog" in record.output else None

    settings = GenerationSettings(task_types=(EXQA,), num_samples=12, seed=5)
    outcomes = list(
        generate_outcomes(engine, passages("The cat sat."), settings, "m", review=review, unit_key=unit_key)
    )
    assert asked == [("The cat sat.", EXQA.full_name, i) for i in range(12)]
    assert [o.record.unit for o in outcomes] == [f"The cat sat./{i}" for i in range(12)]
    assert all(list(o.record.to_json())[-1] == "unit" for o in outcomes)
    assert seen == [o.record.unit for o in outcomes if o.record.generation is None]
    reasons = {o.reason for o in outcomes}
    assert reasons >= {None, "no_pipe", "duplicate"}  # kept, unparsable and reviewed out, all keyed


def test_a_resumed_run_skips_finished_samples_by_their_unit_key_and_keeps_the_others_seeds(scripted_engine):
    settings = GenerationSettings(task_types=(EXQA,), num_samples=3, seed=2)
    asked: list[str] = []

    def unit_key(text: str, task_type: str, sample_index: int) -> str:
        asked.append(f"{text}/{sample_index}")
        return asked[-1]

    whole = scripted_engine(lambda prompt, seed: "Q<|pipe|>A")
    every = list(generate_outcomes(whole, passages("one", "two"), settings, "m", unit_key=unit_key))
    asked.clear()
    finished = {"one/0", "one/1", "one/2", "two/1"}
    rest = scripted_engine(lambda prompt, seed: "Q<|pipe|>A")
    left = list(
        generate_outcomes(rest, passages("one", "two"), settings, "m", skip=finished.__contains__, unit_key=unit_key)
    )
    assert asked == ["one/0", "one/1", "one/2", "two/0", "two/1", "two/2"]  # each key computed once
    assert [o.record.unit for o in left] == ["two/0", "two/2"]
    assert [o.record.sample_index for o in left] == [0, 2]
    assert [r.seeds for r in rest.requests] == [tuple(whole.requests[1].seeds[i] for i in (0, 2))]
    assert [o.record for o in left] == [o.record for o in every if o.record.unit in {"two/0", "two/2"}]


def test_passages_count_only_those_with_outcomes_so_far(scripted_engine):
    # The engine reads every request before its first completion, as a batched one reads ahead.
    engine = scripted_engine(lambda prompt, seed: "Q<|pipe|>A")
    stats = RunStats()
    settings = GenerationSettings(task_types=(EXQA,))
    outcomes = generate_outcomes(engine, passages("one", "two", "three"), settings, "m", stats)
    next(outcomes)
    assert stats.passages == 1  # a run stopped here has examples from one passage, not three
    list(outcomes)
    assert stats.passages == 3


def test_passages_skipped_whole_still_count(scripted_engine):
    engine = scripted_engine(lambda prompt, seed: "Q<|pipe|>A")
    stats = RunStats()
    settings = GenerationSettings(task_types=(EXQA,))

    def unit_key(text, task, index):
        return text

    outcomes = list(
        generate_outcomes(
            engine,
            passages("one", "two", "three"),
            settings,
            "m",
            stats,
            skip={"three"}.__contains__,
            unit_key=unit_key,
        )
    )
    assert [o.record.context for o in outcomes] == ["one", "two"]
    assert stats.passages == 3
