"""Train the toy Bonito: a tiny Mistral-architecture model that writes ``input<|pipe|> output``.

The toy is a demo, labelled a toy wherever it is used, but it should behave like a small
Bonito: write every task type, with extractive answers copied from the passage and options
laid out as the quality filters read them. It is trained on the examples of
``toy_corpus.py`` (templated passages and real prose, see there) with the real Mistral
tokenizer, so the GGUF made from it exercises the same tokenizer path as bonito-v1, and it is
converted by the project's own converter (Q8_0, marked a toy).

On a CPU (two cores)::

    python scripts/train_toy_bonito.py --output toy-ckpt --gguf toy-bonito.gguf

trains a 9 M-parameter model (width 128, 4 layers) from random weights (seeded) for
``--steps`` (5000 of 8 examples) or at most ``--minutes`` (60), whichever comes first: the
learning-rate schedule follows whichever limit is nearer, so a busy machine still anneals
(on an idle one the steps set it, and the run is repeatable). Two torch threads on a 2-core
x86-64 machine: 37 minutes; that model met 14 of the 16 held-out targets but almost never
copied an extractive answer out of a passage it never saw (BENCHMARKS.md).

The bundled ``bonito_lite/data/toy-bonito.gguf`` was trained in three runs, the first two on
one NVIDIA H200 (torch 2.11, bfloat16 autocast; ``--device`` defaults to the GPU when there
is one), the third on two CPU cores. The first two made a
13 M-parameter model, width 256 and 6 layers, whose output head *is* the embedding matrix
(``--keep-tied``: the GGUF has no ``output.weight`` and llama.cpp reads the head from
``token_embd``, so the vocabulary costs the 16 MB budget once), first from random weights::

    python scripts/train_toy_bonito.py --output toy-gpu1 --examples 320000 --workers 16 \
        --hidden 256 --layers 6 --heads 8 --kv-heads 4 --ffn 768 --keep-tied \
        --batch-size 128 --lr 2e-3 --warmup 200 --max-tokens 512 --steps 100000 --minutes 5.5 \
        --eval-every 3000 --save-every 1000 --log-every 250

(47 s to make the corpus on 16 processes, 4,058 steps in 5.5 minutes, loss 0.15), then on
a fresh corpus whose prose is mostly perturbed (``--perturb-prose``: a paragraph the model
knows by heart makes it write its questions from memory, not from the passage)::

    python scripts/train_toy_bonito.py --init-from toy-gpu1 --output toy-gpu2 --seed 1 \
        --examples 160000 --workers 16 --perturb-prose 0.8 --keep-tied \
        --batch-size 128 --lr 1e-3 --warmup 50 --max-tokens 512 --steps 100000 --minutes 3.5 \
        --eval-every 0 --save-every 500 --log-every 250 --gguf toy-bonito.gguf

(2,849 steps in 3.5 minutes, loss 0.15; the first run's checkpoint travelled to the second
as float16). Both schedules followed the clock: on another machine, ``--steps 4058`` and
``--steps 2849`` with ``--minutes`` left large give schedules of the same length. GPU
kernels do not sum in a fixed order, so a rerun gives a similar model, not the same bytes.
On the held-out documents (``scripts/measure_toy.py``) the second run's model kept 29% of its
extractive examples, 70% of its multiple-choice ones and 90-100% of every other type
(BENCHMARKS.md has the counts, the first run's alone, and the toys before it).

``--new-words`` trains, from a tied ``--init-from`` model, only the embedding rows training
left at or near their initial norm: the second run's model has 17,409 of them, tokens its
corpus never or barely used ("sea", "Members", "Rivers"), and a word made of them is one it
cannot copy out of a passage. The rest of the model is frozen (the output head is the same
matrix), and the corpus's invented names and swapped words are drawn from those pieces (a
word with an ending added may be cut differently once joined). The third run, on two CPU
cores (x86-64, float32), from the second run's GGUF (the toy bundled at commit f75611d:
``git show f75611d:bonito_lite/data/toy-bonito.gguf > toy-gpu2.gguf``)::

    python scripts/train_toy_bonito.py --init-from toy-gpu2.gguf --new-words --output toy-words --seed 1 \
        --examples 24000 --workers 2 --perturb-prose 1.0 --split-words 0.3 --copy 0.25 --keep-tied \
        --batch-size 16 --lr 2e-3 --warmup 30 --max-tokens 384 --steps 1500 --minutes 55 \
        --eval-every 0 --save-every 250 --log-every 25 --gguf toy-words.gguf

(48 minutes) is the bundled toy. On the held-out documents it keeps 40% of its extractive
examples (29% before it), and as many of every other type as before, within sampling noise
(BENCHMARKS.md, "The words the toy never learnt").

``--split-words`` cuts invented names and swapped words into several tokenizer pieces (every
invented name the bundled toy saw was one piece, and it cuts "Riverside" to "Rivers");
``--wide-words`` draws them from every Latin-letter piece of the tokenizer, words of two
letters and more and endings of up to ten (the corpus's own vocabulary has words of four to
twelve letters and endings of up to six), for a run from random weights that leaves none of
the rows ``--new-words`` had to teach the bundled toy after its GPU runs; ``--precision
bfloat16`` makes a CPU step 1.2x quicker where the CPU has AVX512-BF16 and 20-40 times
slower where it has not (BENCHMARKS.md). ``--drill`` makes that share of
the examples copy drills (extractive questions on short prose with most words swapped,
``toy_corpus.DRILL_SHARE``); as a CPU fine-tune of the bundled toy they traded
multiple-choice answers for extractive ones without a reliable gain (BENCHMARKS.md).
``--copy`` makes that share of the rows copying exercises (:func:`copy_row`: a stretch of swapped prose, then it again); as a CPU fine-tune
they taught the bundled toy to copy (:func:`copy_probe`, 44% to 98% in minutes) without
keeping more of its extractive answers, which fail at choosing and asking, not at copying
(BENCHMARKS.md, "Copying exercises").

Every ``--eval-every`` steps (and at the end) it prints sampled parse and keep rates and
:func:`answer_probe` (given a gold extractive question on an unseen passage, is the greedy
answer the gold span, or any span?) and :func:`copy_probe`; they draw their own seeds and
leave training as it is.
The corpus is made in chunks of 20,000 examples, each from its own seed, by ``--workers``
processes; the examples do not depend on how many.

The output folder is a Hugging Face checkpoint (config.json, model.safetensors,
tokenizer.model, tokenizer_config.json, special_tokens_map.json, a README.md model card that
names it toy-bonito); a checkpoint is written
every ``--save-every`` steps and at the end. The Mistral tokenizer comes from the
mistral-common wheel, or from ``$TOY_TOKENIZER`` on a machine without it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path

import sentencepiece
import torch
from transformers import MistralConfig, MistralForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bonito_lite.filters import quality_problem  # noqa: E402
from bonito_lite.inputs.chunking import Passage  # noqa: E402
from bonito_lite.prompt import ParsedExample, parse_generation  # noqa: E402
from bonito_lite.record import Record  # noqa: E402

import toy_corpus  # noqa: E402  (sibling scripts, not part of the package)
import toy_prose  # noqa: E402

BOS_ID, EOS_ID, UNK_ID = 1, 2, 0
IGNORE = -100
# Longer examples are dropped, not truncated, so the model never learns a completion cut in
# the middle. Most passages of the corpus fit; shorter sequences make quicker steps.
MAX_TRAIN_TOKENS = 320
DEFAULT_STEPS = 5000


def toy_config(hidden: int, layers: int, heads: int, kv_heads: int, ffn: int, tied: bool = True) -> MistralConfig:
    """A tiny Mistral. Training ties the output head to the embeddings (``tied``): a token the
    corpus never asks for then still gets a meaningful output row, so copying a word out of
    the passage works for words training never had to write. Checkpoints are saved untied,
    like Mistral-7B."""
    return MistralConfig(
        vocab_size=32000,
        hidden_size=hidden,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        sliding_window=None,
        tie_word_embeddings=tied,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=None,
    )


def model_from_gguf(path: Path) -> MistralForCausalLM:
    """A float32 model with the weights of a llama-architecture GGUF (F32, F16 or Q8_0).

    The converter permutes the rows of the Q and K projections for llama.cpp's RoPE layout;
    they are permuted back here, so that training can continue from a published toy.
    """
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(path)

    def value(key: str):
        return reader.get_field(key).contents()

    hidden, layers = value("llama.embedding_length"), value("llama.block_count")
    heads, kv_heads = value("llama.attention.head_count"), value("llama.attention.head_count_kv")
    # A GGUF without output.weight reads its output head from the embeddings (llama.cpp does too).
    tied = all(t.name != "output.weight" for t in reader.tensors)
    config = toy_config(hidden, layers, heads, kv_heads, value("llama.feed_forward_length"), tied=tied)
    names = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    parts = {
        "attn_norm": "input_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    state = {}
    for tensor in reader.tensors:
        shape = tuple(int(n) for n in reversed(tensor.shape.tolist()))
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
        name = tensor.name
        if name.startswith("blk."):
            _, block, part, kind = name.split(".")
            if part in ("attn_q", "attn_k"):
                n = heads if part == "attn_q" else kv_heads
                weights = weights.reshape(n, weights.shape[0] // n // 2, 2, -1).swapaxes(1, 2).reshape(shape)
            state[f"model.layers.{block}.{parts[part]}.{kind}"] = torch.from_numpy(weights.copy())
        else:
            state[names[name]] = torch.from_numpy(weights.copy())
    if tied:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model = MistralForCausalLM(config)
    model.load_state_dict(state)
    return model


def encode(sp: sentencepiece.SentencePieceProcessor, example: toy_corpus.Example):
    """Token ids (BOS + text + EOS) and labels: the completion and EOS; the prompt is masked."""
    ids = [BOS_ID] + sp.encode(example.text) + [EOS_ID]
    prompt_len = 1 + len(sp.encode(example.prompt))
    # The prompt ends in a newline (a byte token), so its tokens are a prefix of the text's;
    # training then sees the same prompt tokens llama.cpp will feed at generation time.
    assert ids[:prompt_len] == [BOS_ID] + sp.encode(example.prompt), "prompt is not a token prefix"
    labels = list(ids)
    labels[:prompt_len] = [IGNORE] * prompt_len
    return ids, labels


# Copying exercises (``--copy``): the longest stretch copied, and the blank line between a
# stretch and its copy.
COPY_MAX_TOKENS = 100
COPY_SEPARATOR = "\n\n"


def copy_stretch(rng: random.Random, sp: sentencepiece.SentencePieceProcessor) -> list[int]:
    """The tokens a copying exercise copies: training prose or a templated passage with half
    its longer words swapped for invented words, most cut into several pieces, so that it
    cannot be predicted from memory, only by looking back. (Pieces drawn from the whole
    vocabulary teach the same, but the model then writes stray pieces of other scripts.)"""
    if rng.random() < 0.5:
        source = rng.choice(toy_corpus.prose_pool())
    else:
        source = rng.choice(toy_corpus.DOMAINS)(rng).text
    stretch = sp.encode(toy_prose.perturbed(source, rng, share=0.5, split=0.7))
    start = rng.randrange(max(1, len(stretch) - COPY_MAX_TOKENS))
    return stretch[start : start + COPY_MAX_TOKENS]


def copy_row(rng: random.Random, separator: list[int], stretch: list[int]) -> tuple[list[int], list[int]]:
    """A copying exercise: the stretch, then after ``separator`` the stretch again, or runs of
    it (each after the separator, its first token given); the loss is on what is copied.

    The loss teaches the model to find where it is in the passage and go on from there, the
    step an extractive answer needs and the one a toy trained on tasks alone does poorly
    (run 2 predicts 36% of a held-out passage's tokens when shown it a second time).
    """
    ids = [BOS_ID, *stretch]
    labels = [IGNORE] * len(ids)
    if rng.random() < 0.5 or len(stretch) < 8:
        runs = [(0, len(stretch))]
    else:
        starts = sorted(rng.sample(range(len(stretch) - 3), min(4, len(stretch) - 3)))
        runs = [(s, min(len(stretch), s + rng.randint(3, 20))) for s in starts]
    for start, end in runs:
        given = 0 if (start, end) == (0, len(stretch)) else 1
        ids += separator + stretch[start:end]
        labels += [IGNORE] * (len(separator) + given) + stretch[start + given : end]
    return ids, labels


# The corpus is made in chunks of this many examples, each from its own seed (the first from
# the run's seed + 1), so that worker processes can make them in parallel and the examples do
# not depend on how many workers there are.
CORPUS_CHUNK = 20000


def _corpus_chunk(job: tuple[int, int, int, str, dict, float]) -> list[tuple[list[int], list[int]]]:
    """One chunk of tokenized examples no longer than ``max_tokens``, made with ``toy_corpus``'s
    settings changed as ``overrides`` says (set here: a worker process imports its own copy),
    ``copy_share`` of them copying exercises (:func:`copy_row`, from a generator of their own,
    so that a share of 0 leaves the examples as they were)."""
    count, seed, max_tokens, tokenizer_file, overrides, copy_share = job
    before = {name: getattr(*_setting(name)) for name in overrides}
    for name, value in overrides.items():
        setattr(*_setting(name), value)
    try:
        sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer_file)
        copies = round(count * copy_share)
        rows = [encode(sp, example) for example in toy_corpus.make_examples(count - copies, seed=seed)]
        copy_rng = random.Random(f"copy-{seed}")
        separator = sp.encode(COPY_SEPARATOR)
        rows += [copy_row(copy_rng, separator, copy_stretch(copy_rng, sp)) for _ in range(copies)]
        return [row for row in rows if len(row[0]) <= max_tokens]
    finally:
        for name, value in before.items():
            setattr(*_setting(name), value)


def _setting(name: str) -> tuple[object, str]:
    """The module and attribute an override names: ``toy_corpus``'s, or ``toy_prose``'s when
    written ``toy_prose.NAME``."""
    module, _, attribute = name.rpartition(".")
    return {"": toy_corpus, "toy_prose": toy_prose}[module], attribute


# An embedding row training has not or barely moved keeps about the norm it was initialised
# with: of the bundled toy's 32,000 rows, 14,542 are at 0.83-0.88 (never trained), 2,867 at
# 0.88-1.0 (barely: "Members" 0.945, "Rivers" 0.950) and 14,591 at 1.0-1.77. A word made of
# pieces under 1.0 is one the model cannot copy out of a passage: "Members", "sea",
# "Rivers" + "ide" were all answered wrong (BENCHMARKS.md).
UNLEARNT_NORM = 1.0
# With --new-words, the share of a perturbed paragraph's longer words swapped for them.
NEW_WORDS_SWAP_SHARE = 0.5


def unlearnt_rows(embeddings: torch.Tensor) -> torch.Tensor:
    """Which embedding rows are still near their initial norm (:data:`UNLEARNT_NORM`)."""
    return embeddings.detach().norm(dim=1) < UNLEARNT_NORM


def word_pool(sp: sentencepiece.SentencePieceProcessor, rows: torch.Tensor | None = None):
    """(capitalised words, lower-case words, word endings) for ``toy_prose.WORD_POOL``, made of
    the pieces ``rows`` marks (the unlearnt ones), or of every piece: the Latin-letter ones,
    which English documents are written in, words of two letters and more ("sea"), endings
    of up to ten. The corpus's own vocabulary stops at four letters and endings of six."""
    ids = range(sp.get_piece_size()) if rows is None else torch.nonzero(rows).flatten().tolist()
    pieces = (sp.id_to_piece(index) for index in ids)
    return toy_prose.words_by_kind(pieces, shortest=2, longest=15, longest_ending=10)


def train_new_words_only(model: MistralForCausalLM) -> torch.Tensor:
    """Freeze everything but the embedding rows :func:`unlearnt_rows` finds (the output head is
    the same matrix) and return their mask. The circuits a long run formed stay as they are;
    the words they never saw get rows those circuits can read and write."""
    embeddings = model.get_input_embeddings().weight
    if model.get_output_embeddings().weight is not embeddings:
        sys.exit("--new-words needs a model whose output head is its embeddings (a GGUF saved with --keep-tied)")
    unlearnt = unlearnt_rows(embeddings)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    embeddings.requires_grad_(True)
    rows = unlearnt.to(embeddings.dtype)[:, None]
    embeddings.register_hook(lambda grad: grad * rows)
    return unlearnt


def build_corpus(
    examples: int,
    seed: int,
    max_tokens: int,
    tokenizer_file: Path,
    workers: int,
    overrides: dict | None = None,
    copy_share: float = 0.0,
):
    """``examples`` training examples, tokenized, in chunk order (the same for any ``workers``)."""
    jobs = [
        (
            min(CORPUS_CHUNK, examples - start),
            seed + 1 + 1000 * (start // CORPUS_CHUNK),
            max_tokens,
            str(tokenizer_file),
            overrides or {},
            copy_share,
        )
        for start in range(0, examples, CORPUS_CHUNK)
    ]
    if workers <= 1 or len(jobs) == 1:
        return [row for chunk in map(_corpus_chunk, jobs) for row in chunk]
    import multiprocessing

    # Spawned, not forked: the parent may already hold torch's threads.
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        return [row for chunk in pool.imap(_corpus_chunk, jobs) for row in chunk]


def collate(rows):
    """Padded tensors (ids, labels, attention mask) of (ids, labels) rows."""
    width = max(len(x) for x, _ in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (x, y) in enumerate(rows):
        ids[row, : len(x)] = torch.tensor(x)
        labels[row, : len(y)] = torch.tensor(y)
        mask[row, : len(x)] = 1
    return ids, labels, mask


def batches(data, batch_size: int, rng: random.Random):
    """Endless batches of similar length (less padding), in random order."""
    while True:
        order = sorted(range(len(data)), key=lambda i: len(data[i][0]) + rng.random() * 40)
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(chunks)
        for chunk in chunks:
            yield collate([data[i] for i in chunk])


def save_checkpoint(
    model: MistralForCausalLM, folder: Path, tokenizer_file: Path, info: dict, keep_tied: bool = False
) -> None:
    """A Hugging Face checkpoint folder with the SentencePiece tokenizer beside the weights.

    The output head is saved as its own tensor, like Mistral-7B's, unless ``keep_tied``: then
    the checkpoint has none and the GGUF made from it neither (llama.cpp then reads the output
    head from the embeddings), which halves the vocabulary's share of the file.
    """
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tied = keep_tied and model.config.tie_word_embeddings
    saved = MistralForCausalLM(MistralConfig(**{**model.config.to_dict(), "tie_word_embeddings": tied}))
    state = {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings and not tied:
        state["lm_head.weight"] = model.get_input_embeddings().weight.detach().float().cpu().clone()
    saved.load_state_dict(state)
    saved.save_pretrained(tmp, safe_serialization=True)
    shutil.copyfile(tokenizer_file, tmp / "tokenizer.model")
    (tmp / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "add_bos_token": True,
                "add_eos_token": False,
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "model_max_length": 2048,
                "clean_up_tokenization_spaces": False,
                "legacy": True,
            },
            indent=2,
        )
        + "\n"
    )
    (tmp / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2) + "\n"
    )
    (tmp / "toy_training.json").write_text(json.dumps(info, indent=2) + "\n")
    # The model card, as the Hub lays one out: its front matter names the model in the GGUF
    # (general.name; otherwise the converter would name it after the folder, "Ckpt").
    (tmp / "README.md").write_text(
        "---\nmodel_name: toy-bonito\nlicense: apache-2.0\ntags:\n- bonito\n- toy\n---\n\n"
        "# toy-bonito\n\nA toy Bonito for demos and tests, trained by bonito-lite's "
        "scripts/train_toy_bonito.py; not a real model.\n"
    )
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def completion_loss(
    model: MistralForCausalLM, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy on the labelled positions, with the output head applied to those alone.

    Most tokens are the passage, whose predictions the loss ignores; projecting only the
    labelled positions onto the 32,000-word vocabulary saves most of a step's time.
    """
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = model.lm_head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def _example_record(task_type: str, context: str, task_input: str, output: str) -> Record:
    """An example as the quality filters judge it: a record of a one-passage run."""
    passage = Passage(context, "-", 0, 0, len(context))
    return Record.of_passage(passage, task_type, 0, "toy", 0).parsed(task_input, output)


@torch.no_grad()
def sample_rates(model, sp, count: int, seed: int, max_new_tokens: int = 128) -> tuple[dict, list[str]]:
    """Parse and filter rates of sampled generations (temperature 0.5, top-p 0.95) on passages
    the training set did not use: fresh templated passages and held-back prose paragraphs."""
    model.eval()
    rng = random.Random(seed)
    counts = {"parsed": 0, "kept": 0, "exqa": 0, "exqa_kept": 0}
    shown = []
    for n in range(count):
        task_type = toy_corpus.TRAINED_TASK_TYPES[n % len(toy_corpus.TRAINED_TASK_TYPES)]
        if n % 3 == 0:
            task_type = "extractive question answering"
        passage = toy_corpus.prose_passage(rng, monitor=True) if n % 2 else None
        example = toy_corpus.make_example(rng, task_type, passage)
        prompt = torch.tensor([[BOS_ID] + sp.encode(example.prompt)], device=model.device)
        torch.manual_seed(seed + n)
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=True,
            temperature=0.5,
            top_p=0.95,
            max_new_tokens=max_new_tokens,
            eos_token_id=EOS_ID,
            pad_token_id=EOS_ID,
        )
        text = sp.decode(out[0, prompt.shape[1] :].tolist())
        parsed = parse_generation(text, example.context)
        ok = isinstance(parsed, ParsedExample)
        kept = ok and quality_problem(_example_record(task_type, example.context, parsed.input, parsed.output)) is None
        counts["parsed"] += ok
        counts["kept"] += kept
        if task_type == "extractive question answering":
            counts["exqa"] += 1
            counts["exqa_kept"] += kept
        if len(shown) < 4:
            shown.append(f"[{task_type}] {text!r}")
    model.train()
    rates = {
        "parse_rate": counts["parsed"] / count,
        "keep_rate": counts["kept"] / count,
        "exqa_keep_rate": counts["exqa_kept"] / max(1, counts["exqa"]),
    }
    return rates, shown


@torch.no_grad()
def answer_probe(model, sp, count: int, seed: int) -> dict:
    """Given a gold extractive question on a passage training did not use, how often the
    greedy answer is the gold span, and how often it is some span of the passage."""
    from bonito_lite.filters import check_answer_in_passage, normalise

    model.eval()
    rng = random.Random(seed)
    exact = inside = 0
    for n in range(count):
        passage = toy_corpus.prose_passage(rng, monitor=True) if n % 2 else None
        example = toy_corpus.make_example(rng, "extractive question answering", passage)
        prefix = example.prompt + example.task_input + toy_corpus.PIPE
        ids = torch.tensor([[BOS_ID] + sp.encode(prefix)], device=model.device)
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=24,
            eos_token_id=EOS_ID,
            pad_token_id=EOS_ID,
        )
        answer = sp.decode(out[0, ids.shape[1] :].tolist())
        exact += normalise(answer) == normalise(example.task_output)
        judged = _example_record(example.task_type, example.context, example.task_input, answer)
        inside += check_answer_in_passage(judged) is None
    model.train()
    return {"gold_answer": exact / count, "answer_in_passage": inside / count}


@torch.no_grad()
def copy_probe(model, sp, count: int = 20) -> float:
    """Shown a held-back prose paragraph twice (a blank line between), the share of the second
    showing's tokens the model predicts (greedy): how well it goes on copying from a place it
    has found, the skill an extractive answer needs. Training never scores a passage's tokens,
    so a model that cannot copy stays near what it could guess without looking back."""
    model.eval()
    separator = sp.encode(COPY_SEPARATOR)
    right = total = 0
    for paragraph in toy_corpus.prose_pool(monitor=True)[:count]:
        stretch = sp.encode(paragraph)[:COPY_MAX_TOKENS]
        ids = torch.tensor([[BOS_ID, *stretch, *separator, *stretch]], device=model.device)
        start = 1 + len(stretch) + len(separator)
        guesses = model(ids).logits[0, start - 1 : -1].argmax(-1)
        right += int((guesses == ids[0, start:]).sum())
        total += len(stretch)
    model.train()
    return right / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("toy-bonito-checkpoint"), help="checkpoint folder to write")
    parser.add_argument(
        "--gguf", type=Path, default=None, help="also convert the final checkpoint to this GGUF (Q8_0, marked a toy)"
    )
    parser.add_argument(
        "--minutes", type=float, default=60.0, help="stop training after this long, even before --steps"
    )
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps (and the schedule's length)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--ffn", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--accumulate",
        type=int,
        default=1,
        help="batches whose gradients add up to one step (a large batch on a small machine)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=MAX_TRAIN_TOKENS,
        help="drop training examples longer than this many tokens (shorter: quicker steps)",
    )
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--examples", type=int, default=20000, help="training examples generated up front")
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--log-every", type=int, default=10, help="print the loss every N steps")
    parser.add_argument(
        "--eval-every", type=int, default=1000, help="measure sampled rates every N steps (0: at the end)"
    )
    parser.add_argument("--eval-samples", type=int, default=16)
    parser.add_argument(
        "--init-from", type=Path, help="start from this checkpoint folder or GGUF file instead of random weights"
    )
    parser.add_argument("--warmup", type=int, default=60, help="learning-rate warm-up steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", help="torch device to train on [default: cuda when there is one, else cpu]")
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="bfloat16 autocast (float32 weights and optimizer) or plain float32 [default: bfloat16 on a GPU, "
        "float32 on a CPU: bfloat16 is quicker only on CPUs with AVX512-BF16 or AMX]",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes that make the corpus")
    parser.add_argument(
        "--perturb-prose",
        type=float,
        default=0.0,
        help="share of prose passages with words swapped so they cannot be recalled (toy_corpus.PROSE_PERTURB_SHARE)",
    )
    parser.add_argument(
        "--split-words",
        type=float,
        default=0.0,
        help="share of invented words cut into several tokenizer pieces (toy_corpus.SPLIT_WORD_SHARE)",
    )
    parser.add_argument(
        "--drill",
        type=float,
        default=0.0,
        help="share of examples that are copy drills on swapped-word prose (toy_corpus.DRILL_SHARE)",
    )
    parser.add_argument(
        "--copy",
        type=float,
        default=0.0,
        help="share of training rows that are copying exercises (a stretch of tokens, then it again)",
    )
    parser.add_argument(
        "--task-weight",
        action="append",
        metavar="TYPE=WEIGHT",
        help="how often a task type is drawn relative to the others (toy_corpus.TASK_WEIGHTS); repeatable",
    )
    parser.add_argument(
        "--new-words",
        action="store_true",
        help="train only the embedding rows the --init-from model has not learnt, on a corpus whose invented "
        "and swapped words are made of those pieces (the rest of the model frozen)",
    )
    parser.add_argument(
        "--wide-words",
        action="store_true",
        help="draw invented and swapped words from every Latin-letter piece of two letters or more, endings of "
        "up to ten (toy_prose's vocabulary has four to twelve letters, endings of up to six)",
    )
    parser.add_argument(
        "--keep-tied",
        action="store_true",
        help="save the output head tied to the embeddings (no output.weight in the GGUF: a smaller file)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (on a busy machine 1 is quicker: a second thread on a busy core stalls both)",
    )
    args = parser.parse_args()
    if args.new_words and not args.init_from:
        parser.error("--new-words trains the words a trained model lacks: give it one with --init-from")
    if args.new_words and args.wide_words:
        parser.error("--new-words draws its words from the pieces it trains: leave out --wide-words")

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer_file = toy_prose.mistral_tokenizer_path()
    sp = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_file))

    started = time.monotonic()
    overrides: dict = {
        "PROSE_PERTURB_SHARE": args.perturb_prose,
        "SPLIT_WORD_SHARE": args.split_words,
        "DRILL_SHARE": args.drill,
    }
    if args.task_weight:
        weights = dict(toy_corpus.TASK_WEIGHTS)
        for item in args.task_weight:
            name, _, weight = item.rpartition("=")
            weights[toy_corpus.resolve_task_type(name).full_name] = float(weight)
        overrides["TASK_WEIGHTS"] = weights
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    # bfloat16 autocast keeps float32 master weights and optimizer state.
    bfloat16 = args.precision == "bfloat16" or (args.precision == "auto" and device.type == "cuda")
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bfloat16)

    if args.init_from and args.init_from.suffix == ".gguf":
        # Continue from a converted model, untied as it was trained (the size arguments are ignored).
        model = model_from_gguf(args.init_from)
    elif args.init_from:
        # Continue from an earlier checkpoint (the size arguments are then ignored).
        model = MistralForCausalLM.from_pretrained(args.init_from, dtype=torch.float32)
    else:
        model = MistralForCausalLM(toy_config(args.hidden, args.layers, args.heads, args.kv_heads, args.ffn))
    model.to(device)
    model.train()
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,} on {device}", flush=True)

    if args.wide_words:
        overrides["toy_prose.WORD_POOL"] = word_pool(sp)
    if args.new_words:
        unlearnt = train_new_words_only(model)
        overrides["toy_prose.WORD_POOL"] = pool = word_pool(sp, unlearnt.cpu())
        overrides["PROSE_SWAP_SHARE"] = NEW_WORDS_SWAP_SHARE
        print(
            f"new words: {int(unlearnt.sum()):,} unlearnt embedding rows give {len(pool[0]):,} capitalised words, "
            f"{len(pool[1]):,} lower-case words and {len(pool[2]):,} word endings",
            flush=True,
        )
    data = build_corpus(args.examples, args.seed, args.max_tokens, tokenizer_file, args.workers, overrides, args.copy)
    print(f"{len(data)} training examples tokenized in {time.monotonic() - started:.0f}s", flush=True)
    # No weight decay on the new words' rows: it would shrink every row, the learnt ones too.
    decay = 0.0 if args.new_words else 0.01
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=decay, betas=(0.9, 0.98))
    warmup = max(1, min(args.warmup, args.steps // 10))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        # Whichever limit is nearer sets the schedule, so that a slow or busy machine still
        # anneals the learning rate before --minutes runs out.
        by_steps = (step - warmup) / max(1, args.steps - warmup)
        by_time = (time.monotonic() - train_start) / (args.minutes * 60)
        progress = min(1.0, max(by_steps, by_time))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    train_start = time.monotonic()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    stream = batches(data, args.batch_size, random.Random(args.seed))
    deadline = train_start + args.minutes * 60
    recent: list[torch.Tensor] = []
    step = 0
    info: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    while step < args.steps and time.monotonic() < deadline:
        for _ in range(args.accumulate):
            ids, labels, mask = (t.to(device, non_blocking=True) for t in next(stream))
            with autocast:
                loss = completion_loss(model, ids, labels, mask)
            (loss / args.accumulate).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        # Kept as tensors: reading a loss waits for the GPU, so it is read only to print.
        recent = (recent + [loss.detach()])[-20:]
        last = step >= args.steps or time.monotonic() >= deadline
        if step % args.log_every == 0 or step % args.save_every == 0 or last:
            info.update(
                steps=step,
                loss=round(float(sum(recent)) / len(recent), 4),
                train_minutes=round((time.monotonic() - train_start) / 60, 2),
            )
            print(
                f"step {step} loss {info['loss']:.3f} lr {scheduler.get_last_lr()[0]:.2e} {info['train_minutes']:.1f} min",
                flush=True,
            )
        if args.eval_every and step % args.eval_every == 0:
            rates, shown = sample_rates(model, sp, args.eval_samples, seed=10_000 + args.seed)
            rates.update(answer_probe(model, sp, args.eval_samples, seed=20_000 + args.seed))
            rates["copied"] = round(copy_probe(model, sp), 3)
            print(f"step {step} {rates}", *shown, sep="\n  ", flush=True)
        if step % args.save_every == 0:
            save_checkpoint(model, args.output, tokenizer_file, info, args.keep_tied)
    rates, shown = sample_rates(model, sp, args.eval_samples, seed=10_000 + args.seed)
    info.update(rates)
    save_checkpoint(model, args.output, tokenizer_file, info, args.keep_tied)
    print(
        f"done: {step} steps, loss {info['loss']}, {info['train_minutes']} min, {rates}", *shown, sep="\n  ", flush=True
    )
    if args.gguf:
        from bonito_lite.models.convert import convert_checkpoint

        convert_checkpoint(source=str(args.output), output=args.gguf, quant="Q8_0", toy=True, overwrite=True)
        print(f"wrote {args.gguf} ({args.gguf.stat().st_size / 2**20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
