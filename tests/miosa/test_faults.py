"""Every fault knob, seen through the SDK (and acceptance check 13's knob: a cut exec stream)."""

from __future__ import annotations

import httpx
import pytest
from miosa.errors import (CreditRequiredError, InsufficientCreditsError, MachineStartingError, MiosaError,
                          PermissionError as MiosaPermissionError, RateLimitError, ServerError)

from emu import entries_for, wait_until


def statuses(emulator, seq, method, suffix):
    return [e["status"] for e in entries_for(emulator.log(seq), method, suffix)]


def test_429_is_retried_with_retry_after_then_surfaces(client, emulator, sandbox):
    seq = emulator.last_seq()
    emulator.arm(route=rf"GET /api/v1/sandboxes/{sandbox.id}$", kind="429", count=2, retry_after=0.05)
    assert client.sandboxes.get(sandbox.id).id == sandbox.id
    assert statuses(emulator, seq, "GET", f"/sandboxes/{sandbox.id}") == [429, 429, 200]

    emulator.arm(route=rf"GET /api/v1/sandboxes/{sandbox.id}$", kind="429", count=4, retry_after=0.05)
    with pytest.raises(RateLimitError) as limited:
        client.sandboxes.get(sandbox.id)
    assert limited.value.retry_after == 0.05 and limited.value.retry_after_ms == 50


def test_5xx_is_retried_for_gets_not_for_unkeyed_posts(client, emulator, sandbox):
    seq = emulator.last_seq()
    emulator.arm(route=r"GET .*/usage$", kind="5xx", status=502, count=1, retry_after=0.05)
    assert sandbox.usage()["sandbox_id"] == sandbox.id
    assert statuses(emulator, seq, "GET", f"/{sandbox.id}/usage") == [502, 200]

    emulator.arm(route=r"GET .*/usage$", kind="5xx", status=500, code="INTERNAL", count=4, retry_after=0.05)
    with pytest.raises(ServerError) as failed:
        sandbox.usage()
    assert failed.value.status_code == 500 and failed.value.code == "INTERNAL"

    seq = emulator.last_seq()
    emulator.arm(route=r"POST .*/exec$", kind="5xx", status=503, count=1)
    with pytest.raises(ServerError):
        sandbox.exec("true")  # a POST without Idempotency-Key is never replayed
    assert statuses(emulator, seq, "POST", f"/{sandbox.id}/exec") == [503]
    assert sandbox.exec("echo ok").stdout == "ok\n"  # the knob is spent


def test_sandbox_starting(client, emulator, sandbox):
    seq = emulator.last_seq()
    emulator.arm(route=r"POST .*/commands$", kind="sandbox_starting", retry_after=0.2)
    with pytest.raises(MachineStartingError) as starting:
        client.commands.run(sandbox.id, "true")
    assert (starting.value.status_code, starting.value.retryable, starting.value.retry_after_ms) == (409, True, 200)
    entry = entries_for(emulator.log(seq), "POST", f"/{sandbox.id}/commands")[0]
    assert entry["response_headers"]["Retry-After"] == "0.2"
    assert client.commands.run(sandbox.id, "echo fine")["stdout"] == "fine\n"


def test_drop_stream_after_frames_cuts_exec_stream(client, emulator, sandbox):
    emulator.arm(route=r"POST .*/exec/stream$", kind="drop_stream_after_frames", frames=2)
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        for event in sandbox.exec_stream("echo one; echo two; echo three; exec sleep 600"):
            received.append(event)
    assert [(e.type, e.data) for e in received] == [("stdout", {"line": "one"}), ("stdout", {"line": "two"})]
    # the command went with its stream
    wait_until(lambda: next(s for s in emulator.admin("GET", "state")["sandboxes"]
                            if s["id"] == sandbox.id)["live_jobs"] == 0, "the cut command to be killed")
    events = list(sandbox.exec_stream("echo again"))  # the knob fired once
    assert [e.type for e in events] == ["stdout", "exit"]


def test_drop_stream_after_frames_cuts_a_process_stream(emulator, sandbox):
    proc = sandbox.processes.start("for i in 1 2 3 4; do echo l$i; done")
    wait_until(lambda: sandbox.processes.get(proc["pid"])["state"] == "exited", "the process to end")
    emulator.arm(route=r"GET .*/processes/\d+/stream$", kind="drop_stream_after_frames", frames=3)
    got = []
    with pytest.raises(httpx.RemoteProtocolError):
        for frame in sandbox.processes.stream(proc["pid"]):
            got.append(frame["line"])
    assert got == ["l1", "l2", "l3"]
    assert [f.get("line") for f in sandbox.processes.stream(proc["pid"])] == ["l1", "l2", "l3", "l4", None]


def test_slow_readiness_ms_on_a_fork(client, emulator, sandbox):
    emulator.arm(route=r"POST .*/fork$", kind="slow_readiness_ms", ms=1500)
    fork = sandbox.fork()
    assert fork.state == "creating"
    assert fork.wait_until_ready(timeout=30) is True and fork.state == "running"
    fork.destroy()


def test_restore_transient(emulator, sandbox):
    sandbox.pause()
    sandbox.wait_for_checkpoint(timeout=30, interval=0.05)
    emulator.arm(route=r"POST .*/resume$", kind="restore_transient")
    with pytest.raises(ServerError) as transient:
        sandbox.resume()
    assert (transient.value.status_code, transient.value.code, transient.value.retryable) == \
        (503, "RESTORE_TRANSIENT", True)
    sandbox.resume()
    assert sandbox.state == "running"


def test_idempotency_conflict(client, emulator):
    emulator.arm(route=r"^POST /api/v1/sandboxes$", kind="idempotency_conflict")
    with pytest.raises(MiosaError) as conflict:
        client.sandboxes.create()
    assert conflict.value.status_code == 409 and conflict.value.code == "IDEMPOTENCY_CONFLICT"


def test_credit_required(emulator, sandbox):
    emulator.arm(route=r"POST .*/snapshots$", kind="credit_required")
    with pytest.raises(CreditRequiredError) as credit:
        sandbox.snapshots.create("named")
    assert isinstance(credit.value, InsufficientCreditsError) and credit.value.status_code == 402
    assert sandbox.snapshots.create("named")["comment"] == "named"


def test_generic_error_kind(emulator, sandbox):
    emulator.arm(route=r"GET .*/previews$", kind="error", status=403, code="FORBIDDEN", message="not for you")
    with pytest.raises(MiosaPermissionError) as denied:
        sandbox.previews.list()
    assert denied.value.message == "not for you" and denied.value.code == "FORBIDDEN"


def test_knobs_count_match_and_clear(emulator, sandbox):
    armed = emulator.arm(route=r"GET .*/never-called$", kind="5xx", count=3)
    assert armed["remaining"] == 3 and armed["kind"] == "5xx"
    fired = emulator.arm(route=r"GET .*/snapshots$", kind="5xx", status=500, count=1, retry_after=0.01)
    sandbox.snapshots.list()
    by_id = {f["id"]: f for f in emulator.admin("GET", "faults")}
    assert by_id[armed["id"]]["remaining"] == 3 and by_id[fired["id"]]["remaining"] == 0
    assert by_id[fired["id"]]["fired"] == 1
    emulator.clear_faults()
    assert emulator.admin("GET", "faults") == []
    status, _, body = emulator.raw("POST", "/_emulator/faults", {"route": ".*", "kind": "meteor"}, auth=False)
    assert status == 422 and b"unknown fault kind" in body
