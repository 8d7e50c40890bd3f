"""Where a run generates: the local llama.cpp engine, or an existing server. One factory picks.

A backend answers the few questions a run asks of its model: how to count tokens (to cut
passages), how to generate, what identifies the model in resume keys, what records and the
manifest call it, and whether ``--constrain`` is in effect.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import EngineError
from ..models.paths import resolve_model
from ..resume import model_sha256
from ..settings import BACKEND, LLAMA_CPP, SERVER, Caller, current_caller
from .generation import EngineSettings
from .server import ServedModel, ServerClient, ServerEngine, parse_server_url, served_model

if TYPE_CHECKING:
    from .local import Engine, Tokenizer

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str
    model_file: Path | None  # a local GGUF, if the run has one
    constrain: bool  # whether generations are held to the pipe grammar

    @property
    def model_name(self) -> str: ...

    def identity(self, previous_manifest: Path | None) -> str: ...

    def tokenizer(self) -> AbstractContextManager[Any]: ...

    def engine(self) -> AbstractContextManager[Any]: ...

    def manifest_model(self, identity: str) -> dict[str, Any]: ...


class LocalBackend:
    """A GGUF file loaded here through llama.cpp."""

    name = LLAMA_CPP

    def __init__(self, model: str | None, settings: EngineSettings) -> None:
        self.model_file: Path | None = resolve_model(model)
        self.settings = settings
        self.constrain = settings.constrain

    @property
    def model_name(self) -> str:
        assert self.model_file is not None
        return self.model_file.name

    def identity(self, previous_manifest: Path | None) -> str:
        """The model file's sha256 (from the previous manifest when the file is unchanged)."""
        assert self.model_file is not None
        return model_sha256(self.model_file, previous_manifest)

    def tokenizer(self) -> Tokenizer:
        from .local import Tokenizer  # llama.cpp is loaded by the local backend only

        assert self.model_file is not None
        return Tokenizer(self.model_file)

    def engine(self) -> Engine:
        from .local import Engine

        assert self.model_file is not None
        return Engine(self.model_file, self.settings)

    def manifest_model(self, identity: str) -> dict[str, Any]:
        assert self.model_file is not None
        stat = self.model_file.stat()
        return {
            "file": str(self.model_file.resolve()),
            "sha256": identity,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }


class ServerBackend:
    """A model served over an OpenAI-compatible API at ``url``; ``model`` only tokenizes."""

    name = SERVER

    def __init__(self, url: str | None, model: str | None, settings: EngineSettings) -> None:
        self.url = parse_server_url(url)
        self.model_file = resolve_model(model) if model else None
        self.settings = settings
        self._served: ServedModel | None = None

    @property
    def served(self) -> ServedModel:
        """The model the server announces, asked once."""
        if self._served is None:
            self._served = served_model(ServerClient(self.url))
        return self._served

    @property
    def constrain(self) -> bool:
        return self.settings.constrain and self.served.takes_grammar

    @property
    def model_name(self) -> str:
        return self.served.id

    def identity(self, previous_manifest: Path | None) -> str:
        """The served model's id: a server's file cannot be hashed from here."""
        return self.served.identity

    def tokenizer(self) -> ServerEngine:
        engine = self._open()
        try:
            engine.check_tokenizer()
        except BaseException:
            engine.close()
            raise
        return engine

    def engine(self) -> ServerEngine:
        return self._open()

    def _open(self) -> ServerEngine:
        engine = ServerEngine(self.url, self.settings, tokenizer_model=self.model_file)
        if self._served is not None and engine.model.id != self._served.id:
            engine.close()
            raise EngineError(
                f"{self.url} now serves {engine.model.id}, not {self._served.id} as when the run "
                "started; run again to start over with the new model."
            )
        self._served = engine.model
        return engine

    def manifest_model(self, identity: str) -> dict[str, Any]:
        served = self.served
        return {
            "server": self.url,
            "id": served.id,
            "served_by": served.server,
            # Resume keys trust this id: records made on any server announcing it are reused.
            "identity": identity,
            "tokenizer": str(self.model_file.resolve()) if self.model_file else f"{self.url} (tokenize endpoint)",
            "constrained": self.constrain,
        }


def open_backend(backend: str, model: str | None, url: str | None, settings: EngineSettings) -> Backend:
    """The backend named ``backend`` (llama.cpp or server); checks its model file or URL now."""
    BACKEND.check(backend, current_caller(Caller.CLI))
    if backend == LLAMA_CPP:
        if url:
            log.warning("--url is only used with --backend server; generating here with llama.cpp.")
        return LocalBackend(model, settings)
    assert backend == SERVER
    return ServerBackend(url, model, settings)
