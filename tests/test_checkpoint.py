"""Finding a checkpoint, reading its config in both styles, and reading safetensors by hand."""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from bonito_lite.errors import CheckpointError, InputError, NetworkError
from bonito_lite.models.checkpoint import (
    SafetensorsCheckpoint,
    hyper_parameters,
    locate_checkpoint,
    read_config,
    read_safetensors_header,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bonito_v1_config import BONITO_V1_CONFIG  # noqa: E402  (a script beside the benchmarks)


def test_both_config_styles_give_the_same_hyper_parameters():
    new_style = dict(BONITO_V1_CONFIG)
    del new_style["torch_dtype"], new_style["rope_theta"]
    new_style.update(dtype="bfloat16", head_dim=128, rope_parameters={"rope_theta": 10000.0, "rope_type": "default"})
    old, new = hyper_parameters(BONITO_V1_CONFIG), hyper_parameters(new_style)
    assert old.rope_theta == new.rope_theta == 10000.0
    assert old.declared_dtype == new.declared_dtype == "bfloat16"
    assert old.rope_dimension_count == new.rope_dimension_count == 128
    assert (old.num_key_value_heads, old.num_attention_heads, old.vocab_size) == (8, 32, 32000)


def test_other_architectures_are_refused_naming_the_supported_ones():
    config = dict(BONITO_V1_CONFIG, architectures=["Qwen2ForCausalLM"])
    with pytest.raises(CheckpointError, match="Qwen2ForCausalLM.*MistralForCausalLM, LlamaForCausalLM"):
        hyper_parameters(config)


def test_scaled_rope_other_than_llama3_is_refused():
    config = dict(BONITO_V1_CONFIG, rope_scaling={"rope_type": "yarn", "factor": 4.0})
    with pytest.raises(CheckpointError, match="'yarn'; supported: plain RoPE and Llama 3.1's 'llama3'"):
        hyper_parameters(config)


def test_missing_config_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        read_config(tmp_path)


def _write_safetensors(path, tensors):
    save_file(tensors, str(path))
    return path


def test_reader_gives_each_tensor_as_a_memory_map(tmp_path):
    values = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5, -2], dtype=np.float16)}
    _write_safetensors(tmp_path / "model.safetensors", values)
    checkpoint = SafetensorsCheckpoint(tmp_path)
    assert sorted(checkpoint.names()) == ["a", "b"]
    loaded = checkpoint.load("a")
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, values["a"])
    np.testing.assert_array_equal(checkpoint.load("b"), values["b"])


def test_bf16_is_read_as_its_bit_patterns(tmp_path):
    import torch
    from safetensors.torch import save_file as save_torch

    tensor = torch.tensor([[1.0, -2.5], [0.15625, 3e38]], dtype=torch.bfloat16)
    save_torch({"w": tensor}, str(tmp_path / "model.safetensors"))
    loaded = SafetensorsCheckpoint(tmp_path).load("w")
    assert loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded, tensor.view(torch.int16).numpy().view(np.uint16))


def test_sharded_checkpoint_is_read_through_its_index(tmp_path):
    _write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {"x": np.ones(4, np.float32)})
    _write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"y": np.zeros(2, np.float32)})
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})
    )
    checkpoint = SafetensorsCheckpoint(tmp_path)
    assert sorted(checkpoint.names()) == ["x", "y"]
    np.testing.assert_array_equal(checkpoint.load("x"), np.ones(4))


def test_missing_shard_is_reported(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "model-00001-of-00002.safetensors"}})
    )
    with pytest.raises(CheckpointError, match="model-00001-of-00002.safetensors, which is missing"):
        SafetensorsCheckpoint(tmp_path)


def test_truncated_file_is_detected_from_the_header(tmp_path):
    path = _write_safetensors(tmp_path / "model.safetensors", {"w": np.ones((64, 64), np.float32)})
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        read_safetensors_header(path)
    path.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="truncated"):
        read_safetensors_header(path)


