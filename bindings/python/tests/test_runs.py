"""Real local runs through the custom runtime, end to end: dispatch, status, events, reads."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

import runhost
from conftest import PYTHON, REPO, check_stream, python_subprocess_env, sh


def types(events):
    return [e["type"] for e in events]


def test_a_real_run_streams_its_events_to_the_end(host, env, event_validator):
    run = host.dispatch(sh("echo hello; echo oops >&2; printf 'x' > out.txt; echo bye"))
    assert run.created
    assert run.id.startswith("run_")
    assert run.dispatched.status == "queued"
    events = list(run.events())
    check_stream(events, event_validator)
    assert events[0]["type"] == "run.started"
    assert events[0]["payload"]["argv"][:2] == ["sh", "-c"]
    def output(stream):
        return [e["payload"]["text"] for e in events if e["type"] == "command.output" and e["payload"]["stream"] == stream]

    assert output("stdout") == ["hello", "bye"]  # two pipes: order across them is not defined
    assert output("stderr") == ["oops"]
    changed = [e["payload"] for e in events if e["type"] == "file.changed"]
    assert {c["path"] for c in changed} == {"out.txt"}
    assert all(c["path"] != "runhost.db-wal" for c in changed), "the store lives outside the workspace"
    assert events[-1]["type"] == "run.completed" and events[-1]["payload"]["exit_code"] == 0
    for e in events:
        assert (e["run_id"], e["tenant_id"], e["user_id"], e["runtime"]) == (run.id, "t1", "u1", "custom")
        assert e["device"] == {"type": "local", "id": "pytest"}
    assert run.status == "succeeded"
    info = run.info()
    assert (info.status, info.last_seq, info.error_code, info.finished) == ("succeeded", len(events), None, True)
    assert info.created_at <= info.updated_at


def test_status_moves_from_running_to_succeeded(host, env):
    run = host.dispatch(sh("while [ ! -e go ]; do sleep 0.02; done; echo done"))
    stream = run.events()
    first = next(stream)
    assert first["type"] == "run.started"
    # The core records "running" on a worker right after run.started: allow it a moment.
    deadline = time.monotonic() + 5
    while run.status == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.status == "running"
    (env.workspace / "go").touch()
    rest = list(stream)
    assert rest[-1]["type"] == "run.completed"
    assert run.status == "succeeded"


def test_the_same_idempotency_key_gives_the_same_run(host):
    d = sh("echo once", key="same-key")
    first = host.dispatch(d)
    again = host.dispatch(dict(d))
    assert first.created and not again.created
    assert again.id == first.id and again == first
    first.wait()
    assert [e["payload"]["text"] for e in host.events(first.id) if e["type"] == "command.output"] == ["once"]
    assert len(host.runs()) == 1, "nothing was started twice"


def test_events_after_a_cursor_and_with_a_limit(host):
    run = host.dispatch(sh("for i in 1 2 3 4 5; do echo line$i; done"))
    run.wait()
    every = host.events(run.id)
    assert [e["seq"] for e in every] == list(range(1, len(every) + 1))
    assert host.events(run.id, after=3) == every[3:]
    assert host.events(run.id, after=1, limit=2) == every[1:3]
    assert host.events(run.id, after=len(every)) == []
    assert list(run.events(after=4)) == every[4:]
    assert list(run.events(after=len(every))) == [], "a stream that starts after the terminal event is empty"
    assert list(run.events(after=10_000)) == []


def test_a_live_stream_starting_beyond_the_end_still_ends(host, env):
    run = host.dispatch(sh("while [ ! -e go ]; do sleep 0.02; done"))
    stream = run.events(after=10_000)
    (env.workspace / "go").touch()
    assert list(stream) == [], "nothing has seq > 10000, and the stream ends with the run"


def test_runs_filters_by_tenant_and_status(host):
    ok = host.dispatch(sh("true", tenantId="alpha"))
    bad = host.dispatch(sh("exit 1", tenantId="beta"))
    ok.wait()
    bad.wait()
    assert {r.id for r in host.runs()} == {ok.id, bad.id}
    assert [r.id for r in host.runs(tenant_id="alpha")] == [ok.id]
    assert [r.id for r in host.runs(status="failed")] == [bad.id]
    assert host.runs(tenant_id="beta", status="succeeded") == []
    assert len(host.runs(limit=1)) == 1
    failed = host.runs(status="failed")[0]
    assert failed.error_code == "runtime_error"
    with pytest.raises(runhost.InvalidDispatchError, match="unknown run status"):
        host.runs(status="exploded")


def test_host_run_finds_a_run_by_id(host):
    run = host.dispatch(sh("true"))
    found = host.run(run.id)
    assert found is not None and found.id == run.id and not found.created
    assert host.run("run_00000000000000000000000000") is None


def test_wait_returns_the_final_record_and_honours_a_timeout(host):
    slow = host.dispatch(sh("sleep 30"))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        slow.wait(timeout=0.3)
    assert time.monotonic() - started < 2
    assert slow.status == "running", "a wait that times out leaves the run going"
    slow.cancel()
    assert slow.wait(timeout=10).status == "cancelled"
    quick = host.dispatch(sh("echo hi"))
    info = quick.wait(timeout=10)
    assert info.status == "succeeded" and info.last_seq >= 3


def test_plugins_lists_the_bundled_set_from_the_package(host):
    bundled = runhost.bundled_plugin_dir()
    manifests = sorted(bundled.glob("*.runhost.json"))
    assert manifests, f"no bundled plugins in {bundled}"
    expected = {p["id"] for m in manifests for p in json.loads(m.read_text())["plugins"]}
    loaded = host.plugins()
    assert {p.id for p in loaded} == expected
    assert {"custom", "deny-pattern", "static-grant", "example-echo"} <= expected
    custom = next(p for p in loaded if p.id == "custom")
    assert custom.kind == "runtime" and custom.abi_major == 1
    assert custom.library == str((bundled / "custom.so").resolve())
    assert host.plugin_refusals() == []
    assert host.plugin_directories() == [bundled]


def test_extra_plugin_dirs_come_first_and_a_bad_one_is_refused_not_fatal(env, tmp_path):
    bad_dir = tmp_path / "vendor"
    bad_dir.mkdir()
    (bad_dir / "broken.so").write_bytes(b"not an ELF file")
    with env.host(plugin_paths=[bad_dir]) as h:
        assert h.plugin_directories()[0] == bad_dir
        refusals = h.plugin_refusals()
        assert len(refusals) == 1 and refusals[0].path.endswith("broken.so"), refusals
        assert "custom" in {p.id for p in h.plugins()}, "the host keeps going with the rest"


def test_a_fresh_process_finds_core_and_plugins_without_environment_variables(env):
    # The README's promise: pip install, import, run. No RUNHOST_PLUGIN_PATH, no LD_LIBRARY_PATH.
    script = f"""
