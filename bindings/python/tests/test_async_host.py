"""AsyncHost: `async with`, every call awaitable, runs whose events() is an async iterator, and
proof that none of it blocks the event loop."""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any, List, Set, Tuple

import pytest

import runhost
import runhost._native._core as core
from conftest import check_stream, sh


async def drain(stream: runhost.AsyncEventStream) -> List[runhost.Event]:
    return [ev async for ev in stream]


def async_host(env, **options: Any) -> runhost.AsyncHost:
    options.setdefault("workspace_root", env.workspace)
    options.setdefault("use_environment", False)
    return runhost.AsyncHost(store=env.store, **options)


KW = dict(tenant_id="t1", workspace_id="w1", user_id="u1", device_type="local", device_id="pytest",
          runtime="custom", prompt="test", approval_policy="auto")


def test_dispatch_and_follow_with_async_with(env, event_validator):
    async def main():
        async with async_host(env) as host:
            run = await host.dispatch(**KW, idempotency_key="a1", command=["sh", "-c", "echo hi; echo there"])
            assert isinstance(run, runhost.AsyncRun) and run.created and run.host is host
            events = [ev async for ev in run.events()]
            info = await run.wait(timeout=30, check=True)
            again = await host.dispatch(**KW, idempotency_key="a1", command=["sh", "-c", "echo hi; echo there"])
            found = await host.run(run.id)
            listed = await host.runs(tenant_id="t1")
            stored = await host.events(run.id, after=1)
            return run, events, info, again, found, listed, stored, host.store_path

    run, events, info, again, found, listed, stored, store_path = asyncio.run(main())
    check_stream(events, event_validator)
    assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == ["hi", "there"]
    assert info.status == "succeeded" and info.last_seq == len(events)
    assert again.id == run.id and not again.created
    assert found == run and [r.id for r in listed] == [run.id] and stored == events[1:]
    assert store_path == env.store
    # What the AsyncHost stored, a sync Host reads (the same store, the same semantics).
    with env.host() as sync:
        assert sync.events(run.id) == events


def test_the_dict_form_and_the_errors_are_the_sync_hosts(env):
    async def main():
        async with async_host(env) as host:
            run = await host.dispatch(sh("exit 3"))
            with pytest.raises(runhost.RunhostRuntimeError):
                await run.wait(timeout=30, check=True)
            with pytest.raises(runhost.InvalidDispatchError) as bad:
                await host.dispatch({"tenantId": "t1"})
            assert bad.value.field == "workspaceId"
            with pytest.raises(TypeError, match="not both"):
                await host.dispatch(sh("true"), prompt="x")
            with pytest.raises(runhost.RunNotFoundError):
                await host.cancel("run_nope")
            with pytest.raises(runhost.RunNotFoundError):
                await host.events("run_nope")
            assert await host.run("run_nope") is None
            slow = await host.dispatch(sh("sleep 30"))
            with pytest.raises(TimeoutError):
                await slow.wait(timeout=0.2)
            await slow.cancel()
            assert (await slow.wait(timeout=30)).status == "cancelled"

    asyncio.run(main())


def test_tenant_views_are_walled_and_awaitable(env):
    async def main():
        async with async_host(env) as host:
            a, b = host.for_tenant("a"), host.for_tenant("b")
            run = await a.dispatch(**{k: v for k, v in KW.items() if k != "tenant_id"}, idempotency_key="v1",
                                   command=["true"])
            assert run.host is a and (await run.wait(timeout=30)).tenant_id == "a"
            assert await b.run(run.id) is None
            with pytest.raises(runhost.RunNotFoundError) as missing:
                await b.events(run.id)
            with pytest.raises(runhost.RunNotFoundError) as unknown:
                await b.events("run_nope")
            assert str(missing.value).replace(run.id, "<id>") == str(unknown.value).replace("run_nope", "<id>")
            assert [r.id for r in await a.runs()] == [run.id] and await b.runs() == []
            with pytest.raises(runhost.InvalidDispatchError):
                await b.dispatch(sh("true", tenantId="a"))

    asyncio.run(main())


def test_approvals_through_the_async_host(env, asks_first_plugin):
    async def main():
        async with async_host(env, plugin_paths=[asks_first_plugin]) as host:
            run = await host.dispatch(sh("echo approved", prompt="deploy [ask]"))
            async for ev in run.events():
                if ev["type"] == "approval.required":
                    with pytest.raises(ValueError, match="scope must be \"once\" .* or \"run\" .*, not 'session'"):
                        await run.resolve_approval(ev["payload"]["approval_id"], decision="allow", scope="session")
                    await run.resolve_approval(ev["payload"]["approval_id"], decision="allow", reason="ok")
            return await run.wait(timeout=30), await host.events(run.id)

    info, events = asyncio.run(main())
    assert info.status == "succeeded"
    assert [e["type"] for e in events][:3] == ["approval.required", "approval.resolved", "run.started"]


