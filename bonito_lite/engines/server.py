"""An engine that generates on an existing server over its OpenAI-compatible completions API.

For scale-out: llama.cpp's server, llama-cpp-python's server or vLLM runs the model (many
GPUs, many nodes), and this client sends it the same prompts the local engine would decode,
one request per sample with the pipeline's seed, up to ``parallel`` in flight. Completions
are yielded as they arrive; the pipeline puts them back in order.

Only the server given is contacted: proxies from the environment are ignored and redirects
are not followed, so that documents go nowhere else.
"""

from __future__ import annotations

import contextvars
import http.client
import json
import logging
import os
import queue
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, InputError, NetworkError, SamplingError
from ..prompt import pipe_grammar
from ..settings import PARALLEL, URL, URL_ENV, Caller
from .generation import Completion, EngineSettings, GenerationRequest, Sampling
from .sampler import LOGIT_BIAS_LIMIT, LOWEST_TEMPERATURE

if TYPE_CHECKING:
    from .local import Tokenizer

log = logging.getLogger(__name__)

# Sent as "Authorization: Bearer ..." when set (vLLM --api-key, llama.cpp --api-key).
API_KEY_ENV = "BONITO_LITE_API_KEY"

# A server answers the model list at once; a completion waits for the requests queued
# before it on the server (all of them on llama-cpp-python's, which runs one at a time),
# so its answer may take many minutes on a busy one. Only a hung server should hit this.
PROBE_TIMEOUT_S = 30.0
COMPLETION_TIMEOUT_S = 1800.0
# Waits before each retry of a transient failure (503 while a model loads, a dropped
# connection, a server restarting): 15 s in all.
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
# The longest server message shown; servers sometimes answer with a whole traceback.
_MESSAGE_CHARS = 300

# What /v1/models says in "owned_by", and what each server takes beyond OpenAI's fields.
LLAMA_CPP = "llama.cpp"
LLAMA_CPP_PYTHON = "llama-cpp-python"
VLLM = "vllm"
_OWNERS = {"llamacpp": LLAMA_CPP, "me": LLAMA_CPP_PYTHON, "vllm": VLLM}
# llama.cpp's server samples in this order when asked: temperature first, then top-k, top-p
# and min-p on the tempered distribution, as vLLM (upstream Bonito's engine) and the local
# engine do. Its default order tempers last. llama-cpp-python's server has a fixed order
# (temperature last) and no such field.
_LLAMA_CPP_SAMPLER_ORDER = ["penalties", "temperature", "top_k", "top_p", "min_p"]
# Servers that take a GBNF grammar in the completion request's "grammar" field.
_TAKES_GRAMMAR = frozenset({LLAMA_CPP, LLAMA_CPP_PYTHON})


