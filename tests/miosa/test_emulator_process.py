"""The ``serve`` process itself: the stream framing on the wire, keep-alives, signals, refusals.

These tests start their own emulators (short keep-alive interval, or to be killed).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from emu import API_KEY, SERVE, Emulator, pids_with_marker, wait_until


@pytest.fixture
def own_emulator(tmp_path):
    emus = []

    def start(*args: str) -> Emulator:
        emu = Emulator(tmp_path / f"root{len(emus)}", *args)
        emus.append(emu)
        return emu
    yield start
    for emu in emus:
        if emu.proc.poll() is None:
            emu.stop()


def create_sandbox(emu: Emulator) -> str:
    status, _, body = emu.raw("POST", "/api/v1/sandboxes", {"template_id": "miosa-sandbox"})
    assert status == 201
    return json.loads(body)["data"]["id"]


def read_chunks(sock: socket.socket, until: bytes) -> tuple[bytes, list]:
    """Raw response head and the decoded chunk payloads, read until one contains ``until``."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    head, _, rest = buf.partition(b"\r\n\r\n")
    chunks = []
    while True:
        while b"\r\n" not in rest:
            rest += sock.recv(4096)
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        while len(rest) < size + 2:
            rest += sock.recv(4096)
        chunks.append(rest[:size])
        assert rest[size:size + 2] == b"\r\n"
        rest = rest[size + 2:]
        if size == 0 or until in chunks[-1]:
            return head, chunks


def test_sse_framing_and_keep_alive_on_the_wire(own_emulator):
    emu = own_emulator("--keepalive-sec", "0.2")
    sandbox_id = create_sandbox(emu)
    with socket.create_connection(("127.0.0.1", emu.port), timeout=20) as sock:
        sock.sendall((f"GET /api/v1/sandboxes/{sandbox_id}/events HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {API_KEY}\r\n"
                      "Accept: text/event-stream, application/json;q=0.9\r\n\r\n").encode())
        head, chunks = read_chunks(sock, b": keep-alive")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "text/event-stream" and headers["transfer-encoding"] == "chunked"
    assert headers["x-request-id"].startswith("req_") and "content-length" not in headers
    assert headers["connection"] == "close" and headers["server"] == "miosa-emulator"
    assert chunks[-1] == b": keep-alive\n\n"
    first = chunks[0].decode()
    assert first.startswith("event: sandbox.created\nid: 1\ndata: {") and first.endswith("}\n\n")
    assert json.loads(first.split("data: ", 1)[1])["sandbox_id"] == sandbox_id
    assert all(c.endswith(b"\n\n") and c.count(b"data: ") <= 1 for c in chunks)


def test_sigterm_kills_every_process_group_and_exits_0(own_emulator):
    emu = own_emulator()
    sandbox_id = create_sandbox(emu)
    marker = f"marker-{uuid.uuid4().hex}"
    status, _, _ = emu.raw("POST", f"/api/v1/sandboxes/{sandbox_id}/processes",
                           {"command": f"sleep 600 # {marker}"})
    assert status == 201
    wait_until(lambda: pids_with_marker(marker, sandboxed_only=True), "the sandboxed process")
    assert emu.stop() == 0
    wait_until(lambda: not pids_with_marker(marker), "every process of the emulator to be gone")
    assert "stopped" in emu.stderr()


def test_a_killed_emulator_leaves_no_sandbox_process(own_emulator):
    emu = own_emulator()
    sandbox_id = create_sandbox(emu)
    marker = f"orphan-{uuid.uuid4().hex}"
    emu.raw("POST", f"/api/v1/sandboxes/{sandbox_id}/processes", {"command": f"sleep 600 # {marker}"})
    wait_until(lambda: pids_with_marker(marker, sandboxed_only=True), "the sandboxed process")
    emu.proc.send_signal(signal.SIGKILL)
    emu.proc.wait(10)
    wait_until(lambda: not pids_with_marker(marker), "the parent-death signal to end the sandbox")


def test_one_line_on_stdout_and_one_log_line_per_request(own_emulator):
    emu = own_emulator()
    emu.raw("GET", "/api/v1/sandboxes")
    emu.raw("GET", "/api/v1/sandboxes/nope")
    assert emu.stop() == 0
    assert emu.proc.stdout.read() == b""  # nothing after the listening line
    request_lines = [line for line in emu.stderr().splitlines() if " -> " in line]
    assert len(request_lines) == 2
    assert " GET /api/v1/sandboxes/nope -> 404 req_" in request_lines[1]


def test_refuses_to_start_without_bwrap_or_with_a_bad_template(tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    done = subprocess.run([sys.executable, str(SERVE), "--port", "0"], capture_output=True, text=True,
                          env={**os.environ, "PATH": str(empty)}, timeout=30)
    assert done.returncode != 0 and done.stdout == ""
    assert "apt-get install bubblewrap" in done.stderr
    done = subprocess.run([sys.executable, str(SERVE), "--port", "0", "--template", "t:relative/dir"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "not an absolute path" in done.stderr
