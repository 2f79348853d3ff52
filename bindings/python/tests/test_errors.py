"""Every error type: one RunhostError subclass per code of the core's table, each carrying
code, retryable and recovery, raised where the host raises it."""
from __future__ import annotations

import asyncio
import builtins
import json
import pickle
import subprocess
import time

import pytest

import runhost
import runhost._native._core as core
from runhost import errors
from conftest import PYTHON, SCHEMA_PATH, custom_dispatch, jsonl_line, python_subprocess_env, sh

# The codes a run can fail with: the event schema's enum for run.failed.payload.error.code.
RUN_FAILED_CODES = json.loads(SCHEMA_PATH.read_text())["$defs"]["error"]["properties"]["code"]["enum"]


# ---- the classes come from the core's table ---------------------------------------------------

def test_the_classes_are_the_core_table():
    assert list(errors.ERROR_CODES) == [tuple(x) for x in core.error_codes()]
    assert set(errors.BY_CODE) == {code for code, *_ in core.error_codes()}
    actions = json.loads(SCHEMA_PATH.read_text())["$defs"]["recovery"]["properties"]["action"]["enum"]
    for code, retryable, action in core.error_codes():
        cls = errors.BY_CODE[code]
        assert issubclass(cls, runhost.RunhostError)
        assert cls.CODE == code and cls.DEFAULT_RETRYABLE == retryable
        assert cls.DEFAULT_RECOVERY_ACTION == action and action in actions, (code, action)
        assert getattr(runhost, cls.__name__) is cls, "exported from the package"
        assert not hasattr(builtins, cls.__name__), "no class shadows a builtin"
        assert cls.__name__ != "CancelledError", "nor asyncio's CancelledError"
        camel = "".join(p.capitalize() for p in code.split("_"))
        named = camel if camel.endswith("Error") else camel + "Error"
        assert cls.__name__ in (named, "Runhost" + named)
    assert runhost.RunhostRuntimeError.CODE == "runtime_error"
    assert issubclass(runhost.ConnectorAuthorizationMissingError, errors.ConnectAccountRecovery)
    assert issubclass(runhost.RunNotFoundError, LookupError), "except LookupError catches a missing run"


def test_run_not_found_is_only_a_calls_answer():
    assert "run_not_found" in errors.BY_CODE
    assert "run_not_found" not in RUN_FAILED_CODES, "never a run's failure"
    assert set(RUN_FAILED_CODES) <= set(errors.BY_CODE), "every failure a run can have has its class"


def test_an_error_pickles_with_everything_it_carries():
    e = runhost.ConnectorAuthorizationMissingError(
        "no grant", recovery={"action": "connect_account", "connect_url": "https://x.invalid/c"}, run_id="run_1"
    )
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is runhost.ConnectorAuthorizationMissingError
    assert (back.code, back.message, back.retryable, back.recovery, back.run_id) == (
        e.code, e.message, e.retryable, e.recovery, e.run_id)
    assert back.connect_url == "https://x.invalid/c"
    missing = pickle.loads(pickle.dumps(runhost.RunNotFoundError("no run 'run_1'", run_id="run_1")))
    assert type(missing) is runhost.RunNotFoundError and (missing.message, missing.run_id) == ("no run 'run_1'", "run_1")


# ---- raised by the host -----------------------------------------------------------------------

def test_invalid_dispatch_names_the_missing_field(host):
    d = sh("true")
    del d["tenantId"]
    with pytest.raises(runhost.InvalidDispatchError) as caught:
        host.dispatch(d)
    e = caught.value
    assert (e.code, e.retryable, e.field, e.action) == ("invalid_dispatch", False, "tenantId", "fix_dispatch")
    assert e.recovery == {"action": "fix_dispatch", "field": "tenantId"}
    assert '"tenantId" is required' in str(e)
    assert host.runs() == [], "a refused dispatch creates no run"


