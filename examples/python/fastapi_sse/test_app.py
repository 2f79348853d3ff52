"""Drives the example over real HTTP: uvicorn serving app.py in its own process, httpx reading
the Server-Sent Events as they are sent, and the run checked against the store."""
from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, Iterator, List, Tuple

import httpx
import pytest

import runhost

HERE = pathlib.Path(__file__).resolve().parent

# Waits for the test to let it go: the run cannot end before the test has seen its first
# output through SSE, so receiving it proves events are streamed, not sent when the run ends.
GATED = ["sh", "-c", 'read -r prompt; echo "got: $prompt"; while [ ! -e go ]; do sleep 0.02; done; echo finished']


def start(tmp_path: pathlib.Path) -> Tuple["subprocess.Popen[str]", str, pathlib.Path, pathlib.Path]:
    """uvicorn serving the app in its own process: (process, its URL, the store, the workspace)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    store = tmp_path / "runhost.db"
    env = dict(os.environ, RUNHOST_STORE=str(store), RUNHOST_WORKSPACE_ROOT=str(workspace),
               RUNHOST_EXAMPLE_COMMAND=json.dumps(GATED), PYTHONUNBUFFERED="1")
    env.pop("RUNHOST_PLUGIN_PATH", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "0", "--app-dir", str(HERE)],
        env=env, stderr=subprocess.PIPE, text=True)
    url = None
    deadline = time.monotonic() + 30
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"Uvicorn running on (http://\S+)", line)
        url = m.group(1) if m else None
    if not url:
        proc.kill()
        raise AssertionError("uvicorn did not start: " + proc.communicate()[1])
    return proc, url, store, workspace


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[Tuple[str, pathlib.Path, pathlib.Path]]:
    proc, url, store, workspace = start(tmp_path)
    try:
        yield url, store, workspace
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[1]
        # Uvicorn re-raises SIGTERM after a graceful shutdown; the lifespan closed the Host.
        assert proc.returncode in (0, -15) and "Application shutdown complete" in rest, rest


def read_sse(lines: Iterator[str]) -> Iterator[Dict[str, str]]:
    """SSE messages as {id, event, data} from a line iterator."""
    message: Dict[str, str] = {}
    for line in lines:
        if line == "":
            if message:
                yield message
            message = {}
        else:
            field, _, value = line.partition(":")
            message[field] = value[1:] if value.startswith(" ") else value


def test_a_run_streams_to_the_browser_as_server_sent_events(server) -> None:
    url, store, workspace = server
    with httpx.Client(base_url=url, timeout=30) as client:
        assert "EventSource" in client.get("/").text

        created = client.post("/runs", json={"prompt": "hello from the browser", "submission_id": "s-1"})
        assert created.status_code == 201, created.text
        run_id = created.json()["run_id"]
        assert created.json()["created"] is True
        again = client.post("/runs", json={"prompt": "hello from the browser", "submission_id": "s-1"})
        assert again.json()["run_id"] == run_id and again.json()["created"] is False, "a resubmission is the same run"

        received: List[Dict[str, str]] = []
        with client.stream("GET", f"/runs/{run_id}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for message in read_sse(response.iter_lines()):
                received.append(message)
                if message.get("event") == "command.output":
                    payload = json.loads(message["data"])["payload"]
                    if payload["text"] == "got: hello from the browser":
                        assert client.get(f"/runs/{run_id}").json()["status"] == "running"
                        (workspace / "go").touch()  # only now can the run finish
        assert received[-1] == {"event": "end", "data": "{}"}
        events = [json.loads(m["data"]) for m in received[:-1]]
        assert [int(m["id"]) for m in received[:-1]] == [e["seq"] for e in events] == list(range(1, len(events) + 1))
        types = [e["type"] for e in events]
        assert types[0] == "run.started" and types[-1] == "run.completed"
        texts = [e["payload"]["text"] for e in events if e["type"] == "command.output"]
        assert texts == ["got: hello from the browser", "finished"]
        assert client.get(f"/runs/{run_id}").json()["status"] == "succeeded"

        # What the browser got is exactly what the store holds (another process reads it).
        with runhost.Host(store=store, workspace_root=workspace, use_environment=False) as reader:
            assert reader.events(run_id) == events

        # A reconnecting EventSource sends Last-Event-ID and gets the rest, nothing twice.
        with client.stream("GET", f"/runs/{run_id}/events", headers={"Last-Event-ID": "2"}) as response:
            resumed = [m for m in read_sse(response.iter_lines())]
        assert [int(m["id"]) for m in resumed[:-1]] == [e["seq"] for e in events[2:]]


def test_errors_are_http_errors_with_the_typed_code(server) -> None:
    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/runs/run_nope/events").status_code == 404
        assert client.post("/runs", json={}).status_code == 422
        first = client.post("/runs", json={"prompt": "one", "submission_id": "dup"})
        assert first.status_code == 201
        conflict = client.post("/runs", json={"prompt": "two", "submission_id": "dup"})
        assert conflict.status_code == 409
        assert conflict.json()["detail"]["code"] == "idempotency_conflict"


def test_another_tenants_run_is_a_404(server) -> None:
    # The app acts as its tenant (host.for_tenant): a run of another tenant, in the same store,
    # answers exactly as an unknown id does.
    url, store, workspace = server
    with runhost.Host(store=store, workspace_root=workspace, use_environment=False) as operator:
        other = operator.dispatch({
            "tenantId": "another-tenant", "workspaceId": "w", "userId": "u", "deviceType": "local",
            "deviceId": "d", "runtime": "custom", "prompt": "p", "approvalPolicy": "auto",
            "idempotencyKey": "theirs", "command": ["true"],
        })
        other.wait(timeout=30)
        with httpx.Client(base_url=url, timeout=30) as client:
            for path in (f"/runs/{other.id}", f"/runs/{other.id}/events"):
                response = client.get(path)
                assert response.status_code == 404
                unknown = client.get(path.replace(other.id, "run_nope"))
                assert response.json()["detail"].replace(other.id, "<id>") == unknown.json()["detail"].replace("run_nope", "<id>")


def test_sigterm_stops_the_server_within_2_s_while_a_browser_follows_a_run(tmp_path: pathlib.Path) -> None:
    # The run cannot end by itself (GATED waits for a file nobody creates): without the app's
    # shutdown hook, uvicorn would wait for this response, and so for the run, forever.
    proc, url, store, workspace = start(tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            run_id = client.post("/runs", json={"prompt": "follow me"}).json()["run_id"]
            received: List[Dict[str, str]] = []
            with client.stream("GET", f"/runs/{run_id}/events") as response:
                messages = read_sse(response.iter_lines())
                for message in messages:
                    received.append(message)
                    if message.get("event") == "command.output":
                        break  # the browser is now waiting for the next event
                sent = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                # The response ends (the browser would reconnect with Last-Event-ID)...
                rest = list(messages)
            stream_ended = time.monotonic() - sent
        # ...and the process exits, having shut the application down.
        rest_err = proc.communicate(timeout=10)[1]
        exited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert exited < 2.0, f"the server took {exited:.2f} s to stop after SIGTERM"
    assert stream_ended < 2.0
    # Uvicorn re-raises SIGTERM after a graceful shutdown (-15); either way, nothing went wrong.
    assert proc.returncode in (0, -signal.SIGTERM), (proc.returncode, rest_err)
    assert "Application shutdown complete" in rest_err and "Traceback" not in rest_err, rest_err
    assert rest == [], "the stream ends without the `end` event, so the browser reconnects"
    assert [m["event"] for m in received] == ["run.started", "command.output"]
    # The Host closed with the application: it cancelled the run it was running.
    with runhost.Host(store=store, workspace_root=workspace, use_environment=False) as reader:
        assert reader.run(run_id).status == "cancelled"
        assert reader.events(run_id)[-1]["type"] == "run.cancelled"
