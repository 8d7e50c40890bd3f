#!/usr/bin/env python3
"""Hold our converter against llama.cpp's own ``convert_hf_to_gguf.py`` on one checkpoint.

Both convert the same checkpoint to the same type; the script then compares the two GGUF
files: tensor names, shapes, types and bytes (for a Llama 3.1 checkpoint, the computed
``rope_freqs`` tensor too), and every ``llama.*`` and ``tokenizer.*`` key (tokens, scores or
merges, token types, tokenizer model and pre-tokenizer, special ids, add-BOS/EOS flags).
``general.*`` keys are listed when they differ but do not fail the comparison (ours adds
licence and source keys), and our ``bonito.*`` keys are expected only in ours. Exit status 0
when everything that must match matches. llama.cpp's converter needs torch and transformers.

    python scripts/compare_with_llama_cpp_converter.py CHECKPOINT_FOLDER --type bf16

``--llama-cpp`` (or ``$LLAMA_CPP_DIR``) is llama.cpp's source folder, or the llama-cpp-python
sdist itself, from which the converter and its gguf-py are unpacked into the work folder:

    pip download --no-deps --no-binary :all: -d . llama-cpp-python==0.3.36
    python scripts/compare_with_llama_cpp_converter.py CHECKPOINT --llama-cpp llama_cpp_python-0.3.36.tar.gz
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

# llama.cpp's source tree, as it ships in the llama-cpp-python sdist
# (`pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36`, unpacked: vendor/llama.cpp).
LLAMA_CPP_ENV = "LLAMA_CPP_DIR"
DEFAULT_LLAMA_CPP = Path(os.environ[LLAMA_CPP_ENV]) if os.environ.get(LLAMA_CPP_ENV) else None
TYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0"}
COMPARED_PREFIXES = (
    "llama.",
    "tokenizer.",
    "general.file_type",
    "general.quantization_version",
    "general.architecture",
)


# What llama.cpp's converter needs from its source tree.
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def llama_cpp_source(given: Path, workdir: Path) -> Path:
    """The llama.cpp folder: ``given`` itself, or unpacked from a llama-cpp-python sdist."""
    if given.is_dir():
        return given
    with tarfile.open(given) as sdist:
        members = [
            m
            for m in sdist.getmembers()
            if "/vendor/llama.cpp/" in m.name and m.name.split("/vendor/llama.cpp/", 1)[1].startswith(CONVERTER_PARTS)
        ]
        if not members:
            raise SystemExit(f"{given} holds no vendor/llama.cpp/convert_hf_to_gguf.py; give a llama-cpp-python sdist")
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        sdist.extractall(workdir, members=members, **extra)
    return workdir / (members[0].name.split("/vendor/llama.cpp/", 1)[0] + "/vendor/llama.cpp")


def run_reference(llama_cpp: Path, checkpoint: Path, out: Path, outtype: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            str(llama_cpp / "convert_hf_to_gguf.py"),
            str(checkpoint),
            "--outfile",
            str(out),
            "--outtype",
            outtype,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def run_ours(checkpoint: Path, out: Path, outtype: str) -> float:
    from bonito_lite.models.convert import convert_checkpoint

    started = time.monotonic()
    convert_checkpoint(checkpoint, out, quant=TYPES[outtype], overwrite=True, progress=False)
    return time.monotonic() - started


def field_value(field):
    """A GGUF key's value as plain Python (lists for arrays, bytes for strings)."""
    from gguf import GGUFValueType

    if field.types and field.types[0] == GGUFValueType.ARRAY:
        if len(field.types) > 1 and field.types[1] == GGUFValueType.STRING:
            return [bytes(field.parts[i]) for i in field.data]
        return [np.asarray(field.parts[i]).tolist() for i in field.data]
    if field.types and field.types[0] == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]])
    return np.asarray(field.parts[field.data[0]]).tolist()


def compare(ours_path: Path, reference_path: Path) -> list[str]:
    """Differences that break equality, printing informational ones as it goes."""
    from gguf import GGUFReader

    ours, reference = GGUFReader(ours_path), GGUFReader(reference_path)
    problems: list[str] = []

    our_tensors = {t.name: t for t in ours.tensors}
    reference_tensors = {t.name: t for t in reference.tensors}
    for name in sorted(set(our_tensors) ^ set(reference_tensors)):
        where = "only ours" if name in our_tensors else "only llama.cpp's"
        problems.append(f"tensor {name}: {where}")
    for name in sorted(set(our_tensors) & set(reference_tensors)):
        a, b = our_tensors[name], reference_tensors[name]
        if a.tensor_type != b.tensor_type:
            problems.append(f"tensor {name}: type {a.tensor_type.name} vs {b.tensor_type.name}")
        elif list(a.shape) != list(b.shape):
            problems.append(f"tensor {name}: shape {list(a.shape)} vs {list(b.shape)}")
        elif not np.array_equal(np.asarray(a.data).view(np.uint8), np.asarray(b.data).view(np.uint8)):
            problems.append(f"tensor {name}: values differ")

    our_fields, reference_fields = ours.fields, reference.fields
    keys = sorted(set(our_fields) | set(reference_fields))
    for key in keys:
        if key.startswith("GGUF."):
            continue
        in_ours, in_reference = key in our_fields, key in reference_fields
        must_match = key.startswith(COMPARED_PREFIXES)
        if in_ours and in_reference:
            a, b = field_value(our_fields[key]), field_value(reference_fields[key])
            if a != b:
                message = f"key {key}: {_short(a)} vs {_short(b)}"
                if must_match:
                    problems.append(message)
                else:
                    print(f"  (differs, not compared) {message}")
        elif must_match:
            problems.append(f"key {key}: {'only ours' if in_ours else 'only llama.cpp' + chr(39) + 's'}")
        elif not key.startswith("bonito."):
            print(
                f"  (only in {'ours' if in_ours else 'llama.cpp'}) {key} = {_short(field_value((our_fields if in_ours else reference_fields)[key]))}"
            )
    print(
        f"  compared {len(set(our_tensors) & set(reference_tensors))} tensors and"
        f" {sum(1 for k in keys if k.startswith(COMPARED_PREFIXES))} keys"
    )
    return problems


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 100 else text[:97] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        choices=sorted(TYPES),
        help="output type to compare (repeatable; default: f32, bf16, q8_0)",
    )
    parser.add_argument(
        "--llama-cpp",
        type=Path,
        default=DEFAULT_LLAMA_CPP,
        required=DEFAULT_LLAMA_CPP is None,
        help="llama.cpp source folder with convert_hf_to_gguf.py, or the llama-cpp-python sdist (.tar.gz)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the GGUF files")
    args = parser.parse_args()

    failed = False
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        llama_cpp = llama_cpp_source(args.llama_cpp, Path(workdir))
        for outtype in args.types or ["f32", "bf16", "q8_0"]:
            ours_path = Path(workdir) / f"ours.{outtype}.gguf"
            reference_path = Path(workdir) / f"llama-cpp.{outtype}.gguf"
            ours_seconds = run_ours(args.checkpoint, ours_path, outtype)
            reference_seconds = run_reference(llama_cpp, args.checkpoint, reference_path, outtype)
            print(f"{outtype}: ours {ours_seconds:.1f} s, llama.cpp's {reference_seconds:.1f} s")
            problems = compare(ours_path, reference_path)
            for problem in problems:
                print(f"  MISMATCH {problem}")
            print(f"  {'EQUAL' if not problems else f'{len(problems)} mismatches'}")
            failed = failed or bool(problems)
            os.remove(ours_path)
            os.remove(reference_path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
