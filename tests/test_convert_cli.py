"""``bonito-lite convert``: a summary on success, a one-line error and its exit code otherwise."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple

import pytest

from bonito_lite.models import convert

from cli_helpers import assert_one_line_error, run_cli


@pytest.fixture
def run(in_tmp):
    """``bonito-lite convert ARGS...`` in the test's own folder."""

    def invoke(*args):
        return run_cli(["convert", *map(str, args)])

    return invoke


@pytest.fixture
def checkpoint_copy(tmp_path, tiny_checkpoint):
    return shutil.copytree(tiny_checkpoint, tmp_path / "copy")


def test_convert_writes_the_default_file_and_a_summary(run, tmp_path, tiny_checkpoint):
    result = run(tiny_checkpoint, "--quant", "q8_0")
    assert result.exit_code == 0, result.output
    output = tmp_path / "models" / "tiny-bonito.Q8_0.gguf"
    assert output.is_file()
    (summary,) = result.stdout.strip().splitlines()
    assert summary.startswith("Wrote models/tiny-bonito.Q8_0.gguf (")
    assert ", Q8_0) in " in summary and summary.endswith(" s")


def test_missing_folder(run, tmp_path):
    assert_one_line_error(run(tmp_path / "nowhere" / "x" / "y"), 2, "no such folder")


def test_folder_without_config(run, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run(tmp_path / "empty"), 2, "has no config.json")


def test_unsupported_architecture(run, checkpoint_copy):
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    (checkpoint_copy / "config.json").write_text(json.dumps(config))
    assert_one_line_error(run(checkpoint_copy), 2, "unsupported architecture GPT2LMHeadModel")


def test_pickled_weights_only(run, checkpoint_copy):
    (checkpoint_copy / "model.safetensors").unlink()
    (checkpoint_copy / "pytorch_model.bin").write_bytes(b"\x80\x04not read")
    assert_one_line_error(run(checkpoint_copy), 2, "only pickled weights")


def test_truncated_safetensors(run, checkpoint_copy):
    weights = checkpoint_copy / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    assert_one_line_error(run(checkpoint_copy), 2, "truncated")


def test_a_missing_layer_tensor_is_refused_before_anything_is_written(run, checkpoint_copy, tmp_path):
    from safetensors.torch import load_file, save_file

    weights = load_file(checkpoint_copy / "model.safetensors")
    del weights["model.layers.1.mlp.up_proj.weight"]
    save_file(weights, checkpoint_copy / "model.safetensors", metadata={"format": "pt"})
    output = tmp_path / "out.gguf"
    assert_one_line_error(run(checkpoint_copy, "-o", output), 2, "no tensor for blk.1.ffn_up.weight", "incomplete")
    assert not output.exists() and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("field", ["intermediate_size", "num_key_value_heads", "vocab_size"])
def test_a_config_that_does_not_describe_the_weights_is_refused(run, checkpoint_copy, tmp_path, field):
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config[field] = config[field] * 2
    (checkpoint_copy / "config.json").write_text(json.dumps(config))
    output = tmp_path / "out.gguf"
    message = assert_one_line_error(
        run(checkpoint_copy, "-o", output), 2, "config.json does not describe these weights"
    )
    assert "has shape" in message
    assert not output.exists()


def test_more_layers_in_the_config_than_in_the_weights_is_refused(run, checkpoint_copy):
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config["num_hidden_layers"] += 1
    (checkpoint_copy / "config.json").write_text(json.dumps(config))
    assert_one_line_error(run(checkpoint_copy), 2, "no tensor for blk.", "incomplete")


def test_unknown_quant_type(run, tiny_checkpoint):
    assert_one_line_error(run(tiny_checkpoint, "--quant", "Q5"), 2, "unknown quantization type 'Q5'")


def test_existing_output_needs_overwrite(run, tmp_path, tiny_checkpoint):
    output = tmp_path / "out.gguf"
    output.write_bytes(b"keep me")
    assert_one_line_error(run(tiny_checkpoint, "-o", output, "--quant", "F16"), 2, "pass --overwrite")
    assert output.read_bytes() == b"keep me"
    assert run(tiny_checkpoint, "-o", output, "--quant", "F16", "--overwrite").exit_code == 0
    assert output.read_bytes()[:4] == b"GGUF"


