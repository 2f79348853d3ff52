"""Connector grants from Python: the bundled oauth2 connector against a token endpoint on
loopback (token_server.py). A run naming the connector without a grant fails with
connector_authorization_missing and the connect URL; add_grant(code=...) has the code exchanged;
the same dispatch retried runs with the token in its environment; grants() lists what is stored
and never a secret; revoking, expiring and another tenant's view; the errors, typed, and never
quoting the secret."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import time
import urllib.parse
from typing import Any, Dict, Iterator, List

import pytest

import runhost
from conftest import Env, sh
from token_server import TokenServer

TOKEN = "tok-Py7Hc9Qx2mWv-access"
CLIENT_SECRET = "cs-Py8vZ2-client-secret"
CODE = "code-PyRj3pLw5"
# The runtime prints its token's length, never the token (a secret in argv is refused anyway).
PRINT_LENGTH = 'echo "token of ${#TOKEN} characters"'


@pytest.fixture
def server() -> Iterator[TokenServer]:
    with TokenServer() as s:
        yield s


def oauth2_config(server: TokenServer) -> Dict[str, Any]:
    return {
        "authorize_url": server.url("/authorize"),
        "token_url": server.url("/token"),
        "client_id": "runhost-test",
        "client_secret": CLIENT_SECRET,
        "scopes": ["repo", "read"],
        "env_name": "TOKEN",
    }


@pytest.fixture
def host(env: Env, server: TokenServer) -> Iterator[runhost.Host]:
    with env.host(plugin_config={"oauth2": oauth2_config(server)}) as h:
        yield h


def token_answer(token: str = TOKEN, expires_in: int = 3600) -> Dict[str, Any]:
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in, "scope": "repo read"}


def dispatch(host: runhost.Host | runhost.TenantView, **fields: Any) -> runhost.Run:
    return host.dispatch(sh(PRINT_LENGTH, connectors=["oauth2"], **fields))


def output(host: runhost.Host, run: runhost.Run) -> List[str]:
    return [e["payload"]["text"] for e in host.events(run.id) if e["type"] == "command.output"]


def expect_connect_again(server: TokenServer, run: runhost.Run, why: str, tenant: str = "t1") -> None:
    with pytest.raises(runhost.ConnectorAuthorizationMissingError) as caught:
        run.wait(timeout=30, check=True)
    err = caught.value
    assert why in err.message, err.message
    assert err.action == "connect_account" and err.connector == "oauth2"
    assert err.connect_url == server.url("/authorize") + (
        f"?response_type=code&client_id=runhost-test&scope=repo%20read&state={tenant}%3Au1")
    assert [e["type"] for e in run.host.events(run.id)] == ["run.failed"], "nothing ran without a grant"


def nothing_secret_in(value: object) -> None:
    for text in (repr(value), str(value)):
        assert TOKEN not in text and CODE not in text and CLIENT_SECRET not in text, text


def test_the_connect_loop_code_exchanged_then_the_retry_runs_with_the_token(host, server):
    expect_connect_again(server, dispatch(host), "not authorised for user u1")

    server.answer(200, token_answer())
    grant = host.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", code=CODE, scopes=["repo", "read"])
    [request] = server.requests()
    assert (request.method, request.path) == ("POST", "/token")
    assert urllib.parse.parse_qs(request.body)["code"] == [CODE], "the code went in the POST body"
    assert grant.id.startswith("grt_") and (grant.tenant_id, grant.user_id, grant.connector) == ("t1", "u1", "oauth2")
    assert grant.scopes == ("repo", "read") and grant.state == "active" and grant.active
    assert grant.expires_at is not None and grant.revoked_us is None and grant.metadata == {}
    assert abs((grant.expires_at - grant.created_at).total_seconds() - 3600) < 2, "the provider's expires_in"
    nothing_secret_in(grant)
    nothing_secret_in(dataclasses.asdict(grant))

    retried = dispatch(host)  # the same dispatch, a new idempotency key
    assert retried.wait(timeout=30, check=True).status == "succeeded"
    assert output(host, retried) == [f"token of {len(TOKEN)} characters"]
    assert not any(TOKEN in str(e) for e in host.events(retried.id))

    assert host.grants() == [grant]
    assert host.grants(user_id="u1", connector="oauth2") == [grant]
    assert host.grants(user_id="u2") == [] and host.grants(connector="static-grant") == []
    nothing_secret_in(host.grants())

    host.revoke_grant(grant.id)
    expect_connect_again(server, dispatch(host), "not authorised for user u1")
    assert host.grants() == []
    [revoked] = host.grants(include_inactive=True)
    assert revoked.id == grant.id and revoked.state == "revoked" and not revoked.active
    assert revoked.revoked_at is not None and revoked.revoked_at >= grant.created_at
    host.revoke_grant(grant.id)  # revoking a revoked grant changes nothing


def test_the_secret_path_a_token_or_the_material(host, server):
    plain = host.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", secret=TOKEN, metadata={"login": "ada"})
    assert server.requests() == [], "a secret is not exchanged"
    assert plain.expires_us is None and plain.expires_at is None and plain.metadata == {"login": "ada"}
    nothing_secret_in(plain)
    run = dispatch(host)
    assert run.wait(timeout=30, check=True).status == "succeeded"
    assert output(host, run) == [f"token of {len(TOKEN)} characters"]

    material = {"access_token": TOKEN + "-longer", "refresh_token": "rt-" + TOKEN, "token_type": "bearer"}
    newer = host.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", secret=material, scopes=["repo"])
    assert [g.id for g in host.grants()] == [newer.id, plain.id], "newest first"
    run = dispatch(host)
    assert run.wait(timeout=30, check=True).status == "succeeded"
    assert output(host, run) == [f"token of {len(TOKEN) + 7} characters"], "the newest grant is the one used"


def test_a_static_token_that_expires_asks_again(host, server):
    grant = host.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", secret={"access_token": TOKEN},
                           expires_in=_dt.timedelta(seconds=1))
    assert grant.expires_at is not None
    assert abs((grant.expires_at - grant.created_at).total_seconds() - 1) < 0.01
    time.sleep(max(0.0, (grant.expires_at - _dt.datetime.now(_dt.timezone.utc)).total_seconds()) + 0.2)
    assert host.grants() == []
    assert [g.state for g in host.grants(include_inactive=True)] == ["expired"]
    expect_connect_again(server, dispatch(host), "expired for user u1")


def test_a_refused_code_asks_the_user_again_and_stores_nothing(host, server):
    server.answer(400, {"error": "invalid_grant"})
    with pytest.raises(runhost.ConnectorAuthorizationMissingError) as caught:
        host.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", code=CODE)
    assert caught.value.action == "connect_account" and "invalid_grant" in caught.value.message
    nothing_secret_in(caught.value)
    server.answer(503, {"error": "temporarily_unavailable"})
    with pytest.raises(runhost.PluginError) as failed:
        host.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", code=CODE)
    nothing_secret_in(failed.value)
    assert host.grants(include_inactive=True) == []


def test_another_tenants_view_neither_sees_nor_revokes_a_grant(host, server):
    t1 = host.for_tenant("t1")
    grant = t1.add_grant(connector="oauth2", user_id="u1", secret=TOKEN)  # tenant_id: the view's
    assert grant.tenant_id == "t1" and t1.grants() == [grant]
    other = host.for_tenant("t2")
    assert other.grants() == [] and other.grants(tenant_id="t1", include_inactive=True) == []
    with pytest.raises(runhost.InvalidDispatchError) as theirs:
        other.revoke_grant(grant.id)
    with pytest.raises(runhost.InvalidDispatchError) as unknown:
        other.revoke_grant("grt_nope")
    assert theirs.value.field == unknown.value.field == "grant_id"
    assert str(theirs.value).replace(grant.id, "<id>") == str(unknown.value).replace("grt_nope", "<id>")
    with pytest.raises(runhost.InvalidDispatchError) as elsewhere:
        other.add_grant(connector="oauth2", user_id="u1", tenant_id="t1", secret=TOKEN)
    assert elsewhere.value.field == "tenantId"
    assert host.grants() == [grant], "the grant is untouched"
    run = dispatch(t1)
    assert run.wait(timeout=30, check=True).status == "succeeded"
    expect_connect_again(server, dispatch(host, tenantId="t2"), "not authorised for user u1", tenant="t2")
    with pytest.raises(runhost.InvalidDispatchError) as no_tenant:
        host.add_grant(connector="oauth2", user_id="u1", secret=TOKEN)  # the operator names the tenant
    assert no_tenant.value.field == "tenantId"


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, TypeError, r"one of code= .* or secret= .*and got neither"),
    ({"code": CODE, "secret": TOKEN}, TypeError, r"one of code= .* or secret= .*not both"),
    ({"secret": 42}, TypeError, "secret must be a dict .* or a str .*, not int"),
    ({"secret": TOKEN, "scopes": "repo"}, TypeError, "scopes must be a list of str, not str"),
    ({"secret": TOKEN, "expires_in": "1h"}, TypeError, "expires_in must be seconds or a timedelta, not str"),
    ({"secret": TOKEN, "metadata": [1]}, TypeError, "metadata must be a dict, not list"),
    ({"secret": TOKEN, "user_id": 7}, TypeError, "user_id must be a str, not int"),
])
def test_a_misused_call_is_a_type_error_naming_the_argument(host, kwargs, error, message):
    args = {"connector": "oauth2", "user_id": "u1", "tenant_id": "t1", **kwargs}
    with pytest.raises(error, match=message) as caught:
        host.add_grant(**args)
    nothing_secret_in(caught.value)


@pytest.mark.parametrize("kwargs, field", [
    ({"connector": "github", "secret": TOKEN}, "connector"),
    ({"user_id": "", "secret": TOKEN}, "userId"),
    ({"code": ""}, "code"),
    ({"secret": ""}, "secret"),
    ({"secret": {}}, "secret"),
    ({"secret": {"access_token": TOKEN, "set": {1, 2}}}, "secret"),
    ({"secret": {"access_token": TOKEN, 1: "x"}}, "secret"),
    ({"secret": {"access_token": TOKEN, "n": float("nan")}}, "secret"),
    ({"secret": TOKEN, "scopes": ["repo", ""]}, "scopes"),
    ({"secret": TOKEN, "expires_in": 0}, "expiresIn"),
    ({"secret": TOKEN, "expires_in": float("inf")}, "expiresIn"),
    ({"secret": TOKEN, "metadata": {"when": object()}}, "metadata"),
])
def test_a_bad_field_is_invalid_dispatch_naming_it_and_never_quoting_the_secret(host, kwargs, field):
    args = {"connector": "oauth2", "user_id": "u1", "tenant_id": "t1", **kwargs}
    with pytest.raises(runhost.InvalidDispatchError) as caught:
        host.add_grant(**args)
    assert caught.value.field == field, caught.value
    nothing_secret_in(caught.value)
    assert host.grants(include_inactive=True) == [], "nothing is stored"


def test_revoking_an_unknown_grant_names_grant_id(host):
    with pytest.raises(runhost.InvalidDispatchError) as caught:
        host.revoke_grant("grt_nope")
    assert caught.value.field == "grant_id"
    with pytest.raises(TypeError, match="grant_id must be a str"):
        host.revoke_grant(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit must be a positive int"):
        host.grants(limit=0)


def test_grants_through_the_async_host_and_its_tenant_views(env, server):
    async def main() -> None:
        async with runhost.AsyncHost(env.store, workspace_root=env.workspace, use_environment=False,
                                     plugin_config={"oauth2": oauth2_config(server)}) as host:
            server.answer(200, token_answer())
            t1 = host.for_tenant("t1")
            grant = await t1.add_grant(connector="oauth2", user_id="u1", code=CODE)
            assert grant.state == "active" and len(server.requests()) == 1
            assert await host.grants() == [grant] and await host.for_tenant("t2").grants() == []
            with pytest.raises(TypeError, match="not both"):  # refused before the pool
                await t1.add_grant(connector="oauth2", user_id="u1", code=CODE, secret=TOKEN)
            with pytest.raises(runhost.InvalidDispatchError):
                await host.for_tenant("t2").revoke_grant(grant.id)
            run = await t1.dispatch(sh(PRINT_LENGTH, connectors=["oauth2"]))
            assert (await run.wait(timeout=30, check=True)).status == "succeeded"
            await t1.revoke_grant(grant.id)
            assert [g.state for g in await host.grants(include_inactive=True)] == ["revoked"]

    asyncio.run(asyncio.wait_for(main(), 60))
