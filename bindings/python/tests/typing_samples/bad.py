"""Misuses the API; `mypy --strict` must report each line marked `# E`."""
from __future__ import annotations

import runhost


def misuse(host: runhost.Host, run: runhost.Run) -> None:
    n: int = run.id  # E
    host.cancel(42)  # E
    for ev in run.events():
        s: str = ev["seq"]  # E
        ev["no_such_key"]  # E
    info = run.wait()
    info.status = "failed"  # E
    runhost.Host(store=3.5)  # E
    e = runhost.ConnectorAuthorizationMissingError("m")
    e.connect_url.startswith("https")  # E
    view = host.for_tenant(7)  # E
    host.for_tenant("t").close()  # E
    host.for_tenant("t").plugins()  # E
    run.host.close()  # E


def misuse_dispatch(host: runhost.Host) -> None:
    host.dispatch(tenant_id="t1", workspace_id="w1")  # E
    host.dispatch(tenant_id="t1", workspace_id="w1", user_id="u1", device_type="phone", device_id="d1",  # E
                  runtime="custom", prompt="hi", approval_policy="auto", idempotency_key="k")
    host.dispatch(tenantId="t1")  # E
    host.resolve_approval("run_1", "apr_1", decision="maybe")  # E
    host.resolve_approval("run_1", "apr_1", decision="allow", scope="session")  # E
    host.resolve_approval("run_1", "apr_1", decision="allow", by=7)  # E
    runhost.Host(approval_timeout="1h")  # E
    host.add_grant(connector="oauth2", code="c")  # E
    host.add_grant(connector="oauth2", user_id="u1", secret=42)  # E
    host.add_grant(connector="oauth2", user_id="u1", secret="t", expires_in="1h")  # E
    host.grants(include_revoked=True)  # E
    host.grants()[0].state = "revoked"  # E
    host.grants()[0].state == "gone"  # E
    for p in host.pending_approvals():
        p.request["action"]["kind"] == "launch"  # E
        p.deadline_at.isoformat()  # E
        p.answered = True  # E


async def misuse_async(host: runhost.AsyncHost) -> None:
    run = host.dispatch(tenant_id="t1")  # E
    r = await host.dispatch({"tenantId": "t1"})
    for ev in r.events():  # E
        pass
    await r.resolve_approval("apr_1", True)  # E
    host.pending_approvals()[0]  # E
    info: runhost.RunInfo = r.info()  # E
    g: runhost.Grant = host.add_grant(connector="oauth2", user_id="u1", secret="t")  # E
