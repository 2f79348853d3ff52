"""Files, exec, processes, commands, confinement and templates (acceptance checks 4, 5, 6)."""

from __future__ import annotations

import io
import tarfile

import pytest
from miosa.errors import (CommandTimeoutError, InvalidPathError, NotFoundError, PayloadTooLargeError,
                          ValidationError)

from conftest import TEMPLATE_ID
from emu import wait_until

BINARY = bytes(range(256)) * 3 + b"\x00\xff\r\n"


# -- files --

def test_write_many_then_read_back_bytes(sandbox):
    result = sandbox.files.write_many([
        {"path": "/workspace/a/b/c.txt", "content": "ünïcödé\n"},
        {"path": "/workspace/blob.bin", "content": BINARY},
        {"path": "relative.txt", "content": "relative to /workspace"},
    ])
    assert result == {"written": ["/workspace/a/b/c.txt", "/workspace/blob.bin", "/workspace/relative.txt"],
                      "failed": []}
    assert sandbox.files.read_text("/workspace/a/b/c.txt") == "ünïcödé\n"
    assert sandbox.files.read("/workspace/blob.bin") == BINARY
    assert sandbox.files.read_text("/workspace/relative.txt") == "relative to /workspace"
    assert sandbox.exec("sha256sum /workspace/blob.bin").stdout.split()[0] == \
        __import__("hashlib").sha256(BINARY).hexdigest()
    sandbox.files.write("/workspace/single.txt", "one file")
    assert sandbox.read_file("/workspace/single.txt") == "one file"


def test_stat_list_and_tree(sandbox):
    sandbox.files.write_many([{"path": "/workspace/src/main.py", "content": "print(1)\n"},
                              {"path": "/workspace/src/lib/util.py", "content": "X = 1\n"},
                              {"path": "/workspace/README", "content": "r"}])
    st = sandbox.files.stat("/workspace/src/main.py")
    assert (st["path"], st["name"], st["type"], st["size"]) == ("/workspace/src/main.py", "main.py", "file", 9)
    assert st["modified_at"].endswith("Z")
    assert sandbox.files.stat("/workspace/src")["type"] == "directory"
    listing = sandbox.files.list("/workspace")
    assert [c["name"] for c in listing["children"]] == ["README", "src"]
    assert "children" not in listing["children"][0] and listing["children"][1]["children"] == []
    tree = sandbox.files.tree("/workspace", depth=3)
    src = next(c for c in tree["children"] if c["name"] == "src")
    assert [c["path"] for c in src["children"]] == ["/workspace/src/lib", "/workspace/src/main.py"]
    assert src["children"][0]["children"][0]["path"] == "/workspace/src/lib/util.py"
    with pytest.raises(NotFoundError):
        sandbox.files.stat("/workspace/nope")


def test_write_many_is_all_or_nothing(sandbox):
    with pytest.raises(InvalidPathError) as bad:
        sandbox.files.write_many([{"path": "/workspace/ok.txt", "content": "fine"},
                                  {"path": "/workspace/../../etc/passwd", "content": "nope"}])
    assert bad.value.status_code == 400 and bad.value.code == "INVALID_PATH"
    with pytest.raises(NotFoundError):
        sandbox.files.read("/workspace/ok.txt")
    sandbox.exec("ln -s /usr/bin /workspace/escape")
    with pytest.raises(InvalidPathError):
        sandbox.files.write_many([{"path": "/workspace/escape/evil", "content": "x"}])


def test_missing_download_and_too_large(emulator, sandbox):
    with pytest.raises(NotFoundError):
        sandbox.files.read("/workspace/missing.txt")
    emulator.config(max_body_bytes=4096)
    try:
        with pytest.raises(PayloadTooLargeError) as big:
            sandbox.files.write_many([{"path": "/workspace/big.bin", "content": b"x" * 10000}])
        assert big.value.status_code == 413 and big.value.code == "TOO_LARGE"
    finally:
        emulator.config(max_body_bytes=64 << 20)
    sandbox.files.write_many([{"path": "/workspace/big.bin", "content": b"x" * 10000}])


