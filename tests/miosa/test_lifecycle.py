"""Lifecycle: pause/stop/resume, get_or_create, snapshots/restore/fork, list/update/destroy
(acceptance checks 9 and 12)."""

from __future__ import annotations

import threading
import uuid

import pytest
from miosa.errors import MiosaError, NotFoundError, ResourceStateError, ServerError

from emu import entries_for, pids_with_marker, wait_until


def host_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    return raw[raw.rindex(")") + 2]


def test_pause_stops_processes_and_get_or_create_resumes(client, emulator):
    name = f"ws-{uuid.uuid4().hex[:8]}"
    sbx = client.sandboxes.get_or_create(name, persistent=True)
    emulator.config(checkpoint_ms=600000)  # held open until the test settles it
    marker = f"ticker-{uuid.uuid4().hex[:8]}"
    ticker = sbx.processes.start(f"i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.05; done # {marker}")
    wait_until(lambda: "tick2" in sbx.processes.logs(ticker["pid"]), "the ticker")
    try:
        sbx.pause()
    finally:
        emulator.config(checkpoint_ms=300)
    assert sbx.state == "paused" and sbx.checkpoint_pending is True
    assert sbx.processes.get(ticker["pid"])["state"] == "paused"
    pids = pids_with_marker(marker)
    assert pids
    wait_until(lambda: all(host_state(p) == "T" for p in pids), "every process of the group to be stopped")
    with pytest.raises(ResourceStateError) as refused:  # paused + persistent passes the SDK's gate
        sbx.exec("true")
    assert refused.value.status_code == 409 and refused.value.code == "RESOURCE_STATE"
    frozen = sbx.processes.logs(ticker["pid"], tail=1)

    seq = emulator.last_seq()
    found: list = []
    resumer = threading.Thread(target=lambda: found.append(client.sandboxes.get_or_create(name)))
    resumer.start()  # it sees checkpoint_pending and polls GET /sandboxes/{id}
    wait_until(lambda: entries_for(emulator.log(seq), "GET", f"/sandboxes/{sbx.id}"), "the checkpoint polling")
    assert not entries_for(emulator.log(seq), "POST", f"/{sbx.id}/resume")  # not before the checkpoint
    emulator.admin("POST", f"sandboxes/{sbx.id}/settle")
    resumer.join(60)
    again = found[0]
    assert again.id == sbx.id and again.state == "running"
    assert [e["status"] for e in entries_for(emulator.log(seq), "POST", f"/{sbx.id}/resume")] == [200]
    assert again.processes.get(ticker["pid"])["state"] == "running"
    wait_until(lambda: all(host_state(p) != "T" for p in pids), "the group to continue")
    wait_until(lambda: again.processes.logs(ticker["pid"], tail=1) != frozen, "the ticker to go on")
    assert again.exec("echo back").stdout == "back\n"
    client.sandboxes.delete(sbx.id)


def test_stop_kills_processes_and_resume_is_transient_during_the_checkpoint(client, emulator):
    emulator.config(checkpoint_ms=60000)
    try:
        sbx = client.sandboxes.create(persistent=True)
        proc = sbx.processes.start("exec sleep 600")
        sbx.files.write("/workspace/kept.txt", "the disk survives a stop")
        sbx.stop()
        assert sbx.state == "paused" and sbx.checkpoint_pending is True
        assert sbx.processes.get(proc["pid"])["state"] == "killed"
        with pytest.raises(ServerError) as transient:
            sbx.resume()
        err = transient.value
        assert (err.status_code, err.code, err.retryable) == (503, "RESTORE_TRANSIENT", True)
        assert err.details == {"reason": "checkpoint_in_flight"}
        client.sandboxes.delete(sbx.id)
    finally:
        emulator.config(checkpoint_ms=300)
    sbx = client.sandboxes.create(persistent=True)
    sbx.files.write("/workspace/kept.txt", "the disk survives a stop")
    sbx.stop()
    assert sbx.wait_for_checkpoint(timeout=30, interval=0.05) is True
    sbx.resume()
    assert sbx.state == "running"
    assert sbx.files.read_text("/workspace/kept.txt") == "the disk survives a stop"
    client.sandboxes.delete(sbx.id)


