"""The store is the source of truth: a run's events replay identically after the Host is closed
and another one opened on the same store, from any cursor."""
from __future__ import annotations

import threading

import pytest

import runhost
from conftest import check_stream, sh


def test_replay_after_close_and_reopen_is_identical(env, event_validator):
    with env.host() as first:
        run = first.dispatch(sh("echo one; echo two; printf data > f.txt; echo three"))
        live = list(run.events())
        run_id = run.id
    assert first.closed
    check_stream(live, event_validator)

    with env.host() as second:
        again = second.run(run_id)
        assert again is not None and again.status == "succeeded"
        assert list(again.events()) == live, "replay gives the same envelopes, byte for byte as dicts"
        assert list(again.events(after=2)) == live[2:]
        assert second.events(run_id) == live
        assert second.runs()[0].id == run_id


def test_a_reader_that_stops_while_megabytes_are_committed_misses_and_repeats_nothing(host, event_validator):
    # Live events wait for a reader in memory up to 1 MiB; past that it reads them from the store.
    run = host.dispatch(sh("yes 'a line of output long enough to fill the buffer quickly, again and again' | head -n 20000"))
    events = []
    for ev in run.events():
        events.append(ev)
        if len(events) == 100:
            assert run.wait(timeout=60).status == "succeeded"
    check_stream(events, event_validator)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "every seq once, in order"
    assert sum(e["type"] == "command.output" for e in events) == 20000


def test_every_stream_of_a_run_is_an_independent_replay(host):
    run = host.dispatch(sh("echo a; echo b"))
    first = list(run.events())
    second = list(run.events())
    assert first == second and first[-1]["type"] == "run.completed"


def test_a_stream_can_start_live_and_another_replay_concurrently(host, env):
    run = host.dispatch(sh("echo before; while [ ! -e go ]; do sleep 0.02; done; echo after"))
    live = run.events()
    assert next(live)["type"] == "run.started"
    (env.workspace / "go").touch()
    replay_tail = list(run.events(after=1))
    assert [e["seq"] for e in replay_tail][0] == 2
    assert list(live) == replay_tail


def test_closing_the_host_cancels_its_runs_and_keeps_their_events(env):
    with env.host() as h:
        run = h.dispatch(sh("echo started; sleep 30"))
        stream = run.events()
        assert next(stream)["type"] == "run.started"
        run_id = run.id
    with env.host() as h:
        events = list(h.run(run_id).events())
        assert events[-1]["type"] == "run.cancelled"
        assert h.run(run_id).status == "cancelled"


def test_a_closed_host_raises_host_closed_error_everywhere(env):
    h = env.host()
    run = h.dispatch(sh("true"))
    run.wait()
    h.close()
    h.close()  # idempotent
    assert h.closed
    calls = [
        lambda: h.dispatch(sh("true")),
        lambda: h.run(run.id),
        lambda: h.runs(),
        lambda: h.events(run.id),
        lambda: h.cancel(run.id),
        lambda: h.resolve_approval(run.id, "apr_x", decision="allow"),
        lambda: h.plugins(),
        lambda: h.store_path,
        lambda: run.status,
        lambda: run.events(),
        lambda: run.aevents(),
        lambda: run.wait(),
    ]
    for call in calls:
        with pytest.raises(runhost.HostClosedError, match="closed"):
            call()
    assert "closed" in repr(h)


def test_a_stream_waiting_when_its_host_closes_raises_host_closed_error(env):
    h = env.host()
    run = h.dispatch(sh("echo hi; sleep 30"))
    stream = run.events()
    got, failure = [], []

    def consume():
        try:
            for ev in stream:
                got.append(ev)
        except BaseException as e:  # noqa: BLE001  (the test inspects it)
            failure.append(e)

    t = threading.Thread(target=consume)
    t.start()
    while not got:
        t.join(0.01)
    h.close()
    t.join(20)
    assert not t.is_alive()
    assert len(failure) == 1 and isinstance(failure[0], runhost.HostClosedError), failure
    assert got[0]["type"] == "run.started"


def test_a_stream_keeps_its_host_alive(env):
    # No name holds the Host: the stream does, so the run is not cancelled under it.
    events = list(env.host().dispatch(sh("sleep 0.2; echo still here")).events())
    assert events[-1]["type"] == "run.completed"
    assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == ["still here"]


def test_a_host_left_open_at_exit_cancels_its_runs_cleanly(env):
    import json
    import subprocess

    from conftest import PYTHON, python_subprocess_env

    script = f"""
import runhost
h = runhost.Host(store={str(env.store)!r}, workspace_root={str(env.workspace)!r}, use_environment=False)
run = h.dispatch({json.dumps(sh("echo started; sleep 30"))})
stream = run.events()
next(stream); next(stream)
print(run.id, flush=True)
"""  # exits with the Host open and the run running
    out = subprocess.run([PYTHON, "-c", script], env=python_subprocess_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with env.host() as h:
        events = h.events(out.stdout.strip())
        assert events[-1]["type"] == "run.cancelled", "closed at exit, not left for recovery (device_lost)"
        assert events[-1]["payload"]["reason"] == "the host is shutting down"
