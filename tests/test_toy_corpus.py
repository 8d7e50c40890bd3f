"""The toy Bonito's training corpus: the stored prose, the perturbed passages, and a corpus
made in chunks that does not depend on how many processes make it."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from bonito_lite.prompt import prompt_prefix

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import toy_corpus  # noqa: E402
import toy_prose  # noqa: E402


def test_the_stored_prose_is_prose_by_the_readers_own_rules():
    paragraphs = toy_prose.prose_paragraphs()
    assert len(paragraphs) > 1000
    assert len(set(paragraphs)) == len(paragraphs)
    for paragraph in paragraphs:
        # Each stored paragraph passes the rules that picked it out of the documentation.
        assert toy_prose._prose_paragraphs_of(paragraph) == [paragraph]
    # The held-back paragraphs (the trainer's progress checks) are none of the trained ones.
    assert not set(toy_corpus.prose_pool(monitor=True)) & set(toy_corpus.prose_pool())


def test_perturbed_prose_keeps_its_sentences_but_not_its_words():
    rng = random.Random(5)
    capitalised, lower = (set(words) for words in toy_prose.vocabulary_words())
    for paragraph in toy_prose.prose_paragraphs()[:200]:
        changed = toy_prose.perturbed(paragraph, rng, share=0.5)
        assert len(toy_prose.sentences_of(changed)) == len(toy_prose.sentences_of(paragraph))
        before, after = paragraph.split(), changed.split()
        assert len(before) == len(after)
        for old, new in zip(before, after):
            if old != new and old.isalpha() and new.isalpha():
                # A swapped word is a whole vocabulary word of the same case.
                assert new in (capitalised if old[0].isupper() else lower)
    assert toy_prose.perturbed("The cache holds seventeen entries.", rng, share=0.0) == (
        "The cache holds seventeen entries."
    )
    changed = [toy_prose.perturbed("The cache holds seventeen entries.", rng, share=1.0) for _ in range(5)]
    assert all(c.startswith("The ") and c.endswith(".") for c in changed)
    assert len(set(changed)) == 5


def test_split_invented_words_are_cut_by_the_tokenizer_into_several_pieces():
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(toy_prose.mistral_tokenizer_path()))
    capitalised, lower = (set(words) for words in toy_prose.vocabulary_words())
    rng = random.Random(3)
    whole = [toy_prose.invented_word(rng, capitalised=True) for _ in range(50)]
    assert all(word in capitalised and len(sp.encode(word)) == 1 for word in whole)
    split = [toy_prose.invented_word(rng, capitalised=False, split=1.0) for _ in range(50)]
    for word in split:
        assert word.isalpha() and word.islower()
        assert any(word.startswith(head) and word != head for head in lower)
    # Almost every one is several pieces: a name the model must copy to its end.
    assert sum(len(sp.encode(word)) >= 2 for word in split) >= 45
    name = toy_prose.invented_name(random.Random(4), split=1.0)
    assert len(name.split()) == 2 and all(part[0].isupper() for part in name.split())
    # Perturbed prose swaps in the same invented words.
    changed = toy_prose.perturbed("The cache holds seventeen entries.", rng, share=1.0, split=1.0)
    assert all(len(sp.encode(word)) >= 2 for word in changed.rstrip(".").split()[1:])


def test_training_prose_is_perturbed_as_often_as_asked_and_the_held_back_prose_never(monkeypatch):
    monkeypatch.setattr(toy_corpus, "PROSE_PERTURB_SHARE", 1.0)
    pool = set(toy_corpus.prose_pool())
    rng = random.Random(1)
    texts = [p.text for p in (toy_corpus.prose_passage(rng) for _ in range(40)) if p]
    assert texts and not any(text in pool for text in texts)
    held_back = set(toy_corpus.prose_pool(monitor=True))
    passage = toy_corpus.prose_passage(random.Random(2), monitor=True)
    assert all(part in held_back for part in passage.text.split("\n\n"))


@pytest.fixture(scope="module")
def trainer():
    import train_toy_bonito

    return train_toy_bonito


def test_the_corpus_is_the_same_for_any_number_of_workers(trainer, monkeypatch):
    monkeypatch.setattr(trainer, "CORPUS_CHUNK", 30)
    tokenizer = toy_prose.mistral_tokenizer_path()
    alone = trainer.build_corpus(75, seed=4, max_tokens=512, tokenizer_file=tokenizer, workers=1)
    shared = trainer.build_corpus(75, seed=4, max_tokens=512, tokenizer_file=tokenizer, workers=2)
    assert alone == shared
    assert 60 <= len(alone) <= 75
    # The first chunk is the corpus of the run's seed + 1, as a one-chunk run makes it.
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer))
    first = [trainer.encode(sp, e) for e in toy_corpus.make_examples(30, seed=5)]
    assert alone[: len(first)] == [row for row in first if len(row[0]) <= 512]


def test_corpus_settings_reach_the_processes_that_make_it(trainer, monkeypatch):
    monkeypatch.setattr(trainer, "CORPUS_CHUNK", 20)
    only = {name: 0.0 for name in toy_corpus.TRAINED_TASK_TYPES}
    only["sentiment"] = 1.0
    rows = trainer.build_corpus(
        40,
        seed=0,
        max_tokens=512,
        tokenizer_file=toy_prose.mistral_tokenizer_path(),
        workers=2,
        overrides={"TASK_WEIGHTS": only},
    )
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(toy_prose.mistral_tokenizer_path()))
    prompts = [sp.decode(ids[: next(i for i, x in enumerate(labels) if x != -100)]) for ids, labels in rows]
    assert len(prompts) >= 30
    assert all(p.startswith(prompt_prefix("sentiment")) for p in prompts)


def test_copy_drills_are_extractive_questions_on_short_swapped_prose(monkeypatch):
    pool = toy_corpus.prose_pool()
    rng = random.Random(7)
    passages = [p for p in (toy_corpus.drill_passage(rng) for _ in range(40)) if p]
    assert len(passages) >= 30
    for passage in passages:
        assert 1 <= len(toy_prose.sentences_of(passage.text)) <= 3
        assert not any(passage.text in paragraph for paragraph in pool)
        assert all(fact.answer in passage.text for fact in passage.facts)
    monkeypatch.setattr(toy_corpus, "DRILL_SHARE", 1.0)
    types = [e.task_type for e in toy_corpus.make_examples(60, seed=7)]
    assert types.count("extractive question answering") >= 50
    monkeypatch.setattr(toy_corpus, "DRILL_SHARE", 0.0)
    types = [e.task_type for e in toy_corpus.make_examples(60, seed=7)]
    assert types.count("extractive question answering") < 30


def test_copying_exercises_label_only_what_can_be_copied_from_before(trainer):
    separator = [13, 13]
    stretch = list(range(1000, 1060))  # every token once: where a copy goes on is unambiguous
    rng = random.Random(3)
    kinds = set()
    for _ in range(40):
        ids, labels = trainer.copy_row(rng, separator, stretch)
        assert len(ids) == len(labels) and ids[: 1 + len(stretch) + len(separator)] == [1, *stretch, *separator]
        assert set(labels[: 1 + len(stretch)]) == {trainer.IGNORE}
        labelled = [i for i, label in enumerate(labels) if label != trainer.IGNORE]
        assert labelled and all(labels[i] == ids[i] for i in labelled)
        for i in labelled:
            # Each labelled token goes on from the one before it, as the stretch does, or
            # opens the whole stretch again after the separator.
            before = ids[i - 1]
            assert (before in stretch and stretch.index(before) + 1 == stretch.index(ids[i])) or (
                ids[i - len(separator) : i] == separator and ids[i] == stretch[0]
            )
        # A run's first token is given: after a separator, only the whole stretch's is labelled.
        whole = ids[1 + len(stretch) + len(separator) :] == stretch
        kinds.add("whole" if whole else "runs")
        if not whole:
            openers = [i for i in range(len(ids)) if ids[i - len(separator) : i] == separator and i > len(stretch)]
            assert openers and all(labels[i] == trainer.IGNORE for i in openers)
    assert kinds == {"whole", "runs"}


def test_copying_stretches_are_swapped_text_no_longer_than_the_limit(trainer):
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(toy_prose.mistral_tokenizer_path()))
    rng = random.Random(4)
    text = "\n\n".join(toy_corpus.prose_pool())
    stretches = [trainer.copy_stretch(rng, sp) for _ in range(30)]
    assert all(0 < len(s) <= trainer.COPY_MAX_TOKENS for s in stretches)
    # Swapped words: no stretch can be recalled from the training prose.
    assert not any(sp.decode(s) in text for s in stretches)


def test_a_copy_share_adds_exercises_and_none_leaves_the_corpus_as_it_was(trainer, monkeypatch):
    monkeypatch.setattr(trainer, "CORPUS_CHUNK", 40)
    tokenizer = toy_prose.mistral_tokenizer_path()
    plain = trainer.build_corpus(40, seed=2, max_tokens=512, tokenizer_file=tokenizer, workers=1)
    none = trainer.build_corpus(40, seed=2, max_tokens=512, tokenizer_file=tokenizer, workers=1, copy_share=0.0)
    mixed = trainer.build_corpus(40, seed=2, max_tokens=512, tokenizer_file=tokenizer, workers=1, copy_share=0.25)
    assert none == plain
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer))
    tasks = [row for row in mixed if sp.decode(row[0]).startswith("<|tasktype|>")]
    # A quarter of the chunk's rows are exercises; the rest are the chunk's first examples.
    assert len(mixed) - len(tasks) == 10
    assert tasks == [
        row for row in (trainer.encode(sp, e) for e in toy_corpus.make_examples(30, seed=3)) if len(row[0]) <= 512
    ]
