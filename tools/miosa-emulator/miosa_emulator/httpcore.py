"""The HTTP/1.1 layer: request parsing, JSON/bytes/SSE responses, request ids and logging.

Every response carries ``x-request-id: req_<hex>`` (success, error, stream, proxy, admin).
JSON bodies are sent with ``Content-Type: application/json`` and a Content-Length, so the
connection stays alive between calls as httpx and libcurl expect. Server-sent event streams
are ``200``, ``Content-Type: text/event-stream``, chunked and ``Connection: close``: one chunk per
frame, every frame ending in a blank line, and a clean end is the terminating zero chunk. A stream cut by the
``drop_stream_after_frames`` fault is a socket shutdown without that chunk.

The routing lives in ``app``; this module only knows how to read a request and how to write
an answer. The handler writes one line per request to stderr when the request is done.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def dumps(obj: Any) -> bytes:
    """JSON on one line (an SSE ``data:`` line must never hold a newline)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class ApiError(Exception):
    """An error answer in the envelope the SDK parses (``errors.raise_for_status``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Optional[dict] = None,
        retryable: bool = False,
        retry_after: Optional[float] = None,
        headers: Optional[dict] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}
        self.retryable = retryable
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def body(self) -> dict:
        retry_after_ms = None if self.retry_after is None else int(round(self.retry_after * 1000))
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "retryable": self.retryable,
                "retry_after_ms": retry_after_ms,
            }
        }

    def response_headers(self) -> dict:
        headers = dict(self.headers)
        if self.retry_after is not None:
            # The SDK parses Retry-After as float seconds (HTTP dates are ignored).
            headers.setdefault("Retry-After", format_seconds(self.retry_after))
        return headers


def format_seconds(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


class StreamDropped(Exception):
    """Raised out of ``SSE.send`` after a fault cut the stream (socket already shut down)."""


class Reply:
    """A JSON answer a route returns; the app wraps it, may store it for idempotent replays."""

    def __init__(self, status: int, body: Any, headers: Optional[dict] = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class Request:
    """One parsed request. ``query`` maps each name to the list of its values."""

    def __init__(self, handler: "Handler", method: str, target: str, body: bytes, request_id: str):
        parts = urlsplit(target)
        self.handler = handler
        self.method = method
        self.raw_path = parts.path
        self.path = unquote(parts.path)
        self.raw_query = parts.query
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = body
        self.request_id = request_id
        self.started = time.monotonic()
        self._json: Any = None
        self._json_parsed = False

    # -- query --
    def q(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self.query.get(name)
        return values[0] if values else default

    def q_int(self, name: str, default: Optional[int] = None) -> Optional[int]:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ApiError(422, "VALIDATION_FAILED", f"query parameter {name!r} must be an integer",
                           details={"field": name}) from None

    # -- headers --
    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def tenant(self) -> str:
        return (self.header("X-MIOSA-Tenant") or "").strip()

    @property
    def idempotency_key(self) -> Optional[str]:
        value = self.header("Idempotency-Key")
        return value.strip() if value and value.strip() else None

    @property
    def wants_sse(self) -> bool:
        return "text/event-stream" in (self.header("Accept") or "")

    def authorization(self) -> tuple[bool, Optional[str], Optional[str]]:
        """(present, scheme, credential) of the Authorization header."""
        raw = self.header("Authorization")
        if raw is None:
            return False, None, None
        scheme, _, cred = raw.strip().partition(" ")
        return True, scheme or None, cred.strip() or None

    # -- body --
    def json(self) -> dict:
        """The body as a JSON object; an empty body is ``{}``."""
        if not self._json_parsed:
            self._json_parsed = True
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    self._json = json.loads(self.body.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise ApiError(400, "BAD_REQUEST", f"request body is not JSON: {exc}") from None
            if not isinstance(self._json, dict):
                raise ApiError(422, "VALIDATION_FAILED", "request body must be a JSON object")
        return self._json


class SSE:
    """A server-sent event stream on one response.

    ``frame_limit`` (from the ``drop_stream_after_frames`` fault) cuts the connection after
    that many frames: the socket is shut down without the terminating chunk, so a client sees
    an incomplete chunked body.
    """

    def __init__(self, handler: "Handler", frame_limit: Optional[int] = None) -> None:
        self.handler = handler
        self.frame_limit = frame_limit
        self.frames = 0
        self.started = False
        self.closed = False
        self._lock = threading.Lock()

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.handler.close_connection = True  # one stream per connection: "Connection: close"
        self.handler.start_response(200, [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked"),
        ], sse=True)
        if self.frame_limit is not None and self.frame_limit <= 0:
            self.drop()

    def _chunk(self, payload: bytes) -> None:
        self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.handler.wfile.flush()

    def send(self, data: Any, event: Optional[str] = None, id: Optional[str] = None) -> None:
        """One frame: optional ``event:`` and ``id:``, then JSON on a single ``data:`` line."""
        lines = []
        if event:
            lines.append(b"event: " + event.encode("utf-8"))
        if id is not None:
            lines.append(b"id: " + str(id).encode("utf-8"))
        lines.append(b"data: " + (data if isinstance(data, bytes) else dumps(data)))
        with self._lock:
            self.start()
            self._chunk(b"\n".join(lines) + b"\n\n")
            self.frames += 1
            if self.frame_limit is not None and self.frames >= self.frame_limit:
                self.drop()

    def comment(self, text: str = "keep-alive") -> None:
        with self._lock:
            self.start()
            self._chunk(b": " + text.encode("utf-8") + b"\n\n")

    def finish(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.start()
            self.closed = True
            self.handler.wfile.write(b"0\r\n\r\n")
            self.handler.wfile.flush()
            self.handler.close_connection = True

    def drop(self) -> None:
        self.closed = True
        self.handler.close_connection = True
        self.handler.dropped = True
        try:
            self.handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise StreamDropped()


class Handler(BaseHTTPRequestHandler):
    """Reads the request, hands it to ``server.app``, and writes what the app decides."""

    protocol_version = "HTTP/1.1"
    server_version = "miosa-emulator"
    sys_version = ""
    timeout = 600  # an idle keep-alive connection is closed after this many seconds

    # Every method goes through the same dispatcher.
    def do_GET(self) -> None: self._dispatch()
    def do_POST(self) -> None: self._dispatch()
    def do_PUT(self) -> None: self._dispatch()
    def do_PATCH(self) -> None: self._dispatch()
    def do_DELETE(self) -> None: self._dispatch()
    def do_HEAD(self) -> None: self._dispatch()
    def do_OPTIONS(self) -> None: self._dispatch()

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # replaced by our line
        pass

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("miosa-emulator: " + (format % args) + "\n")

    # -- response primitives --
    def start_response(self, status: int, headers: list, *, sse: bool = False) -> None:
        self.headers_sent = True
        self.status = status
        self.send_response(status)
        names = set()
        for name, value in headers:
            names.add(name.lower())
            self.send_header(name, value)
        self.send_header("x-request-id", self.request_id)
        if "content-length" not in names and "transfer-encoding" not in names:
            self.send_header("Content-Length", "0")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        app = getattr(self.server, "app", None)
        if app is not None and self.req is not None:
            app.record(self.req, status, sse=sse, response_headers=dict(headers))

    def send_bytes(self, status: int, data: bytes, content_type: str, headers: Optional[dict] = None) -> None:
        hdrs = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
        hdrs += list((headers or {}).items())
        self.start_response(status, hdrs)
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def send_json(self, status: int, obj: Any, headers: Optional[dict] = None) -> None:
        self.send_bytes(status, dumps(obj), "application/json", headers)

    def send_api_error(self, err: ApiError) -> None:
        self.send_json(err.status, err.body(), err.response_headers())

    # -- request body --
    def _read_body(self) -> bytes:
        max_body = getattr(self.server, "max_body_bytes", 64 << 20)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionResetError("client closed during a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(1024)
                if len(out) > max_body:
                    self.close_connection = True
                    raise ApiError(413, "TOO_LARGE", f"request body exceeds {max_body} bytes",
                                   details={"limit_bytes": max_body})
            return bytes(out)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "BAD_REQUEST", "invalid Content-Length") from None
        if n > max_body:
            self.close_connection = True
            raise ApiError(413, "TOO_LARGE", f"request body of {n} bytes exceeds {max_body} bytes",
                           details={"limit_bytes": max_body, "size_bytes": n})
        return self.rfile.read(n) if n > 0 else b""

    # -- dispatch --
    def _dispatch(self) -> None:
        self.request_id = new_request_id()
        self.headers_sent = False
        self.dropped = False
        self.status = 0
        self.req: Optional[Request] = None
        started = time.monotonic()
        try:
            # A request line/headers are parsed; build the request even when the body fails,
            # so the error is logged against it.
            self.req = Request(self, self.command, self.path, b"", self.request_id)
            self.req.body = self._read_body()
            self.server.app.handle(self.req, self)
            if not self.headers_sent:
                raise RuntimeError("route wrote no response")
        except ApiError as err:
            if not self.headers_sent:
                self._safe_error(err)
            else:
                self.close_connection = True
        except StreamDropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # a bug: answer 500 and say where
            traceback.print_exc(file=sys.stderr)
            if not self.headers_sent:
                self._safe_error(ApiError(500, "INTERNAL", f"emulator error: {exc.__class__.__name__}: {exc}"))
            else:
                self.close_connection = True
        finally:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            note = " (stream cut)" if self.dropped else ""
            sys.stderr.write(f"miosa-emulator: {self.command} {self.path} -> {self.status or '-'} "
                             f"{self.request_id} {elapsed_ms}ms{note}\n")
            sys.stderr.flush()

    def _safe_error(self, err: ApiError) -> None:
        try:
            self.send_api_error(err)
        except OSError:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connection resets from clients that went away are normal here.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)