@pytest.mark.parametrize(
    "field, value, named, problem",
    [
        ("tenantId", 5, "tenantId", "must be a string"),
        ("prompt", ["a"], "prompt", "must be a string"),
        ("command", "ls -la", "command", "must be an array of strings"),
        ("command", ["ls", 3], "command[1]", "must be a non-empty string"),
        ("deviceType", "phone", "deviceType", "must be one of"),
        ("timeoutSeconds", 1.5, "timeoutSeconds", "whole number of seconds"),
        ("timeoutSeconds", True, "timeoutSeconds", "whole number of seconds"),
        ("tenant_id", "t1", "tenant_id", "is not a field of DevicePromptDispatch"),
    ],
)
def test_invalid_dispatch_for_a_value_of_the_wrong_type(host, field, value, named, problem):
    d = sh("true")
    d[field] = value
    with pytest.raises(runhost.InvalidDispatchError, match=problem) as caught:
        host.dispatch(d)
    assert caught.value.field == named


def test_values_json_cannot_hold_are_invalid_dispatch_naming_the_field(host):
    for value in ({1, 2}, float("nan"), object(), b"bytes"):
        d = sh("true")
        d["prompt"] = value
        with pytest.raises(runhost.InvalidDispatchError, match="JSON cannot represent") as caught:
            host.dispatch(d)
        assert caught.value.field == "prompt"
    with pytest.raises(runhost.InvalidDispatchError, match="is not a string"):
        host.dispatch({**sh("true"), 1: "x"})


def test_a_dispatch_that_is_not_a_dict_is_a_type_error(host):
    for bad in (None, "tenantId=t1", [("tenantId", "t1")], 42):
        with pytest.raises(TypeError, match="takes a dict"):
            host.dispatch(bad)


def test_idempotency_conflict(host):
    host.dispatch(sh("echo one", key="k1"))
    with pytest.raises(runhost.IdempotencyConflictError) as caught:
        host.dispatch(sh("echo two", key="k1"))
    e = caught.value
    assert (e.code, e.retryable) == ("idempotency_conflict", False)
    assert "idempotency key 'k1' was already used by run run_" in e.message


def test_plugin_error_when_a_plugin_refuses_its_configuration(env):
    with pytest.raises(runhost.PluginError) as caught:
        env.host(plugin_config={"deny-pattern": "[1, 2]"})
    assert caught.value.code == "plugin_error" and "deny-pattern" in str(caught.value)


def test_store_unavailable_when_the_store_cannot_be_opened(env):
    (env.root / "a-file").write_text("")
    with pytest.raises(runhost.StoreUnavailableError) as caught:
        runhost.Host(store=env.root / "a-file" / "runhost.db", workspace_root=env.workspace)
    assert caught.value.code == "store_unavailable" and caught.value.retryable


def test_a_stream_raises_store_unavailable_when_the_host_cannot_record_the_run(env):
    # The host checks every second that its store file is still there; a deleted one ends its runs,
    # and every stream following them raises the typed error rather than waiting for ever.
    with env.host() as host:
        run = host.dispatch(sh("echo started; sleep 60"))
        stream = run.events()
        assert [next(stream)["type"], next(stream)["type"]] == ["run.started", "command.output"]
        env.store.unlink()
        started = time.monotonic()
        with pytest.raises(runhost.StoreUnavailableError) as caught:
            for _ in stream:
                pass
        assert caught.value.code == "store_unavailable" and caught.value.retryable
        assert time.monotonic() - started < 15

        async def follow() -> None:
            async for _ in run.aevents():
                pass

        with pytest.raises(runhost.StoreUnavailableError):
            asyncio.run(asyncio.wait_for(follow(), 15))
        with pytest.raises(runhost.StoreUnavailableError):
            run.wait(timeout=15)


# ---- run.failed: the event carries the error; wait(check=True) raises it ----------------------

def failure_of(run: runhost.Run) -> runhost.RunhostError:
    with pytest.raises(runhost.RunhostError) as caught:
        run.wait(timeout=30, check=True)
    last = run.host.events(run.id)[-1]
    assert last["type"] == "run.failed"
    error = last["payload"]["error"]
    e = caught.value
    assert (e.code, e.message, e.retryable, e.recovery, e.run_id) == (
        error["code"], error["message"], error["retryable"], error.get("recovery", {}), run.id)
    assert type(e) is errors.BY_CODE[error["code"]]
    return e


def test_policy_denied(host):
    e = failure_of(host.dispatch(sh("true", prompt="rm -rf /home/someone")))
    assert isinstance(e, runhost.PolicyDeniedError)
    assert e.action == "review_policy" and e.recovery["policy"] == "deny-pattern"


