"""The toy's training script runs its whole recipe: corpus, steps, sampled checks, checkpoint, GGUF."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bonito_lite.models.info import read_model_info

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_toy_bonito.py"
# The script and its sibling modules, for the tests that call them in process.
sys.path.insert(0, str(SCRIPT.parent))


@pytest.mark.slow
def test_a_few_steps_of_the_toy_recipe_write_a_toy_gguf_that_llama_cpp_reads(tmp_path):
    checkpoint, gguf = tmp_path / "ckpt", tmp_path / "toy.gguf"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(checkpoint), "--gguf", str(gguf), "--steps", "4",
         "--examples", "40", "--eval-every", "2", "--eval-samples", "2", "--save-every", "2",
         # The options of the bundled toy's CPU stage: bfloat16 autocast, split invented words.
         "--precision", "bfloat16", "--split-words", "0.5", "--copy", "0.25"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # The sampled checks ran through the quality filters and the answer probe, twice.
    assert done.stdout.count("'answer_in_passage'") == 2 and done.stdout.count("'copied'") == 2
    assert "done: 4 steps" in done.stdout
    recorded = json.loads((checkpoint / "toy_training.json").read_text())
    assert recorded["steps"] == 4
    assert recorded["args"]["precision"] == "bfloat16" and recorded["args"]["split_words"] == "0.5"
    assert recorded["args"]["copy"] == "0.25"
    info = read_model_info(gguf)
    assert info.is_toy and info.vocab_size == 32000 and info.block_count == 4
    # Named by its model card, not after its folder ("Ckpt").
    assert info.name == "toy-bonito"


def _tied_toy(vocab_norms: dict[int, float]):
    """A one-layer tied toy whose embedding rows have the given norms (others: 0.86, as the
    rows training never moved)."""
    import torch
    from transformers import MistralForCausalLM

    import train_toy_bonito

    model = MistralForCausalLM(train_toy_bonito.toy_config(32, 1, 2, 1, 64))
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        embeddings.copy_(torch.nn.functional.normalize(torch.randn_like(embeddings), dim=1) * 0.86)
        for row, norm in vocab_norms.items():
            embeddings[row] *= norm / 0.86
    return model


def test_new_words_train_only_the_embedding_rows_the_model_has_not_learnt():
    import torch

    import train_toy_bonito

    learnt = {row: 1.6 for row in range(0, 32000, 3)}
    model = _tied_toy(learnt)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    unlearnt = train_toy_bonito.train_new_words_only(model)
    assert int(unlearnt.sum()) == 32000 - len(learnt) and not unlearnt[list(learnt)].any()
    embeddings = model.get_input_embeddings().weight
    optimizer = torch.optim.AdamW([embeddings], lr=1e-2, weight_decay=0.0)
    ids = torch.randint(0, 32000, (2, 12))
    labels = ids.clone()
    labels[:, :4] = train_toy_bonito.IGNORE
    for _ in range(2):
        train_toy_bonito.completion_loss(model, ids, labels, torch.ones_like(ids)).backward()
        optimizer.step()
        optimizer.zero_grad()
    after = dict(model.named_parameters())
    moved = (after["model.embed_tokens.weight"] - before["model.embed_tokens.weight"]).abs().amax(dim=1)
    # The unlearnt rows the batch asked for moved; no learnt row and no other weight did.
    assert (moved[unlearnt] > 0).sum() >= 10
    assert not moved[~unlearnt].any()
    assert all(torch.equal(after[name], weight) for name, weight in before.items() if "embed_tokens" not in name)


def test_new_words_are_made_of_the_pieces_the_model_has_not_learnt():
    import random

    import sentencepiece

    import toy_prose
    import train_toy_bonito

    sp = sentencepiece.SentencePieceProcessor(model_file=str(toy_prose.mistral_tokenizer_path()))
    learnt = {sp.piece_to_id("\u2581the"): 1.6, sp.piece_to_id("\u2581Harbor"): 1.6, sp.piece_to_id("ide"): 1.6}
    unlearnt = train_toy_bonito.unlearnt_rows(_tied_toy(learnt).get_input_embeddings().weight)
    capitalised, lower, endings = train_toy_bonito.word_pool(sp, unlearnt)
    assert "Members" in capitalised and "sea" in lower and "Harbor" not in capitalised and "the" not in lower
    assert "ide" not in endings and "ley" in endings
    # Only pieces of Latin letters: English documents are what the toy is shown.
    assert all(word.isascii() and word.isalpha() for group in (capitalised, lower, endings) for word in group)
    # With the pool set, every swapped word of perturbed prose is one of them.
    before = toy_prose.WORD_POOL
    toy_prose.WORD_POOL = (capitalised, lower, endings)
    try:
        rng = random.Random(0)
        words = [toy_prose.invented_word(rng, capitalised=rng.random() < 0.5) for _ in range(200)]
    finally:
        toy_prose.WORD_POOL = before
    assert set(words) <= set(capitalised) | set(lower)


def test_wide_words_are_every_latin_letter_piece_the_vocabulary_leaves_out():
    import sentencepiece

    import toy_prose
    import train_toy_bonito

    sp = sentencepiece.SentencePieceProcessor(model_file=str(toy_prose.mistral_tokenizer_path()))
    capitalised, lower, endings = train_toy_bonito.word_pool(sp)
    vocabulary_capitalised, vocabulary_lower = toy_prose.vocabulary_words()
    # The corpus's vocabulary, and the short words and long endings it leaves out.
    assert set(vocabulary_capitalised) < set(capitalised) and set(vocabulary_lower) < set(lower)
    assert set(toy_prose.word_endings()) < set(endings)
    assert "sea" in lower and "sea" not in vocabulary_lower
    assert any(len(ending) > 6 for ending in endings)
    assert all(word.isascii() and word.isalpha() for group in (capitalised, lower, endings) for word in group)


def test_a_kind_of_word_the_pool_has_none_of_comes_from_the_whole_vocabulary():
    import random

    import toy_prose

    # A model that has learnt every lower-case word and word ending leaves only capitalised ones.
    before = toy_prose.WORD_POOL
    toy_prose.WORD_POOL = (("Zorblaxi",), (), ())
    try:
        rng = random.Random(0)
        names = {toy_prose.invented_word(rng, capitalised=True) for _ in range(20)}
        words = [toy_prose.invented_word(rng, capitalised=False, split=1.0) for _ in range(20)]
    finally:
        toy_prose.WORD_POOL = before
    assert names == {"Zorblaxi"}
    # Each a vocabulary word with endings added (split=1.0), none from the empty kinds.
    lower = toy_prose.vocabulary_words()[1]
    assert all(any(word.startswith(w) and len(word) > len(w) for w in lower) for word in words)


@pytest.mark.slow
def test_the_new_words_stage_changes_the_bundled_toy_only_in_its_unlearnt_rows(tmp_path):
    import torch
    from safetensors.torch import load_file

    from bonito_lite.models.paths import toy_model_path

    import train_toy_bonito

    checkpoint = tmp_path / "ckpt"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--init-from", str(toy_model_path()), "--new-words", "--keep-tied",
         "--output", str(checkpoint), "--steps", "2", "--examples", "40", "--batch-size", "2", "--lr", "1e-2",
         "--perturb-prose", "1.0", "--copy", "0.25", "--eval-every", "0", "--eval-samples", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unlearnt embedding rows give" in done.stdout
    start = train_toy_bonito.model_from_gguf(toy_model_path()).state_dict()
    trained = load_file(checkpoint / "model.safetensors")
    # Saved tied, as it came: no separate output head.
    assert "lm_head.weight" not in trained
    unlearnt = train_toy_bonito.unlearnt_rows(start["model.embed_tokens.weight"])
    moved = (trained["model.embed_tokens.weight"] - start["model.embed_tokens.weight"]).abs().amax(dim=1)
    assert moved[unlearnt].any() and not moved[~unlearnt].any()
    assert all(torch.equal(trained[name], start[name]) for name in trained if "embed_tokens" not in name)


def test_a_corpus_chunk_draws_its_invented_words_from_the_pool_it_is_given_and_puts_it_back():
    import sentencepiece

    import toy_corpus
    import toy_prose
    import train_toy_bonito

    tokenizer = str(toy_prose.mistral_tokenizer_path())
    pool = (("Zorblaxi",), ("quuxlemon",), ("ity",))
    overrides = {"toy_prose.WORD_POOL": pool, "PROSE_PERTURB_SHARE": 1.0}
    rows = train_toy_bonito._corpus_chunk((30, 7, 4096, tokenizer, overrides, 0.25))
    sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer)
    texts = [sp.decode(ids) for ids, _ in rows]
    # The chunk's invented words come from the pool, and only while the chunk is made.
    assert sum("quuxlemon" in text for text in texts) >= 5 and any("Zorblaxi" in text for text in texts)
    assert toy_prose.WORD_POOL is None and toy_corpus.PROSE_PERTURB_SHARE == 0.0


def test_new_words_needs_a_trained_model_to_start_from(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--new-words", "--output", str(tmp_path / "ckpt"), "--examples", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and "--init-from" in done.stderr
    assert not (tmp_path / "ckpt").exists()
