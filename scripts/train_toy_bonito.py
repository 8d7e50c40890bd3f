"""Train the toy Bonito: a tiny Mistral-architecture model that writes ``input<|pipe|>output``.

Random weights never write ``<|pipe|>``; a few minutes of CPU training on the synthetic
examples of ``toy_corpus.py`` are enough for a model that follows Bonito's output format
(it is not a useful task generator: the bundled model is labelled a toy wherever it is used).
It uses the real Mistral tokenizer, so the GGUF made from it exercises the same tokenizer path
as bonito-v1.

    python scripts/train_toy_bonito.py --output /tmp/toy-bonito --minutes 15
    python -c "from bonito_lite.models.convert import convert_checkpoint; \\
        convert_checkpoint(source='/tmp/toy-bonito', output='bonito_lite/data/toy-bonito.gguf', quant='Q8_0', toy=True)"

The bundled ``bonito_lite/data/toy-bonito.gguf`` was made in two runs on 2 shared CPU cores
(about 300 steps, 36 minutes in all), then converted as above::

    python scripts/train_toy_bonito.py --output toy-a --loss-on all --steps 420 --minutes 22 \\
        --threads 1 --examples 20000
    python scripts/train_toy_bonito.py --output toy-b --init-from toy-a --loss-on all --steps 260 \\
        --minutes 14 --warmup 20 --lr 2e-3 --threads 2 --examples 20000 --seed 1

The second run added the handbook-page domain to the corpus. Loss on the whole text
(``--loss-on all``) parsed slightly more often through llama.cpp than loss on the
completion only (42 vs 40 of 44 samples after 22 minutes each), and reads more fluently.

The output folder is a Hugging Face checkpoint (config.json, model.safetensors,
tokenizer.model, tokenizer_config.json, special_tokens_map.json); a checkpoint is written
every ``--save-every`` steps and at the end. Seeds are fixed, but CPU kernels and thread
counts still make two runs differ slightly.
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
from bonito_lite.prompt import parse_generation  # noqa: E402

import toy_corpus  # noqa: E402  (a sibling script, not part of the package)

BOS_ID, EOS_ID, UNK_ID = 1, 2, 0
IGNORE = -100
# Passages of the corpus reach about 400 tokens; longer texts are dropped, not truncated,
# so the model never learns a completion cut in the middle.
MAX_TRAIN_TOKENS = 640


def mistral_tokenizer_path() -> Path:
    """The Mistral-7B SentencePiece model that ships in the mistral-common wheel."""
    import mistral_common

    path = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    if not path.is_file():
        sys.exit(f"{path} not found: install mistral-common==1.3.0 (pip install -e '.[dev]')")
    return path


def toy_config(hidden: int, layers: int, heads: int, kv_heads: int, ffn: int) -> MistralConfig:
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
        tie_word_embeddings=False,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=None,
    )


def encode(sp: sentencepiece.SentencePieceProcessor, example: toy_corpus.Example, loss_on: str):
    """Token ids (BOS + text + EOS) and labels; the prompt is masked when loss_on == "task"."""
    ids = [BOS_ID] + sp.encode(example.text) + [EOS_ID]
    prompt_len = 1 + len(sp.encode(example.prompt))
    # The prompt ends in a newline (a byte token), so its tokens are a prefix of the text's;
    # training then sees the same prompt tokens llama.cpp will feed at generation time.
    assert ids[:prompt_len] == [BOS_ID] + sp.encode(example.prompt), "prompt is not a token prefix"
    labels = list(ids)
    if loss_on == "task":
        labels[:prompt_len] = [IGNORE] * prompt_len
    return ids, labels


def batches(data, batch_size: int, rng: random.Random):
    """Endless batches of similar length (less padding), in random order."""
    while True:
        order = sorted(range(len(data)), key=lambda i: len(data[i][0]) + rng.random() * 40)
        chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(chunks)
        for chunk in chunks:
            width = max(len(data[i][0]) for i in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            labels = torch.full((len(chunk), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                x, y = data[i]
                ids[row, :len(x)] = torch.tensor(x)
                labels[row, :len(y)] = torch.tensor(y)
                mask[row, :len(x)] = 1
            yield ids, labels, mask


def save_checkpoint(model: MistralForCausalLM, folder: Path, tokenizer_file: Path, info: dict) -> None:
    """A Hugging Face checkpoint folder with the SentencePiece tokenizer beside the weights."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.copyfile(tokenizer_file, tmp / "tokenizer.model")
    (tmp / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "model_max_length": 2048,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
    }, indent=2) + "\n")
    (tmp / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2) + "\n")
    (tmp / "toy_training.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


@torch.no_grad()
def parse_rate(model, sp, count: int, seed: int, max_new_tokens: int = 256) -> tuple[float, list[str]]:
    """Share of sampled generations (temperature 0.5, top-p 0.95) that Bonito's parser keeps,
    on passages generated with a seed the training set did not use."""
    model.eval()
    rng = random.Random(seed)
    kept, shown = 0, []
    for n in range(count):
        task_type = toy_corpus.TRAINED_TASK_TYPES[n % len(toy_corpus.TRAINED_TASK_TYPES)]
        example = toy_corpus.make_example(rng, task_type)
        prompt = torch.tensor([[BOS_ID] + sp.encode(example.prompt)])
        torch.manual_seed(seed + n)
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, temperature=0.5,
                             top_p=0.95, max_new_tokens=max_new_tokens, eos_token_id=EOS_ID, pad_token_id=EOS_ID)
        text = sp.decode(out[0, prompt.shape[1]:].tolist())
        parsed = parse_generation(text, example.context)
        kept += hasattr(parsed, "input")
        if len(shown) < 4:
            shown.append(f"[{task_type}] {text!r}")
    model.train()
    return kept / count, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True, help="checkpoint folder to write")
    parser.add_argument("--minutes", type=float, default=15.0, help="stop training after this long")
    parser.add_argument("--steps", type=int, default=3000, help="stop after this many steps (and size the schedule)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--ffn", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--examples", type=int, default=40000, help="training examples generated up front")
    parser.add_argument("--loss-on", choices=["task", "all"], default="task",
                        help="task: loss only on what follows <|task|> (the completion); all: whole text")
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=0, help="measure the parse rate every N steps (0: at the end)")
    parser.add_argument("--eval-samples", type=int, default=20)
    parser.add_argument("--init-from", type=Path, help="start from this checkpoint folder instead of random weights")
    parser.add_argument("--warmup", type=int, default=100, help="learning-rate warm-up steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer_file = mistral_tokenizer_path()
    sp = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_file))

    started = time.monotonic()
    data = []
    for example in toy_corpus.make_examples(args.examples, seed=args.seed + 1):
        ids, labels = encode(sp, example, args.loss_on)
        if len(ids) <= MAX_TRAIN_TOKENS:
            data.append((ids, labels))
    print(f"{len(data)} training examples tokenized in {time.monotonic() - started:.0f}s", flush=True)

    if args.init_from:
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
        progress = min(1.0, (step - warmup) / max(1, args.steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    stream = batches(data, args.batch_size, random.Random(args.seed))
    deadline = time.monotonic() + args.minutes * 60
    train_start = time.monotonic()
    recent: list[float] = []
    step = 0
    info: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    while step < args.steps and time.monotonic() < deadline:
        ids, labels, mask = next(stream)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        recent = (recent + [loss.item()])[-20:]
        if step % 10 == 0:
            elapsed = time.monotonic() - train_start
            print(f"step {step} loss {sum(recent) / len(recent):.3f} lr {scheduler.get_last_lr()[0]:.2e} "
                  f"{elapsed / 60:.1f} min", flush=True)
        info.update(steps=step, loss=round(sum(recent) / len(recent), 4),
                    train_minutes=round((time.monotonic() - train_start) / 60, 2))
        if args.eval_every and step % args.eval_every == 0:
            rate, shown = parse_rate(model, sp, args.eval_samples, seed=10_000 + args.seed)
            print(f"step {step} parse rate {rate:.0%}", *shown, sep="\n  ", flush=True)
        if step % args.save_every == 0:
            save_checkpoint(model, args.output, tokenizer_file, info)
    save_checkpoint(model, args.output, tokenizer_file, info)
    rate, shown = parse_rate(model, sp, args.eval_samples, seed=10_000 + args.seed)
    info["parse_rate_transformers"] = rate
    save_checkpoint(model, args.output, tokenizer_file, info)
    print(f"done: {step} steps, loss {info['loss']}, {info['train_minutes']} min, parse rate {rate:.0%}",
          *shown, sep="\n  ", flush=True)


if __name__ == "__main__":
    main()
