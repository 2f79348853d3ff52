"""Drives the example over real HTTP: uvicorn serving app.py in its own process, httpx reading
the Server-Sent Events as they are sent, and the run checked against the store."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest

import runhost

HERE = pathlib.Path(__file__).resolve().parent
TEST_PLUGINS = HERE.parents[2] / "bindings" / "common" / "test-plugins"

# Waits for the test to let it go: the run cannot end before the test has seen its first
# output through SSE, so receiving it proves events are streamed, not sent when the run ends.
GATED = ["sh", "-c", 'read -r prompt; echo "got: $prompt"; while [ ! -e go ]; do sleep 0.02; done; echo finished']


def start(tmp_path: pathlib.Path, plugins: Optional[pathlib.Path] = None
          ) -> Tuple["subprocess.Popen[str]", str, pathlib.Path, pathlib.Path]:
    """uvicorn serving the app in its own process: (process, its URL, the store, the workspace).
    `plugins`: a plugin directory for the server's RUNHOST_PLUGIN_PATH (else it has none)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    store = tmp_path / "runhost.db"
    env = dict(os.environ, RUNHOST_STORE=str(store), RUNHOST_WORKSPACE_ROOT=str(workspace),
               RUNHOST_EXAMPLE_COMMAND=json.dumps(GATED), PYTHONUNBUFFERED="1")
    env.pop("RUNHOST_PLUGIN_PATH", None)
    if plugins is not None:
        env["RUNHOST_PLUGIN_PATH"] = str(plugins)
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


def serve(tmp_path: pathlib.Path, plugins: Optional[pathlib.Path] = None) -> Iterator[Tuple[str, pathlib.Path, pathlib.Path]]:
    proc, url, store, workspace = start(tmp_path, plugins)
    try:
        yield url, store, workspace
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[1]
        # Uvicorn re-raises SIGTERM after a graceful shutdown; the lifespan closed the Host.
        assert proc.returncode in (0, -15) and "Application shutdown complete" in rest, rest


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[Tuple[str, pathlib.Path, pathlib.Path]]:
    yield from serve(tmp_path)


