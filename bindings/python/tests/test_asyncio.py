"""asyncio: `async for ev in run.aevents()`, concurrent runs on one loop, no thread per run."""
from __future__ import annotations

import asyncio
import os

import pytest

import runhost
from conftest import check_stream, sh


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_two_runs_iterated_concurrently_on_one_loop(host, env, event_validator):
    # Each run waits for a file that only the *other* run's consumer creates, after it has seen
    # that run's first output: both finish only if both streams make progress at the same time.
    a = host.dispatch(sh("echo a-ready; while [ ! -e b-seen ]; do sleep 0.02; done; echo a-done"))
    b = host.dispatch(sh("echo b-ready; while [ ! -e a-seen ]; do sleep 0.02; done; echo b-done"))

    async def follow(run: runhost.Run, name: str) -> list:
        events = []
        async for ev in run.aevents():
            events.append(ev)
            if ev["type"] == "command.output" and ev["payload"]["text"] == f"{name}-ready":
                (env.workspace / f"{name}-seen").touch()
        return events

    async def main():
        return await asyncio.wait_for(asyncio.gather(follow(a, "a"), follow(b, "b")), 30)

    events_a, events_b = asyncio.run(main())
    for events, name in ((events_a, "a"), (events_b, "b")):
        check_stream(events, event_validator)
        texts = [e["payload"]["text"] for e in events if e["type"] == "command.output"]
        assert texts == [f"{name}-ready", f"{name}-done"]
        assert events[-1]["type"] == "run.completed"


def test_many_async_streams_need_no_thread_each(host, env):
    runs = [host.dispatch(sh(f"echo {i}; while [ ! -e go ]; do sleep 0.05; done; echo end{i}")) for i in range(24)]

    async def main():
        before = os_threads()
        streams = [r.aevents() for r in runs]
        firsts = await asyncio.wait_for(asyncio.gather(*(s.__anext__() for s in streams)), 30)
        assert all(f["type"] == "run.started" for f in firsts)
        during = os_threads()
        (env.workspace / "go").touch()

        async def drain(s):
            return [ev async for ev in s]

        rests = await asyncio.wait_for(asyncio.gather(*(drain(s) for s in streams)), 60)
        return before, during, rests

    before, during, rests = asyncio.run(main())
    assert during <= before + 1, f"threads grew from {before} to {during} for 24 concurrent streams"
    for i, rest in enumerate(rests):
        assert rest[-1]["type"] == "run.completed"
        assert [e["payload"]["text"] for e in rest if e["type"] == "command.output"][-1] == f"end{i}"


def test_a_cancelled_anext_loses_nothing(host, env):
    run = host.dispatch(sh("echo first; while [ ! -e go ]; do sleep 0.02; done; echo second"))

    async def main():
        stream = run.aevents()
        seen = [await stream.__anext__()]  # run.started
        seen.append(await stream.__anext__())  # first
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(stream.__anext__(), 0.2)  # cancelled while waiting
        (env.workspace / "go").touch()
        seen += [ev async for ev in stream]
        return seen

    seen = asyncio.run(main())
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert [e["payload"]["text"] for e in seen if e["type"] == "command.output"] == ["first", "second"]


def test_one_task_at_a_time_and_an_ended_stream_is_not_iterated_again(host):
    run = host.dispatch(sh("sleep 0.3; echo x"))

    async def main():
        stream = run.aevents()
        await stream.__anext__()
        t1 = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError, match="already being iterated"):
            await stream.__anext__()
        await t1
        rest = [ev async for ev in stream]
        assert rest[-1]["type"] == "run.completed"
        with pytest.raises(runhost.StreamConsumedError):
            async for _ in stream:
                pass
        replay = [ev async for ev in run.aevents()]
        assert replay[-1]["type"] == "run.completed", "a new stream replays"

    asyncio.run(main())


def test_await_and_check(host):
    async def main():
        ok = host.dispatch(sh("echo fine"))
        bad = host.dispatch(sh("exit 7"))
        info = await ok.await_(timeout=20)
        assert info.status == "succeeded"
        with pytest.raises(runhost.RunhostRuntimeError) as caught:
            await bad.await_(timeout=20, check=True)
        assert caught.value.code == "runtime_error"
        slow = host.dispatch(sh("sleep 30"))
        with pytest.raises(TimeoutError):
            await slow.await_(timeout=0.2)
        slow.cancel()

    asyncio.run(main())


def test_aclose_and_async_with_stop_following(host):
    run = host.dispatch(sh("echo hi; sleep 30"))

    async def main():
        async with run.aevents() as stream:
            first = await stream.__anext__()
        assert first["type"] == "run.started"
        with pytest.raises(runhost.StreamConsumedError):
            stream.__aiter__()

    asyncio.run(main())
    run.cancel()


def test_an_event_stored_before_the_first_wait_is_not_missed(host, env):
    # The eventfd is made on the first wait. An event that became durable after the last read
    # but before the fd existed signalled nothing: the first wait must still return.
    run = host.dispatch(sh("echo one; while [ ! -e go ]; do sleep 0.02; done; echo two"))

    async def main():
        stream = run.aevents()
        core = stream._stream
        seen = []
        deadline = asyncio.get_running_loop().time() + 20
        while not any(e["type"] == "command.output" for e in seen):
            seen += core._take(64)
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        while core._take(64):  # caught up: the next take would wait
            pass
        last = seen[-1]["seq"]
        (env.workspace / "go").touch()
        while len(host.events(run.id, after=last)) == 0:  # a newer event is durable, unread
            await asyncio.sleep(0.01)
        await asyncio.wait_for(stream._readable(asyncio.get_running_loop()), 5)
        rest = [ev async for ev in stream]
        assert rest[0]["seq"] == last + 1 and rest[-1]["type"] == "run.completed"

    asyncio.run(main())