def test_exports_and_artifacts(sandbox):
    sandbox.files.write_many([{"path": "/workspace/out/report.txt", "content": "report"},
                              {"path": "/workspace/out/data.csv", "content": "a,b\n1,2\n"}])
    export = sandbox.create_export("/workspace/out/report.txt", label="report")
    assert export["kind"] == "file" and export["size_bytes"] == 6 and len(export["sha256"]) == 64
    assert sandbox.download_export("/workspace/out/report.txt") == b"report"
    archive = sandbox.download_export(["/workspace/out/report.txt", "/workspace/out/data.csv"])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["workspace/out/data.csv", "workspace/out/report.txt"]
    paths = [f["path"] for f in sandbox.artifacts.list()["artifacts"]["files"]]
    assert "/workspace/out/data.csv" in paths


# -- exec --

def test_exec_answers_stdout_stderr_and_the_exit_code(sandbox):
    result = sandbox.exec("sh -c 'echo a; echo b >&2; exit 3'")
    assert (result.stdout, result.stderr, result.exit_code) == ("a\n", "b\n", 3)
    assert result.duration_ms >= 0


def test_exec_stream_yields_stdout_stderr_then_exit(sandbox):
    events = list(sandbox.exec_stream("sh -c 'echo a; echo b >&2; echo c; exit 3'"))
    assert events[-1].type == "exit" and events[-1].data == {"exit_code": 3}
    assert [e.data["line"] for e in events if e.type == "stdout"] == ["a", "c"]
    assert [e.data["line"] for e in events if e.type == "stderr"] == ["b"]
    assert len(events) == 4


def test_exec_cwd_env_and_timeout(client):
    sbx = client.sandboxes.create(env={"FROM_CREATE": "c1"})
    sbx.files.write("/workspace/sub/x.txt", "x")
    out = sbx.exec("pwd; echo $FROM_CREATE $FROM_EXEC; echo $HOME $LANG; echo $PATH",
                   {"cwd": "/workspace/sub", "env": {"FROM_EXEC": "e1"}}).stdout.splitlines()
    assert out == ["/workspace/sub", "c1 e1", "/home/user C.UTF-8", "/usr/local/bin:/usr/bin:/bin"]
    assert sbx.exec("pwd", {"working_dir": "sub"}).stdout == "/workspace/sub\n"
    with pytest.raises(InvalidPathError):
        sbx.exec("pwd", {"cwd": "/etc"})
    with pytest.raises(InvalidPathError):
        sbx.exec("pwd", {"cwd": "/workspace/../root"})
    with pytest.raises(InvalidPathError):
        sbx.exec("pwd", {"cwd": "/workspace/not-there"})
    slow = sbx.exec("echo started; sleep 60", {"timeout": 2})
    assert slow.exit_code == 124 and slow.stdout == "started\n"
    client.sandboxes.delete(sbx.id)


def test_confinement(client, emulator, sandbox):
    other = client.sandboxes.create()
    try:
        other.files.write("/workspace/other-secret.txt", "not yours")
        sandbox.files.write("/workspace/mine.txt", "mine")
        assert sandbox.exec("ls -A /workspace").stdout == "mine.txt\n"
        assert sandbox.exec("ls /root").exit_code != 0
        assert sandbox.exec(f"ls {emulator.root}").exit_code != 0
        assert sandbox.exec(f"ls {emulator.root.parent}").exit_code != 0
        assert sandbox.exec("find / -name other-secret.txt 2>/dev/null").stdout == ""
        assert sandbox.exec("touch /usr/evil").exit_code != 0
        top = set(sandbox.exec("cd / && ls").stdout.split())
        assert {"usr", "etc", "bin", "workspace", "home", "tmp", "proc", "dev"} <= top
        assert top <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "dev", "etc", "home", "proc", "tmp",
                       "usr", "workspace"}  # no /root, /var, /opt, /work, ... of the host
        assert sandbox.exec("ls /home").stdout == "user\n"
        processes = sandbox.exec("ls /proc | grep -c '^[0-9]'").stdout.strip()
        assert int(processes) < 10  # its own pid namespace
        assert sandbox.exec("echo $HOME && touch ~/.rc && ls -A ~").stdout == "/home/user\n.rc\n"
        # the network is the host's: a model server on 127.0.0.1 is reachable
        probe = sandbox.exec("python3 -c \"import urllib.request as u; "
                             f"print(u.urlopen('{emulator.base_url}/healthz').status)\"")
        assert probe.stdout == "200\n", probe.stderr
    finally:
        client.sandboxes.delete(other.id)