@pytest.fixture(scope="module")
def asks_first(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The asks-first test policy (asks before a run whose prompt holds "[ask]"), compiled by
    bindings/common/test-plugins/build.py."""
    spec = importlib.util.spec_from_file_location("test_plugins_build", TEST_PLUGINS / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.build_asks_first(tmp_path_factory.mktemp("plugins"))


@pytest.fixture
def asking_server(tmp_path: pathlib.Path, asks_first: pathlib.Path) -> Iterator[Tuple[str, pathlib.Path, pathlib.Path]]:
    """The server with the asks-first policy on its RUNHOST_PLUGIN_PATH."""
    yield from serve(tmp_path, asks_first)


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


def next_event(messages: Iterator[Dict[str, str]]) -> Dict[str, Any]:
    """The next runhost event of an SSE stream, parsed."""
    message = next(messages)
    event: Dict[str, Any] = json.loads(message["data"])
    assert message["event"] == event["type"], message
    return event


def rest_of(messages: Iterator[Dict[str, str]]) -> List[Dict[str, Any]]:
    """The remaining events of a stream that ends with `end`, parsed."""
    received = list(messages)
    assert received[-1] == {"event": "end", "data": "{}"}, received
    return [json.loads(m["data"]) for m in received[:-1]]


def test_a_person_allows_a_run_from_the_page(asking_server) -> None:
    url, _, workspace = asking_server
    (workspace / "go").touch()  # the command, once allowed, runs through
    with httpx.Client(base_url=url, timeout=30) as client:
        run_id = client.post("/runs", json={"prompt": "deploy to production [ask]"}).json()["run_id"]
        with client.stream("GET", f"/runs/{run_id}/events") as response:
            messages = read_sse(response.iter_lines())
            asked = next_event(messages)  # the policy asks before anything starts
            assert asked["type"] == "approval.required", asked
            request = asked["payload"]
            assert request["action"]["summary"] == "start a custom run: deploy to production [ask]"
            assert client.get(f"/runs/{run_id}").json()["status"] == "queued"

            waiting = client.get("/approvals").json()
            assert waiting == [{
                "approval_id": request["approval_id"], "run_id": run_id,
                "summary": "start a custom run: deploy to production [ask]",
                "reason": request["reason"], "policy": "asks-first", "deadline": request["deadline"],
                "action": {"kind": "run", "name": "run.start", "input": request["action"]["input"]},
            }]
            assert "the prompt asks for a person" in waiting[0]["reason"]
            assert waiting[0]["action"]["input"]["prompt"] == "deploy to production [ask]"

            answer = client.post(f"/runs/{run_id}/approvals/{request['approval_id']}",
                                 json={"decision": "allow", "scope": "once", "reason": "change window"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"answered": True}
            events = rest_of(messages)
        assert events[0]["type"] == "approval.resolved"
        assert events[0]["payload"] == {"approval_id": request["approval_id"], "decision": "allow", "scope": "once",
                                        "source": "human", "by": "demo-user", "reason": "change window"}
        types = [e["type"] for e in events]
        assert types[1] == "run.started" and types[-1] == "run.completed", types
        assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == [
            "got: deploy to production [ask]", "finished"]
        assert client.get("/approvals").json() == []


def test_a_person_denies_a_run_and_it_fails_policy_denied(asking_server) -> None:
    url, _, _ = asking_server
    with httpx.Client(base_url=url, timeout=30) as client:
        run_id = client.post("/runs", json={"prompt": "drop the database [ask]"}).json()["run_id"]
        with client.stream("GET", f"/runs/{run_id}/events") as response:
            messages = read_sse(response.iter_lines())
            approval_id = next_event(messages)["payload"]["approval_id"]
            answer = client.post(f"/runs/{run_id}/approvals/{approval_id}",
                                 json={"decision": "deny", "reason": "not on a Friday"})
            assert answer.status_code == 200, answer.text
            events = rest_of(messages)
        assert [e["type"] for e in events] == ["approval.resolved", "run.failed"]
        assert (events[0]["payload"]["decision"], events[0]["payload"]["by"]) == ("deny", "demo-user")
        assert events[0]["payload"]["scope"] == "once", "the default scope"
        assert events[1]["payload"]["error"]["code"] == "policy_denied"
        assert client.get(f"/runs/{run_id}").json()["error_code"] == "policy_denied"


def test_answers_that_cannot_apply_are_http_errors(asking_server, asks_first) -> None:
    url, store, workspace = asking_server
    (workspace / "go").touch()
    with httpx.Client(base_url=url, timeout=30) as client:
        run_id = client.post("/runs", json={"prompt": "deploy [ask]"}).json()["run_id"]
        with client.stream("GET", f"/runs/{run_id}/events") as response:
            approval_id = next_event(read_sse(response.iter_lines()))["payload"]["approval_id"]
        answer_url = f"/runs/{run_id}/approvals/{approval_id}"

        for body in ({}, {"decision": "maybe"}, {"decision": "allow", "scope": "forever"},
                     {"decision": "allow", "reason": 7}):
            assert client.post(answer_url, json=body).status_code == 422, body

        unknown = client.post(f"/runs/{run_id}/approvals/apr_nope", json={"decision": "allow"})
        assert unknown.status_code == 409, unknown.text
        assert unknown.json()["detail"]["code"] == "invalid_dispatch"
        no_run = client.post(f"/runs/run_nope/approvals/{approval_id}", json={"decision": "allow"})
        assert no_run.status_code == 404, no_run.text
        assert no_run.json()["detail"]["code"] == "run_not_found"

        assert client.post(answer_url, json={"decision": "allow"}).status_code == 200
        twice = client.post(answer_url, json={"decision": "deny"})
        assert twice.status_code == 409, twice.text
        assert twice.json()["detail"]["code"] == "invalid_dispatch"

        # Another tenant's approval, in the same store: not listed, and answered as an unknown run.
        with runhost.Host(store=store, workspace_root=workspace, use_environment=False,
                          plugin_paths=[asks_first]) as operator:
            theirs = operator.dispatch({
                "tenantId": "another-tenant", "workspaceId": "w", "userId": "u", "deviceType": "local",
                "deviceId": "d", "runtime": "custom", "prompt": "theirs [ask]", "approvalPolicy": "auto",
                "idempotencyKey": "theirs", "command": ["true"],
            })
            their_approval = next(ev for ev in theirs.events() if ev["type"] == "approval.required")["payload"]
            assert client.get("/approvals").json() == []
            response = client.post(f"/runs/{theirs.id}/approvals/{their_approval['approval_id']}", json={"decision": "allow"})
            assert response.status_code == 404
            assert response.json()["detail"]["message"].replace(theirs.id, "<id>") == \
                no_run.json()["detail"]["message"].replace("run_nope", "<id>")
            assert [p.id for p in operator.pending_approvals()] == [their_approval["approval_id"]], "still waiting"


def test_live_approvals_need_a_runtime_that_can_ask(server) -> None:
    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30) as client:
        for policy in ("manual", "confirm-risky"):
            refused = client.post("/runs", json={"prompt": "p", "approval_policy": policy})
            assert refused.status_code == 422, refused.text
            problem = refused.json()["detail"]
            assert problem["code"] == "invalid_dispatch"
            assert problem["recovery"]["field"] == "approvalPolicy", problem
        assert client.post("/runs", json={"prompt": "p", "approval_policy": "auto"}).status_code == 201