def parse_server_url(url: str | None) -> str:
    """The server's base URL, checked: http(s), a host, no query; a trailing /v1 is dropped.

    Errors call the URL as the caller spells it: the CLI's option, or the Python API's argument.
    """
    name = URL.named()
    if not url:
        raise InputError(f"--backend server needs --url http://HOST:PORT (or {URL_ENV}).")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{name} must be an http(s) URL such as http://127.0.0.1:8080, not {url!r}.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InputError(f"{name} {url!r} has a bad port; use http://HOST:PORT.") from None
    if parts.query or parts.fragment:
        raise InputError(f"{name} {url!r} has a query or fragment; give the server's address only.")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):  # the OpenAI clients' base_url form
        path = path[: -len("/v1")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class ServedModel:
    """The model a server announces in GET /v1/models."""

    id: str
    owned_by: str

    @property
    def server(self) -> str:
        """llama.cpp, llama-cpp-python, vllm, or the owner field of another server."""
        return _OWNERS.get(self.owned_by, self.owned_by or "unknown")

    @property
    def takes_grammar(self) -> bool:
        return self.server in _TAKES_GRAMMAR

    @property
    def identity(self) -> str:
        """What resume keys hold instead of a model file's sha256."""
        return f"server-model:{self.id}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None  # urllib then raises the 3xx as an HTTPError


class ServerClient:
    """JSON over HTTP to one server, with one-line errors and retries of transient failures."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.url = parse_server_url(url)
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        # No ProxyHandler from the environment and no redirects: only self.url is contacted.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def get(self, path: str, timeout: float = PROBE_TIMEOUT_S) -> Any:
        return self._send("GET", path, None, timeout, retry=True, retry_refused=False)

    def post(
        self,
        path: str,
        body: dict[str, Any],
        timeout: float = COMPLETION_TIMEOUT_S,
        retry: bool = True,
        stop: threading.Event | None = None,
        hide: str | None = None,
    ) -> Any:
        """POST ``body`` as JSON and return the decoded answer.

        ``hide`` is text (a prompt) that a server's error message must not repeat on the
        terminal; ``stop`` cuts retries short.
        """
        return self._send("POST", path, body, timeout, retry=retry, retry_refused=True, stop=stop, hide=hide)

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        timeout: float,
        *,
        retry: bool,
        retry_refused: bool,
        stop: threading.Event | None = None,
        hide: str | None = None,
    ) -> Any:
        endpoint = self.url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        delays = iter(RETRY_DELAYS_S if retry else ())
        while True:
            request = urllib.request.Request(endpoint, data=data, headers=headers, method=method)
            try:
                with self._opener.open(request, timeout=timeout) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as error:
                failure = _http_failure(endpoint, error, hide)
                transient = error.code in _TRANSIENT_STATUS
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                failure = _network_failure(endpoint, error, timeout)
                reason = getattr(error, "reason", error)
                transient = isinstance(
                    reason, (ConnectionResetError, ConnectionAbortedError, http.client.HTTPException)
                )
                transient = transient or (retry_refused and isinstance(reason, ConnectionRefusedError))
            delay = next(delays, None) if transient else None
            if delay is None or (stop is not None and stop.is_set()):
                raise failure
            log.info("%s; trying again in %.0f s", failure, delay)
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                raise failure
        try:
            return json.loads(raw)
        except ValueError:
            raise EngineError(
                f"{endpoint} answered something that is not JSON; is {self.url} an "
                "OpenAI-compatible server (llama.cpp, llama-cpp-python, vLLM)?"
            ) from None


def _http_failure(endpoint: str, error: urllib.error.HTTPError, hide: str | None) -> EngineError:
    if 300 <= error.code < 400:
        target = error.headers.get("Location", "elsewhere")
        return EngineError(
            f"{endpoint} redirects to {target}; redirects are not followed (documents go only to "
            f"{URL.named()}): pass the final address as {URL.named()}."
        )
    try:
        body = error.read()
    except (OSError, http.client.HTTPException):
        body = b""
    message = " ".join(str(_server_message(body) or error.reason or "no message").split())
    if hide:
        message = _without_text(message, " ".join(hide.split()))
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 3] + "..."
    hint = ""
    if error.code in (401, 403):
        hint = f" (set {API_KEY_ENV} to the server's API key)"
    elif error.code == 404:
        hint = f" (is {URL.named()} an OpenAI-compatible server: llama.cpp, llama-cpp-python, vLLM?)"
    return EngineError(f"{endpoint} answered {error.code}: {message}{hint}")


def _without_text(message: str, hidden: str, span: int = 24) -> str:
    """``message`` with every run of ``span`` or more characters taken from ``hidden`` cut out.

    Servers quote a bad request's prompt in their errors, whole or cut short; what they
    quote of it is document text, which stays off the terminal.
    """
    message = message.replace(hidden, "<prompt>")
    kept: list[str] = []
    start = 0
    while start < len(message):
        end = start + span
        if end <= len(message) and message[start:end] in hidden:
            while end < len(message) and message[start : end + 1] in hidden:
                end += 1
            kept.append("<prompt text>")
            start = end
        else:
            kept.append(message[start])
            start += 1
    return "".join(kept)


def _server_message(body: bytes) -> str:
    """The message in an error answer: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")
    if not isinstance(data, dict):
        return str(data)
    error = data.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    detail = data.get("detail")
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    if detail:
        return str(detail)
    return str(data.get("message") or data)


def _network_failure(endpoint: str, error: BaseException, timeout: float) -> NetworkError:
    reason = getattr(error, "reason", error)
    host = urllib.parse.urlsplit(endpoint).netloc
    if isinstance(reason, ConnectionRefusedError):
        what = (
            f"connection refused by {host}: is the server running and listening there? Start it, or fix {URL.named()}."
        )
    elif isinstance(reason, socket.gaierror):
        what = f"cannot resolve the host of {host}: check {URL.named()}."
    elif isinstance(reason, (TimeoutError, socket.timeout)):
        what = f"no answer within {timeout:.0f} s: the server is down or overloaded; check it, or lower {PARALLEL.named()}."
    elif isinstance(reason, (ConnectionResetError, ConnectionAbortedError, http.client.HTTPException)):
        what = "the server closed the connection; check its log."
    else:
        what = f"{reason}; check {URL.named()} and that the server is running."
    return NetworkError(f"cannot reach {endpoint}: {what}")


def served_model(client: ServerClient) -> ServedModel:
    """The model the server serves (the first of several, with a warning)."""
    answer = client.get("/v1/models")
    listed = answer.get("data") if isinstance(answer, dict) else None
    models = [m for m in listed or () if isinstance(m, dict) and isinstance(m.get("id"), str)]
    if not models:
        raise EngineError(f"{client.url}/v1/models lists no model; start the server with a model.")
    if len(models) > 1:
        log.warning("%s serves %d models; using the first, %s.", client.url, len(models), models[0]["id"])
    return ServedModel(id=models[0]["id"], owned_by=str(models[0].get("owned_by", "")))


@dataclass(frozen=True)
class _TokenizeEndpoint:
    path: str
    body: Callable[[str, str], dict[str, Any]]  # (text, model id) -> request body


# Ways servers count tokens; each answers {"tokens": [...]}. llama-cpp-python's adds BOS,
# which the count of an empty text measures and every count then subtracts.
_TOKENIZE_ENDPOINTS = {
    LLAMA_CPP: _TokenizeEndpoint("/tokenize", lambda text, model: {"content": text, "add_special": False}),
    LLAMA_CPP_PYTHON: _TokenizeEndpoint("/extras/tokenize", lambda text, model: {"input": text}),
    VLLM: _TokenizeEndpoint(
        "/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": False}
    ),
}


