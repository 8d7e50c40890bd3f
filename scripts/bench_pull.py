"""Time `bonito-lite pull` on loopback: the download through huggingface-hub, the checks, the placing.

A bonito-v1-wide F16 GGUF (hidden 4096, FFN 14336, 32 heads, 8 KV heads, the real Mistral
vocabulary; --layers layers, 2 by default: 1.5 GB) is written as a sparse file and served by the
Hub stand-in of the tests (tests/hub_stand_in.py) on 127.0.0.1. In one run, against a plain
HTTP GET of the same file into a file (the baseline), it measures:

- a first pull (empty cache): listing, download, sha256, header check, placing in ./models/;
- the checks alone on the downloaded file: sha256, then the header read and shape/vocabulary match;
- a second pull of the same file (from the cache);
- placing by hard link against a copy: time and disk blocks added.

    python scripts/bench_pull.py --workdir bench-pull

Run from the repository root; the work folder is removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS.parent / "tests"))

REPO = "bench/bonito-wide-GGUF"
FILE = "bonito-wide.F16.gguf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=False)
    try:
        run(work, args.layers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, layers: int) -> None:
    from hub_stand_in import HubStandIn
    from model_factory import BONITO_V1_SHAPE, write_sparse_f16_gguf

    shape = {**BONITO_V1_SHAPE, "num_hidden_layers": layers}
    source = write_sparse_f16_gguf(work / FILE, **shape)
    size = source.stat().st_size
    print(f"served file: {FILE}, {size / 1e9:.2f} GB ({layers} layers of bonito-v1's width)")

    with HubStandIn() as hub:
        hub.repos[REPO] = {FILE: source}
        hub.sha256(source)  # the listing's sha256, computed before any timing
        # huggingface-hub reads its settings when first imported: set them before.
        os.environ.update(HF_HOME=str(work / "hf-home"), HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1")
        for name in [n for n in os.environ if "proxy" in n.lower() or n == "HF_HUB_OFFLINE"]:
            del os.environ[name]
        os.chdir(work)

        from bonito_lite.models import pull
        from bonito_lite.models.info import _read_model_info, read_model_info

        known = [
            pull.KnownModel(
                name="bench model",
                tokenizer="Mistral's",
                block_count=layers,
                embedding_length=shape["hidden_size"],
                feed_forward_length=shape["intermediate_size"],
                head_count=shape["num_attention_heads"],
                head_count_kv=shape["num_key_value_heads"],
                vocab_size=32000,
                vocab_sha256=pull.MISTRAL_VOCAB_SHA256,
            )
        ]

        started = time.perf_counter()
        with urllib.request.urlopen(f"{hub.url}/{REPO}/resolve/main/{FILE}") as response, open("raw.gguf", "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
        raw_s = time.perf_counter() - started
        Path("raw.gguf").unlink()

        started = time.perf_counter()
        first = pull.pull_model(REPO, quant="F16", progress=False, known=known)
        first_s = time.perf_counter() - started

        started = time.perf_counter()
        pull.file_sha256(first.path)
        sha_s = time.perf_counter() - started
        _read_model_info.cache_clear()  # the pull read this header: read it again, uncached
        started = time.perf_counter()
        pull.identify_bonito(read_model_info(first.path), known)
        header_s = time.perf_counter() - started

        started = time.perf_counter()
        pull.pull_model(REPO, quant="F16", output="models/again.gguf", progress=False, known=known)
        cached_s = time.perf_counter() - started

    blob = first.path.resolve()
    before = shutil.disk_usage(work).used
    started = time.perf_counter()
    os.link(blob, work / "linked.gguf")
    link_s = time.perf_counter() - started
    link_bytes = shutil.disk_usage(work).used - before
    before = shutil.disk_usage(work).used
    started = time.perf_counter()
    shutil.copyfile(blob, work / "copied.gguf")
    os.sync()
    copy_s = time.perf_counter() - started
    copy_bytes = shutil.disk_usage(work).used - before

    print(f"plain HTTP GET into a file (baseline): {raw_s:.2f} s ({size / raw_s / 1e6:.0f} MB/s)")
    print(f"first pull, empty cache:               {first_s:.2f} s = {first_s / raw_s:.2f} x the baseline")
    print(f"  of which sha256 of the file:         {sha_s:.2f} s = {sha_s / raw_s:.2f} x the baseline")
    print(f"  of which header read and match:      {header_s:.2f} s = {header_s / raw_s:.3f} x the baseline")
    print(f"second pull, from the cache:           {cached_s:.2f} s = {cached_s / first_s:.2f} x the first pull")
    print(f"placing by hard link:                  {link_s * 1e3:.1f} ms, {link_bytes / 1e6:.0f} MB of disk added")
    print(f"placing by copy:                       {copy_s:.2f} s, {copy_bytes / 1e6:.0f} MB of disk added")


if __name__ == "__main__":
    main()
