"""A stand-in for the Hugging Face Hub on loopback: the URL layout huggingface-hub's client uses.

It answers the model-info listing (``/api/models/OWNER/NAME[/revision/REV]``, with each
file's size and LFS sha256), the tree listing ``snapshot_download`` reads
(``/api/models/OWNER/NAME/tree/REV``) and ``/OWNER/NAME/resolve/REV/FILE`` (HEAD and GET, with
``ETag``, ``X-Repo-Commit``, ``Content-Length`` and ``Range``), and the Hub's error codes
(``X-Error-Code``) for a missing repository, revision or file. Files are served from
memory or from disk; a transfer can be cut mid-file to test resumption.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


# A file's content: bytes in memory, or a file on disk (read as it is sent).
Content = bytes | Path


class HubStandIn:
    """Repositories served at ``url`` the way the Hub lays them out; records every request.

    ``repos`` maps ``OWNER/NAME`` to its files (name -> content), all at one commit,
    ``COMMIT``, which is also what ``main`` names.
    """

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Content]] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range header
        self.cut_next_get: dict[str, int] = {}  # file -> the byte at which its next GET stops, connection closed
        self.listed_sha256: dict[str, str] = {}  # file -> the sha256 the listing gives, if not its own
        self._sha256: dict[int, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def downloads(self, name: str) -> list[str | None]:
        """The Range header of each GET of ``name`` (None for a whole-file GET)."""
        return [r for method, path, r in self.requests if method == "GET" and path.endswith("/" + name)]

    def sha256(self, content: Content) -> str:
        key = id(content)
        if key not in self._sha256:
            digest = hashlib.sha256()
            if isinstance(content, bytes):
                digest.update(content)
            else:
                with content.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            self._sha256[key] = digest.hexdigest()
        return self._sha256[key]

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def _answer(self, send_body: bool) -> None:
                path = self.path.split("?")[0]
                hub.requests.append((self.command, path, self.headers.get("Range")))
                api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
                tree = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?", path)
                resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                match = api or tree or resolve
                repo = match and hub.repos.get(match[1])
                if repo is None:
                    return self._error(404, "RepoNotFound")
                if (match[2] or "main") not in ("main", COMMIT):
                    return self._error(404, "RevisionNotFound")
                if api:
                    return self._listing(match[1], repo)
                if tree:
                    return self._tree(repo)
                content = repo.get(match[3])
                if content is None:
                    return self._error(404, "EntryNotFound")
                self._file(match[3], content, send_body)

            def _error(self, status: int, code: str) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _listing(self, repo_id: str, files: dict[str, Content]) -> None:
                siblings = [
                    {
                        "rfilename": name,
                        "size": _size(content),
                        "lfs": {
                            "size": _size(content),
                            "sha256": hub.listed_sha256.get(name) or hub.sha256(content),
                            "pointerSize": 134,
                        },
                    }
                    for name, content in files.items()
                ]
                self._json({"id": repo_id, "sha": COMMIT, "siblings": siblings})

            def _tree(self, files: dict[str, Content]) -> None:
                entries = [
                    {
                        "type": "file",
                        "path": name,
                        "size": _size(content),
                        "oid": hub.sha256(content)[:40],
                        "lfs": {"oid": hub.sha256(content), "size": _size(content), "pointerSize": 134},
                    }
                    for name, content in files.items()
                ]
                self._json(entries)

            def _json(self, value: object) -> None:
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _file(self, name: str, content: Content, send_body: bool) -> None:
                size = _size(content)
                start = 0
                wanted = self.headers.get("Range")
                if wanted and send_body:
                    start = int(re.fullmatch(r"bytes=(\d+)-", wanted)[1])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("ETag", f'"{hub.sha256(content)}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(size - start))
                self.end_headers()
                if not send_body:
                    return
                cut = hub.cut_next_get.pop(name, None)
                _send(self.wfile, content, start, size if cut is None else cut)
                if cut is not None:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

        return Handler


def _size(content: Content) -> int:
    return len(content) if isinstance(content, bytes) else content.stat().st_size


def _send(out, content: Content, start: int, end: int) -> None:
    if isinstance(content, bytes):
        out.write(content[start:end])
        return
    with content.open("rb") as f:
        f.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                break
            out.write(chunk)
            remaining -= len(chunk)
