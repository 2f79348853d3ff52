"""Approvals: a policy that asks (the asks-first test plugin, at run.start), a person who answers
(resolve_approval) from the event loop as a UI would, or from another Host or process sharing the
store after listing what waits (pending_approvals); who answered, the deadline (approval_timeout),
and the answers that are refused."""
from __future__ import annotations

import asyncio
import datetime as _dt
import json
import re
import subprocess
from typing import Any, Dict, List, Tuple

import pytest

import runhost
from conftest import PYTHON, check_stream, python_subprocess_env, sh


def test_an_approved_run_starts_after_the_answer(env, asks_first_plugin, event_validator):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        assert "asks-first" in {p.id for p in host.plugins()}
        run = host.dispatch(sh("echo approved and running", prompt="deploy [ask]"))
        seen = []
        for ev in run.events():
            seen.append(ev)
            if ev["type"] == "approval.required":
                assert ev["source"] == "policy"
                assert "the prompt asks for a person" in ev["payload"]["reason"]
                assert run.status == "queued", "nothing starts before the answer"
                with pytest.raises(runhost.RunhostError):
                    run.resolve_approval("apr_not_this_one", decision="allow")
                run.resolve_approval(ev["payload"]["approval_id"], decision="allow", reason="ok by ops")
        check_stream(seen, event_validator)
        assert [e["type"] for e in seen] == [
            "approval.required", "approval.resolved", "run.started", "command.output", "run.completed"]
        assert seen[1]["payload"]["decision"] == "allow" and seen[1]["payload"]["reason"] == "ok by ops"


