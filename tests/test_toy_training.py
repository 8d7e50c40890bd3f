"""The toy's training script runs its whole recipe: corpus, steps, sampled checks, checkpoint, GGUF."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bonito_lite.models.info import read_model_info

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_toy_bonito.py"


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