def test_restore_transient_knob(client, emulator, sandbox):
    sandbox.pause()
    sandbox.wait_for_checkpoint(timeout=30, interval=0.05)
    seq = emulator.last_seq()
    emulator.arm(route=r"POST .*/resume$", kind="restore_transient", count=4, retry_after=0.05)
    with pytest.raises(ServerError) as exhausted:
        sandbox.resume(idempotency_key="resume-1")  # with a key the SDK retries: 4 tries
    assert exhausted.value.status_code == 503 and exhausted.value.code == "RESTORE_TRANSIENT"
    assert exhausted.value.retryable is True
    tries = entries_for(emulator.log(seq), "POST", f"/{sandbox.id}/resume")
    assert [t["status"] for t in tries] == [503] * 4
    assert {t["idempotency_key"] for t in tries} == {"resume-1"}

    emulator.arm(route=r"POST .*/resume$", kind="restore_transient", count=2, retry_after=0.05)
    sandbox.resume(idempotency_key="resume-2")  # succeeds once the knob's count is spent
    assert sandbox.state == "running"
    without_key = entries_for(emulator.log(seq), "POST", f"/{sandbox.id}/resume")
    assert [t["status"] for t in without_key][4:] == [503, 503, 200]


def test_snapshot_restore_and_fork(client, sandbox):
    sandbox.files.write_many([{"path": "/workspace/app.txt", "content": "v1"}])
    sandbox.exec("ln -s app.txt /workspace/link && mkdir -p /workspace/empty-dir")
    snap = sandbox.snapshots.create("v1")
    legacy_id = sandbox.snapshot()
    assert legacy_id and legacy_id != snap["id"]
    sandbox.files.write_many([{"path": "/workspace/app.txt", "content": "v2"},
                              {"path": "/workspace/new.txt", "content": "new"}])
    live_fork = sandbox.fork(name=f"live-{uuid.uuid4().hex[:6]}")
    assert live_fork.files.read_text("/workspace/app.txt") == "v2"
    restored = sandbox.snapshots.restore(snap["id"])
    assert restored.id == sandbox.id and restored.state == "running"
    assert sandbox.files.read_text("/workspace/app.txt") == "v1"
    assert sandbox.exec("ls -A /workspace; readlink /workspace/link").stdout == \
        "app.txt\nempty-dir\nlink\napp.txt\n"
    assert live_fork.files.read_text("/workspace/new.txt") == "new"  # the fork is independent
    from_snap = sandbox.fork(snapshot_id=legacy_id)
    assert from_snap.files.read_text("/workspace/app.txt") == "v1"
    sandbox.snapshots.delete(snap["id"])
    assert snap["id"] not in [s["id"] for s in sandbox.snapshots.list()]
    with pytest.raises(NotFoundError):
        sandbox.snapshots.restore(snap["id"])
    for sbx in (live_fork, from_snap):
        sbx.destroy()


def test_list_filters_by_name_update_extend_destroy(client, emulator):
    tag = f"tag-{uuid.uuid4().hex[:6]}"
    name = f"named-{uuid.uuid4().hex[:6]}"
    sbx = client.sandboxes.create(name=name, tags=[tag, "common"], timeout_sec=120)
    other = client.sandboxes.create(tags=["common"])
    assert [s.id for s in client.sandboxes.list(tags=[tag])] == [sbx.id]
    assert client.sandboxes.get_by_name(name).id == sbx.id
    odd = client.sandboxes.create(name=f"team/{name} #1")
    assert client.sandboxes.get_by_name(f"team/{name} #1").id == odd.id
    odd.destroy()
    with pytest.raises(MiosaError) as taken:
        client.sandboxes.create(name=name)
    assert taken.value.status_code == 409
    sbx.update(tags=["renamed"], metadata={"k": "v"}, persistent=True, timeout_sec=900)
    assert [s.id for s in client.sandboxes.list(tags=["renamed"])] == [sbx.id]
    assert client.sandboxes.list(tags=[tag]) == []
    fresh = client.sandboxes.get(sbx.id)
    assert fresh.metadata == {"k": "v", "miosa_persistent": True} and fresh.persistent is True
    assert fresh.timeout_sec == 900
    sbx.extend(timeout_sec=1800)
    assert sbx.timeout_sec == 1800 and sbx.timeout_remaining_ms > 1_700_000
    sbx.destroy()
    assert client.sandboxes.get(sbx.id).state == "destroyed"
    assert sbx.id not in [s.id for s in client.sandboxes.list()]
    assert sbx.id in [s.id for s in client.sandboxes.list(state="destroyed")]
    with pytest.raises(NotFoundError):
        client.sandboxes.get_by_name(name)
    status, _, _ = emulator.raw("POST", f"/api/v1/sandboxes/{sbx.id}/exec", {"command": "true"})
    assert status == 404
    assert not (emulator.root / sbx.id).exists()  # its files are gone
    client.sandboxes.delete(other.id)