def test_a_denied_run_fails_with_policy_denied(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run = host.dispatch(sh("echo never", prompt="drop the table [ask]"))

        async def answer():
            async for ev in run.aevents():
                if ev["type"] == "approval.required":
                    host.resolve_approval(run.id, ev["payload"]["approval_id"], decision="deny", reason="not on a Friday")

        asyncio.run(asyncio.wait_for(answer(), 30))
        with pytest.raises(runhost.PolicyDeniedError, match="not on a Friday") as caught:
            run.wait(check=True)
        assert caught.value.code == "policy_denied"
        assert [e["type"] for e in host.events(run.id)] == ["approval.required", "approval.resolved", "run.failed"]


def test_runs_without_the_marker_are_allowed(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        assert host.dispatch(sh("true")).wait(timeout=30).status == "succeeded"


# ---- the round trip: listed, answered from anywhere, with who answered --------------------------

ANSWER_FROM_ANOTHER_PROCESS = """
import json, sys
import runhost

store, workspace, decision, by = sys.argv[1:]
with runhost.Host(store, workspace_root=workspace, use_environment=False) as other:
    [p] = other.pending_approvals()
    print(json.dumps({"id": p.id, "run_id": p.run_id, "summary": p.summary, "answered": p.answered}))
    other.resolve_approval(p.run_id, p.id, decision=decision, reason="from another process", by=by)
"""


def asked(run: runhost.Run) -> runhost.Event:
    """The run's approval.required, once it is stored (its pending approval is stored with it)."""
    with run.events() as stream:
        for ev in stream:
            if ev["type"] == "approval.required":
                return ev
    raise AssertionError(f"run {run.id} ended without asking")


# The events these tests are about; others a host may record beside them do not change their order.
STORY = {"approval.required", "approval.resolved", "run.started", "command.output", "run.completed", "run.failed",
         "run.cancelled"}


def story(events: List[runhost.Event]) -> List[str]:
    """The types of the run's approval and lifecycle events, in order."""
    return [e["type"] for e in events if e["type"] in STORY]


def resolved(events: List[runhost.Event]) -> Dict[str, Any]:
    """The payload of the run's one approval.resolved."""
    [payload] = [e["payload"] for e in events if e["type"] == "approval.resolved"]
    return payload


def utc(rfc3339: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


def test_pending_approvals_carry_the_request_and_are_walled_by_tenant(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run = host.dispatch(sh("echo never", prompt="deploy [ask]", tenantId="acme"))
        ev = asked(run)
        [p] = host.pending_approvals()
        assert isinstance(p, runhost.PendingApproval)
        assert (p.id, p.run_id, p.tenant_id, p.seq) == (ev["payload"]["approval_id"], run.id, "acme", ev["seq"])
        assert p.request == ev["payload"], "the request is the approval.required payload, parsed"
        action = p.request["action"]
        assert (action["kind"], action["name"]) == ("run", "run.start")
        assert action["input"]["command"] == ["sh", "-c", "echo never"]
        assert p.summary == action["summary"] == "start a custom run: deploy [ask]"
        assert p.request["policy"] == "asks-first" and p.request["options"] == ["allow", "deny"]
        assert "the prompt asks for a person" in p.request["reason"]
        assert p.deadline_at is not None and p.deadline_us is not None
        assert abs(p.deadline_at - utc(p.request["deadline"])) < _dt.timedelta(milliseconds=1)
        assert 3590 < (p.deadline_at - p.created_at).total_seconds() <= 3600, "the default approval_timeout: an hour"
        assert not p.answered

        assert host.for_tenant("acme").pending_approvals() == [p]
        assert host.for_tenant("globex").pending_approvals() == [], "another tenant's approvals are never listed"
        run.cancel()
        assert run.wait(timeout=30).status == "cancelled"
        assert host.pending_approvals() == [], "a cancel settles the approval"
        assert resolved(host.events(run.id))["source"] == "cancel"


def test_another_process_answers_with_who_and_the_run_goes_on(env, asks_first_plugin, event_validator):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run = host.dispatch(sh("echo approved and running", prompt="deploy [ask]"))
        approval_id = asked(run)["payload"]["approval_id"]
        out = subprocess.run([PYTHON, "-c", ANSWER_FROM_ANOTHER_PROCESS, str(env.store), str(env.workspace), "allow", "alice"],
                             env=python_subprocess_env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == {"id": approval_id, "run_id": run.id, "summary": "start a custom run: deploy [ask]",
                                          "answered": False}
        events = list(run.events())
        check_stream(events, event_validator)
        assert story(events) == [
            "approval.required", "approval.resolved", "run.started", "command.output", "run.completed"]
        assert resolved(events) == {"approval_id": approval_id, "decision": "allow", "scope": "once", "source": "human",
                                        "by": "alice", "reason": "from another process"}
        assert host.pending_approvals() == []
        with pytest.raises(runhost.InvalidDispatchError, match=f"approval {approval_id} of run {run.id} was already settled"):
            host.resolve_approval(run.id, approval_id, decision="deny", by="bob")


def test_a_deny_from_a_second_host_fails_the_run_and_a_second_answer_is_refused(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host, env.host() as other:
        run = host.dispatch(sh("touch ran.txt", prompt="drop the table [ask]"))
        approval_id = asked(run)["payload"]["approval_id"]
        with pytest.raises(runhost.InvalidDispatchError, match=f"run {run.id} has no approval apr_nope"):
            other.resolve_approval(run.id, "apr_nope", decision="allow")
        other.resolve_approval(run.id, approval_id, decision="deny", reason="not on a Friday", by="bob")
        # Recorded at once; whether or not the run's host has applied it yet, it is the only answer.
        with pytest.raises(runhost.InvalidDispatchError, match=r"already (answered \(deny\)|settled: denied \(bob\))"):
            other.resolve_approval(run.id, approval_id, decision="allow", by="carol")
        info = run.wait(timeout=30)
        assert (info.status, info.error_code) == ("failed", "policy_denied")
        events = host.events(run.id)
        assert story(events) == ["approval.required", "approval.resolved", "run.failed"]
        assert resolved(events) == {"approval_id": approval_id, "decision": "deny", "scope": "once", "source": "human",
                                        "by": "bob", "reason": "not on a Friday"}
        assert "not on a Friday" in events[-1]["payload"]["error"]["message"]
        assert not (env.workspace / "ran.txt").exists(), "a denied run never starts"


def test_another_tenant_can_neither_see_nor_answer(env, asks_first_plugin):
    from test_tenants import refusal  # RunNotFoundError, reading exactly as for an unknown run

    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run = host.dispatch(sh("echo ok", prompt="deploy [ask]", tenantId="acme"))
        approval_id = asked(run)["payload"]["approval_id"]
        globex = host.for_tenant("globex")
        assert globex.pending_approvals() == []
        refusal(lambda run_id: globex.resolve_approval(run_id, approval_id, decision="allow", by="mallory"), run.id)
        [p] = host.pending_approvals()
        assert not p.answered, "the refused answer recorded nothing"

        mine = host.for_tenant("acme").run(run.id)
        assert mine is not None
        mine.resolve_approval(approval_id, decision="allow", by="ada")  # the run's own helper, in acme's scope
        assert mine.wait(timeout=30).status == "succeeded"
        assert resolved(host.events(run.id))["by"] == "ada"


OWN_AN_ASKING_RUN = """
import json, sys, time
import runhost

store, workspace, plugins, request = sys.argv[1:]
host = runhost.Host(store, [plugins], workspace_root=workspace, use_environment=False)
run = host.dispatch(json.loads(request))
for ev in run.events():
    if ev["type"] == "approval.required":
        print(run.id, ev["payload"]["approval_id"], flush=True)
        break
time.sleep(600)
"""


def test_an_approval_of_a_run_whose_host_died_cannot_be_answered(env, asks_first_plugin):
    owner = subprocess.Popen(
        [PYTHON, "-c", OWN_AN_ASKING_RUN, str(env.store), str(env.workspace), str(asks_first_plugin),
         json.dumps(sh("echo never", prompt="deploy [ask]"))],
        env=python_subprocess_env(), stdout=subprocess.PIPE, text=True)
    try:
        line = owner.stdout.readline() if owner.stdout else ""
    finally:
        owner.kill()
        owner.wait()
    run_id, approval_id = line.split()
    with env.host() as host:  # the next host to look ends the dead host's run: failed, device_lost
        dead = host.run(run_id)
        assert dead is not None and dead.wait(timeout=30).error_code == "device_lost"
        assert host.pending_approvals() == []
        with pytest.raises(runhost.InvalidDispatchError, match="can no longer be answered: the run has ended"):
            host.resolve_approval(run_id, approval_id, decision="allow", by="alice")


# ---- approval_timeout ------------------------------------------------------------------------------


def test_no_answer_by_the_approval_timeout_is_a_deny(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin], approval_timeout=1) as host:
        run = host.dispatch(sh("touch ran.txt", prompt="deploy [ask]"))
        asked(run)
        [p] = host.pending_approvals()
        assert p.deadline_us is not None and 0 < p.deadline_us - p.created_us <= 1_000_000
        with pytest.raises(runhost.PolicyDeniedError, match="approval not given by its deadline"):
            run.wait(timeout=30, check=True)
        events = host.events(run.id)
        assert story(events) == ["approval.required", "approval.resolved", "run.failed"]
        assert (resolved(events)["decision"], resolved(events)["source"]) == ("deny", "deadline")
        assert host.pending_approvals() == []
        assert not (env.workspace / "ran.txt").exists()


@pytest.mark.parametrize("bad, error, message", [
    (0, ValueError, "approval_timeout must be positive, not 0"),
    (-5, ValueError, "approval_timeout must be positive, not -5"),
    (_dt.timedelta(0), ValueError, "approval_timeout must be positive"),
    (float("nan"), ValueError, "approval_timeout must be positive, not nan"),
    (float("inf"), ValueError, "approval_timeout must be finite"),
    ("60", TypeError, "approval_timeout must be seconds or a timedelta, not str"),
    (True, TypeError, "approval_timeout must be seconds or a timedelta, not bool"),
    (None, TypeError, "approval_timeout must be seconds or a timedelta, not NoneType"),
])
def test_a_bad_approval_timeout_is_refused_before_anything_opens(env, bad, error, message):
    with pytest.raises(error, match=re.escape(message)):
        env.host(approval_timeout=bad)
    with pytest.raises(error, match=re.escape(message)):
        runhost.AsyncHost(env.store, approval_timeout=bad)
    assert not env.store.exists()


def test_approval_timeout_takes_a_timedelta_and_rounds_up_to_whole_seconds(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin], approval_timeout=_dt.timedelta(seconds=89.2)) as host:
        run = host.dispatch(sh("true", prompt="deploy [ask]"))
        asked(run)
        [p] = host.pending_approvals()
        assert p.deadline_us is not None and 89_000_000 < p.deadline_us - p.created_us <= 90_000_000
        run.cancel()
        run.wait(timeout=30)


def test_by_must_name_someone(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        with pytest.raises(TypeError, match="by must be a str, not int"):
            host.resolve_approval("run_x", "apr_x", decision="allow", by=5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="by must name who answers"):
            host.resolve_approval("run_x", "apr_x", decision="allow", by="")


# ---- asyncio ---------------------------------------------------------------------------------------


def test_async_host_lists_and_answers_in_a_tenants_view(env, asks_first_plugin):
    async def main() -> Tuple[runhost.RunInfo, List[runhost.Event], runhost.PendingApproval]:
        async with runhost.AsyncHost(env.store, [asks_first_plugin], workspace_root=env.workspace,
                                     use_environment=False, approval_timeout=120) as host:
            run = await host.dispatch(sh("echo async", prompt="deploy [ask]", tenantId="acme"))
            async for ev in run.events():
                if ev["type"] == "approval.required":
                    break
            assert await host.for_tenant("globex").pending_approvals() == []
            acme = host.for_tenant("acme")
            [p] = await acme.pending_approvals()
            assert await host.pending_approvals() == [p]
            with pytest.raises(runhost.RunNotFoundError):
                await host.for_tenant("globex").resolve_approval(p.run_id, p.id, decision="allow", by="mallory")
            await acme.resolve_approval(p.run_id, p.id, decision="allow", reason="async", by="ada")
            return await run.wait(timeout=30), await host.events(run.id), p

    info, events, pending = asyncio.run(asyncio.wait_for(main(), 60))
    assert info.status == "succeeded"
    assert 110 < (pending.deadline_us or 0) / 1e6 - pending.created_us / 1e6 <= 120
    assert resolved(events) == {"approval_id": pending.id, "decision": "allow", "scope": "once", "source": "human",
                                    "by": "ada", "reason": "async"}


# ---- scope: "once" or "run" ----------------------------------------------------------------------


@pytest.mark.parametrize("through", ["host", "run", "async"])
def test_scope_run_is_passed_through_and_recorded(env, asks_first_plugin, through):
    """A run.start ask answered with scope "run": the host takes it, and approval.resolved says so
    (a live ask of a runtime's own would then stand for the rest of the run)."""
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run = host.dispatch(sh("echo standing", prompt="deploy [ask]"))
        approval_id = asked(run)["payload"]["approval_id"]
        if through == "host":
            host.resolve_approval(run.id, approval_id, decision="allow", scope="run", by="ada")
        elif through == "run":
            run.resolve_approval(approval_id, decision="allow", scope="run", by="ada")
        else:
            async def answer() -> None:
                async with runhost.AsyncHost(env.store, workspace_root=env.workspace, use_environment=False) as other:
                    await other.resolve_approval(run.id, approval_id, decision="allow", scope="run", by="ada")
            asyncio.run(asyncio.wait_for(answer(), 30))
        assert run.wait(timeout=30).status == "succeeded"
        assert resolved(host.events(run.id)) == {"approval_id": approval_id, "decision": "allow", "scope": "run",
                                                 "source": "human", "by": "ada"}


def test_a_scope_the_host_does_not_have_is_refused_naming_the_scopes_it_has(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run = host.dispatch(sh("echo never", prompt="deploy [ask]"))
        approval_id = asked(run)["payload"]["approval_id"]
        with pytest.raises(ValueError) as caught:
            host.resolve_approval(run.id, approval_id, decision="allow", scope="session")
        assert '"once"' in str(caught.value) and '"run"' in str(caught.value) and "'session'" in str(caught.value)
        assert [p.id for p in host.pending_approvals()] == [approval_id], "a refused answer answered nothing"
        run.cancel()
