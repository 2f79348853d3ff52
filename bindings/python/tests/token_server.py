"""An OAuth-style token endpoint on 127.0.0.1 for the grant tests, the Python twin of
tests/support/token_server.{hpp,cpp}: it records every request it gets and answers each with
what the test set (an HTTP status and a JSON body).

    with TokenServer() as server:
        server.answer(200, {"access_token": "tok", "expires_in": 3600})
        ... server.url("/token") ... server.requests()[0].body
"""
from __future__ import annotations

import http.server
import json
import threading
from types import TracebackType
from typing import Any, List, NamedTuple, Optional, Tuple, Type


class Request(NamedTuple):
    method: str
    path: str  # the path and query, as sent
    headers: str  # the header lines, as sent
    body: str


class TokenServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answer: Tuple[int, str] = (500, "{}")
        self._requests: List[Request] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._record_and_answer()

            def do_GET(self) -> None:
                self._record_and_answer()

            def _record_and_answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                with server._lock:
                    server._requests.append(Request(self.command, self.path, str(self.headers), body))
                    status, text = server._answer
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads requests()
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, name="token-server", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, status: int, body: Any) -> None:
        """What every request gets from now on: ``body`` as JSON (a str is sent as it is)."""
        with self._lock:
            self._answer = (status, body if isinstance(body, str) else json.dumps(body))

    def requests(self) -> List[Request]:
        with self._lock:
            return list(self._requests)

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def __enter__(self) -> "TokenServer":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()
