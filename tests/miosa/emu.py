"""Helpers for the MIOSA emulator suite: start/stop ``serve``, the admin routes, raw HTTP.

The tests drive the emulator through the official SDK; this module is only for what the SDK
has no call for (the emulator's log and fault knobs, headers, the preview proxy).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[2]
SERVE = REPO / "tools" / "miosa-emulator" / "serve"
API_KEY = "msk_test_emulator_key"


class Emulator:
    """One running ``serve`` process."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.stderr_path = root.parent / f"{root.name}.stderr.log"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([str(SERVE), "--port", "0", "--root", str(root), *args],
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        prefix = "miosa-emulator listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}\n{self.stderr()}")
        self.base_url = line[len(prefix):].strip()
        self.port = int(self.base_url.rsplit(":", 1)[1])

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit status (the emulator exits 0 after killing its groups)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self._stderr.close()

    # -- raw HTTP --
    def raw(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None,
            auth: bool = True, timeout: float = 30) -> tuple[int, dict, bytes]:
        url = path if path.startswith("http") else self.base_url + path
        data = None
        hdrs = {"Accept": "application/json"}
        if auth:
            hdrs["Authorization"] = f"Bearer {API_KEY}"
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        status, _, data = self.raw(method, "/_emulator/" + path, body, auth=False)
        assert 200 <= status < 300, (status, data)
        return json.loads(data)["data"]

    def arm(self, **fault: Any) -> dict:
        return self.admin("POST", "faults", fault)[0]

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def log(self, since: int = 0) -> list:
        return self.admin("GET", f"log?since={since}")

    def last_seq(self) -> int:
        entries = self.log()
        return entries[-1]["seq"] if entries else 0

    def config(self, **values: Any) -> dict:
        return self.admin("POST", "config", values)


def wait_until(pred: Callable[[], Any], what: str, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``pred`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"gave up waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, headers: Optional[dict] = None, timeout: float = 10) -> tuple[int, bytes]:
    """GET without any Authorization (a browser's view)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def store_bytes(store: Path) -> bytes:
    """Every byte a runhost store keeps: the SQLite file, its -wal and -shm (where most of the
    data is until a checkpoint) and whatever else lies beside it under its name."""
    out = b""
    for path in sorted(store.parent.glob(store.name + "*")):
        for f in [path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file()):
            out += f.read_bytes()
    return out


def entries_for(log: list, method: str, suffix: str) -> list:
    return [e for e in log if e["method"] == method and e["path"].endswith(suffix)]


def pids_with_marker(marker: str, *, sandboxed_only: bool = False) -> list:
    """Host pids whose command line contains ``marker`` (with ``sandboxed_only``, only the
    ``/bin/sh -c`` inside the sandbox, which exists once bubblewrap has finished its setup)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline and (not sandboxed_only or cmdline.startswith(b"/bin/sh\0-c\0")):
            found.append(int(entry))
    return found
