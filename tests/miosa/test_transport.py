"""Transport conventions: base URL, headers, envelopes, request ids, auth, tenants, errors
(acceptance checks 1 and 14)."""

from __future__ import annotations

import json
import re

import pytest
from miosa import Miosa
from miosa.errors import InsufficientCreditsError, MachineStartingError, NotFoundError

from emu import API_KEY, entries_for

REQ_ID = re.compile(r"req_[0-9a-f]{24}")


def test_base_url_headers_and_tenant_reach_the_emulator(client, emulator):
    seq = emulator.last_seq()
    sbx = client.sandboxes.create()
    with client.with_tenant("acme") as acme:
        acme_sbx = acme.sandboxes.create()
    log = emulator.log(seq)
    plain, tenanted = entries_for(log, "POST", "/sandboxes")
    assert plain["path"] == "/api/v1/sandboxes"  # the SDK appended /api/v1 to the bare host
    assert plain["authorization"] == {"present": True, "scheme": "Bearer"}
    assert all(k.lower() != "authorization" for k in plain["headers"])  # the key is never logged
    assert plain["user_agent"] == "miosa-python/2.19.2"
    assert plain["headers"]["x-miosa-client-id"] == "miosa-python/2.19.2"
    assert plain["tenant"] is None and tenanted["tenant"] == "acme"
    assert plain["idempotency_key"] and tenanted["idempotency_key"]  # create always sends one
    assert acme_sbx.tenant_id == "acme" and sbx.tenant_id == "default"


def test_every_answer_has_a_request_id_and_the_json_envelope(emulator, sandbox):
    # success, JSON
    status, headers, body = emulator.raw("GET", f"/api/v1/sandboxes/{sandbox.id}")
    assert status == 200 and headers["content-type"] == "application/json"
    assert REQ_ID.fullmatch(headers["x-request-id"])
    doc = json.loads(body)
    assert list(doc) == ["data"]
    data = doc["data"]
    assert data["id"] == sandbox.id and data["state"] == "running" and data["ready"] is True
    assert {"persistent", "checkpoint_pending", "created_at", "started_at", "ready_at"} <= set(data)
    # error
    status, headers, body = emulator.raw("GET", "/api/v1/sandboxes/sbx_missing")
    assert status == 404 and REQ_ID.fullmatch(headers["x-request-id"])
    assert json.loads(body) == {"error": {"code": "NOT_FOUND", "message": "sandbox sbx_missing not found",
                                          "details": {"resource": "sandbox", "id": "sbx_missing"},
                                          "retryable": False, "retry_after_ms": None}}
    # stream
    status, headers, body = emulator.raw("GET", f"/api/v1/sandboxes/{sandbox.id}/readiness/stream",
                                         headers={"Accept": "text/event-stream, application/json;q=0.9"})
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert headers["transfer-encoding"] == "chunked" and REQ_ID.fullmatch(headers["x-request-id"])
    assert body.startswith(b"event: ready\ndata: {") and body.endswith(b"\n\n")
    # admin and unknown routes too
    assert REQ_ID.fullmatch(emulator.raw("GET", "/_emulator/faults", auth=False)[1]["x-request-id"])
    assert REQ_ID.fullmatch(emulator.raw("GET", "/nowhere")[1]["x-request-id"])


@pytest.mark.parametrize("accept", ["text/event-stream, application/json;q=0.9", "application/json",
                                    "text/event-stream"])
def test_streams_accept_every_accept_header(emulator, sandbox, accept):
    status, headers, body = emulator.raw("GET", f"/api/v1/sandboxes/{sandbox.id}/readiness/stream",
                                         headers={"Accept": accept})
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert b"event: ready" in body


def test_a_missing_bearer_is_401(emulator):
    status, headers, body = emulator.raw("GET", "/api/v1/sandboxes", auth=False)
    assert status == 401 and json.loads(body)["error"]["code"] == "UNAUTHORIZED"
    status, _, _ = emulator.raw("GET", "/api/v1/sandboxes", auth=False, headers={"Authorization": "Basic eDp5"})
    assert status == 401
    status, _, _ = emulator.raw("GET", "/api/v1/sandboxes", auth=False, headers={"Authorization": "Bearer any-key"})
    assert status == 200  # any bearer is accepted


def test_a_sandbox_of_one_tenant_is_404_under_another(client, emulator, sandbox):
    with client.with_tenant("tenant-b") as other:
        with pytest.raises(NotFoundError):
            other.sandboxes.get(sandbox.id)
        assert sandbox.id not in [s.id for s in other.sandboxes.list()]
    status, _, _ = emulator.raw("POST", f"/api/v1/sandboxes/{sandbox.id}/exec", {"command": "true"},
                                headers={"X-MIOSA-Tenant": "tenant-b"})
    assert status == 404
    assert client.sandboxes.get(sandbox.id).id == sandbox.id


def test_idempotency_is_scoped_by_tenant(client):
    key = "tenant-scoped-key"
    with client.with_tenant("tenant-c") as c, client.with_tenant("tenant-d") as d:
        first, replay = c.sandboxes.create(idempotency_key=key), c.sandboxes.create(idempotency_key=key)
        other = d.sandboxes.create(idempotency_key=key)
    assert first.id == replay.id and other.id != first.id


def test_error_shapes_map_to_sdk_classes(client, emulator, sandbox):
    with pytest.raises(NotFoundError) as missing:
        client.sandboxes.get("sbx_does_not_exist")
    err = missing.value
    assert err.status_code == 404 and err.code == "NOT_FOUND" and REQ_ID.fullmatch(err.request_id)
    assert entries_for(emulator.log(), "GET", "/sandboxes/sbx_does_not_exist")[-1]["request_id"] == err.request_id

    emulator.arm(route=r"POST .*/commands$", kind="sandbox_starting", retry_after=0.25)
    with pytest.raises(MachineStartingError) as starting:
        client.commands.run(sandbox.id, "true")
    assert starting.value.status_code == 409 and starting.value.code == "SANDBOX_STARTING"
    assert starting.value.retryable is True and starting.value.retry_after_ms == 250

    emulator.arm(route=r"POST .*/snapshots$", kind="credit_required")
    with pytest.raises(InsufficientCreditsError) as credit:
        sandbox.snapshots.create()
    assert credit.value.status_code == 402 and credit.value.code == "CREDIT_REQUIRED"


def test_the_sdk_key_env_and_base_url_env_work(emulator, monkeypatch):
    monkeypatch.setenv("MIOSA_BASE_URL", emulator.base_url)
    monkeypatch.setenv("MIOSA_API_KEY", API_KEY)
    with Miosa() as c:
        assert isinstance(c.sandboxes.list(), list)
