"""Tenant walls: ``host.for_tenant(t)`` sees, steers and dispatches only t's runs; another tenant's
run is indistinguishable from a missing one (RunNotFound, same message, never listed). The Host
itself is the operator's view and sees every tenant."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict

import pytest

import runhost
from conftest import sh

UNKNOWN = "run_01JUNKNOWN0000000000000000"


def same_message(err: runhost.RunhostError, run_id: str, unknown: runhost.RunhostError) -> bool:
    """A wall must not tell "not yours" from "not there": the messages differ only in the id."""
    return str(err).replace(run_id, "<id>") == str(unknown).replace(UNKNOWN, "<id>")


def refusal(call: Callable[[str], Any], run_id: str) -> runhost.RunNotFoundError:
    """The RunNotFound `call(run_id)` raises, checked to read exactly as for an unknown id."""
    with pytest.raises(runhost.RunNotFoundError) as unknown:
        call(UNKNOWN)
    with pytest.raises(runhost.RunNotFoundError) as walled:
        call(run_id)
    e = walled.value
    assert (e.code, e.retryable) == ("run_not_found", False)
    assert isinstance(e, LookupError), "except LookupError catches a missing run, as a missing key"
    assert same_message(e, run_id, unknown.value), (str(e), str(unknown.value))
    return e


def without_tenant(request: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in request.items() if k != "tenantId"}


@pytest.fixture
def two_tenants(host: runhost.Host):
    """Tenant b's run, still running (it waits for a file nobody makes), and tenant a's, ended."""
    b_run = host.dispatch(sh("echo b-output; sleep 60", tenantId="b"))
    a_run = host.dispatch(sh("echo a-output", tenantId="a"))
    a_run.wait(timeout=30)
    yield host.for_tenant("a"), a_run, b_run


def test_another_tenants_run_is_missing_to_reads(host, two_tenants):
    view, a_run, b_run = two_tenants
    assert view.run(b_run.id) is None, "run() of another tenant's run: None, as of an unknown id"
    assert view.run(UNKNOWN) is None
    refusal(view.events, b_run.id)
    refusal(lambda run_id: view.events(run_id, after=1, limit=5), b_run.id)
    assert view.run(a_run.id) is not None and view.events(a_run.id)[-1]["type"] == "run.completed"


def test_another_tenants_run_is_never_listed(host, two_tenants):
    view, a_run, b_run = two_tenants
    assert [r.id for r in view.runs()] == [a_run.id]
    assert view.runs(tenant_id="b") == [], "a filter naming another tenant lists nothing"
    assert [r.id for r in view.runs(tenant_id="a")] == [a_run.id]
    assert [r.id for r in view.runs(status="running")] == []
    assert {r.id for r in host.runs()} == {a_run.id, b_run.id}, "the operator lists every tenant's"


def test_another_tenants_run_cannot_be_followed(host, two_tenants):
    # No public call gives a tenant's view a Run of another tenant (run() is None), so follow the
    # wall one level down: the stream the view's runs are made of refuses the id itself.
    view, _, b_run = two_tenants
    refusal(lambda run_id: view._stream(run_id, 0), b_run.id)

    async def first_async(run_id: str) -> None:
        async for _ in runhost.AsyncEventStream(view._stream(run_id, 0)):
            break

    refusal(lambda run_id: asyncio.run(first_async(run_id)), b_run.id)


def test_another_tenants_run_cannot_be_cancelled(host, two_tenants):
    view, _, b_run = two_tenants
    with b_run.events() as stream:
        assert next(stream)["type"] == "run.started"
        refusal(view.cancel, b_run.id)
        assert b_run.status == "running", "b's run goes on"
        assert [ev["type"] for ev in host.events(b_run.id)][-1] != "run.cancelled"
        host.cancel(b_run.id)  # the operator may
        assert list(stream)[-1]["type"] == "run.cancelled"


def test_another_tenants_approval_cannot_be_answered(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        b_run = host.for_tenant("b").dispatch(without_tenant(sh("echo approved", prompt="deploy [ask]")))
        with b_run.events() as stream:
            asked = next(stream)
            assert asked["type"] == "approval.required"
            approval_id = asked["payload"]["approval_id"]
            view = host.for_tenant("a")
            refusal(lambda run_id: view.resolve_approval(run_id, approval_id, decision="allow", reason="not mine to give"), b_run.id)
            assert b_run.status == "queued", "b's run still waits for b's answer"
            b_run.resolve_approval(approval_id, decision="allow", reason="ok by b")  # through b's view: the run keeps its scope
            rest = list(stream)
        assert [ev["type"] for ev in rest] == ["approval.resolved", "run.started", "command.output", "run.completed"]
        assert rest[0]["payload"]["reason"] == "ok by b"


def test_a_dispatch_naming_another_tenant_is_refused(host):
    view = host.for_tenant("a")
    with pytest.raises(runhost.InvalidDispatchError) as caught:
        view.dispatch(sh("echo never", tenantId="b"))
    assert caught.value.field == "tenantId" and caught.value.action == "fix_dispatch"
    assert host.runs() == [], "nothing was recorded, for either tenant"


def test_a_dispatch_without_tenant_lands_in_the_views_tenant(host, event_validator):
    view = host.for_tenant("a")
    run = view.dispatch(without_tenant(sh("echo in a")))
    assert run.host is view and run.dispatched.tenant_id == "a"
    events = list(run.events())
    assert {ev["tenant_id"] for ev in events} == {"a"}
    assert run.wait(timeout=30, check=True).status == "succeeded"
    assert asyncio.run(run.await_(timeout=30)).tenant_id == "a"
    assert view.dispatch(sh("echo also a", tenantId="a")).dispatched.tenant_id == "a", "naming its own tenant is fine"
    assert host.run(run.id) == run, "the same run, whichever view it came from"


def test_runs_of_a_view_act_in_its_scope(host, two_tenants):
    view, a_run, _ = two_tenants
    run = view.run(a_run.id)
    assert run is not None and run.host is view
    assert run.info().tenant_id == "a" and run.status == "succeeded"

    async def follow() -> list:
        return [ev["type"] async for ev in run.aevents()]

    assert asyncio.run(follow())[-1] == "run.completed"
    assert [ev["type"] for ev in run.events(after=1)] == [ev["type"] for ev in view.events(a_run.id, after=1)]
    run.cancel()  # a finished run of its own: left as it is
    assert run.status == "succeeded"


def test_the_operator_sees_every_tenant(host, two_tenants):
    _, a_run, b_run = two_tenants
    for run in (a_run, b_run):
        assert host.run(run.id) == run
        assert host.events(run.id)[0]["type"] == "run.started"
    assert host.for_tenant("b").run(b_run.id) == b_run


def test_an_unknown_run_is_run_not_found_everywhere(host):
    for call in (
        host.events,
        host.cancel,
        lambda run_id: host.resolve_approval(run_id, "apr_x", decision="allow"),
        lambda run_id: host._stream(run_id, 0),
    ):
        with pytest.raises(runhost.RunNotFoundError, match=UNKNOWN):
            call(UNKNOWN)
    assert host.run(UNKNOWN) is None


def test_for_tenant_checks_its_argument(host):
    with pytest.raises(TypeError, match="tenant_id must be a str"):
        host.for_tenant(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        host.for_tenant("")
    view = host.for_tenant("acme")
    assert view.tenant_id == "acme" and not view.closed
    assert repr(view) == "<runhost.TenantView tenant_id='acme'>"
    assert not hasattr(view, "close") and not hasattr(view, "plugins"), "a view owns nothing"


def test_a_view_of_a_closed_host_raises_host_closed(env):
    host = env.host()
    view = host.for_tenant("a")
    host.close()
    assert view.closed
    with pytest.raises(runhost.HostClosedError):
        view.runs()
    with pytest.raises(runhost.HostClosedError):
        view.dispatch(without_tenant(sh("true")))


def test_run_not_found_error_is_the_same_class_under_the_node_bindings_name() -> None:
    assert runhost.RunNotFoundError is runhost.RunNotFoundError
    assert issubclass(runhost.RunNotFoundError, runhost.RunhostError)
    assert issubclass(runhost.RunNotFoundError, LookupError)
