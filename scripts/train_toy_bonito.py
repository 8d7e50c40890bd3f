"""Train the toy Bonito: a tiny Mistral-architecture model that writes ``input<|pipe|> output``.

The toy is a demo, labelled a toy wherever it is used, but it should behave like a small
Bonito: write every task type, with extractive answers copied from the passage and options
laid out as the quality filters read them. It is trained on the examples of
``toy_corpus.py`` (templated passages and real prose, see there) with the real Mistral
tokenizer, so the GGUF made from it exercises the same tokenizer path as bonito-v1, and it is
converted by the project's own converter (Q8_0, marked a toy)::

    python scripts/train_toy_bonito.py --output toy-ckpt --gguf toy-bonito.gguf

trains from random weights (seeded) for ``--steps`` (5000 of 8 examples) or at most
``--minutes`` (60), whichever comes first: the learning-rate schedule follows whichever
limit is nearer, so a busy machine still anneals (on an idle one the steps set it, and the
run is repeatable). From scratch the embeddings and the output head are one matrix while
training (a word the corpus never asks the model to write still has a meaningful output row,
which is what copying it from a passage needs) and are saved as two, like Mistral-7B's.

The bundled ``bonito_lite/data/toy-bonito.gguf`` is the output of that command (this
script and corpus as of the commit that bundled it), unchanged: two torch threads on a
2-core x86-64 machine, 37 minutes of training (0.35-0.7 s a step, the second core shared
part of the time), loss 0.91, plus half a minute to build the corpus and a few minutes of
sampled checks. Every ``--eval-every`` steps it prints sampled parse and keep rates and
:func:`answer_probe` (given a gold extractive question on an unseen passage, is the greedy
answer the gold span, or any span?); they draw their own seeds and leave training as it is.
``--threads 1`` gives a slightly different model (float sums in another order), in about
45 minutes with the other core busy. On the held-out documents (``scripts/measure_toy.py``)
it meets 14 of the 16 targets; BENCHMARKS.md has the counts, and the toys before it.

What it does not learn in that budget: to copy a span out of a passage it never saw. Its
extractive questions and answers come from what it remembers of the corpus (BENCHMARKS.md
has the counts, and what was tried: a corpus of extractive questions alone, a warm-up on
copying pieces of passages, questions about the first sentence).

The output folder is a Hugging Face checkpoint (config.json, model.safetensors,
tokenizer.model, tokenizer_config.json, special_tokens_map.json); a checkpoint is written
every ``--save-every`` steps and at the end. Seeds are fixed, but CPU kernels, thread counts
and the time limit (on a busy machine) still make two runs differ slightly.
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

import toy_corpus  # noqa: E402  (a sibling script, not part of the package)

BOS_ID, EOS_ID, UNK_ID = 1, 2, 0
IGNORE = -100
# Longer examples are dropped, not truncated, so the model never learns a completion cut in
# the middle. Most passages of the corpus fit; shorter sequences make quicker steps.
MAX_TRAIN_TOKENS = 320
DEFAULT_STEPS = 5000


def mistral_tokenizer_path() -> Path:
    """The Mistral-7B SentencePiece model that ships in the mistral-common wheel."""
    import mistral_common

    path = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    if not path.is_file():
        sys.exit(f"{path} not found: install mistral-common==1.3.0 (pip install -e '.[dev]')")
    return path


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
    config = toy_config(hidden, layers, heads, kv_heads, value("llama.feed_forward_length"), tied=False)
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


def save_checkpoint(model: MistralForCausalLM, folder: Path, tokenizer_file: Path, info: dict) -> None:
    """A Hugging Face checkpoint folder with the SentencePiece tokenizer beside the weights."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    untied = MistralForCausalLM(MistralConfig(**{**model.config.to_dict(), "tie_word_embeddings": False}))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state["lm_head.weight"] = model.get_input_embeddings().weight.detach().clone()
    untied.load_state_dict(state)
    untied.save_pretrained(tmp, safe_serialization=True)
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
        prompt = torch.tensor([[BOS_ID] + sp.encode(example.prompt)])
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
        ids = torch.tensor([[BOS_ID] + sp.encode(prefix)])
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
        "--max-tokens",
        type=int,
        default=MAX_TRAIN_TOKENS,
        help="drop training examples longer than this many tokens (shorter: quicker steps)",
    )
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--examples", type=int, default=20000, help="training examples generated up front")
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument(
        "--eval-every", type=int, default=1000, help="measure sampled rates every N steps (0: at the end)"
    )
    parser.add_argument("--eval-samples", type=int, default=16)
    parser.add_argument(
        "--init-from", type=Path, help="start from this checkpoint folder or GGUF file instead of random weights"
    )
    parser.add_argument("--warmup", type=int, default=60, help="learning-rate warm-up steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (on a busy machine 1 is quicker: a second thread on a busy core stalls both)",
    )
    args = parser.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer_file = mistral_tokenizer_path()
    sp = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_file))

    started = time.monotonic()
    data = []
    for example in toy_corpus.make_examples(args.examples, seed=args.seed + 1):
        ids, labels = encode(sp, example)
        if len(ids) <= args.max_tokens:
            data.append((ids, labels))
    print(f"{len(data)} training examples tokenized in {time.monotonic() - started:.0f}s", flush=True)

    if args.init_from and args.init_from.suffix == ".gguf":
        # Continue from a converted model, untied as it was trained (the size arguments are ignored).
        model = model_from_gguf(args.init_from)
    elif args.init_from:
        # Continue from an earlier checkpoint (the size arguments are then ignored).
        model = MistralForCausalLM.from_pretrained(args.init_from, dtype=torch.float32)
    else:
        model = MistralForCausalLM(toy_config(args.hidden, args.layers, args.heads, args.kv_heads, args.ffn))
    model.train()
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}", flush=True)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
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
    recent: list[float] = []
    step = 0
    info: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    while step < args.steps and time.monotonic() < deadline:
        ids, labels, mask = next(stream)
        loss = completion_loss(model, ids, labels, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        recent = (recent + [loss.item()])[-20:]
        if step % 10 == 0:
            elapsed = time.monotonic() - train_start
            print(
                f"step {step} loss {sum(recent) / len(recent):.3f} lr {scheduler.get_last_lr()[0]:.2e} "
                f"{elapsed / 60:.1f} min",
                flush=True,
            )
        info.update(
            steps=step,
            loss=round(sum(recent) / len(recent), 4),
            train_minutes=round((time.monotonic() - train_start) / 60, 2),
        )
        if args.eval_every and step % args.eval_every == 0:
            rates, shown = sample_rates(model, sp, args.eval_samples, seed=10_000 + args.seed)
            rates.update(answer_probe(model, sp, args.eval_samples, seed=20_000 + args.seed))
            print(f"step {step} {rates}", *shown, sep="\n  ", flush=True)
        if step % args.save_every == 0:
            save_checkpoint(model, args.output, tokenizer_file, info)
    rates, shown = sample_rates(model, sp, args.eval_samples, seed=10_000 + args.seed)
    info.update(rates)
    save_checkpoint(model, args.output, tokenizer_file, info)
    print(
        f"done: {step} steps, loss {info['loss']}, {info['train_minutes']} min, {rates}", *shown, sep="\n  ", flush=True
    )
    if args.gguf:
        from bonito_lite.models.convert import convert_checkpoint

        convert_checkpoint(source=str(args.output), output=args.gguf, quant="Q8_0", toy=True, overwrite=True)
        print(f"wrote {args.gguf} ({args.gguf.stat().st_size / 2**20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
