"""``generate`` and local conversion work with the network impossible, and never try to reach it.

Each command runs in a real subprocess whose Python sockets are replaced, through a
``sitecustomize`` module, by ones that refuse and record every attempt (connect, name lookup).
Where ``unshare -n`` works (Linux, as root or with user namespaces), the subprocess also runs in
a new network namespace with no interface but loopback, so that not even native code (llama.cpp)
could reach anything. The tests pass only if the command succeeds and no attempt was recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_helpers import SAMPLE
from model_factory import write_tiny_checkpoint

_GUARD = textwrap.dedent(
    """
    # Installed by tests/test_offline.py: any network use is refused and written down.
    import os, socket

    _LOG = os.environ["NETWORK_ATTEMPTS_LOG"]

    def _refuse(what, *args):
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{what} {args!r}\\n")
        raise OSError(101, f"network disabled for this test: {what}")

    def _connect(self, address):
        if self.family == getattr(socket, "AF_UNIX", None):
            return _original_connect(self, address)
        _refuse("connect", address)

    def _connect_ex(self, address):
        if self.family == getattr(socket, "AF_UNIX", None):
            return _original_connect_ex(self, address)
        _refuse("connect_ex", address)

    _original_connect = socket.socket.connect
    _original_connect_ex = socket.socket.connect_ex
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.create_connection = lambda *a, **k: _refuse("create_connection", *a)
    socket.getaddrinfo = lambda *a, **k: _refuse("getaddrinfo", *a)
    socket.gethostbyname = lambda *a, **k: _refuse("gethostbyname", *a)
    socket.gethostbyname_ex = lambda *a, **k: _refuse("gethostbyname_ex", *a)
    """
)

# Variables that would let a command skip the network on its own; removed so that the test
# proves bonito-lite does not try, not that the environment told it not to.
_OFFLINE_HINTS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "BONITO_LITE_MODEL")


def _network_namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


NETNS = _network_namespace_works()


@pytest.fixture
def offline(tmp_path):
    """Run ``python -m bonito_lite ...`` with the network impossible; returns (run, attempts)."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(_GUARD, encoding="utf-8")
    attempts = tmp_path / "network-attempts.log"
    attempts.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in _OFFLINE_HINTS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(guard), env.get("PYTHONPATH")]))
    env["NETWORK_ATTEMPTS_LOG"] = str(attempts)

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, *args]
        if NETNS:
            command = ["unshare", "-n", *command]
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)

    return run, attempts


def test_the_guard_itself_records_and_refuses_a_connection(offline, tmp_path):
    run, attempts = offline
    probe = (
        "import socket\n"
        "try:\n    socket.create_connection(('pypi.org', 443), timeout=5)\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
        "try:\n    socket.socket().connect(('10.0.0.1', 80))\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
    )
    proc = run("-c", probe, cwd=tmp_path)
    assert proc.stdout.split() == ["refused", "101", "refused", "101"], proc.stderr
    assert attempts.read_text().count("\n") == 2


@pytest.mark.slow
def test_generate_runs_with_the_network_impossible(offline, tmp_path):
    run, attempts = offline
    proc = run(
        "-m",
        "bonito_lite",
        "generate",
        str(SAMPLE),
        "-t",
        "exqa",
        "-t",
        "ynqa",
        "--model",
        "toy",
        "--limit",
        "2",
        "--max-tokens",
        "64",
        "-o",
        "out.jsonl",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert attempts.read_text() == "", "generate tried to reach the network"
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"]["generations"] == 4


@pytest.mark.slow
def test_converting_a_local_checkpoint_opens_no_connection(offline, tmp_path):
    run, attempts = offline
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny-bonito")
    proc = run("-m", "bonito_lite", "convert", str(checkpoint), "--quant", "Q8_0", "-o", "tiny.Q8_0.gguf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert attempts.read_text() == "", "convert tried to reach the network"
    assert (tmp_path / "tiny.Q8_0.gguf").stat().st_size > 1_000_000


@pytest.mark.skipif(not NETNS, reason="unshare -n is not available here; the socket guard still runs")
def test_in_a_network_namespace_nothing_is_reachable(tmp_path):
    # What the namespace adds to the socket guard: native code cannot connect either.
    probe = "import socket\ns = socket.socket()\ns.settimeout(5)\nprint(s.connect_ex(('1.1.1.1', 80)))"
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() not in ("", "0"), proc.stderr


_API_AFTER_HF_IMPORTS = """
import json, os
import datasets, huggingface_hub  # imported first: they read their offline switches now
before = dict(os.environ)
from bonito_lite import Bonito, SamplingParams
with Bonito("toy") as bonito:
    result = bonito.generate_tasks(datasets.Dataset.from_dict({"text": ["The clinic opens at 7:30 on weekdays."]}),
                                   "text", "qg", SamplingParams(max_tokens=24, seed=1), return_rejected=True)
after = dict(os.environ)
print(json.dumps({"rows": result[0].num_rows + result[1].num_rows, "environment_kept": before == after,
                  "hub_offline_after": huggingface_hub.constants.HF_HUB_OFFLINE}))
"""


def test_the_python_api_opens_no_connection_even_after_hugging_face_libraries_were_imported(offline, tmp_path):
    run, attempts = offline
    proc = run("-c", _API_AFTER_HF_IMPORTS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert attempts.read_text() == "", "the Python API tried to reach the network"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # one generation; the caller's environment and the libraries' own switches as they were
    assert result == {"rows": 1, "environment_kept": True, "hub_offline_after": False}
