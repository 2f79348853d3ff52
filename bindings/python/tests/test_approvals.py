"""Approvals: a policy that asks, a person who answers (resolve_approval), from the event loop
as a UI would."""
from __future__ import annotations

import asyncio

import pytest

import runhost
from conftest import check_stream, sh


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
