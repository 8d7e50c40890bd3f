"""``generate --backend server``: the same pipeline over a real llama.cpp server on loopback.

The server is llama-cpp-python's (``python -m llama_cpp.server``) running the bundled toy
model. A small relay between bonito-lite and the server records every request on the
wire and can answer in the server's place, to script the failures a real network has.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
from bonito_lite.engines.server import ServerEngine, parse_server_url
from bonito_lite.errors import InputError, NetworkError
from bonito_lite.models.paths import toy_model_path
from bonito_lite.pipeline import TRUNCATED, sample_seed
from bonito_lite.prompt import build_prompt, pipe_grammar
from bonito_lite.run import GenerateOptions, GenerateRun
from bonito_lite.task_types import resolve_task_type

import cli_helpers
from cli_helpers import SAMPLE, default_sigint, run_cli as run

# Three passages of at most 96 tokens and short generations keep each run a few seconds.
WORK = [
    "-t",
    "exqa",
    "-t",
    "summarization",
    "--chunk-tokens",
    "96",
    "--limit",
    "3",
    "--max-tokens",
    "64",
    "--seed",
    "7",
]
# The smallest run that sends one request: one short passage, one short generation.
ONE_REQUEST = ["-t", "exqa", "--limit", "1", "--chunk-tokens", "96", "--max-tokens", "32"]


def on_server(url: str) -> list[str]:
    return ["--backend", "server", "--url", url]


SERVER_CTX = 512  # prompt (96-token passage + template) + 64 new tokens fit with room to spare


def read_jsonl(path: Path) -> list[dict]:
    return cli_helpers.read_jsonl(path, missing_ok=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on loopback, serving the toy model."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(toy_model_path()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(SERVER_CTX),
                "--n_threads",
                "2",
                "--verbose",
                "False",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=5) as answer:
                    if json.load(answer)["data"]:
                        break
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /v1/models: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Relay:
    """An HTTP relay on loopback: records each request, forwards it, or answers as scripted.

    ``script`` maps a path to a list of canned answers ``(status, headers, body)`` used one
    per request, before requests to that path are forwarded; ``rewrite`` changes a forwarded
    answer's JSON for a path. ``hold_completions_after(n)`` answers the first ``n``
    completion requests and holds later ones unanswered until ``release()``, which drops
    them and forwards from then on: a run stays mid-way for as long as a test needs,
    however slow the machine.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, str, dict | None]] = []
        self.script: dict[str, list[tuple[int, dict, bytes]]] = {}
        self.rewrite: dict[str, callable] = {}
        self.in_flight = 0  # completion requests on the server now
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._answered_completions: int | None = None  # how many to answer before holding
        self._released = threading.Event()
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                relay._handle(self, None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                relay._handle(self, self.rfile.read(length))

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def completions(self) -> list[dict]:
        return [body for _, path, body in self.requests if path == "/v1/completions"]

    def hold_completions_after(self, answered: int) -> None:
        self._answered_completions = answered

    def release(self) -> None:
        with self._lock:
            self._answered_completions = None
        self._released.set()

    def _handle(self, handler, data: bytes | None) -> None:
        path = handler.path
        completion = path == "/v1/completions"
        with self._lock:
            self.requests.append((handler.command, path, json.loads(data) if data else None))
            canned = self.script.get(path)
            answer = canned.pop(0) if canned else None
            held = (
                completion
                and self._answered_completions is not None
                and len(self.completions()) > self._answered_completions
            )
            if completion:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if held:
            self._released.wait()
            with self._lock:
                self.in_flight -= 1
            handler.close_connection = True  # its client is gone; it never gets an answer
            return
        try:
            if answer is None:
                answer = self._forward(handler.command, path, data)
        finally:
            if completion:
                with self._lock:  # before the client can see the answer and send another
                    self.in_flight -= 1
        status, headers, body = answer
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _forward(self, method: str, path: str, data: bytes | None):
        request = urllib.request.Request(
            self.upstream + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        if path in self.rewrite and status == 200:
            body = json.dumps(self.rewrite[path](json.loads(body))).encode()
        return status, {}, body

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def relay(llama_server):
    relay = Relay(llama_server)
    yield relay
    relay.close()


def generate_on(url: str, output: str, *extra: str):
    return run(["generate", str(SAMPLE), *WORK, "--backend", "server", "--url", url, "-o", output, "--quiet", *extra])


def local_passages() -> set[tuple]:
    """The passages the local toy's vocabulary cuts from the sample (a dry run: nothing generated)."""
    options = GenerateOptions(
        inputs=(str(SAMPLE),),
        task_types=("exqa",),
        model="toy",
        chunk_tokens=96,
        limit=3,
    )
    passages: set[tuple] = set()
    GenerateRun(options).dry_run(lambda p: passages.add((p.source, p.index, p.char_start, p.char_end, p.text)))
    return passages


@pytest.fixture(scope="module")
def parallel_runs(llama_server, tmp_path_factory):
    """The same work over the server at --parallel 1 and --parallel 4, through one relay each."""
    folder = tmp_path_factory.mktemp("parallel")
    outputs = {}
    for parallel in (1, 4):
        relay = Relay(llama_server)
        try:
            output = folder / f"p{parallel}.jsonl"
            result = generate_on(relay.url, str(output), "--parallel", str(parallel))
            assert result.exit_code == 0, result.output
            outputs[parallel] = (output, relay)
        finally:
            relay.close()
    return outputs


def records_of(output: Path) -> list[dict]:
    return read_jsonl(output) + read_jsonl(rejects_of(output))


def rejects_of(output: Path) -> Path:
    return output.with_name(output.name.replace(".jsonl", ".rejected.jsonl"))


def records_on_disk(output: Path) -> int:
    """Whole lines written so far to an output and its rejects."""
    return sum(path.read_bytes().count(b"\n") for path in (output, rejects_of(output)) if path.exists())


# -- end to end over the real server ------------------------------------------------------


def test_records_come_from_the_same_passages_with_the_same_provenance_as_a_local_run(parallel_runs):
    output, _ = parallel_runs[1]
    records = records_of(output)
    # Parsed examples, whether kept or set aside by a quality filter (both carry an input).
    parsed = [r for r in records if "input" in r]
    assert len(records) == 3 * 2
    assert len(parsed) >= 4, records  # the toy writes parseable examples for most prompts
    assert {
        (r["source"], r["passage_index"], r["char_start"], r["char_end"], r["context"]) for r in records
    } == local_passages()
    for record in parsed:
        assert record["input"] and record["output"]
        assert record["seed"] == 7
        assert record["model"] == str(toy_model_path())  # what llama-cpp-python calls its model


def test_the_server_receives_the_template_prompt_and_each_samples_seed(parallel_runs):
    output, relay = parallel_runs[1]
    sent = relay.completions()
    records = records_of(output)
    assert len(sent) == len(records)
    expected = set()
    for record in records:
        task = resolve_task_type(record["task_type"])
        expected.add(
            (
                build_prompt(task.full_name, record["context"]),
                sample_seed(7, record["context"], task, record["sample_index"]),
            )
        )
    assert {(body["prompt"], body["seed"]) for body in sent} == expected
    for body in sent:
        assert set(body) == {
            "model",
            "prompt",
            "max_tokens",
            "temperature",
            "top_p",
            "seed",
            "top_k",
            "min_p",
            "repeat_penalty",
            "grammar",
        }
        assert body["model"] == str(toy_model_path())
        assert (body["max_tokens"], body["temperature"], body["top_p"]) == (64, 0.5, 0.95)
        assert (body["top_k"], body["min_p"], body["repeat_penalty"]) == (0, 0.0, 1.0)
        assert body["grammar"] == pipe_grammar()


def test_parallel_4_gives_the_same_records_as_parallel_1(parallel_runs):
    # llama-cpp-python's server honours each request's seed, so the records match exactly.
    one, relay_one = parallel_runs[1]
    four, relay_four = parallel_runs[4]

    def content(output):
        return sorted(json.dumps(r, sort_keys=True) for r in records_of(output))

    assert content(one) == content(four)
    assert relay_one.most_in_flight == 1
    assert relay_four.most_in_flight <= 4


def test_a_second_run_resumes_and_sends_nothing(relay, tmp_path):
    output = tmp_path / "resume.jsonl"
    first = generate_on(relay.url, str(output))
    assert first.exit_code == 0, first.output
    sent = len(relay.completions())
    assert sent == 6
    manifest = json.loads((tmp_path / "resume.jsonl.manifest.json").read_text())
    assert manifest["model"]["identity"] == f"server-model:{toy_model_path()}"
    assert manifest["model"]["server"] == relay.url
    assert manifest["backend"] == f"server {relay.url}"
    before = output.read_bytes()

    second = run(["generate", str(SAMPLE), *WORK, "--backend", "server", "--url", relay.url, "-o", str(output)])
    assert second.exit_code == 0, second.output
    assert len(relay.completions()) == sent
    assert "Nothing to generate" in second.output
    assert output.read_bytes() == before


def test_tiny_max_tokens_are_rejected_as_truncated(relay, tmp_path):
    output = tmp_path / "short.jsonl"
    result = run(
        [
            "generate",
            str(SAMPLE),
            "-t",
            "exqa",
            "--chunk-tokens",
            "96",
            "--limit",
            "2",
            "--max-tokens",
            "3",
            "--backend",
            "server",
            "--url",
            relay.url,
            "-o",
            str(output),
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    assert read_jsonl(output) == []
    rejected = read_jsonl(tmp_path / "short.rejected.jsonl")
    assert len(rejected) == 2
    assert {r["reason"] for r in rejected} == {TRUNCATED}


def test_summary_names_the_server(relay, tmp_path):
    result = run(
        [
            "generate",
            str(SAMPLE),
            "-t",
            "exqa",
            "--chunk-tokens",
            "96",
            "--limit",
            "1",
            "--max-tokens",
            "64",
            "--backend",
            "server",
            "--url",
            relay.url + "/v1/",
            "-o",
            str(tmp_path / "one.jsonl"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"on server {relay.url}." in result.output


def test_a_server_run_never_loads_llama_cpp(llama_server, tmp_path):
    # In a fresh process: this test process has loaded llama.cpp for the local runs.
    output = tmp_path / "served.jsonl"
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('llama_cpp loaded:', 'llama_cpp' in sys.modules))\n"
        "from bonito_lite.cli import main\n"
        "main()\n"
    )
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "generate",
            str(SAMPLE),
            "-t",
            "exqa",
            "--chunk-tokens",
            "96",
            "--limit",
            "1",
            "--max-tokens",
            "16",
            "--backend",
            "server",
            "--url",
            llama_server,
            "-o",
            str(output),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert read_jsonl(output) or read_jsonl(tmp_path / "served.rejected.jsonl")  # it did generate
    assert "llama_cpp loaded: False" in child.stdout


def test_a_dry_run_counts_on_the_server_and_generates_nothing(relay):
    result = run(["generate", str(SAMPLE), *WORK, "--backend", "server", "--url", relay.url, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert relay.completions() == []
    assert "3 passages, 6 generations" in result.output
    assert result.output.rstrip().endswith("no time estimate for a server.")
    # The server's tokenizer counts the prompts as the local file's vocabulary does.
    local = run(["generate", str(SAMPLE), *WORK, "--model", "toy", "--dry-run", "--quiet"])
    counts = [line.split(";")[0] for line in (result.output + local.output).splitlines() if "prompt tokens" in line]
    assert len(counts) == 2 and counts[0] == counts[1], counts


def test_a_local_gguf_counts_tokens_instead_of_the_server(relay, tmp_path):
    output = tmp_path / "local-vocab.jsonl"
    result = generate_on(relay.url, str(output), "--model", "toy")
    assert result.exit_code == 0, result.output
    assert not [path for _, path, _ in relay.requests if "tokenize" in path]
    assert len(relay.completions()) == 6
    manifest = json.loads((tmp_path / "local-vocab.jsonl.manifest.json").read_text())
    assert manifest["model"]["tokenizer"] == str(toy_model_path().resolve())


def test_proxy_settings_in_the_environment_are_not_used(relay, tmp_path, monkeypatch):
    # Documents go to --url only: a proxy from the environment would see them.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    result = run(
        [
            "generate",
            str(SAMPLE),
            *ONE_REQUEST,
            *on_server(relay.url),
            "-o",
            str(tmp_path / "direct.jsonl"),
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    assert len(relay.completions()) == 1


# -- failures -----------------------------------------------------------------------------


def test_an_unreachable_server_fails_with_one_line_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = generate_on(url, str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: cannot reach " + url)
    assert "connection refused" in lines[0]
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("url", ["localhost:8080", "ftp://127.0.0.1:21", "http://", "http://host:port"])
def test_a_bad_url_is_a_usage_error(url, tmp_path):
    result = generate_on(url, str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2
    assert result.output.startswith("Error: --url")
    assert len(result.output.strip().splitlines()) == 1


def test_the_server_backend_needs_a_url(tmp_path):
    result = run(["generate", str(SAMPLE), "-t", "exqa", "--backend", "server"])
    assert result.exit_code == 2
    assert "--backend server needs --url" in result.output


def test_backend_and_url_come_from_the_environment(relay, tmp_path, monkeypatch):
    monkeypatch.setenv("BONITO_LITE_BACKEND", "server")
    monkeypatch.setenv("BONITO_LITE_URL", relay.url)
    result = run(
        [
            "generate",
            str(SAMPLE),
            *ONE_REQUEST,
            "-o",
            str(tmp_path / "env.jsonl"),
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    assert len(relay.completions()) == 1


def test_an_http_error_shows_the_servers_message_on_one_line(relay, tmp_path):
    relay.script["/v1/completions"] = [
        (400, {}, json.dumps({"error": {"message": "prompt too long:\nsee\n  the log"}}).encode())
    ] * 16
    result = generate_on(relay.url, str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0] == f"Error: {relay.url}/v1/completions answered 400: prompt too long: see the log"


@pytest.mark.parametrize("quote", [slice(None), slice(70, 400)], ids=["whole", "part"])
def test_a_server_error_quoting_the_prompt_is_shown_without_it(relay, tmp_path, quote):
    # Servers may quote the prompt in an error; document text stays off the terminal.
    forward = relay._forward

    def quote_the_prompt(method, path, data):
        if path == "/v1/completions":
            prompt = json.loads(data)["prompt"][quote]
            return 400, {}, json.dumps({"error": {"message": f"cannot use prompt {prompt}"}}).encode()
        return forward(method, path, data)

    relay._forward = quote_the_prompt
    result = generate_on(relay.url, str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    assert "cannot use prompt <prompt" in result.output
    document = " ".join(SAMPLE.read_text(encoding="utf-8").split())
    shown = result.output
    assert not [shown[i : i + 24] for i in range(len(shown) - 23) if shown[i : i + 24] in document]


def test_a_transient_503_is_retried(relay, tmp_path):
    relay.script["/v1/completions"] = [(503, {}, b'{"error": {"message": "Loading model"}}')]
    result = run(
        [
            "generate",
            str(SAMPLE),
            *ONE_REQUEST,
            *on_server(relay.url),
            "-o",
            str(tmp_path / "retry.jsonl"),
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    assert len(relay.completions()) == 2  # the refused one, then the one that worked
    assert len(records_of(tmp_path / "retry.jsonl")) == 1


def test_a_redirect_is_not_followed(relay, tmp_path):
    elsewhere = f"http://127.0.0.1:{free_port()}/v1/models"
    relay.script["/v1/models"] = [(307, {"Location": elsewhere}, b"")]
    result = generate_on(relay.url, str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    assert f"redirects to {elsewhere}" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_server_without_a_tokenize_endpoint_needs_a_local_model(relay, tmp_path):
    missing = (404, {}, b'{"detail": "Not Found"}')
    relay.script["/tokenize"] = [missing] * 10
    relay.script["/extras/tokenize"] = [missing] * 10
    result = generate_on(relay.url, str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    assert "offers no tokenize endpoint" in result.output
    assert "pass --model" in result.output


def test_a_server_without_grammars_generates_unconstrained_and_keys_say_so(relay, tmp_path):
    # vLLM announces itself as owned_by "vllm" and takes no llama.cpp grammar.
    def as_vllm(models):
        for model in models["data"]:
            model["owned_by"] = "vllm"
        return models

    relay.rewrite["/v1/models"] = as_vllm
    output = tmp_path / "vllm.jsonl"
    result = run(
        [
            "generate",
            str(SAMPLE),
            *ONE_REQUEST,
            *on_server(relay.url),
            "-o",
            str(output),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "takes no llama.cpp grammar" in result.output
    (body,) = relay.completions()
    assert set(body) == {"model", "prompt", "max_tokens", "temperature", "top_p", "seed"}
    manifest = json.loads((tmp_path / "vllm.jsonl.manifest.json").read_text())
    assert manifest["model"]["constrained"] is False
    assert manifest["model"]["served_by"] == "vllm"


def test_ctrl_c_stops_a_server_run_with_whole_records_and_resumes(relay, tmp_path):
    # A real process, stopped with SIGINT once its first record is on disk; worker threads
    # waiting on the server must not hold its exit. The relay answers the first two
    # requests and holds the rest, so the run cannot finish before the signal reaches it.
    output = tmp_path / "stopped.jsonl"
    command = [
        sys.executable,
        "-m",
        "bonito_lite",
        "generate",
        str(SAMPLE),
        "-t",
        "all",
        "--chunk-tokens",
        "96",
        "--limit",
        "2",
        "--max-tokens",
        "48",
        "--seed",
        "7",
        "--backend",
        "server",
        "--url",
        relay.url,
        "--parallel",
        "2",
        "-o",
        str(output),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    relay.hold_completions_after(2)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint
    )
    try:
        deadline = time.monotonic() + 600
        while not records_on_disk(output) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, "the run ended before its first record was written"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        relay.release()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr.decode()
    assert b"Interrupted after" in stderr
    manifest = json.loads((tmp_path / "stopped.jsonl.manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    written = records_of(output)  # every line parses: records are whole
    assert 0 < len(written) < 2 * 16
    sent_before = len(relay.completions())

    resumed = subprocess.run(command, env=env, capture_output=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert len(records_of(output)) == 2 * 16
    # The rerun asked only for what was missing.
    assert len(relay.completions()) - sent_before == 2 * 16 - len(written)


# -- the engine on its own ----------------------------------------------------------------


def test_closing_a_generation_stops_sending_and_leaves_no_thread_behind(relay):
    requests = [
        GenerationRequest(
            key=i,
            prompt=build_prompt("summarization", f"Passage number {i}."),
            seeds=(i,),
            sampling=Sampling(max_tokens=16),
        )
        for i in range(12)
    ]
    with ServerEngine(relay.url, EngineSettings(parallel=2)) as engine:
        generation = engine.generate(requests)
        first = next(generation)
        assert first.key in range(12)
        generation.close()
    for thread in threading.enumerate():
        if thread.name.startswith("bonito-lite-server-"):
            assert thread.daemon  # never holds the process open at exit
            thread.join(timeout=120)
    # One finished, at most two more were on the server when it stopped; the rest never left.
    assert len(relay.completions()) <= 3


def test_request_body_carries_the_prompt_unchanged(relay):
    request = GenerationRequest(
        key=0,
        prompt="<|tasktype|>\nsummarization\n<|context|>\nA  b\n<|task|>\n",
        seeds=(11, 12),
        sampling=Sampling(5, 0.0, 1.0),
    )
    with ServerEngine(relay.url, EngineSettings(constrain=False)) as engine:
        body = engine.request_body(request, 12)
    assert body["prompt"] == request.prompt
    assert (body["seed"], body["max_tokens"], body["temperature"], body["top_p"]) == (12, 5, 0.0, 1.0)
    assert "grammar" not in body


def test_the_python_api_generates_on_a_server(relay):
    from datasets import Dataset

    from bonito_lite import Bonito

    texts = [
        "The clinic opens at 7:30 on weekdays and at 8:00 on Saturdays.",
        "Cancellations made less than a day ahead are charged at half the session fee.",
    ]
    task = resolve_task_type("qg")
    with Bonito(url=relay.url, parallel=2) as bonito:
        kept, rejected = bonito.generate_tasks(
            Dataset.from_dict({"text": texts}),
            "text",
            "qg",
            return_rejected=True,
        )
    assert sorted(body["prompt"] for body in relay.completions()) == sorted(
        build_prompt(task.full_name, text) for text in texts
    )
    assert len(kept) + len(rejected) == len(texts)
    assert kept.column_names == ["input", "output"]
    # Each row is one prompt, as upstream has it: nothing is cut, so nothing is tokenized.
    assert not any("tokenize" in path for _, path, _ in relay.requests)


@pytest.mark.parametrize(
    "given, expected",
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://gpu-node:8000/v1", "http://gpu-node:8000"),
        ("https://example.org/bonito/v1/", "https://example.org/bonito"),
    ],
)
def test_server_urls_are_normalised(given, expected):
    assert parse_server_url(given) == expected


def test_the_network_error_is_one_line():
    with pytest.raises(NetworkError) as caught:
        ServerEngine(f"http://127.0.0.1:{free_port()}")
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError):
        ServerEngine("127.0.0.1:8080")


def _served_as(relay, owner: str) -> None:
    def rewrite(models):
        for model in models["data"]:
            model["owned_by"] = owner
        return models

    relay.rewrite["/v1/models"] = rewrite


SET = Sampling(
    48,
    0.7,
    0.9,
    top_k=40,
    min_p=0.05,
    repetition_penalty=1.2,
    presence_penalty=0.3,
    frequency_penalty=0.1,
    stop=("###",),
    logit_bias=((13, -2.0),),
)


@pytest.mark.parametrize("owner", ["llamacpp", "me", "vllm"])
def test_sampling_fields_reach_each_server_under_its_own_names(relay, owner):
    _served_as(relay, owner)
    request = GenerationRequest(key=0, prompt="p", seeds=(5,), sampling=SET)
    with ServerEngine(relay.url, EngineSettings(constrain=False)) as engine:
        body = engine.request_body(request, 5)
    assert (body["seed"], body["max_tokens"], body["temperature"], body["top_p"]) == (5, 48, 0.7, 0.9)
    assert (body["presence_penalty"], body["frequency_penalty"], body["stop"], body["logit_bias"]) == (
        0.3,
        0.1,
        ["###"],
        {"13": -2.0},
    )
    assert (body["top_k"], body["min_p"]) == (40, 0.05)
    if owner == "vllm":
        assert body["repetition_penalty"] == 1.2 and "repeat_penalty" not in body
    else:
        assert body["repeat_penalty"] == 1.2 and "repetition_penalty" not in body
    if owner == "llamacpp":  # llama.cpp's server tempers first when told, as vLLM does
        assert body["samplers"] == ["penalties", "temperature", "top_k", "top_p", "min_p"]
        assert body["repeat_last_n"] == -1


@pytest.mark.parametrize(
    "owner, refused, taken", [("llamacpp", "min_tokens", "ignore_eos"), ("me", "ignore_eos", "min_tokens")]
)
def test_a_field_a_llama_cpp_server_cannot_take_is_refused_by_name(relay, owner, refused, taken):
    # llama.cpp's server takes ignore_eos, llama-cpp-python's min_tokens; each would drop the
    # other without a word.
    _served_as(relay, owner)
    fields = {"min_tokens": 4, "ignore_eos": True}
    with ServerEngine(relay.url, EngineSettings(constrain=False)) as engine:
        refusing = GenerationRequest(key=0, prompt="p", seeds=(5,), sampling=Sampling(**{refused: fields[refused]}))
        with pytest.raises(ValueError, match=refused):
            engine.request_body(refusing, 5)
        taking = GenerationRequest(key=0, prompt="p", seeds=(5,), sampling=Sampling(**{taken: fields[taken]}))
        assert engine.request_body(taking, 5)[taken] == fields[taken]


def test_no_max_tokens_is_sent_as_null_not_left_to_a_servers_default(relay):
    # llama-cpp-python's server reads a missing max_tokens as 16; null is "up to the context".
    request = GenerationRequest(key=0, prompt="p", seeds=(5,), sampling=Sampling(max_tokens=None))
    with ServerEngine(relay.url, EngineSettings(constrain=False)) as engine:
        body = engine.request_body(request, 5)
    assert "max_tokens" in body and body["max_tokens"] is None


def test_the_cli_sends_its_new_sampling_flags_to_the_server(relay, tmp_path):
    output = tmp_path / "flags.jsonl"
    result = generate_on(
        relay.url,
        str(output),
        "-t",
        "exqa",
        "--limit",
        "1",
        "--chunk-tokens",
        "96",
        "--max-tokens",
        "24",
        "--top-k",
        "30",
        "--min-p",
        "0.1",
        "--repetition-penalty",
        "1.05",
        "--stop",
        "\n\n\n",
    )
    assert result.exit_code == 0, result.output
    for body in relay.completions():
        assert (body["top_k"], body["min_p"], body["repeat_penalty"], body["stop"]) == (30, 0.1, 1.05, ["\n\n\n"])


def test_when_the_server_stops_counting_tokens_what_finished_is_written(relay, tmp_path):
    # The next passage is counted on the server while completions are in flight; when that
    # fails, the completions that came back before are records, not lost.
    sections = [f"## Part {n}\n\nThe clinic opens at {n}:30 on weekdays and shuts at 17:30.\n" for n in range(1, 5)]
    document = tmp_path / "hours.md"
    document.write_text("\n".join([*sections, "## Part 5\n\nQuokka visits are on Fridays.\n"]), encoding="utf-8")
    forward = relay._forward

    def refuse_the_fifth(method, path, data):
        # Counted fine in the first pass (the plan), refused while generating.
        if data and b"Quokka" in data and "tokenize" in path and relay.completions():
            time.sleep(3)  # the four completions in flight come back meanwhile
            return 400, {}, b'{"error": {"message": "tokenizer gone"}}'
        return forward(method, path, data)

    relay._forward = refuse_the_fifth
    output = tmp_path / "hours.jsonl"
    result = run(
        ["generate", str(document), *ONE_REQUEST[:2], "--max-tokens", "32", "--parallel", "4"]
        + [*on_server(relay.url), "-o", str(output), "--quiet"]
    )
    assert result.exit_code == 1, result.output
    assert "tokenizer gone" in result.output
    # Every completion sent (those before the failing count: reading a passage looks ahead)
    # came back and is a record.
    sent = [body["prompt"] for body in relay.completions()]
    assert len(sent) >= 2
    text = document.read_text(encoding="utf-8")
    assert sorted(r["char_start"] for r in records_of(output)) == sorted(
        text.index(section) for section in sections if any(section.strip() in prompt for prompt in sent)
    )


def test_the_body_carries_vllms_temperature_floor_and_bias_clamp_and_is_strict_json(relay):
    sampling = Sampling(temperature=0.001, logit_bias=((13, float("inf")), (14, -500.0)))
    request = GenerationRequest(key=0, prompt="p", seeds=(5,), sampling=sampling)
    with ServerEngine(relay.url, EngineSettings(constrain=False)) as engine:
        body = engine.request_body(request, 5)
    assert body["temperature"] == 0.01
    assert body["logit_bias"] == {"13": 100.0, "14": -100.0}
    json.dumps(body, allow_nan=False)  # "Infinity" is not JSON
