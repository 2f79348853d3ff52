"""Readiness (acceptance check 3): the SSE path, a slow sandbox, the polling fallback."""

from __future__ import annotations

import threading

from miosa.errors import MachineStartingError, MiosaError

from emu import entries_for, wait_until


def test_wait_until_ready_over_the_stream(client, emulator, sandbox):
    seq = emulator.last_seq()
    assert sandbox.wait_until_ready() is True
    log = emulator.log(seq)
    stream = entries_for(log, "GET", f"/{sandbox.id}/readiness/stream")
    assert [e["status"] for e in stream] == [200] and stream[0]["sse"] is True
    assert not entries_for(log, "GET", f"/{sandbox.id}/readiness")  # no polling needed


def test_a_slow_sandbox_is_creating_until_ready(client, emulator):
    emulator.arm(route=r"^POST /api/v1/sandboxes$", kind="slow_readiness_ms", ms=600000)
    sbx = client.sandboxes.create()
    assert sbx.state == "creating" and sbx.ready is False
    readiness = sbx.readiness()
    assert readiness["ready"] is False
    assert readiness["readiness"]["components"]["command_agent"]["status"] == "pending"
    seq = emulator.last_seq()
    verdict: list = []
    waiter = threading.Thread(target=lambda: verdict.append(sbx.wait_until_ready(timeout=60)))
    waiter.start()
    wait_until(lambda: entries_for(emulator.log(seq), "GET", f"/{sbx.id}/readiness/stream"), "the stream")
    emulator.admin("POST", f"sandboxes/{sbx.id}/settle")  # now it becomes ready
    waiter.join(60)
    assert verdict == [True]
    assert not entries_for(emulator.log(seq), "GET", f"/{sbx.id}/readiness")  # the stream said so
    assert sbx.state == "running" and sbx.ready_at is not None
    assert sbx.readiness()["ready"] is True


def test_create_with_wait_answers_once_ready(client, emulator):
    emulator.arm(route=r"^POST /api/v1/sandboxes$", kind="slow_readiness_ms", ms=400)
    sbx = client.sandboxes.create(wait=10)
    assert sbx.state == "running"


def test_a_404_on_the_stream_falls_back_to_polling(client, emulator):
    emulator.arm(route=r"^POST /api/v1/sandboxes$", kind="slow_readiness_ms", ms=300)
    emulator.arm(route=r"GET .*/readiness/stream$", kind="error", status=404, code="NOT_FOUND",
                 message="no readiness stream here")
    seq = emulator.last_seq()
    sbx = client.sandboxes.create()
    assert sbx.wait_until_ready(timeout=30) is True
    log = emulator.log(seq)
    assert [e["status"] for e in entries_for(log, "GET", f"/{sbx.id}/readiness/stream")] == [404]
    polls = entries_for(log, "GET", f"/{sbx.id}/readiness")
    assert len(polls) >= 1 and all(e["status"] == 200 for e in polls)
    assert sbx.state == "running"


def test_a_stream_cut_before_the_verdict_also_falls_back(client, emulator, sandbox):
    emulator.arm(route=r"GET .*/readiness/stream$", kind="drop_stream_after_frames", frames=0)
    seq = emulator.last_seq()
    assert sandbox.wait_until_ready(timeout=30) is True
    assert entries_for(emulator.log(seq), "GET", f"/{sandbox.id}/readiness")


def test_commands_before_readiness_are_refused_as_starting(client, emulator):
    emulator.arm(route=r"^POST /api/v1/sandboxes$", kind="slow_readiness_ms", ms=60000)
    sbx = client.sandboxes.create()
    try:
        client.commands.run(sbx.id, "true")
    except MachineStartingError as err:
        assert err.retryable is True and err.retry_after_ms == 100
    else:
        raise AssertionError("a command before readiness was accepted")
    status, headers, _ = emulator.raw("POST", f"/api/v1/sandboxes/{sbx.id}/exec", {"command": "true"})
    assert status == 409 and headers["retry-after"] == "0.1"
    try:
        client.sandboxes.get(sbx.id).processes.start("true")
    except MiosaError as err:
        assert err.code == "SANDBOX_NOT_COMMAND_READY" and err.retryable is True
    else:
        raise AssertionError("a process before readiness was accepted")
    client.sandboxes.delete(sbx.id)
