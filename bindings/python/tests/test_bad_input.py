"""Bad input gets clear exceptions: wrong argument types, a closed host, an ended stream
iterated again, Ctrl-C during a blocking wait (prompt, and nothing lost)."""
from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

import runhost
from conftest import PYTHON, python_subprocess_env, sh


def test_wrong_argument_types_are_type_errors(env, host):
    with pytest.raises(TypeError, match="plugin_paths must be a list"):
        runhost.Host(store=env.store, plugin_paths="/opt/plugins")
    with pytest.raises(TypeError, match="store must be a str or os.PathLike"):
        runhost.Host(store=42)
    with pytest.raises(TypeError, match="default_timeout"):
        runhost.Host(store=env.store, default_timeout="soon")
    with pytest.raises(ValueError, match="default_timeout must be positive"):
        runhost.Host(store=env.store, default_timeout=0)
    with pytest.raises(TypeError, match=r"plugin_config\['custom'\]"):
        runhost.Host(store=env.store, plugin_config={"custom": 3})
    with pytest.raises(TypeError, match="run_id must be a str"):
        host.run(123)
    with pytest.raises(TypeError, match="run_id must be a str"):
        host.cancel(None)
    with pytest.raises(TypeError, match="after must be an int"):
        host.events("run_x", after="3")
    with pytest.raises(ValueError, match="after must be >= 0"):
        host.events("run_x", after=-1)
    with pytest.raises(TypeError, match="allow must be a bool"):
        host.resolve_approval("run_x", "apr_x", "yes")
    run = host.dispatch(sh("true"))
    with pytest.raises(TypeError, match="after must be an int"):
        run.events(after=1.5)


def test_a_missing_workspace_root_is_refused(env):
    with pytest.raises(runhost.InvalidDispatchError, match="is not a directory"):
        runhost.Host(store=env.store, workspace_root=env.root / "nowhere")


def test_an_unknown_run_is_none_and_its_events_are_run_not_found(host):
    assert host.run("run_unknown") is None
    with pytest.raises(runhost.RunNotFoundError, match="run_unknown"):
        host.events("run_unknown")


def test_iterating_an_ended_stream_again_is_an_error_and_a_new_one_replays(host):
    run = host.dispatch(sh("echo x"))
    stream = run.events()
    first = list(stream)
    assert first[-1]["type"] == "run.completed"
    with pytest.raises(runhost.StreamConsumedError, match="call run.events\\(\\) again"):
        for _ in stream:
            pass
    with pytest.raises(StopIteration):
        next(stream)  # the iterator protocol: an exhausted iterator stays exhausted
    assert list(run.events()) == first


def test_a_partly_read_stream_goes_on_where_it_stopped(host):
    run = host.dispatch(sh("for i in 1 2 3 4; do echo $i; done"))
    run.wait()
    stream = run.events()
    head = []
    for ev in stream:
        head.append(ev)
        if len(head) == 2:
            break
    tail = list(stream)
    assert [e["seq"] for e in head + tail] == list(range(1, len(head) + len(tail) + 1))


# The child restores Python's own SIGINT handler: a process started in the background by a
# non-interactive shell (`cmd &`, as a CI job may be) inherits SIGINT ignored, and Python then
# leaves it ignored, so Ctrl-C would never reach it whatever the binding does.
KEYBOARD_INTERRUPT_CHILD = """
import sys, time, json, signal, runhost
signal.signal(signal.SIGINT, signal.default_int_handler)
store, workspace, dispatch, mode = sys.argv[1:5]
host = runhost.Host(store=store, workspace_root=workspace, use_environment=False)
run = host.dispatch(json.loads(dispatch))
stream = run.events()
seen = [next(stream)]                        # run.started
print("waiting", flush=True)
try:
    if mode == "iterate":
        for ev in stream:
            seen.append(ev)
    else:
        run.wait()
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
open(workspace + "/go", "w").close()         # let the run finish, then read on
seen += list(stream)
print(json.dumps([[e["seq"], e["type"]] for e in seen]), flush=True)
host.close()
"""


@pytest.mark.parametrize("mode", ["iterate", "wait"])
def test_ctrl_c_during_a_blocking_wait_returns_promptly_and_loses_nothing(env, mode):
    dispatch = sh("echo one; while [ ! -e go ]; do sleep 0.02; done; echo two")
    child = subprocess.Popen(
        [PYTHON, "-c", KEYBOARD_INTERRUPT_CHILD, str(env.store), str(env.workspace), json.dumps(dispatch), mode],
        env=python_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.3)  # deep inside the wait
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        assert line and line[0] == "interrupted", line
        latency = float(line[1]) - sent
        assert latency < 0.5, f"KeyboardInterrupt took {latency:.3f} s"
        seen = json.loads(child.stdout.readline())
        assert child.wait(30) == 0, child.stderr.read()
    finally:
        child.kill()
        child.wait()
    assert [s for s, _ in seen] == list(range(1, len(seen) + 1)), "no event lost or repeated"
    types = [t for _, t in seen]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert types.count("command.output") == 2