class ServerTokenizer:
    """Token counts from the server's own tokenize endpoint, found by trying each kind."""

    def __init__(self, client: ServerClient, model: ServedModel) -> None:
        self._client = client
        self._model = model
        first = _TOKENIZE_ENDPOINTS.get(model.server)
        order = [first] if first else []
        order += [e for e in _TOKENIZE_ENDPOINTS.values() if e is not first]
        for endpoint in order:
            try:
                base = self._tokens(endpoint, "")
            except (EngineError, NetworkError):
                continue
            if base is not None:
                self._endpoint, self._base = endpoint, len(base)
                return
        tried = ", ".join(sorted({e.path for e in order}))
        raise EngineError(
            f"{client.url} offers no tokenize endpoint (tried {tried}), and passages are cut by "
            "token count: pass --model with a GGUF of the same model to count tokens here."
        )

    def _tokens(self, endpoint: _TokenizeEndpoint, text: str, timeout: float = PROBE_TIMEOUT_S) -> list | None:
        answer = self._client.post(endpoint.path, endpoint.body(text, self._model.id), timeout=timeout, hide=text)
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        return tokens if isinstance(tokens, list) else None

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without BOS."""
        # Asked while completions are in flight: a server that answers one request at a time
        # (llama-cpp-python's) answers this after them, so it may take as long as they do.
        tokens = self._tokens(self._endpoint, text, timeout=COMPLETION_TIMEOUT_S)
        if tokens is None:
            raise EngineError(f"{self._client.url}{self._endpoint.path} stopped answering with tokens.")
        return max(0, len(tokens) - self._base)


class ServerEngine:
    """Generation on a server: one completion request per sample, ``parallel`` in flight.

    ``count_tokens`` uses ``tokenizer_model`` (a local GGUF, vocabulary only) when given,
    else the server's tokenize endpoint. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        settings: EngineSettings = EngineSettings(),
        tokenizer_model: os.PathLike | str | None = None,
    ) -> None:
        PARALLEL.check(settings.parallel, Caller.ENGINE)
        self.client = ServerClient(url)
        self.url = self.client.url
        self.settings = settings
        self.backend = f"server {self.url}"
        self.model = served_model(self.client)
        self.constrain = settings.constrain and self.model.takes_grammar
        if settings.constrain and not self.constrain:
            log.warning(
                "%s (%s) takes no llama.cpp grammar: generations are not constrained, and those "
                "that do not parse are rejected.",
                self.url,
                self.model.server,
            )
        self._grammar = pipe_grammar() if self.constrain else None
        self._local: Tokenizer | None = None
        self._remote: ServerTokenizer | None = None
        self._tokenizer_model = tokenizer_model
        self._stop = threading.Event()

    def _counter(self) -> Callable[[str], int]:
        # Opened on first use: a run that finds nothing left to do never needs it.
        if self._tokenizer_model is not None:
            if self._local is None:
                from .local import Tokenizer  # llama.cpp is loaded only for a local tokenizer

                self._local = Tokenizer(self._tokenizer_model, verbose=self.settings.verbose)
            return self._local.count_tokens
        if self._remote is None:
            self._remote = ServerTokenizer(self.client, self.model)
        return self._remote.count_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without BOS, as the served model counts them."""
        return self._counter()(text)

    def check_tokenizer(self) -> None:
        """Raise now, before any work, if tokens cannot be counted."""
        self._counter()

    def request_body(self, request: GenerationRequest, seed: int) -> dict[str, Any]:
        """The JSON sent to /v1/completions for one sample of ``request``."""
        sampling = request.sampling
        server = self.model.server
        body: dict[str, Any] = {
            "model": self.model.id,
            "prompt": request.prompt,
            # vLLM's own rules, applied here for llama.cpp's servers too (and so that an
            # infinite bias is not sent as "Infinity", which is not JSON).
            "temperature": LOWEST_TEMPERATURE
            if 0 < sampling.temperature < LOWEST_TEMPERATURE
            else sampling.temperature,
            "top_p": sampling.top_p,
            "seed": seed,
        }
        # Always sent: null means "up to the context" to vLLM and llama.cpp, where a missing
        # field means 16 tokens to llama-cpp-python's server.
        body["max_tokens"] = sampling.max_tokens
        defaults = Sampling()
        # OpenAI's own fields, which every compatible server takes.
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(sampling, name) != getattr(defaults, name):
                body[name] = getattr(sampling, name)
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.logit_bias:
            body["logit_bias"] = {
                str(token): max(-LOGIT_BIAS_LIMIT, min(LOGIT_BIAS_LIMIT, bias)) for token, bias in sampling.logit_bias
            }
        if server in (LLAMA_CPP, LLAMA_CPP_PYTHON):
            # Always sent: llama.cpp's servers default to top-k 40, min-p 0.05 and a repeat
            # penalty of 1.1, where vLLM's defaults turn all three off.
            body.update(top_k=max(sampling.top_k, 0), min_p=sampling.min_p, repeat_penalty=sampling.repetition_penalty)
            if server == LLAMA_CPP:
                body["samplers"] = _LLAMA_CPP_SAMPLER_ORDER
                if sampling.repetition_penalty != 1.0 or sampling.presence_penalty or sampling.frequency_penalty:
                    body["repeat_last_n"] = -1  # the whole context, as vLLM's penalties look at
            unsent = ("stop_token_ids", "include_stop_str_in_output", "allowed_token_ids", "bad_words")
            # Each of llama.cpp's two servers takes one of these and drops the other unread.
            if server == LLAMA_CPP:
                if sampling.ignore_eos:
                    body["ignore_eos"] = True
                unsent += ("min_tokens",)
            else:
                if sampling.min_tokens:
                    body["min_tokens"] = sampling.min_tokens
                unsent += ("ignore_eos",)
        else:
            # vLLM's names for its extra sampling fields; other servers may refuse them.
            for name in (
                "top_k",
                "min_p",
                "repetition_penalty",
                "min_tokens",
                "ignore_eos",
                "include_stop_str_in_output",
            ):
                if getattr(sampling, name) != getattr(defaults, name) and not (name == "top_k" and sampling.top_k <= 0):
                    body[name] = getattr(sampling, name)
            for name in ("stop_token_ids", "allowed_token_ids", "bad_words"):
                if getattr(sampling, name):
                    body[name] = list(getattr(sampling, name))
            unsent = ()
        for name in unsent:
            if getattr(sampling, name) != getattr(defaults, name):
                raise SamplingError(
                    f"{name} cannot be sent to {self.url} ({server}), whose completions take no such "
                    "field; leave it at its default, or generate locally."
                )
        if self._grammar is not None:
            body["grammar"] = self._grammar
        return body

    def complete(self, request: GenerationRequest, sample_index: int) -> Completion:
        """One sample of ``request``, completed on the server."""
        answer = self.client.post(
            "/v1/completions",
            self.request_body(request, request.seeds[sample_index]),
            stop=self._stop,
            hide=request.prompt,
        )
        try:
            choice = answer["choices"][0]
            text = choice["text"]
            if not isinstance(text, str):
                raise TypeError
        except (KeyError, IndexError, TypeError):
            raise EngineError(f"{self.url}/v1/completions answered without choices[0].text.") from None
        usage = answer.get("usage") or {}
        return Completion(
            key=request.key,
            sample_index=sample_index,
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            # OpenAI's reasons are "stop" and "length"; anything else ended it early too.
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        )

    def generate(self, requests: Iterable[GenerationRequest]) -> Iterator[Completion]:
        """Complete every request once per seed; yield completions as they finish, in any order.

        ``requests`` is read on the caller's thread, as requests finish; at most
        ``settings.parallel`` are on the server at once. The worker threads are daemons, so
        Ctrl-C or an error stops the run without waiting for answers still in flight.
        """
        self._stop.clear()
        return self._generate(iter(requests))

    def _generate(self, requests: Iterator[GenerationRequest]) -> Iterator[Completion]:
        parallel = self.settings.parallel
        jobs: queue.Queue = queue.Queue()
        results: queue.Queue = queue.Queue()
        # Each worker runs in a copy of the caller's context, so that its messages name
        # settings as the caller spells them.
        workers = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._work, jobs, results),
                daemon=True,
                name=f"bonito-lite-server-{i}",
            )
            for i in range(parallel)
        ]
        for worker in workers:
            worker.start()
        pending: list[tuple[GenerationRequest, int]] = []  # samples not yet handed to a worker
        in_flight = 0
        exhausted = False
        try:
            while True:
                try:
                    while in_flight < parallel:
                        if not pending:
                            if exhausted:
                                break
                            request = next(requests, None)
                            if request is None:
                                exhausted = True
                                break
                            pending.extend((request, i) for i in range(len(request.seeds)))
                            continue
                        jobs.put(pending.pop(0))
                        in_flight += 1
                except Exception:
                    # Reading the next passage failed (the server stopped counting its tokens):
                    # what has finished is handed on first, so that it is written, not lost.
                    yield from _finished(results)
                    raise
                if not in_flight:
                    return
                outcome = _get(results)
                in_flight -= 1
                if isinstance(outcome, BaseException):
                    yield from _finished(results)
                    raise outcome
                yield outcome
        finally:
            self._stop.set()
            for _ in workers:
                jobs.put(None)

    def _work(self, jobs: queue.Queue, results: queue.Queue) -> None:
        while True:
            job = jobs.get()
            if job is None or self._stop.is_set():
                return
            try:
                results.put(self.complete(*job))
            except BaseException as error:  # handed to the caller's thread, raised there
                results.put(error)

    def close(self) -> None:
        self._stop.set()
        if self._local is not None:
            self._local.close()
            self._local = None

    def __enter__(self) -> ServerEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _get(results: queue.Queue) -> Any:
    # A blocking get with a timeout, so that Ctrl-C is seen at once on every platform.
    while True:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            continue


def _finished(results: queue.Queue) -> Iterator[Completion]:
    """The completions already waiting in ``results`` (failures among them dropped)."""
    while True:
        try:
            outcome = results.get_nowait()
        except queue.Empty:
            return
        if not isinstance(outcome, BaseException):
            yield outcome
