"""Budgets and quotas from Python (docs/budgets.md): Host(limits=...) on a real store, custom
jsonl runs printing usage events, a dispatch refused with BudgetExceededError or
QuotaExceededError carrying the core's recovery, usage() summed per source and walled per
tenant, and a bad limit refused when the host opens."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
from typing import Any, Dict

import pytest

import runhost
from conftest import Env, jsonl_line, sh


def spending(cost: float, key: str, source: str = "anthropic", **fields: Any) -> Dict[str, Any]:
    """A jsonl run that reports one usage event of `cost` USD and ends."""
    usage = {"source": source, "cost_usd": cost, "input_tokens": 10, "output_tokens": 5}
    return sh(jsonl_line("usage", usage), key, outputMode="jsonl", **fields)


def spend(host: runhost.Host | runhost.TenantView, cost: float, key: str, **fields: Any) -> runhost.RunInfo:
    return host.dispatch(spending(cost, key, **fields)).wait(timeout=30)


def test_a_dispatch_past_the_users_daily_budget_raises_budget_exceeded(env: Env) -> None:
    with env.host(limits={"budgets": {"user_day_usd": 1}}) as host:
        assert spend(host, 0.6, "b1").status == "succeeded"
        # The second run goes past the budget as it reports: it is stopped, its usage kept.
        second = spend(host, 0.6, "b2")
        assert (second.status, second.error_code) == ("failed", "budget_exceeded")
        with pytest.raises(runhost.BudgetExceededError) as caught:
            host.dispatch(spending(0.6, "b3"))
        err = caught.value
        assert err.code == "budget_exceeded"
        assert err.action == "raise_budget"
        assert err.recovery["limit"] == "user_day_usd" and err.limit == "user_day_usd"
        assert err.usage_source == "anthropic", err.recovery
        assert "user_day_usd" in err.message and "$1.20" in err.message, err.message
        # A refused dispatch leaves no run.
        assert [r.id for r in host.runs()] and len(host.runs()) == 2
        # Another user of the tenant has a budget of their own.
        assert spend(host, 0.1, "b4", userId="u2").status == "succeeded"


def test_usage_sums_per_source_most_spent_first_and_filters(env: Env) -> None:
    with env.host() as host:
        spend(host, 0.5, "u1", source="anthropic")
        spend(host, 0.25, "u2", source="anthropic")
        spend(host, 0.125, "u3", source="openai", userId="u2")
        spend(host, 1.0, "u4", source="openai", tenantId="t2")
        totals = host.for_tenant("t1").usage()
        assert totals == [
            runhost.UsageTotal(source="anthropic", cost_usd=0.75, input_tokens=20, output_tokens=10,
                               cached_input_tokens=0, events=2),
            runhost.UsageTotal(source="openai", cost_usd=0.125, input_tokens=10, output_tokens=5,
                               cached_input_tokens=0, events=1),
        ]
        assert totals[0].tokens == 30
        with pytest.raises(dataclasses.FrozenInstanceError):
            totals[0].cost_usd = 0  # type: ignore[misc]
        # The operator sees every tenant; the first source is the one that spent the most.
        assert [(t.source, t.cost_usd) for t in host.usage()] == [("openai", 1.125), ("anthropic", 0.75)]
        assert [t.source for t in host.usage(tenant_id="t2")] == ["openai"]
        assert [(t.source, t.events) for t in host.usage(user_id="u2")] == [("openai", 1)]
        # A tenant's view adds up its own only: another tenant's run or tenant gives nothing.
        t2_run = host.runs(tenant_id="t2")[0].id
        assert host.for_tenant("t1").usage(run_id=t2_run) == []
        assert host.for_tenant("t1").usage(tenant_id="t2") == []
        assert host.for_tenant("t2").usage(run_id=t2_run)[0].cost_usd == 1.0
        # since / until: a datetime or epoch microseconds.
        later = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(hours=1)
        assert host.usage(since=later) == []
        assert host.usage(until=later)[0].events == 2
        assert host.usage(since=1, until=int(later.timestamp() * 1e6))[0].source == "openai"
        with pytest.raises(ValueError, match="timezone-aware"):
            host.usage(since=_dt.datetime(2026, 1, 1))
        with pytest.raises(TypeError, match="until"):
            host.usage(until="today")  # type: ignore[arg-type]


def test_a_dispatch_past_the_users_concurrency_raises_quota_exceeded(env: Env) -> None:
    with env.host(limits={"quotas": {"concurrent_per_user": 1}}) as host:
        first = host.dispatch(sh("sleep 30", "q1"))
        with pytest.raises(runhost.QuotaExceededError) as caught:
            host.dispatch(sh("true", "q2"))
        err = caught.value
        assert err.action == "request_quota"
        assert err.limit == "concurrent_per_user"
        assert err.retry_after_ms == 5000 and err.recovery["retry_after_ms"] == 5000
        assert err.usage_source == "runs"
        # Another user is not held by this user's quota; once the run ends, the slot is free.
        host.dispatch(sh("true", "q3", userId="u2")).wait(timeout=30)
        first.cancel()
        first.wait(timeout=30)
        assert host.dispatch(sh("true", "q4")).wait(timeout=30).status == "succeeded"


def test_limits_as_json_text_work_too(env: Env) -> None:
    with env.host(limits='{"quotas": {"concurrent_per_user": 0}}') as host:
        with pytest.raises(runhost.QuotaExceededError):
            host.dispatch(sh("true"))


def test_a_bad_limit_is_refused_at_open_naming_it(env: Env) -> None:
    with pytest.raises(runhost.InvalidDispatchError, match=r"budgets\.run_usdd"):
        env.host(limits={"budgets": {"run_usdd": 1}})
    with pytest.raises(runhost.InvalidDispatchError, match=r"quotas\.concurrent_per_user"):
        env.host(limits={"quotas": {"concurrent_per_user": -1}})
    with pytest.raises(TypeError, match="limits"):
        env.host(limits=[("budgets", {})])
    with pytest.raises(TypeError, match="limits"):
        env.host(limits={"budgets": {"run_usd": object()}})


def test_async_host_limits_and_usage(env: Env) -> None:
    async def main() -> None:
        async with runhost.AsyncHost(store=env.store, workspace_root=env.workspace, use_environment=False,
                                     limits={"budgets": {"user_day_usd": 1}}) as host:
            for key, status in (("a1", "succeeded"), ("a2", "failed")):
                run = await host.dispatch(spending(0.6, key))
                assert (await run.wait(timeout=30)).status == status
            with pytest.raises(runhost.BudgetExceededError) as caught:
                await host.for_tenant("t1").dispatch(spending(0.6, "a3"))
            assert caught.value.limit == "user_day_usd"
            totals = await host.for_tenant("t1").usage(user_id="u1")
            assert [(t.source, t.events) for t in totals] == [("anthropic", 2)]
            assert await host.for_tenant("t9").usage() == []
        bad = runhost.AsyncHost(store=env.store, workspace_root=env.workspace, use_environment=False,
                                limits={"tenants": {"acme": {"budgets": {"user_day_usd": "20"}}}})
        with pytest.raises(runhost.InvalidDispatchError, match=r"tenants\.acme\.budgets\.user_day_usd"):
            await bad.open()
        await bad.close()
        with pytest.raises(TypeError, match="limits"):
            runhost.AsyncHost(limits=3)  # type: ignore[arg-type]

    asyncio.run(main())
