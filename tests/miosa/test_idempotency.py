"""Idempotent creates (acceptance check 2): replays, retries under 429, conflicts, races."""

from __future__ import annotations

import threading
import uuid

import pytest
from miosa.errors import MiosaError

from emu import entries_for


def test_the_same_key_is_the_same_sandbox(client):
    key = str(uuid.uuid4())
    name = f"idem-{uuid.uuid4().hex[:8]}"
    first = client.sandboxes.create(name=name, idempotency_key=key)
    second = client.sandboxes.create(name=name, idempotency_key=key)
    assert first.id == second.id
    assert [s.id for s in client.sandboxes.list() if s.name == name] == [first.id]


def test_429_twice_then_one_sandbox_from_three_requests_with_one_key(client, emulator):
    seq = emulator.last_seq()
    emulator.arm(route=r"^POST /api/v1/sandboxes$", kind="429", count=2, retry_after=0.1)
    name = f"retried-{uuid.uuid4().hex[:8]}"
    sbx = client.sandboxes.create(name=name)
    posts = entries_for(emulator.log(seq), "POST", "/api/v1/sandboxes")
    assert [p["status"] for p in posts] == [429, 429, 201]
    assert len({p["idempotency_key"] for p in posts}) == 1 and posts[0]["idempotency_key"]
    assert [p["response_headers"].get("Retry-After") for p in posts[:2]] == ["0.1", "0.1"]
    assert [s.id for s in client.sandboxes.list() if s.name == name] == [sbx.id]


def test_the_same_key_with_another_body_is_a_conflict(client):
    key = str(uuid.uuid4())
    client.sandboxes.create(idempotency_key=key, metadata={"v": 1})
    with pytest.raises(MiosaError) as conflict:
        client.sandboxes.create(idempotency_key=key, metadata={"v": 2})
    assert conflict.value.status_code == 409 and conflict.value.code == "IDEMPOTENCY_CONFLICT"


def test_concurrent_duplicates_create_one_sandbox(client):
    key = str(uuid.uuid4())
    name = f"race-{uuid.uuid4().hex[:8]}"
    ids: list = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        ids.append(client.sandboxes.create(name=name, idempotency_key=key).id)
    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1
    assert [s.id for s in client.sandboxes.list() if s.name == name] == ids[:1]


def test_a_replayed_fork_and_deploy_with_a_key(client, sandbox):
    sandbox.files.write("/workspace/index.html", "<p>hi</p>")
    fork_a = sandbox.fork(idempotency_key="fork-key-1")
    fork_b = sandbox.fork(idempotency_key="fork-key-1")
    assert fork_a.id == fork_b.id
    dep_a = sandbox.deploy(name="idem-deploy", idempotency_key="deploy-key-1")
    dep_b = sandbox.deploy(name="idem-deploy", idempotency_key="deploy-key-1")
    assert dep_a == dep_b and dep_a["version"] == 1