import runhost
with runhost.Host(store={str(env.store)!r}, workspace_root={str(env.workspace)!r}) as h:
    run = h.dispatch({json.dumps(sh("echo from a fresh process"))})
    print(run.wait().status, [e["payload"].get("text") for e in run.events() if e["type"] == "command.output"])
"""
    environ = python_subprocess_env()
    environ.pop("LD_LIBRARY_PATH", None)
    out = subprocess.run([PYTHON, "-c", script], env=environ, cwd=env.root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "succeeded ['from a fresh process']"


def test_the_extension_exports_only_its_init_symbol():
    import runhost._native._core as core

    nm = subprocess.run(["nm", "-D", "--defined-only", core.__file__], capture_output=True, text=True, check=True)
    exported = [line.split()[-1] for line in nm.stdout.splitlines() if line.split()[1] in ("T", "D", "B", "W", "V")]
    assert exported == ["PyInit__core"], exported[:20]



def test_events_decode_exactly_as_json_loads_of_the_stored_envelope(host, env):
    # Open payload fields of every JSON kind: unicode escapes and surrogate pairs, big and
    # negative integers, floats, nesting. What Python gets is json.loads of what was stored.
    import sqlite3

    from conftest import jsonl_line

    payload = {"role": "assistant", "text": "caf\u00e9 \U0001F600 \"quoted\" \\ back\nslash \u0000 nul",
               "extra": {"big": 123456789012345678901234567890, "neg": -42, "f": 0.1, "e": 1.5e-300,
                         "list": [1, [2.5, None, True, False], {}], "empty": ""}}
    run = host.dispatch(sh(jsonl_line("message", payload), outputMode="jsonl"))
    events = list(run.events())
    message = next(e for e in events if e["type"] == "message")["payload"]
    assert message["text"] == payload["text"]
    assert {k: v for k, v in message["extra"].items() if k != "big"} == {k: v for k, v in payload["extra"].items() if k != "big"}
    # (The core keeps integers beyond 64 bits as floats: the stored envelope decides.)
    stored = sqlite3.connect(env.store).execute(
        "SELECT payload_json FROM agent_run_events WHERE run_id = ? ORDER BY seq", (run.id,)).fetchall()
    assert [json.loads(row[0]) for row in stored] == events
