#!/usr/bin/env python3
"""Benchmark converting a bonito-v1-shaped checkpoint to Q4_K_M, beside llama.cpp's own tools.

Writes a random-weight checkpoint of bonito-v1's exact shape (32 layers, hidden 4096,
32 heads, 8 KV heads, FFN 14336, vocab 32000, bf16, 3 safetensors shards: 14.5 GB) with
numpy, then runs each stage in its own process under ``/usr/bin/time -v``:

  ours       BF16 GGUF from the checkpoint      bonito-lite convert --quant BF16
  ours       Q4_K_M from that BF16 GGUF         bonito_lite.models.quantize.quantize_gguf
  llama.cpp  BF16 GGUF from the checkpoint      convert_hf_to_gguf.py --outtype bf16
  llama.cpp  Q4_K_M from that BF16 GGUF         llama_model_quantize called directly

and prints a Markdown table of wall time and peak RSS per stage (append it to
BENCHMARKS.md). Each large file is deleted as soon as no stage needs it; about 35 GB of
free disk are needed at the peak, checked first. With ``--compare`` the two BF16 files are
also compared tensor by tensor (scripts/compare_with_llama_cpp_converter.py).

    python scripts/bench_convert.py --workdir /path/with/35GB
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bonito_v1_config import BONITO_V1_CONFIG  # noqa: E402  (a sibling script)

# llama.cpp's source tree, as it ships in the llama-cpp-python sdist
# (`pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36`, unpacked: vendor/llama.cpp).
LLAMA_CPP_ENV = "LLAMA_CPP_DIR"
DEFAULT_LLAMA_CPP = Path(os.environ[LLAMA_CPP_ENV]) if os.environ.get(LLAMA_CPP_ENV) else None
NEEDED_BYTES = 35 * 10**9
SCRIPTS = Path(__file__).resolve().parent


def bonito_v1_tensors(config: dict) -> list[tuple[str, tuple[int, ...]]]:
    hidden, ffn, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    kv = hidden // config["num_attention_heads"] * config["num_key_value_heads"]
    tensors = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{i}."
        tensors += [
            (prefix + "input_layernorm.weight", (hidden,)),
            (prefix + "self_attn.q_proj.weight", (hidden, hidden)),
            (prefix + "self_attn.k_proj.weight", (kv, hidden)),
            (prefix + "self_attn.v_proj.weight", (kv, hidden)),
            (prefix + "self_attn.o_proj.weight", (hidden, hidden)),
            (prefix + "post_attention_layernorm.weight", (hidden,)),
            (prefix + "mlp.gate_proj.weight", (ffn, hidden)),
            (prefix + "mlp.up_proj.weight", (ffn, hidden)),
            (prefix + "mlp.down_proj.weight", (hidden, ffn)),
        ]
    tensors += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]
    return tensors


def _random_bf16(rng: np.random.Generator, n: int, is_norm: bool) -> np.ndarray:
    values = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
    if is_norm:
        values += np.float32(1.0)
    # bf16 = the top 16 bits of a float32 (truncation is fine for random data).
    return (values.view(np.uint32) >> 16).astype(np.uint16)


def write_checkpoint(folder: Path, config: dict, shards: int = 3, seed: int = 0) -> None:
    """A bonito-v1-shaped bf16 safetensors checkpoint, written tensor by tensor."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = bonito_v1_tensors(config)
    total = sum(int(np.prod(s)) * 2 for _, s in tensors)
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in tensors:
        if size > total / shards * len(groups) and len(groups) < shards:
            groups.append([])
        groups[-1].append((name, shape))
        size += int(np.prod(shape)) * 2
    rng = np.random.default_rng(seed)
    weight_map = {}
    for index, group in enumerate(groups, start=1):
        file_name = f"model-{index:05d}-of-{len(groups):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in group:
            nbytes = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = file_name
        header_bytes = json.dumps(header).encode()
        header_bytes += b" " * (-len(header_bytes) % 8)
        with open(folder / file_name, "wb") as handle:
            handle.write(struct.pack("<Q", len(header_bytes)) + header_bytes)
            for name, shape in group:
                n = int(np.prod(shape))
                for start in range(0, n, 1 << 26):
                    _random_bf16(rng, min(1 << 26, n - start), name.endswith("norm.weight")).tofile(handle)
        print(f"  wrote {file_name}", file=sys.stderr)
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    )
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    sys.path.insert(0, str(SCRIPTS.parent / "tests"))
    from model_factory import _SPECIAL_TOKENS_MAP, _TOKENIZER_CONFIG, MISTRAL_TOKENIZER

    shutil.copyfile(MISTRAL_TOKENIZER, folder / "tokenizer.model")
    (folder / "tokenizer_config.json").write_text(json.dumps(_TOKENIZER_CONFIG, indent=2))
    (folder / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS_MAP, indent=2))


