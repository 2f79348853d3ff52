"""Uses the public API the way an application would; `mypy --strict` must accept it."""
from __future__ import annotations

import asyncio
import datetime as _dt
from typing import List, Optional, Union, cast

import runhost
from runhost import errors


def dispatch_one(host: runhost.Host) -> runhost.Run:
    request: runhost.DevicePromptDispatch = {
        "tenantId": "t1",
        "workspaceId": "w1",
        "userId": "u1",
        "deviceType": "local",
        "deviceId": "d1",
        "runtime": "custom",
        "prompt": "hi",
        "approvalPolicy": "auto",
        "idempotencyKey": "k",
        "command": ["echo", "hi"],
    }
    return host.dispatch(request)


def follow(run: runhost.Run) -> List[str]:
    texts: List[str] = []
    with run.events(after=0) as stream:
        for ev in stream:
            seq: int = ev["seq"]
            kind: runhost.EventType = ev["type"]
            if kind == "command.output":
                texts.append(str(ev["payload"]["text"]))
            assert seq >= 1
    return texts


async def follow_async(run: runhost.Run) -> Optional[runhost.Event]:
    last: Optional[runhost.Event] = None
    async for ev in run.aevents():
        last = ev
    info: runhost.RunInfo = await run.await_(timeout=5.0)
    assert info.finished
    return last


def main() -> None:
    with runhost.Host(store="/tmp/x.db", plugin_paths=["/opt/p"], default_timeout=60) as host:
        try:
            run = dispatch_one(host)
        except runhost.ConnectorAuthorizationMissingError as e:
            url: Optional[str] = e.connect_url
            print(url, e.recovery.get("action"), e.retryable)
            return
        except runhost.InvalidDispatchError as e:
            field: Optional[str] = e.field
            print(field)
            return
        except runhost.RunhostError as e:
            code: str = e.code
            print(code)
            return
        status: runhost.RunStatus = run.status
        print(status, run.id, run.created, follow(run))
        asyncio.run(follow_async(run))
        final: runhost.RunInfo = run.wait(timeout=1.0, check=True)
        print(final.last_seq, final.created_at.isoformat())
        for info in host.runs(tenant_id="t1", status="failed", limit=10):
            print(info.id, info.error_code)
        events: List[runhost.Event] = host.events(run.id, after=2)
        plugins: List[runhost.PluginInfo] = host.plugins()
        print(len(events), [p.id for p in plugins], host.plugin_refusals(), host.plugin_directories())
        host.cancel(run.id)
        host.resolve_approval(run.id, "apr_1", decision="deny", reason="no")
        acme: runhost.TenantView = host.for_tenant("acme")
        mine = acme.dispatch({"workspaceId": "w1", "userId": "u1", "deviceType": "local", "deviceId": "d1",
                              "runtime": "custom", "prompt": "hi", "approvalPolicy": "auto", "idempotencyKey": "k2"})
        owner: Union[runhost.Host, runhost.TenantView] = mine.host
        tenant: str = acme.tenant_id
        found: Optional[runhost.Run] = acme.run(mine.id)
        print(owner, tenant, found, acme.closed, [r.id for r in acme.runs(status="running")], acme.events(mine.id, after=1))
        try:
            acme.cancel(run.id)
            acme.resolve_approval(run.id, "apr_1", decision="allow")
        except runhost.RunNotFoundError as e:
            missing: str = e.code
            print(missing)
        except LookupError:
            pass
        cls = errors.BY_CODE["policy_denied"]
        assert issubclass(cls, runhost.RunhostError)
        print(runhost.default_store_path(), runhost.bundled_plugin_dir(), runhost.PolicyDeniedError.CODE)


def dispatch_with_keywords(host: runhost.Host) -> runhost.Run:
    view = host.for_tenant("acme")
    view.dispatch(workspace_id="w1", user_id="u1", device_type="local", device_id="d1", runtime="custom",
                  prompt="hi", approval_policy="auto", idempotency_key="k3", command=["make"])
    fields: runhost.DispatchFields = {"tenant_id": "t1", "prompt": "hi"}
    print(fields)
    return host.dispatch(tenant_id="t1", workspace_id="w1", user_id="u1", device_type="local", device_id="d1",
                         runtime="custom", prompt="hi", approval_policy="auto", idempotency_key="k",
                         command=["echo", "hi"], output_mode="text", timeout_seconds=60)


