"""The HTTP side of the scripted model server: routing, request log, streaming helpers.

One server plays one scenario. Provider modules (anthropic, responses, gemini, chat) register
routes; each route handler receives an :class:`Exchange` and answers through it. Every request
is written to the JSON-lines log before its answer is streamed, so a watcher that sees a
``"step": "hang"`` line knows the CLI is waiting on a stalled stream.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from .scenario import Scenario

SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "proxy-authorization"}
HANG_KEEPALIVE_SECONDS = 5.0
HANG_LIMIT_SECONDS = 600.0

Handler = Callable[["Exchange"], None]


class ClientGone(Exception):
    """The client closed the connection while we were writing."""


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass
class ServerState:
    scenario: Scenario
    log_file: TextIO | None
    routes: list[Route] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _attempts: dict[tuple[str, int], int] = field(default_factory=dict)
    _seq: int = 0

    def next_attempt(self, provider: str, position: int) -> int:
        """0 for the first main request at this position, 1 for its first retry, ..."""
        with self._lock:
            n = self._attempts.get((provider, position), 0)
            self._attempts[(provider, position)] = n + 1
            return n

    def write_log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            if self.log_file is not None:
                self.log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self.log_file.flush()


class Exchange:
    """One request and the means to answer it."""

    def __init__(self, handler: "RequestHandler", match: re.Match[str] | None):
        self.handler = handler
        self.state: ServerState = handler.server.state  # type: ignore[attr-defined]
        self.scenario = self.state.scenario
        self.method = handler.command
        split = urlsplit(handler.path)
        self.path = split.path
        self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        self.match = match
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        self.raw_body = handler.read_body()
        self.body: Any = None
        if self.raw_body:
            try:
                self.body = json.loads(self.raw_body)
            except ValueError:
                self.body = None
        self.notes: dict[str, Any] = {}
        self._logged = False
        self._chunked = False

    # -- logging ---------------------------------------------------------------------------
    def note(self, **fields: Any) -> None:
        """Facts for the log line (provider, kind, position, attempt, step...)."""
        self.notes.update(fields)

    def log(self, status: int) -> None:
        if self._logged:
            return
        self._logged = True
        headers = {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in self.headers.items()}
        body: Any = self.body
        if body is None and self.raw_body:
            body = self.raw_body[:4000].decode("utf-8", "replace")
        self.state.write_log(
            {
                "time": time.time(),
                "method": self.method,
                "path": self.path,
                "query": self.query,
                "headers": headers,
                **self.notes,
                "status": status,
                "body": body,
            }
        )

    # -- plain answers -----------------------------------------------------------------------
    def reply_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.log(status)
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    # -- streams ---------------------------------------------------------------------------
    def start_stream(self, content_type: str = "text/event-stream", headers: dict[str, str] | None = None) -> None:
        self.log(200)
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        self._chunked = True

    def write_chunk(self, data: bytes) -> None:
        if not data:
            return
        try:
            self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            raise ClientGone() from e

    def sse(self, data: Any, event: str | None = None) -> None:
        """One server-sent event; `data` is JSON-encoded unless it is already a string."""
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
        self.write_chunk(frame.encode())

    def end_stream(self) -> None:
        if self._chunked:
            try:
                self.handler.wfile.write(b"0\r\n\r\n")
                self.handler.wfile.flush()
            except OSError:
                pass
            self._chunked = False

    def hang(self) -> None:
        """Stall the open stream: SSE comments now and then (so no idle timeout fires) until
        the client goes away, the server stops, or HANG_LIMIT_SECONDS pass."""
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        try:
            while time.monotonic() < deadline and not self.state.stopping.wait(HANG_KEEPALIVE_SECONDS):
                self.write_chunk(b": stalled\n\n")
        except ClientGone:
            pass
        self.handler.close_connection = True


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "runhost-e2e-modelserver"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the JSON-lines log replaces the stderr access log

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            raw = bytes(data)
        else:
            raw = self.rfile.read(length) if length else b""
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        return raw

    def _dispatch(self) -> None:
        state: ServerState = self.server.state  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        for route in state.routes:
            if route.method != self.command:
                continue
            m = route.pattern.fullmatch(path)
            if m:
                ex = Exchange(self, m)
                try:
                    route.handler(ex)
                except ClientGone:
                    self.close_connection = True
                finally:
                    ex.end_stream()
                    ex.log(-1)
                return
        ex = Exchange(self, None)
        ex.note(provider=None, kind="unknown")
        ex.reply_json(404, {"error": {"message": f"modelserver: no route for {self.command} {path}"}})

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServerState, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), RequestHandler)
        self.state = state

    def add_routes(self, routes: Iterable[tuple[str, str, Handler]]) -> None:
        for method, pattern, handler in routes:
            self.state.routes.append(Route(method, re.compile(pattern), handler))

    def shutdown(self) -> None:
        self.state.stopping.set()
        super().shutdown()