def timed(label: str, command: list[str]) -> dict:
    """Run a command under /usr/bin/time -v; wall seconds and peak RSS in MB."""
    print(f"- {label}: {' '.join(command)}", file=sys.stderr)
    started = time.monotonic()
    process = subprocess.run(
        ["/usr/bin/time", "-v", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.monotonic() - started
    if process.returncode != 0:
        sys.stderr.write(process.stderr[-3000:])
        raise SystemExit(f"{label} failed with status {process.returncode}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", process.stderr)[1])
    return {"stage": label, "seconds": wall, "peak_rss_mb": rss_kb / 1024}


QUANTIZE_WITH_LLAMA_CPP = (
    "import ctypes, sys, os, llama_cpp\n"
    "p = llama_cpp.llama_model_quantize_default_params()\n"
    "p.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M\n"
    "p.nthread = os.cpu_count()\n"
    "sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))\n"
)
QUANTIZE_WITH_OURS = (
    "import sys; from pathlib import Path; from bonito_lite.models.quantize import quantize_gguf\n"
    "quantize_gguf(Path(sys.argv[1]), Path(sys.argv[2]), 'Q4_K_M')\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="folder for the ~35 GB of files")
    parser.add_argument("--llama-cpp", type=Path, default=DEFAULT_LLAMA_CPP, required=DEFAULT_LLAMA_CPP is None)
    parser.add_argument("--compare", action="store_true", help="also compare the two BF16 files")
    parser.add_argument("--keep-checkpoint", action="store_true", help="reuse/keep the checkpoint")
    parser.add_argument("--layers", type=int, default=32, help="fewer layers for a quick trial run")
    args = parser.parse_args()
    config = dict(BONITO_V1_CONFIG, num_hidden_layers=args.layers)

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    checkpoint = work / "bonito-v1-shaped"
    have_checkpoint = (checkpoint / "model.safetensors.index.json").is_file()
    if free < NEEDED_BYTES - (14_500_000_000 if have_checkpoint else 0):
        raise SystemExit(f"{work} has {free / 1e9:.1f} GB free; the benchmark needs about 35 GB")

    if not have_checkpoint:
        started = time.monotonic()
        write_checkpoint(checkpoint, config)
        print(f"checkpoint written in {time.monotonic() - started:.0f} s", file=sys.stderr)

    python = sys.executable
    ours_bf16, ours_q4 = work / "ours.BF16.gguf", work / "ours.Q4_K_M.gguf"
    ref_bf16, ref_q4 = work / "llama-cpp.BF16.gguf", work / "llama-cpp.Q4_K_M.gguf"
    bonito_lite = [python, "-c", "from bonito_lite.cli import main; main()"]
    rows = [
        timed(
            "ours: checkpoint -> BF16 GGUF",
            [*bonito_lite, "convert", str(checkpoint), "--quant", "BF16", "-o", str(ours_bf16), "--overwrite"],
        ),
        timed("ours: BF16 -> Q4_K_M", [python, "-c", QUANTIZE_WITH_OURS, str(ours_bf16), str(ours_q4)]),
    ]
    sizes = {"ours Q4_K_M": ours_q4.stat().st_size}
    ours_q4.unlink()
    rows.append(
        timed(
            "llama.cpp: checkpoint -> BF16 GGUF (convert_hf_to_gguf.py)",
            [
                python,
                str(args.llama_cpp / "convert_hf_to_gguf.py"),
                str(checkpoint),
                "--outtype",
                "bf16",
                "--outfile",
                str(ref_bf16),
            ],
        )
    )
    if args.compare:
        sys.path.insert(0, str(SCRIPTS))
        from compare_with_llama_cpp_converter import compare

        problems = compare(ours_bf16, ref_bf16)
        print(f"BF16 files: {'EQUAL' if not problems else problems[:5]}", file=sys.stderr)
    ours_bf16.unlink()
    if not args.keep_checkpoint:
        shutil.rmtree(checkpoint)
    rows.append(
        timed(
            "llama.cpp: BF16 -> Q4_K_M (llama_model_quantize)",
            [python, "-c", QUANTIZE_WITH_LLAMA_CPP, str(ref_bf16), str(ref_q4)],
        )
    )
    sizes["llama.cpp Q4_K_M"] = ref_q4.stat().st_size
    ref_bf16.unlink()
    ref_q4.unlink()

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}")
    print("\n| stage | wall time | peak RSS |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['stage']} | {row['seconds']:.0f} s | {row['peak_rss_mb']:.0f} MB |")
    for name, size in sizes.items():
        print(f"\n{name}: {size / 1e9:.2f} GB", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
