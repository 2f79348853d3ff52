"""The sandbox device end to end: `runhost run --device sandbox` against the loopback MIOSA
emulator (tools/miosa-emulator), which runs every command for real in a bubblewrap sandbox.

Each test starts its own emulator and store; faults are armed through the emulator's knobs
(a real 429, a real dropped stream), never by a flag inside runhost.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "miosa"))
from emu import Emulator, fetch, free_port, pids_with_marker, store_bytes, wait_until  # noqa: E402

RUNHOST = os.environ.get("RUNHOST_BIN", str(HERE.parents[1] / "build" / "default" / "bin" / "runhost"))
KEY = "msk_live_runhost_sandbox_test_0123456789"


@pytest.fixture
def emu(tmp_path):
    e = Emulator(tmp_path / "emu")
    yield e
    e.stop()


class Runs:
    """`runhost` against one store and one emulator, with the MIOSA variables set."""

    def __init__(self, tmp: Path, emu: Emulator) -> None:
        self.tmp = tmp
        self.emu = emu
        self.store = tmp / "runhost.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MIOSA_")}
        self.env.update(MIOSA_BASE_URL=emu.base_url, MIOSA_API_KEY=KEY, RUNHOST_LOG="warn")

    def run(self, *args: str, timeout: float = 120, env: dict | None = None) -> tuple[int, list, str]:
        p = subprocess.run([RUNHOST, "run", "--store", str(self.store), "--json", "--device", "sandbox", *args],
                           capture_output=True, text=True, timeout=timeout, env={**self.env, **(env or {})},
                           cwd=self.tmp)
        events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        return p.returncode, events, p.stderr

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([RUNHOST, "run", "--store", str(self.store), "--json", "--device", "sandbox", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.tmp)


@pytest.fixture
def runs(tmp_path, emu):
    return Runs(tmp_path, emu)


def of(events: list, type_: str) -> list:
    return [e for e in events if e["type"] == type_]


def output(events: list, stream: str = "stdout") -> str:
    return "".join(e["payload"]["text"] + "\n" for e in of(events, "command.output") if e["payload"]["stream"] == stream)


def sandbox_dir(emu: Emulator, sandbox_id: str) -> Path:
    found = [p for p in emu.root.rglob("workspace") if sandbox_id in str(p)]
    assert found, f"no directory for {sandbox_id} under {emu.root}"
    return found[0]


def test_a_command_in_a_sandbox_streams_output_files_artifacts_previews_and_ends(runs, emu):
    port = free_port()
    script = (f"echo hello; echo oops >&2; mkdir -p site out; echo '<h1>made in a sandbox</h1>' > site/index.html; "
              f"printf 'a,b\\n1,2\\n' > out/table.csv; "
              f"cd site && python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 & "
              f"for i in $(seq 1 100); do sleep 0.1; [ -e /workspace/go ] && break; done; echo bye")
    proc = runs.start("--", "sh", "-c", script)
    # The preview is reachable while the run lives: a browser fetches it through the token URL,
    # with no key.
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "preview.ready":
            status, body = fetch(events[-1]["payload"]["url"])
            assert status == 200 and b"made in a sandbox" in body
            sid = events[-1]["device"]["id"]
            (sandbox_dir(emu, sid) / "go").write_text("")
    proc.wait(60)
    assert proc.returncode == 0, proc.stderr.read()

    assert events[0]["type"] == "run.started" and events[-1]["type"] == "run.completed"
    sid = events[0]["device"]["id"]
    assert sid.startswith("sbx_")
    assert output(events) == "hello\nbye\n" and output(events, "stderr") == "oops\n"
    changed = {e["payload"]["path"]: e["payload"]["change"] for e in of(events, "file.changed")}
    assert changed.get("site/index.html") == "created" and changed.get("out/table.csv") == "created"
    assert not any(p.startswith(".runhost") for p in changed), "runhost's own files are not the run's"

    # Artifacts carry what the sandbox holds: its size and sha256, and MIOSA's export id.
    ws = sandbox_dir(emu, sid)
    arts = {e["payload"]["path"]: e["payload"] for e in of(events, "artifact.created")}
    for path in ("site/index.html", "out/table.csv"):
        data = (ws / path).read_bytes()
        assert arts[path]["sha256"] == hashlib.sha256(data).hexdigest()
        assert arts[path]["size_bytes"] == len(data)
        assert arts[path]["device_artifact_id"]
    assert arts["out/table.csv"]["content_type"] == "text/csv"

    preview = of(events, "preview.ready")
    assert [p["payload"]["port"] for p in preview] == [port]
    assert preview[0]["payload"]["preview_id"] and "mt=" in preview[0]["payload"]["url"]

    # Every event names the sandbox; every device event the MIOSA request that revealed it.
    log_ids = {e["request_id"] for e in emu.log()}
    for e in events:
        assert e["device"] == {"type": "sandbox", "id": sid}, e
        if e["source"] in ("device", "runtime") or e["type"] == "run.started":
            assert e["request_id"] in log_ids, e
    # The key never appears: not in an event, not in the store, not in a URL.
    assert KEY not in json.dumps(events)
    stored = store_bytes(runs.store)
    assert b"made in a sandbox" in stored or b"table.csv" in stored, "the store's bytes were read"
    assert KEY.encode() not in stored
    # runhost's run directory is gone; the sandbox and the run's work stay.
    wait_until(lambda: not (ws / ".runhost").exists() or not any((ws / ".runhost").iterdir()), "the run dir removed")
    assert (ws / "site" / "index.html").exists()
    # The server the run left behind was stopped with it, as on the local device.
    wait_until(lambda: fetch(preview[0]["payload"]["url"])[0] != 200, "the preview to stop with the run")


def test_the_sandbox_request_carries_the_sdk_conventions(runs, emu):
    code, events, err = runs.run("--tenant", "acme", "--project", "proj_1", "--idempotency-key", "dispatch-1",
                                 "--", "true", env={"MIOSA_TENANT": "tenant-x"})
    assert code == 0, err
    log = emu.log()
    creates = [e for e in log if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert len(creates) == 1 and creates[0]["idempotency_key"]
    assert all(e["authorization"] == {"present": True, "scheme": "Bearer"} for e in log)
    assert all(e["tenant"] == "tenant-x" for e in log)
    assert all(e["user_agent"].startswith("runhost/") for e in log)
    # The same dispatch again, from another store (a host that lost its record): the create
    # carries the same key, and MIOSA answers with the same sandbox.
    other = Runs(runs.tmp / "second", emu)
    other.tmp.mkdir()
    code, again, err = other.run("--tenant", "acme", "--project", "proj_1", "--idempotency-key", "dispatch-1",
                                 "--", "true", env={"MIOSA_TENANT": "tenant-x"})
    assert code == 0, err
    creates = [e for e in emu.log() if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert len(creates) == 2 and creates[1]["idempotency_key"] == creates[0]["idempotency_key"]
    assert again[0]["device"]["id"] == events[0]["device"]["id"]


def test_a_project_keeps_its_sandbox_across_runs(runs, emu):
    code, first, err = runs.run("--project", "proj_app", "--", "sh", "-c", "echo one > notes.txt")
    assert code == 0, err
    code, second, err = runs.run("--project", "proj_app", "--", "cat", "notes.txt")
    assert code == 0, err
    assert first[0]["device"]["id"] == second[0]["device"]["id"]
    assert output(second) == "one\n"
    creates = [e for e in emu.log() if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert len(creates) == 1, "the second run used the project's current sandbox"
    # Another project gets its own.
    code, third, _ = runs.run("--project", "proj_other", "--", "true")
    assert third[0]["device"]["id"] != first[0]["device"]["id"]


def test_a_paused_sandbox_named_by_device_id_is_resumed(runs, emu):
    code, first, err = runs.run("--", "sh", "-c", "echo kept > kept.txt")
    assert code == 0, err
    sid = first[0]["device"]["id"]
    status, _, _ = emu.raw("POST", f"/api/v1/sandboxes/{sid}/pause", {})
    assert status == 200
    # The first resume meets a checkpoint still settling (503 RESTORE_TRANSIENT, twice): retried
    # with its Idempotency-Key, as the SDK would.
    emu.arm(route=r"POST .*/resume$", kind="restore_transient", count=2)
    code, events, err = runs.run("--device-id", sid, "--", "cat", "kept.txt")
    assert code == 0, err
    assert output(events) == "kept\n" and events[0]["device"]["id"] == sid
    resumes = [e for e in emu.log() if e["path"].endswith(f"/{sid}/resume")]
    assert [e["status"] for e in resumes] == [503, 503, 200]
    assert len({e["idempotency_key"] for e in resumes}) == 1 and resumes[0]["idempotency_key"]


def test_a_dropped_output_stream_is_resumed_without_losing_or_repeating_output(runs, emu):
    emu.arm(route=r"POST .*/exec/stream$", kind="drop_stream_after_frames", frames=2, count=4)
    code, events, err = runs.run("--", "sh", "-c", "for i in $(seq 1 120); do echo line$i; echo err$i >&2; sleep 0.02; done")
    assert code == 0, err
    assert output(events) == "".join(f"line{i}\n" for i in range(1, 121))
    assert output(events, "stderr") == "".join(f"err{i}\n" for i in range(1, 121))
    # How many streams the emulator cut depends on how the output fell into chunks; each cut one
    # was opened again, and the last one ran to the end.
    fired = emu.admin("GET", "faults")[0]["fired"]
    streams = [e for e in emu.log() if e["path"].endswith("/exec/stream")]
    assert fired >= 1, "the output spanned more than two chunks, so at least one stream was cut"
    assert len(streams) == fired + 1, (fired, len(streams))


def test_a_stream_that_keeps_dropping_ends_the_run_device_lost_and_keeps_the_sandbox(runs, emu):
    emu.arm(route=r"POST .*/exec/stream$", kind="drop_stream_after_frames", frames=0, count=1000)
    code, events, err = runs.run("--", "sh", "-c", "echo never seen; sleep 30", timeout=180)
    assert code != 0
    failed = events[-1]
    assert failed["type"] == "run.failed", events[-3:]
    error = failed["payload"]["error"]
    assert error["code"] == "device_lost" and error["retryable"] is True
    assert error["recovery"]["action"] == "resume_device" and error["recovery"]["device_id"] == failed["device"]["id"]
    status, _, _ = emu.raw("GET", f"/api/v1/sandboxes/{failed['device']['id']}")
    assert status == 200, "the sandbox is kept"


def test_changes_made_while_the_file_watch_was_down_are_reported_once(runs, emu):
    code, _, err = runs.run("--project", "proj_w", "--", "sh", "-c", "echo old > pre.txt; echo keep > same.txt")
    assert code == 0, err
    # The watch cannot open for its first three tries (about 1.4 s of backoff): the runtime
    # writes everything meanwhile, then a file while the watch is up.
    emu.arm(route=r"GET .*/files/watch", kind="error", status=503, code="UNAVAILABLE", count=3)
    code, events, err = runs.run("--project", "proj_w", "--", "sh", "-c",
                                 "echo a > a.txt; echo more >> pre.txt; mkdir -p d && echo b > d/b.txt; "
                                 "sleep 3; echo late > late.txt; sleep 1")
    assert code == 0, err
    changes = [(e["payload"]["path"], e["payload"]["change"]) for e in of(events, "file.changed")]
    assert sorted(changes) == [("a.txt", "created"), ("d/b.txt", "created"), ("late.txt", "created"),
                               ("pre.txt", "modified")], changes
    watches = [e["status"] for e in emu.log() if e["path"].endswith("/files/watch")]
    assert watches[-4:] == [503, 503, 503, 200], watches


def test_retries_honour_retry_after_and_reuse_the_idempotency_key(runs, emu):
    emu.arm(route=r"POST .*/sandboxes$", kind="429", retry_after=0.1, count=2)
    code, events, err = runs.run("--", "true")
    assert code == 0, err
    creates = [e for e in emu.log() if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert [e["status"] for e in creates] == [429, 429, 201] or [e["status"] for e in creates] == [429, 429, 200]
    assert len({e["idempotency_key"] for e in creates}) == 1
    sandboxes = json.loads(emu.raw("GET", "/api/v1/sandboxes")[2])["data"]
    assert len(sandboxes) == 1, "one sandbox, however many tries"


def test_when_the_retries_run_out_the_run_fails_typed_with_the_request_id(runs, emu):
    emu.arm(route=r"POST .*/sandboxes$", kind="5xx", status=503, count=10)
    code, events, err = runs.run("--", "true")
    assert code != 0
    error = events[-1]["payload"]["error"]
    assert events[-1]["type"] == "run.failed" and error["code"] == "device_unavailable" and error["retryable"]
    creates = [e for e in emu.log() if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert len(creates) == 4, "the SDK's rule: three retries"
    assert error["request_id"] == creates[-1]["request_id"]


def test_out_of_credits_is_budget_exceeded_from_miosa(runs, emu):
    emu.arm(route=r"POST .*/sandboxes$", kind="credit_required", count=1)
    code, events, _ = runs.run("--", "true")
    error = events[-1]["payload"]["error"]
    assert error["code"] == "budget_exceeded"
    assert error["recovery"]["action"] == "raise_budget" and error["recovery"]["usage_source"] == "miosa"


def test_a_sandbox_still_starting_is_waited_for(runs, emu):
    emu.arm(route=r"POST .*/exec$", kind="sandbox_starting", count=2, retry_after=0.1)
    code, events, err = runs.run("--", "sh", "-c", "echo up")
    assert code == 0, err
    assert output(events) == "up\n"


def test_a_sandbox_slow_to_get_ready_is_waited_for_before_anything_runs(runs, emu):
    emu.arm(route=r"POST .*/sandboxes$", kind="slow_readiness_ms", ms=2500)
    code, events, err = runs.run("--", "sh", "-c", "echo ready")
    assert code == 0, err
    assert output(events) == "ready\n" and events[-1]["type"] == "run.completed"
    log = emu.log()
    readiness = [i for i, e in enumerate(log) if e["path"].endswith("/readiness")]
    started = [i for i, e in enumerate(log) if e["method"] == "POST" and e["path"].endswith("/processes")]
    assert len(readiness) >= 5, "polled while the sandbox was not ready"
    assert started and started[0] > readiness[-1], "nothing was started before the sandbox was ready"


def test_an_idempotency_conflict_on_create_is_typed_and_not_retried(runs, emu):
    emu.arm(route=r"POST .*/sandboxes$", kind="idempotency_conflict", count=1)
    code, events, err = runs.run("--idempotency-key", "dispatch-9", "--", "true")
    assert code != 0
    error = events[-1]["payload"]["error"]
    assert events[-1]["type"] == "run.failed" and error["code"] == "idempotency_conflict", events[-1]
    assert not error["retryable"]
    assert error["recovery"]["action"] == "fix_dispatch" and error["recovery"]["field"] == "idempotencyKey"
    assert error["recovery"]["device_code"] == "IDEMPOTENCY_CONFLICT" and error["request_id"]
    creates = [e for e in emu.log() if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert [e["status"] for e in creates] == [409], "a conflict is not retried: the same key would conflict again"


def test_a_runtime_missing_from_the_template_is_runtime_not_found(runs, emu):
    code, events, _ = runs.run("--", "no-such-agent", "--flag")
    error = events[-1]["payload"]["error"]
    assert error["code"] == "runtime_not_found" and "no-such-agent" in error["message"]
    assert error["recovery"]["action"] == "install_runtime"


def test_a_deleted_sandbox_named_by_device_id_says_fork_from_snapshot(runs, emu):
    code, first, _ = runs.run("--", "true")
    sid = first[0]["device"]["id"]
    assert emu.raw("DELETE", f"/api/v1/sandboxes/{sid}")[0] in (200, 204)
    code, events, _ = runs.run("--device-id", sid, "--", "true")
    error = events[-1]["payload"]["error"]
    assert error["code"] == "device_unavailable"
    assert error["recovery"]["device_id"] == sid


def test_cancel_stops_the_runtime_and_keeps_the_sandbox_and_events(runs, emu):
    proc = runs.start("--", "sh", "-c", "echo started; sleep 60")
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "command.output":
            proc.send_signal(signal.SIGINT)
    proc.wait(60)
    assert events[-1]["type"] == "run.cancelled", events[-2:]
    sid = events[0]["device"]["id"]
    assert emu.raw("GET", f"/api/v1/sandboxes/{sid}")[0] == 200
    assert [e for e in emu.log() if e["method"] == "DELETE" and "/processes/" in e["path"]]


def test_a_starter_killed_in_the_sandbox_ends_the_run_device_lost_not_at_its_timeout(runs, emu):
    # kill -9 of the whole process group in the sandbox: the shell runhost started the runtime
    # with, which would have written its exit status, dies with it. The reader notices its beat
    # stopped and the run ends device_lost in seconds, not at the two-minute timeout.
    proc = runs.start("--timeout", "120", "--", "sh", "-c", "echo started; sleep 100")
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "command.output":
            starters = [p for p in pids_with_marker("/.runhost/run_") if b"run.sh" in Path(f"/proc/{p}/cmdline").read_bytes()]
            assert starters
            killed_at = time.monotonic()
            for pid in starters:
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    proc.wait(60)
    took = time.monotonic() - killed_at
    assert events[-1]["type"] == "run.failed", events[-2:]
    error = events[-1]["payload"]["error"]
    assert error["code"] == "device_lost" and error["retryable"], error
    assert error["recovery"] == {"action": "resume_device", "device_id": events[0]["device"]["id"]}, error
    assert "killed" in error["message"] and error["request_id"], error
    assert took < 60, f"the loss took {took:.0f} s to notice"
    assert output(events) == "started\n"


def test_input_reaches_the_runtime_on_its_stdin(runs, emu):
    # The custom runtime gives the prompt on stdin: in a sandbox it travels as a file.
    code, events, err = runs.run("--prompt", "a prompt with 'quotes' and\nlines", "--", "cat")
    assert code == 0, err
    assert output(events) == "a prompt with 'quotes' and\nlines\n"


def test_a_cwd_outside_the_workspace_is_refused_at_dispatch(runs, emu):
    code, _, err = runs.run("--cwd", "../etc", "--", "true")
    assert code != 0 and "cwd" in err
    assert not [e for e in emu.log() if e["path"].endswith("/sandboxes")], "nothing was created"
