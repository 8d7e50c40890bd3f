"""Our converter held against llama.cpp's own ``convert_hf_to_gguf.py``, tensor for tensor and
key for key (scripts/compare_with_llama_cpp_converter.py).

llama.cpp's converter ships in the llama-cpp-python sdist, not in the installed wheel;
``$LLAMA_CPP_DIR`` names that sdist or its unpacked ``vendor/llama.cpp`` (.ci/run downloads
the sdist of the installed version and sets it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SCRIPT = SCRIPTS / "compare_with_llama_cpp_converter.py"


@pytest.fixture(scope="module")
def llama_cpp_dir() -> str:
    where = os.environ.get("LLAMA_CPP_DIR")
    if not where:
        if os.environ.get("CI"):
            pytest.fail("LLAMA_CPP_DIR is not set; .ci/run sets it to the llama-cpp-python sdist")
        pytest.skip("set LLAMA_CPP_DIR to the llama-cpp-python sdist (or its vendor/llama.cpp) to compare")
    return where


def _compare_script(checkpoint: Path, llama_cpp: str, workdir: Path, *types: str) -> subprocess.CompletedProcess:
    args = [sys.executable, str(SCRIPT), str(checkpoint), "--llama-cpp", llama_cpp, "--workdir", str(workdir)]
    for outtype in types:
        args += ["--type", outtype]
    return subprocess.run(args, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_llama3_conversion_equals_llama_cpps(llama3_checkpoint, llama_cpp_dir, tmp_path):
    result = _compare_script(llama3_checkpoint, llama_cpp_dir, tmp_path, "f32", "q8_0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("  EQUAL") == 2, result.stdout
    # Every tensor, rope_freqs included (2 layers of 9, embeddings, head, final norm), and every
    # llama.* and tokenizer.* key.
    assert result.stdout.count("compared 22 tensors and 25 keys") == 2, result.stdout


@pytest.mark.slow
def test_mistral_conversion_equals_llama_cpps(tiny_checkpoint, llama_cpp_dir, tmp_path):
    result = _compare_script(tiny_checkpoint, llama_cpp_dir, tmp_path, "f32")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  EQUAL" in result.stdout and "compared 21 tensors" in result.stdout, result.stdout


def test_a_changed_rope_factor_is_a_mismatch(llama3_gguf_f32, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from compare_with_llama_cpp_converter import compare

    altered = shutil.copyfile(llama3_gguf_f32, tmp_path / "altered.gguf")
    (factors,) = [t for t in gguf.GGUFReader(altered, "r+").tensors if t.name == "rope_freqs.weight"]
    factors.data[-1] = 4.0
    factors.data.flush()
    assert compare(llama3_gguf_f32, llama3_gguf_f32) == []
    assert compare(altered, llama3_gguf_f32) == ["tensor rope_freqs.weight: values differ"]