def test_templates(client, template_dir):
    with pytest.raises(ValidationError) as unknown:
        client.sandboxes.create(template_id="no-such-template")
    assert unknown.value.status_code == 422 and "miosa-sandbox" in unknown.value.message
    assert TEMPLATE_ID in unknown.value.message
    plain = client.sandboxes.create()
    assert plain.exec("hello-tool x").exit_code == 127
    tooled = client.sandboxes.create(template_id=TEMPLATE_ID)
    result = tooled.exec("hello-tool x; echo $PATH; touch " + str(template_dir) + "/w")
    assert result.stdout.splitlines() == ["hello from the template tool: x",
                                          f"{template_dir}:/usr/local/bin:/usr/bin:/bin"]
    assert result.exit_code != 0  # read-only
    assert tooled.template_id == TEMPLATE_ID
    for sbx in (plain, tooled):
        client.sandboxes.delete(sbx.id)


# -- processes --

def test_processes_start_get_logs_stream_stop(sandbox):
    done = sandbox.processes.start("for i in 1 2 3; do echo line$i; done; echo oops >&2; exit 4", name="short")
    frames = list(sandbox.processes.stream(done["pid"]))
    assert frames[-1] == {"exit_code": 4, "state": "exited"}
    assert [f["line"] for f in frames[:-1] if f["stream"] == "stdout"] == ["line1", "line2", "line3"]
    assert [f["line"] for f in frames[:-1] if f["stream"] == "stderr"] == ["oops"]
    info = sandbox.processes.get(done["pid"])
    assert (info["pid"], info["state"], info["exit_code"]) == (done["pid"], "exited", 4)
    assert sandbox.processes.logs(done["pid"], tail=2) == "line3\noops\n"

    server = sandbox.processes.start("echo ready; exec sleep 600", name="long")
    wait_until(lambda: sandbox.processes.logs(server["pid"]) == "ready\n", "the long process's output")
    assert sandbox.processes.get(server["pid"])["state"] == "running"
    assert {p["pid"] for p in sandbox.processes.list()} >= {done["pid"], server["pid"]}
    sandbox.processes.stop(server["pid"])
    info = sandbox.processes.get(server["pid"])
    assert info["state"] == "killed" and info["exit_code"] == 143  # SIGTERM, 128+15
    with pytest.raises(NotFoundError):
        sandbox.processes.get(99999)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(sandbox):
    proc = sandbox.processes.start("trap '' TERM; echo armed; while :; do sleep 1; done")
    wait_until(lambda: sandbox.processes.logs(proc["pid"]) == "armed\n", "the trap")
    sandbox.processes.stop(proc["pid"])
    info = sandbox.processes.get(proc["pid"])
    assert info["state"] == "killed" and info["exit_code"] == 137  # SIGKILL


def test_commands_run_background_and_send_stdin(client, sandbox):
    bg = sandbox.commands.run("echo bg; sleep 600", background=True)
    assert bg.pid > 0 and bg.status()["state"] == "running"
    bg.kill()
    assert bg.status()["state"] == "killed"
    with pytest.raises(Exception, match="stdin"):
        sandbox.commands.send_stdin(bg.pid, "x")


def test_commands_with_stdin_and_the_600_second_cap(client, sandbox):
    result = client.commands.run(sandbox.id, "tr a-z A-Z", stdin="hello stdin\n")
    assert result["stdout"] == "HELLO STDIN\n" and result["exit_code"] == 0
    assert client.commands.run(sandbox.id, "pwd", cwd="")["stdout"] == "/workspace\n"
    with pytest.raises(CommandTimeoutError) as capped:
        client.commands.run(sandbox.id, "true", timeout_seconds=601)
    assert capped.value.status_code == 422 and capped.value.code == "TIMEOUT_TOO_LONG"
    detached = client.commands.run(sandbox.id, "echo detached-out", detached=True)
    wait_until(lambda: client.commands.get(sandbox.id, str(detached["pid"]))["state"] == "exited", "detached")
    assert client.commands.logs(sandbox.id, str(detached["pid"]))["stdout"] == "detached-out\n"
