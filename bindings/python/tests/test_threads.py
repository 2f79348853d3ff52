"""Many threads: one dispatch sent from many threads at once, many runs followed from many
threads, and the GIL released while a thread waits."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import runhost
from conftest import check_stream, sh

THREADS = 32


def test_one_dispatch_from_many_threads_at_once_starts_one_run(host, event_validator):
    d = sh("echo exactly once", key="raced-key")
    barrier = threading.Barrier(THREADS)

    def send(_):
        barrier.wait()
        return host.dispatch(dict(d))

    with ThreadPoolExecutor(THREADS) as pool:
        runs = list(pool.map(send, range(THREADS)))
    assert len({r.id for r in runs}) == 1, "every thread got the same run"
    assert sum(r.created for r in runs) == 1, "exactly one dispatch started it"
    events = list(runs[0].events())
    check_stream(events, event_validator)
    assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == ["exactly once"]
    assert len(host.runs()) == 1


def test_many_runs_dispatched_and_followed_from_many_threads(host, event_validator):
    barrier = threading.Barrier(16)

    def one(i):
        barrier.wait()
        run = host.dispatch(sh(f"for n in 1 2 3; do echo r{i}-$n; done"))
        return run.id, list(run.events())

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert len({run_id for run_id, _ in results}) == 16
    for i, (run_id, events) in enumerate(results):
        check_stream(events, event_validator)
        assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == [f"r{i}-{n}" for n in (1, 2, 3)]


def spin(seconds: float) -> int:
    """Pure-Python work: how many loop turns fit in `seconds`."""
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        n += 1
    return n


def test_the_gil_is_released_while_a_thread_waits_for_events(host, env):
    run = host.dispatch(sh("echo go; while [ ! -e stop ]; do sleep 0.02; done"))
    stream = run.events()
    assert next(stream)["type"] == "run.started"
    baseline = spin(0.3)  # no other Python thread
    waiting = threading.Event()

    def consume():
        waiting.set()
        list(stream)  # blocks until the run ends

    t = threading.Thread(target=consume)
    t.start()
    waiting.wait()
    time.sleep(0.1)  # the consumer is now inside the blocking wait
    during = spin(0.3)
    assert t.is_alive()
    (env.workspace / "stop").touch()
    t.join(20)
    assert not t.is_alive()
    # A waiter holding the GIL would leave this thread a few ms in every 50 ms slice.
    assert during > 0.4 * baseline, (during, baseline)


def test_one_thread_at_a_time_per_stream(host, env):
    run = host.dispatch(sh("while [ ! -e go ]; do sleep 0.02; done"))
    stream = run.events()
    t = threading.Thread(target=lambda: list(stream))
    t.start()
    time.sleep(0.2)
    with pytest.raises(RuntimeError, match="already being iterated by another thread"):
        next(stream)
    (env.workspace / "go").touch()
    t.join(20)
    assert stream.ended


def test_close_from_another_thread_ends_a_blocking_iteration(host):
    run = host.dispatch(sh("sleep 30"))
    stream = run.events()
    got = []
    t = threading.Thread(target=lambda: got.extend(stream))
    t.start()
    time.sleep(0.2)
    stream.close()
    t.join(5)
    assert not t.is_alive(), "close() ends the other thread's wait"
    assert [e["type"] for e in got] == ["run.started"]
    run.cancel()
