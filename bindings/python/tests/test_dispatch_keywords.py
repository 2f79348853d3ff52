"""The dispatch as snake_case keyword arguments, the camelCase dict, and the errors that name
what is wrong with either; resolve_approval's keyword-only decision and scope."""
from __future__ import annotations

import os

import pytest

import runhost
from conftest import sh

FIELDS = dict(
    tenant_id="t1", workspace_id="w1", user_id="u1", device_type="local", device_id="pytest",
    runtime="custom", prompt="test", approval_policy="auto", command=["sh", "-c", "echo kw"],
    output_mode="text", timeout_seconds=60,
)


def test_keywords_make_the_same_run_as_the_camel_case_dict(host):
    key = f"kw-{os.getpid()}"
    run = host.dispatch(idempotency_key=key, **FIELDS)
    assert run.created
    info = run.wait(timeout=30, check=True)
    assert (info.tenant_id, info.workspace_id, info.user_id, info.device_id) == ("t1", "w1", "u1", "pytest")
    assert [e["payload"]["text"] for e in host.events(run.id) if e["type"] == "command.output"] == ["kw"]
    # The same dispatch as a dict, same key: the same run (so the two forms mean the same thing).
    same = host.dispatch({
        "tenantId": "t1", "workspaceId": "w1", "userId": "u1", "deviceType": "local", "deviceId": "pytest",
        "runtime": "custom", "prompt": "test", "approvalPolicy": "auto", "command": ["sh", "-c", "echo kw"],
        "outputMode": "text", "timeoutSeconds": 60, "idempotencyKey": key,
    })
    assert same.id == run.id and not same.created


def test_a_tenant_view_takes_keywords_without_tenant_id(host):
    fields = {k: v for k, v in FIELDS.items() if k != "tenant_id"}
    run = host.for_tenant("acme").dispatch(idempotency_key=f"kw-view-{os.getpid()}", **fields)
    assert run.wait(timeout=30).tenant_id == "acme"


def test_a_bad_value_in_a_keyword_is_invalid_dispatch_naming_the_wire_field(host):
    with pytest.raises(runhost.InvalidDispatchError) as caught:
        host.dispatch(**{**FIELDS, "device_type": "toaster"}, idempotency_key="kw-bad")
    assert caught.value.field == "deviceType"
    with pytest.raises(runhost.InvalidDispatchError) as missing:
        host.dispatch(**{k: v for k, v in FIELDS.items() if k != "user_id"}, idempotency_key="kw-missing")
    assert missing.value.field == "userId"


def test_mixing_the_forms_is_a_type_error_naming_the_keywords(host):
    with pytest.raises(TypeError, match=r"a dict or as keyword arguments, not both \(got a dict and prompt, runtime\)"):
        host.dispatch(sh("true"), runtime="custom", prompt="x")
    assert host.runs() == [], "nothing was dispatched"


def test_an_unknown_keyword_is_a_type_error_naming_it(host):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'colour'.*the fields are tenant_id, "):
        host.dispatch(**FIELDS, idempotency_key="k", colour="red")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'tenantId' \(the keyword is tenant_id=\)"):
        host.dispatch(tenantId="t1")
    with pytest.raises(TypeError, match=r"needs the dispatch"):
        host.dispatch()
    assert host.runs() == []


# ---- resolve_approval ------------------------------------------------------------------------

def waiting_for_approval(host, text="approved"):
    run = host.dispatch(sh(f"echo {text}", prompt="deploy [ask]"))
    for ev in run.events():
        if ev["type"] == "approval.required":
            return run, ev["payload"]["approval_id"]
    raise AssertionError("no approval.required")


def test_decision_is_keyword_only_and_reason_is_recorded(env, asks_first_plugin):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run, approval_id = waiting_for_approval(host)
        host.resolve_approval(run.id, approval_id, decision="deny", reason="not today")
        with pytest.raises(runhost.PolicyDeniedError, match="not today"):
            run.wait(timeout=30, check=True)
        resolved = [e for e in host.events(run.id) if e["type"] == "approval.resolved"][0]
        assert resolved["payload"]["decision"] == "deny" and resolved["payload"]["reason"] == "not today"


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, TypeError, 'needs decision="allow" or decision="deny"'),
    ({"decision": "maybe"}, ValueError, "decision must be \"allow\" or \"deny\", not 'maybe'"),
    ({"decision": True}, TypeError, "decision must be a str, not bool"),
    ({"decision": "allow", "scope": "session"}, ValueError, "scope must be \"once\" .* or \"run\" .*, not 'session'"),
    ({"decision": "allow", "scope": "always"}, ValueError, "scope must be \"once\" .* or \"run\" .*, not 'always'"),
    ({"decision": "allow", "scope": 1}, TypeError, "scope must be a str, not int"),
    ({"decision": "allow", "reason": 3}, TypeError, "reason must be a str"),
    ({"decision": "allow", "allowed": True}, TypeError, "unexpected keyword argument 'allowed'"),
])
def test_a_bad_answer_is_refused_naming_what_is_wrong_and_the_run_still_waits(env, asks_first_plugin, kwargs, error, message):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run, approval_id = waiting_for_approval(host)
        with pytest.raises(error, match=message):
            host.resolve_approval(run.id, approval_id, **kwargs)
        with pytest.raises(error, match=message):
            run.resolve_approval(approval_id, **kwargs)
        assert run.status == "queued", "a refused answer answered nothing"
        host.resolve_approval(run.id, approval_id, decision="allow", scope="once")
        assert run.wait(timeout=30).status == "succeeded"


@pytest.mark.parametrize("call", ["positional", "positional+reason", "keyword"])
def test_the_0_1_boolean_still_works_with_a_deprecation_warning(env, asks_first_plugin, call):
    with env.host(plugin_paths=[asks_first_plugin]) as host:
        run, approval_id = waiting_for_approval(host)
        with pytest.warns(DeprecationWarning, match=r"write resolve_approval\(run_id, approval_id, decision='deny'\)") as caught:
            if call == "positional":
                host.resolve_approval(run.id, approval_id, False)
            elif call == "positional+reason":
                run.resolve_approval(approval_id, False, "old style")
            else:
                host.resolve_approval(run.id, approval_id, allow=False, reason="old style")
        assert caught[0].filename == __file__
        assert run.wait(timeout=30).status == "failed"
        resolved = [e for e in host.events(run.id) if e["type"] == "approval.resolved"][0]
        assert resolved["payload"]["decision"] == "deny"


def test_the_old_boolean_and_decision_together_are_refused(host):
    with pytest.raises(TypeError, match="decision= or the deprecated allow, not both"):
        host.resolve_approval("run_x", "apr_x", True, decision="allow")