def answer(host: runhost.Host, run: runhost.Run) -> None:
    host.resolve_approval(run.id, "apr_1", decision="allow")
    host.resolve_approval(run.id, "apr_1", decision="deny", scope="once", reason="no", by="ada")
    run.resolve_approval("apr_1", decision="deny", reason=None, by=None)
    for p in host.for_tenant("acme").pending_approvals():
        pending: runhost.PendingApproval = p
        request: runhost.ApprovalRequest = p.request
        action: runhost.ApprovalAction = request["action"]
        kind: runhost.ApprovalActionKind = action["kind"]
        deadline: Optional[str] = request.get("deadline")
        due = p.deadline_at.isoformat() if p.deadline_at is not None else "never"
        print(pending.id, pending.run_id, pending.seq, pending.answered, kind, action.get("summary"), deadline, due,
              p.summary, p.created_at, p.deadline_us)
        host.resolve_approval(p.run_id, p.id, decision="allow", by="ada")
    with runhost.Host(approval_timeout=60, default_timeout=_dt.timedelta(minutes=5)) as other:
        print(other.pending_approvals())
    standing: runhost.ApprovalScope = "run"
    run.resolve_approval("apr_1", decision="allow", scope=standing)
    host.resolve_approval(run.id, "apr_1", decision="allow", scope="run")


def grants(host: runhost.Host) -> None:
    acme = host.for_tenant("acme")
    by_code: runhost.Grant = acme.add_grant(connector="oauth2", user_id="ada", code="c", scopes=["repo"])
    by_secret = host.add_grant(connector="oauth2", user_id="ada", tenant_id="acme",
                               secret={"access_token": "t", "refresh_token": "r"}, expires_in=_dt.timedelta(hours=8),
                               metadata={"login": "ada"})
    host.add_grant(connector="oauth2", user_id="ada", tenant_id="acme", secret="a-token", expires_in=3600)
    for g in [by_code, by_secret, *acme.grants(user_id="ada", connector="oauth2", include_inactive=True, limit=10)]:
        state: runhost.GrantState = g.state
        expires: Optional[_dt.datetime] = g.expires_at
        print(g.id, g.tenant_id, g.user_id, g.connector, g.scopes, state, g.created_at, expires, g.revoked_at,
              g.metadata.get("login"), g.active)
    acme.revoke_grant(by_code.id)


def decisions(ev: runhost.Event) -> None:
    if ev["type"] == "policy.decision":
        decision = cast(runhost.PolicyDecisionPayload, ev["payload"])
        verdicts: List[runhost.PolicyVerdict] = decision["decisions"]
        effect: runhost.PolicyEffect = decision["effect"]
        print(decision["phase"], decision.get("approval_id"), [v["policy"] for v in verdicts], effect)
    if ev["type"] == "run.started":
        started = cast(runhost.RunStartedPayload, ev["payload"])
        policy: Optional[runhost.PolicyDecision] = started.get("policy")
        print(started["argv"], policy["effect"] if policy else None)


async def with_async_host() -> List[runhost.Event]:
    async with runhost.AsyncHost(store="/tmp/x.db", workspace_root="/tmp", max_workers=2) as host:
        run: runhost.AsyncRun = await host.dispatch(
            tenant_id="t1", workspace_id="w1", user_id="u1", device_type="local", device_id="d1",
            runtime="custom", prompt="hi", approval_policy="auto", idempotency_key="k", command=["echo", "hi"])
        same: runhost.AsyncRun = await host.dispatch({"tenantId": "t1", "workspaceId": "w1", "userId": "u1",
                                                      "deviceType": "local", "deviceId": "d1", "runtime": "custom",
                                                      "prompt": "hi", "approvalPolicy": "auto", "idempotencyKey": "k"})
        events: List[runhost.Event] = []
        async for ev in run.events(after=0):
            events.append(ev)
        info: runhost.RunInfo = await run.wait(timeout=5.0, check=True)
        status: runhost.RunStatus = (await same.info()).status
        await run.cancel()
        await run.resolve_approval("apr_1", decision="allow", reason="ok")
        await host.resolve_approval(run.id, "apr_1", decision="deny", by="ada")
        grant: runhost.Grant = await host.for_tenant("acme").add_grant(connector="oauth2", user_id="u1", secret="t")
        listed: List[runhost.Grant] = await host.grants(include_inactive=True)
        await host.revoke_grant(grant.id)
        print(listed)
        waiting: List[runhost.PendingApproval] = await host.for_tenant("acme").pending_approvals()
        print([p.summary for p in waiting])
        view: runhost.AsyncTenantView = host.for_tenant("acme")
        found: Optional[runhost.AsyncRun] = await view.run(run.id)
        runs: List[runhost.RunInfo] = await view.runs(status="running")
        stored: List[runhost.Event] = await host.events(run.id, after=1)
        plugins: List[runhost.PluginInfo] = await host.plugins()
        print(info.last_seq, status, found, runs, stored, plugins, host.store_path, host.closed)
        try:
            await view.cancel("run_x")
        except runhost.RunNotFoundError as e:
            print(e.code)
        return events