def test_lifetime_not_open_closed_and_close_cancels(env):
    async def main():
        host = async_host(env)
        assert "not open" in repr(host)
        with pytest.raises(RuntimeError, match="not open: use `async with runhost.AsyncHost"):
            await host.dispatch(sh("true"))
        assert await host.open() is host and await host.open() is host
        assert {"custom"} <= {p.id for p in await host.plugins()}
        assert await host.plugin_refusals() == [] and await host.plugin_directories()
        run = await host.dispatch(sh("sleep 30"))
        stream = run.events()
        first = await stream.__anext__()
        await host.close()
        await host.close()  # idempotent
        assert host.closed
        with pytest.raises(runhost.HostClosedError):
            await host.runs()
        with pytest.raises(runhost.HostClosedError):
            await host.for_tenant("t1").run(run.id)
        with pytest.raises(runhost.HostClosedError):
            await host.open()
        return run.id, first

    run_id, first = asyncio.run(main())
    assert first["type"] == "run.started"
    with env.host() as sync:
        assert sync.run(run_id).status == "cancelled", "close() cancelled the running run"


def test_bad_arguments_are_refused_at_construction(env):
    with pytest.raises(TypeError, match="plugin_paths must be a list"):
        runhost.AsyncHost(store=env.store, plugin_paths="/opt/p")
    with pytest.raises(ValueError, match="max_workers must be a positive int"):
        runhost.AsyncHost(store=env.store, max_workers=0)

    async def opening_a_bad_store():
        with pytest.raises(runhost.StoreUnavailableError):
            async with runhost.AsyncHost(store=env.root / "no" / "such" / "dir" / "x.db"):
                pass

    (env.root / "no").write_text("a file, not a directory")
    asyncio.run(opening_a_bad_store())


def test_a_cancelled_anext_loses_nothing(env):
    async def main():
        async with async_host(env) as host:
            run = await host.dispatch(sh("echo first; while [ ! -e go ]; do sleep 0.02; done; echo second"))
            stream = run.events()
            seen = [await stream.__anext__(), await stream.__anext__()]
            for _ in range(3):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(stream.__anext__(), 0.1)
            (env.workspace / "go").touch()
            seen += [ev async for ev in stream]
            return seen

    seen = asyncio.run(main())
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert [e["payload"]["text"] for e in seen if e["type"] == "command.output"] == ["first", "second"]


def test_many_streams_need_no_thread_each(env):
    async def main():
        async with async_host(env) as host:
            runs = [await host.dispatch(sh(f"echo {i}; while [ ! -e go ]; do sleep 0.05; done")) for i in range(24)]
            streams = [r.events() for r in runs]
            firsts = await asyncio.wait_for(asyncio.gather(*(s.__anext__() for s in streams)), 60)
            during = len(os.listdir("/proc/self/task"))
            (env.workspace / "go").touch()
            rests = await asyncio.wait_for(asyncio.gather(*(drain(s) for s in streams)), 60)
            return firsts, during, rests

    before = len(os.listdir("/proc/self/task"))
    firsts, during, rests = asyncio.run(main())
    # The host's own threads (reactor, workers) and the AsyncHost's pool (4), not one per stream.
    assert during <= before + 12, f"threads grew from {before} to {during} for 24 streams"
    assert all(f["type"] == "run.started" for f in firsts)
    assert all(rest[-1]["type"] == "run.completed" for rest in rests)


# ---- never blocks the loop ----------------------------------------------------------------------

class Recorder:
    """Stands in for an extension object and records, for each call, the thread it ran on; what
    it returns that is an extension object is recorded too (a Host's streams)."""

    def __init__(self, target: Any, calls: List[Tuple[str, int]]) -> None:
        self._target = target
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, threading.get_ident()))
            result = attr(*args, **kwargs)
            return Recorder(result, self._calls) if isinstance(result, core.EventStream) else result

        return call


# What may run on the loop's thread: the eventfd to register with the loop (made once per stream,
# under a mutex the reactor holds only to store a number). Everything else can wait on the store.
ALLOWED_ON_THE_LOOP = {"fileno"}


