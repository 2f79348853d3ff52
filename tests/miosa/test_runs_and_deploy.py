"""Runs (``/runs``) and deployments (acceptance check 11 beyond the seed flow)."""

from __future__ import annotations

import pytest
from miosa.errors import NotFoundError, ValidationError

from emu import fetch, wait_until


def test_a_run_executes_in_the_sandbox_and_records_events(client, sandbox):
    run = client.runs.run(sandbox_id=sandbox.id, instruction="say hi", command='echo "$MIOSA_INSTRUCTION"; echo e >&2',
                          wait=True)
    assert run["status"] == "succeeded" and run["exit_code"] == 0
    events = client.runs.events(run["id"])
    assert [e["type"] for e in events] == ["run.queued", "run.started", "run.output", "run.output", "run.finished"]
    outputs = [(e["message"], e["metadata"]["stream"]) for e in events if e["type"] == "run.output"]
    assert outputs == [("say hi", "stdout"), ("e", "stderr")]
    assert all(e["run_id"] == run["id"] for e in events)
    after = client.runs.events(run["id"], after_id=events[2]["id"])
    assert [e["id"] for e in after] == [e["id"] for e in events[3:]]
    assert client.runs.events(run["id"], limit=2) == events[:2]
    streamed = list(client.agent_runs.stream_events(run["id"]))
    assert [e["type"] for e in streamed] == [e["type"] for e in events]
    assert client.runs.get(run["id"])["status"] == "succeeded"
    assert run["id"] in [r["id"] for r in client.runs.list(sandbox_id=sandbox.id)]


def test_a_run_can_be_cancelled_and_fails_on_a_missing_runner(client, sandbox):
    run = client.runs.run(sandbox_id=sandbox.id, command="echo working; exec sleep 600")
    assert run["status"] == "running"
    wait_until(lambda: any(e["type"] == "run.output" for e in client.runs.events(run["id"])), "output")
    cancelled = client.runs.cancel(run["id"])
    assert cancelled["status"] == "canceled"
    assert client.runs.events(run["id"])[-1]["status"] == "canceled"
    missing = sandbox.run_agent("build it", runner="codex")  # no codex in the default template
    assert missing["status"] == "failed" and missing["exit_code"] == 127
    with pytest.raises(ValidationError):
        client.runs.run(sandbox_id=sandbox.id, runner="no-such-harness")
    with pytest.raises(NotFoundError):
        client.runs.get("run_missing")


def test_redeploy_adds_a_version_and_serves_it(client, sandbox):
    sandbox.files.write_many([{"path": "/workspace/dist/index.html", "content": "release 1"}])
    first = sandbox.deploy(name="versioned", output_path="/workspace/dist")
    wait_until(lambda: client.deployments.get(first["deployment_id"]).state.value == "running", "release 1")
    dep = client.deployments.get(first["deployment_id"])
    assert fetch(dep.public_url) == (200, b"release 1")
    sandbox.files.write_many([{"path": "/workspace/dist/index.html", "content": "release 2"}])
    second = sandbox.deploy(name="versioned", output_path="/workspace/dist")
    assert second["deployment_id"] == first["deployment_id"] and second["version"] == 2
    wait_until(lambda: fetch(dep.public_url) == (200, b"release 2"), "release 2 to be served")
    final = client.deployments.get(first["deployment_id"])
    assert final.active_version_id == second["version_id"] and len(final.running_artifact_sha256) == 64
    with pytest.raises(NotFoundError):
        client.deployments.get("dep_missing")
