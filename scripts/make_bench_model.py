"""Write the 1.1 B-parameter random-weight Mistral-shaped checkpoint the generation benchmark uses.

22 layers, hidden 2048, FFN 5632, 32 heads, 4 KV heads, vocab 32000 (TinyLlama's shape in
Mistral's architecture), bf16 safetensors with the real Mistral tokenizer, then converted by
bonito-lite to Q4_K_M. Random weights never emit the end token, so every system benchmarked
generates exactly the number of tokens asked for.

    python scripts/make_bench_model.py /tmp/bench-model
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bonito_lite.models.convert import convert_checkpoint  # noqa: E402

from model_factory import write_tiny_checkpoint  # noqa: E402

SHAPE = dict(
    hidden_size=2048,
    intermediate_size=5632,
    num_hidden_layers=22,
    num_attention_heads=32,
    num_key_value_heads=4,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path, help="folder for the checkpoint and the GGUF")
    parser.add_argument("--quant", default="Q4_K_M")
    args = parser.parse_args()
    checkpoint = args.workdir / "checkpoint"
    if not (checkpoint / "config.json").exists():
        write_tiny_checkpoint(checkpoint, dtype="bfloat16", seed=0, **SHAPE)
    output = args.workdir / f"random-1.1b.{args.quant}.gguf"
    if not output.exists():
        convert_checkpoint(checkpoint, output, quant=args.quant, progress=False)
    print(output)


if __name__ == "__main__":
    main()