def test_no_call_that_can_block_runs_on_the_loops_thread(env, asks_first_plugin, monkeypatch):
    calls: List[Tuple[str, int]] = []
    real_host = core.Host
    monkeypatch.setattr(core, "Host", lambda **options: Recorder(real_host(**options), calls))

    async def main() -> int:
        loop_thread = threading.get_ident()
        async with async_host(env, plugin_paths=[asks_first_plugin]) as host:
            runs = await asyncio.gather(*(host.dispatch(sh(f"echo {i}; echo done{i}")) for i in range(8)))
            for run in runs:
                assert [ev async for ev in run.events()][-1]["type"] == "run.completed"
                await run.wait(timeout=30)
                await run.info()
            asking = await host.for_tenant("t1").dispatch(sh("echo ok", prompt="go [ask]"))
            async for ev in asking.events():
                if ev["type"] == "approval.required":
                    assert len(await host.pending_approvals()) == 1
                    await asking.resolve_approval(ev["payload"]["approval_id"], decision="allow", by="ada")
            long = await host.dispatch(sh("sleep 30"))
            await long.cancel()
            await host.runs()
            await host.events(long.id)
            await host.run(long.id)
            await host.plugins()
        return loop_thread

    loop_thread = asyncio.run(main())
    names = {name for name, _ in calls}
    # The test exercised every kind of call (else it would prove nothing).
    assert {"dispatch", "stream", "_take", "info", "cancel", "pending_approvals", "answer_approval", "runs", "events",
            "run", "plugins", "close", "store_path", "fileno"} <= names, names
    on_loop = {name for name, thread in calls if thread == loop_thread}
    assert on_loop <= ALLOWED_ON_THE_LOOP, f"ran on the event loop's thread: {sorted(on_loop - ALLOWED_ON_THE_LOOP)}"


def test_the_recorder_sees_the_sync_hosts_calls_on_the_loop(env, monkeypatch):
    # The same check against the sync Host called from a coroutine: it must fail, or the check
    # above could pass by not seeing anything.
    calls: List[Tuple[str, int]] = []
    real_host = core.Host
    monkeypatch.setattr(core, "Host", lambda **options: Recorder(real_host(**options), calls))

    async def main() -> int:
        with env.host() as host:
            run = host.dispatch(sh("echo x"))
            [ev async for ev in run.aevents()]
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert {"dispatch", "_take"} <= {name for name, thread in calls if thread == loop_thread}


class SlowSteps(logging.Handler):
    """asyncio's debug mode logs every loop step that took longer than slow_callback_duration."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "took" in record.getMessage():
            self.messages.append(record.getMessage())


@pytest.mark.parametrize("blocking", [False, True], ids=["async-host", "control-blocking-call"])
def test_no_loop_step_is_slow_while_runs_are_dispatched_and_followed(env, blocking):
    # The coarse check, by time: with asyncio's slow-callback detector at 100 ms, a busy
    # AsyncHost (dispatches, 16 streams, cancels, a close that waits for a run to stop) never
    # holds the loop that long; the control holds it with one blocking call, and is caught.
    handler = SlowSteps()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        async def main() -> None:
            asyncio.get_running_loop().slow_callback_duration = 0.1
            async with async_host(env) as host:
                runs = await asyncio.gather(*(host.dispatch(sh(f"for i in 1 2 3 4 5; do echo {i}-$i; done"))
                                              for i in range(16)))
                stuck = await host.dispatch(sh("trap '' TERM; sleep 0.5"))
                await asyncio.gather(*(drain(r.events()) for r in runs))
                if blocking:
                    time.sleep(0.3)  # what a sync call that waits on the store or a process does
                await stuck.cancel()

        asyncio.run(main(), debug=True)
    finally:
        logger.removeHandler(handler)
    if blocking:
        assert handler.messages, "the detector missed a 300 ms blocking call"
    else:
        assert handler.messages == [], handler.messages


@pytest.mark.parametrize("kind", ["AsyncHost", "Host.aevents"])
def test_aclose_from_another_task_ends_a_waiting_iteration(env, kind):
    # What a server does at shutdown for each client it streams to: let go of the stream.
    async def main():
        if kind == "AsyncHost":
            async with async_host(env) as host:
                run = await host.dispatch(sh("echo one; sleep 30"))
                return await follow_then_close(run.events()), run
        with env.host() as host:
            run = host.dispatch(sh("echo one; sleep 30"))
            return await follow_then_close(run.aevents()), run

    async def follow_then_close(stream):
        seen = []

        async def iterate():
            async for ev in stream:
                seen.append(ev)

        task = asyncio.ensure_future(iterate())
        while not any(e["type"] == "command.output" for e in seen):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the task now waits for an event that will not come for 30 s
        start = time.monotonic()
        await stream.aclose()
        await asyncio.wait_for(task, 2)
        return time.monotonic() - start, seen

    (took, seen), run = asyncio.run(asyncio.wait_for(main(), 60))
    assert took < 1, f"the iteration ended {took:.2f} s after aclose()"
    assert [e["type"] for e in seen] == ["run.started", "command.output"]