def test_connector_authorization_missing_carries_the_connect_action(host):
    e = failure_of(host.dispatch(sh("true", connectors=["static-grant"], userId="no-grant")))
    assert isinstance(e, runhost.ConnectorAuthorizationMissingError)
    assert e.action == "connect_account"
    assert e.connect_url == "https://connect.invalid/static-grant"
    assert e.connector == "static-grant"
    assert not e.retryable


def test_runtime_not_found(host):
    e = failure_of(host.dispatch(custom_dispatch(["runhost-no-such-command"])))
    assert isinstance(e, runhost.RuntimeNotFoundError) and e.action == "install_runtime"


def test_runtime_error(host):
    e = failure_of(host.dispatch(sh("exit 3")))
    assert isinstance(e, runhost.RunhostRuntimeError) and not e.retryable


def test_runtime_crashed(host):
    e = failure_of(host.dispatch(sh("kill -KILL $$")))
    assert isinstance(e, runhost.RuntimeCrashedError) and e.retryable and e.action == "retry"


def test_timeout(host):
    e = failure_of(host.dispatch(sh("sleep 30", timeoutSeconds=1)))
    assert isinstance(e, runhost.RunhostTimeoutError) and e.retryable


def test_device_unavailable_without_a_driver_is_refused_at_dispatch(host):
    # The host has no MIOSA credentials (use_environment=False): no sandbox driver, and the
    # dispatch is refused before anything is recorded, naming the field and what to set.
    with pytest.raises(runhost.DeviceUnavailableError) as caught:
        host.dispatch(sh("true", deviceType="sandbox"))
    e = caught.value
    assert e.recovery["action"] == "configure_device" and e.recovery["field"] == "deviceType"
    assert "MIOSA_API_KEY" in e.message and e.run_id is None
    assert all(r.device_type != "sandbox" for r in host.runs())


def test_device_lost_after_the_owning_host_dies(env):
    # A host in another process starts a run and dies without closing; the next host to open the
    # store recovers the run as failed with device_lost, its events kept.
    script = f"""
import os, runhost
h = runhost.Host(store={str(env.store)!r}, workspace_root={str(env.workspace)!r}, use_environment=False)
run = h.dispatch({json.dumps(sh("echo started; sleep 3"))})
for ev in run.events():
    if ev["type"] == "command.output":
        break
print(run.id, flush=True)
os._exit(1)
"""
    out = subprocess.run([PYTHON, "-c", script], env=python_subprocess_env(), capture_output=True, text=True, timeout=60)
    run_id = out.stdout.strip()
    assert out.returncode == 1 and run_id.startswith("run_"), out.stderr
    with env.host() as h:
        run = h.run(run_id)
        e = failure_of(run)
        assert isinstance(e, runhost.DeviceLostError) and e.retryable
        types = [ev["type"] for ev in h.events(run_id)]
        assert types[:2] == ["run.started", "command.output"], "the events before the loss are kept"


@pytest.mark.parametrize("code", RUN_FAILED_CODES)
def test_every_run_failed_code_raises_its_own_class(host, code):
    # The custom runtime's jsonl mode passes a run.failed line through as the terminal event:
    # every code the schema allows, with a retryable that differs from the default.
    default = errors.BY_CODE[code].DEFAULT_RETRYABLE
    recovery = {"action": "contact_support", "hint": f"about {code}"}
    error = {"code": code, "message": f"failing with {code}", "retryable": not default, "recovery": recovery}
    run = host.dispatch(sh(jsonl_line("run.failed", {"error": error}), outputMode="jsonl"))
    e = failure_of(run)
    assert type(e).CODE == code
    assert e.retryable is (not default), "the event's retryable wins over the default"
    assert e.recovery == recovery and e.action == "contact_support"
    assert run.info().error_code == code


def test_a_failed_run_is_not_an_exception_while_iterating(host):
    run = host.dispatch(sh("echo trying; exit 2"))
    events = list(run.events())
    assert events[-1]["type"] == "run.failed"
    assert events[-1]["payload"]["error"]["code"] == "runtime_error"
    e = errors.from_error(events[-1]["payload"]["error"], run_id=run.id)
    assert isinstance(e, runhost.RunhostRuntimeError)
    assert run.wait().status == "failed", "wait() without check returns the record"


def test_an_unknown_code_from_elsewhere_is_the_base_class():
    e = errors.from_error({"code": "from_the_future", "message": "m", "retryable": True})
    assert type(e) is runhost.RunhostError and e.code == "from_the_future" and e.retryable