def test_too_little_disk(run, tmp_path, tiny_checkpoint, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(convert.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1000, 1000))
    assert_one_line_error(run(tiny_checkpoint, "-o", tmp_path / "out.gguf"), 1, "not enough free disk")
    assert not (tmp_path / "out.gguf").exists()


def test_checkpoint_without_a_tokenizer(run, checkpoint_copy):
    (checkpoint_copy / "tokenizer.model").unlink()
    assert_one_line_error(run(checkpoint_copy), 2, "has neither tokenizer.model", "nor tokenizer.json")


def test_warnings_are_one_prefixed_line_each(run, tiny_checkpoint):
    result = run(tiny_checkpoint, "--quant", "F16", "--revision", "v1")
    assert result.exit_code == 0, result.output
    # The progress bar shares stderr; the warning is a line of its own, with its prefix.
    warnings = [line for line in result.stderr.splitlines() if "--revision" in line]
    assert warnings == [f"Warning: --revision v1 ignored: {tiny_checkpoint} is a local folder"]


def test_verbose_logs_the_checkpoint_and_every_tensor_instead_of_bars(run, tiny_checkpoint):
    quiet = run(tiny_checkpoint, "--quant", "F16", "-o", "quiet.gguf")
    verbose = run(tiny_checkpoint, "--quant", "F16", "-o", "verbose.gguf", "-v")
    assert quiet.exit_code == verbose.exit_code == 0, verbose.output
    lines = verbose.stderr.splitlines()
    assert lines[0].startswith(f"{tiny_checkpoint}: MistralForCausalLM, 2 layers, hidden size ")
    mapped = [line for line in lines if " -> " in line]
    assert any(
        line.startswith("model.layers.1.self_attn.q_proj.weight -> blk.1.attn_q.weight F16 [") for line in mapped
    ), lines
    assert lines[-1].startswith("wrote verbose.gguf (F16, ")
    assert len(mapped) == len(lines) - 2  # nothing else: no progress bar, no llama.cpp log
    assert " -> " not in quiet.stderr


@pytest.mark.parametrize("name", ["config.json", "tokenizer.model", "tokenizer_config.json"])
def test_a_checkpoint_file_that_cannot_be_opened_is_named_as_such(run, checkpoint_copy, monkeypatch, name):
    # Tests may run as root, who opens any file: the refusal is made where the file is opened.
    from pathlib import Path

    from bonito_lite.models import convert_vocab

    locked = str(checkpoint_copy / name)
    real_read_text, real_open = Path.read_text, open

    def read_text(self, *args, **kwargs):
        if str(self) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_read_text(self, *args, **kwargs)

    def opener(path, *args, **kwargs):
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(convert_vocab, "open", opener, raising=False)
    assert_one_line_error(run(checkpoint_copy), 2, f"{name} cannot be read (permission denied)")


def test_a_missing_output_head_is_refused_when_the_config_says_it_is_not_tied(run, checkpoint_copy, tmp_path):
    from safetensors.torch import load_file, save_file

    config = json.loads((checkpoint_copy / "config.json").read_text())
    assert config.get("tie_word_embeddings") is False  # the tiny checkpoint has its own lm_head
    weights = load_file(checkpoint_copy / "model.safetensors")
    del weights["lm_head.weight"]
    save_file(weights, checkpoint_copy / "model.safetensors", metadata={"format": "pt"})
    output = tmp_path / "out.gguf"
    assert_one_line_error(run(checkpoint_copy, "-o", output), 2, "no tensor for output.weight (lm_head)", "not tied")
    assert not output.exists()


@pytest.mark.slow
def test_sigterm_during_a_conversion_leaves_no_partial_file(tmp_path, llama3_checkpoint):
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != "BONITO_LITE_DEBUG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bonito_lite", "convert", str(llama3_checkpoint), "--quant", "Q4_K_M", "-o", "l.gguf"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".*partial*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Terminated." in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []  # the intermediate and the partial output are gone


def test_an_output_that_is_stdout_or_a_file_of_the_checkpoint_is_refused(run, checkpoint_copy):
    assert_one_line_error(run(checkpoint_copy, "-o", "-"), 2, "not standard output")
    weights = checkpoint_copy / "model.safetensors"
    before = weights.read_bytes()
    assert_one_line_error(run(checkpoint_copy, "-o", weights, "--overwrite"), 2, "is a file of the checkpoint")
    assert weights.read_bytes() == before