def test_header_size_beyond_the_file_is_detected(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
        read_safetensors_header(path)


def test_unsupported_weight_dtype_is_refused(tmp_path):
    _write_safetensors(tmp_path / "model.safetensors", {"w": np.ones(4, np.int64)})
    with pytest.raises(CheckpointError, match="I64.*BF16, F16 and F32"):
        SafetensorsCheckpoint(tmp_path)


def test_pickled_checkpoint_is_refused_without_being_opened(tmp_path):
    # Not a pickle at all: were it unpickled, the error would be different.
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04 this is not read")
    with pytest.raises(CheckpointError, match="only pickled weights"):
        SafetensorsCheckpoint(tmp_path)


def test_local_folder_wins_over_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "owner" / "model").mkdir(parents=True)
    location = locate_checkpoint("owner/model")
    assert location.folder == tmp_path / "owner" / "model"
    assert location.repo_id is None


def test_missing_folder_that_is_not_a_hub_id_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        locate_checkpoint(tmp_path / "absent" / "deeper")


def test_file_instead_of_folder_is_reported(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="is a file"):
        locate_checkpoint(tmp_path / "model.safetensors")


@pytest.fixture
def offline_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


@pytest.mark.slow
def test_cached_hub_checkpoint_is_used_offline(offline_hub_cache, tiny_checkpoint):
    commit = "aa" * 20
    repo = offline_hub_cache / "models--BatsResearch--bonito-v1"
    shutil.copytree(tiny_checkpoint, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    location = locate_checkpoint("BatsResearch/bonito-v1")
    assert location.folder == repo / "snapshots" / commit
    assert (location.repo_id, location.revision) == ("BatsResearch/bonito-v1", commit)


def test_uncached_hub_checkpoint_offline_is_a_network_error(offline_hub_cache):
    with pytest.raises(NetworkError, match="not in the local Hugging Face cache"):
        locate_checkpoint("BatsResearch/bonito-v1")


def test_a_hub_that_accepts_the_connection_and_never_answers_is_given_up_on(tmp_path):
    # A stuck proxy or a captive portal: convert gives up after the timeout, with one line.
    import socket
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not _hub_setting(k)}
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        env.update(
            HF_HOME=str(tmp_path / "hf-home"),
            HF_ENDPOINT=f"http://127.0.0.1:{server.getsockname()[1]}",
            HF_HUB_DOWNLOAD_TIMEOUT="2",
            HF_HUB_DISABLE_TELEMETRY="1",
        )
        proc = subprocess.run(
            [sys.executable, "-m", "bonito_lite", "convert", "someone/model", "-o", str(tmp_path / "m.gguf")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: someone/model is not in the local Hugging Face cache and the hub cannot")
    assert "Traceback" not in proc.stderr


def test_a_checkpoint_downloaded_once_is_found_offline_and_when_the_hub_is_unreachable(tmp_path, tiny_checkpoint):
    import subprocess

    from hub_stand_in import COMMIT, HubStandIn

    locate = "from bonito_lite.models.checkpoint import locate_checkpoint as l; c = l('org/tiny'); print(c.folder, c.revision)"
    env = {k: v for k, v in os.environ.items() if not _hub_setting(k)}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DOWNLOAD_TIMEOUT="60")

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", locate], env={**env, **extra}, capture_output=True, text=True, timeout=120
        )

    with HubStandIn() as hub:
        hub.repos["org/tiny"] = {p.name: p.read_bytes() for p in tiny_checkpoint.iterdir() if p.is_file()}
        online = run(HF_ENDPOINT=hub.url)
    assert online.returncode == 0, online.stderr
    folder, revision = online.stdout.split()
    assert revision == COMMIT and (Path(folder) / "config.json").is_file()
    # The cache learnt which commit "main" names: found again without the Hub.
    for extra in ({"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": hub.url}):  # the stand-in is stopped now
        again = run(**extra)
        assert again.returncode == 0, again.stderr
        assert again.stdout.split() == [folder, revision]


def _hub_setting(name: str) -> bool:
    """An environment variable that steers the Hub's client: left out of a test's own process,
    since a command run earlier in the session (generate goes offline) may have set it."""
    return name.startswith(("HF_", "HUGGINGFACE_")) or name == "TRANSFORMERS_OFFLINE" or "proxy" in name.lower()
