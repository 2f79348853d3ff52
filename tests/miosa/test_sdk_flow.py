"""The seed flow of the guide "Agent builds an app", end to end through the official SDK.

Order as in the guide (and as the SDK puts it on the wire, reference §9): create (idempotent),
readiness, write_many, exec, a dev server as a background process, a preview token fetched
without a key, a file watch while patching, a snapshot, a fork from it, a preview and its share
link, usage, update(always_on), deploy and poll until running, clean up.
"""

from __future__ import annotations

import queue
import re
import threading
import uuid

from emu import API_KEY, entries_for, fetch, free_port, wait_until

INDEX_V1 = "<!doctype html><h1>Todo app v1</h1>\n"
INDEX_V2 = "<!doctype html><h1>Todo app v2: dark mode</h1>\n"


def _collect(iterator, sink: list, done: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            for item in iterator:
                sink.append(item) if isinstance(sink, list) else sink.put(item)
        except Exception as exc:  # the stream ends when the sandbox is destroyed
            sink.append(("error", exc)) if isinstance(sink, list) else sink.put(("error", exc))
        finally:
            done.set()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _shape(path: str, names: dict) -> str:
    for real, name in names.items():
        path = path.replace(real, name)
    return re.sub(r"/processes/\d+", "/processes/{pid}", path)


def test_agent_builds_an_app(client, emulator):
    start_seq = emulator.last_seq()
    user = f"user-{uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    name = f"todo-{uuid.uuid4().hex[:8]}"

    # Step 2: boot a sandbox (a retried create with the same key is the same sandbox).
    sb = client.sandboxes.create(name=name, persistent=True, external_user_id=user,
                                 metadata={"app": "todo"}, idempotency_key=key)
    again = client.sandboxes.create(name=name, persistent=True, external_user_id=user,
                                    metadata={"app": "todo"}, idempotency_key=key)
    assert again.id == sb.id
    assert sb.state == "running" and sb.ready and sb.persistent
    assert sb.wait_until_ready() is True
    sb.refresh()
    assert sb.state == "running"

    events: list = []
    events_done = threading.Event()
    _collect(sb.events.stream(), events, events_done)
    wait_until(lambda: entries_for(emulator.log(start_seq), "GET", f"/{sb.id}/events"), "the events stream")

    written = sb.files.write_many([
        {"path": "/workspace/index.html", "content": INDEX_V1},
        {"path": "/workspace/src/app.js", "content": "console.log('todo');\n"},
    ])
    assert written == {"written": ["/workspace/index.html", "/workspace/src/app.js"], "failed": []}
    assert sb.files.read_text("/workspace/index.html") == INDEX_V1
    version = sb.exec("python3 --version")
    assert version.exit_code == 0 and "Python 3" in version.stdout + version.stderr
    streamed = list(sb.exec_stream("ls /workspace"))
    assert [e.type for e in streamed] == ["stdout", "stdout", "exit"]
    assert [e.data.get("line") for e in streamed[:2]] == ["index.html", "src"]
    assert streamed[-1].data == {"exit_code": 0}

    # Step 3: the dev server as a long-running process, then a preview token for an iframe.
    port = free_port()
    proc = sb.processes.start(f"cd /workspace && exec python3 -m http.server {port} --bind 127.0.0.1",
                              env={"PYTHONUNBUFFERED": "1"}, name="dev-server")
    pid = proc["pid"]
    assert isinstance(pid, int)
    assert sb.processes.get(pid)["state"] == "running"
    wait_until(lambda: "Serving HTTP" in sb.processes.logs(pid, tail=50), "the dev server's banner")
    logs = sb.processes.logs(pid, tail=50)
    assert isinstance(logs, str) and f"port {port}" in logs
    token = sb.preview_token(expires_in=600)
    assert set(token) >= {"token", "url", "expires_at", "scope"} and token["scope"] == "read"
    assert token["url"] == f"{emulator.base_url}/p/{token['token']}/?mt=mp_{token['token']}"
    assert "msk_" not in token["url"] and API_KEY not in token["url"]
    status, page = fetch(token["url"])  # no Authorization: what a browser iframe does
    assert (status, page.decode()) == (200, INDEX_V1)

    # Step 4: iterate; watch the tree over SSE while the patch is written.
    changes: "queue.Queue" = queue.Queue()
    watch_done = threading.Event()
    watch_seq = emulator.last_seq()
    _collect(sb.files.watch("/workspace"), changes, watch_done)
    wait_until(lambda: entries_for(emulator.log(watch_seq), "GET", f"/{sb.id}/files/watch"), "the watch stream")
    sb.files.write_many([
        {"path": "/workspace/index.html", "content": INDEX_V2},
        {"path": "/workspace/src/theme.css", "content": "body { background: #111 }\n"},
    ])
    seen = {}
    while not {"/workspace/index.html", "/workspace/src/theme.css"} <= set(seen):
        event = changes.get(timeout=20)
        assert not (isinstance(event, tuple) and event[0] == "error"), event
        seen[event.path] = event
    assert seen["/workspace/index.html"].event == "modified"
    assert seen["/workspace/src/theme.css"].event == "created"
    assert seen["/workspace/src/theme.css"].is_dir is False
    assert seen["/workspace/src/theme.css"].old_path is None
    assert fetch(token["url"]) == (200, INDEX_V2.encode())  # the preview shows the patch

    # Step 5: checkpoint.
    snap = sb.snapshots.create("dark mode")
    assert snap["id"] and snap["comment"] == "dark mode"
    assert snap["id"] in [s["id"] for s in sb.snapshots.list()]

    # Step 6: branch into an experiment; the original is unaffected.
    branch = sb.fork(snapshot_id=snap["id"], name=f"{name}-experiment")
    assert branch.id != sb.id
    assert branch.wait_until_ready() is True
    assert branch.exec("cat /workspace/index.html && ls /workspace/src").stdout == INDEX_V2 + "app.js\ntheme.css\n"
    branch.exec("echo experiment > /workspace/EXPERIMENT")
    assert sb.exec("test -e /workspace/EXPERIMENT").exit_code == 1
    branch.destroy()
    assert branch.state == "destroyed"

    # Step 7: a preview record for the port and a public share link.
    preview = sb.previews.create(port=port, label="dev")
    assert preview["port"] == port and preview["sandbox_id"] == sb.id
    share = sb.previews.share(preview["id"], ttl_seconds=86400)
    assert share["preview_token"] and share["share_url"].startswith(emulator.base_url + "/p/")
    assert share["preview"]["share_token_prefix"] == share["preview_token"][:8]
    assert fetch(share["share_url"]) == (200, INDEX_V2.encode())

    # Step 8: usage for billing.
    usage = sb.usage()
    assert usage["sandbox_id"] == sb.id and usage["state"] == "running"
    assert usage["provisioned_vcpu_ms"] > 0 and usage["network_egress_bytes"] >= len(INDEX_V2)
    report = client.usage.get(external_user_id=user)
    assert set(report) >= {"period_start", "period_end", "results"}
    assert [r["external_user_id"] for r in report["results"]] == [user]
    assert sb.id in report["results"][0]["sandbox_ids"]

    # Step 9: keep it, publish, clean up.
    sb.update(always_on=True)
    assert sb.always_on is True and client.sandboxes.get(sb.id).always_on is True
    result = sb.deploy(name=f"{name}-prod", output_path="/workspace")
    assert result["state"] == "building" and result["deployment_id"]
    deployment = wait_until(lambda: (lambda d: d if d.state.value == "running" else None)(
        client.deployments.get(result["deployment_id"])), "the deployment to run")
    assert deployment.public_url and deployment.tenant_id and deployment.slug
    assert fetch(deployment.public_url) == (200, INDEX_V2.encode())

    sb.processes.stop(pid)
    stopped = sb.processes.get(pid)
    assert stopped["state"] == "killed" and stopped["exit_code"] is not None
    sb.destroy()
    assert sb.state == "destroyed"
    assert client.sandboxes.get(sb.id).state == "destroyed"
    assert fetch(token["url"])[0] == 403  # links die with the sandbox
    assert fetch(deployment.public_url) == (200, INDEX_V2.encode())  # the deployment outlives it

    # Both streams end when the sandbox is destroyed.
    assert events_done.wait(20) and watch_done.wait(20)
    types = [e["type"] for e in events if isinstance(e, dict)]
    assert types[0] == "sandbox.created" and types[-1] == "sandbox.destroyed"
    assert {"sandbox.process.started", "sandbox.preview.ready", "sandbox.snapshot.created"} <= set(types)

    # The wire order is the guide's order (reference §9).
    names = {sb.id: "{id}", branch.id: "{fork}", preview["id"]: "{preview}",
             result["deployment_id"]: "{deployment}", snap["id"]: "{snapshot}"}
    wire = [(e["method"], _shape(e["path"], names)) for e in emulator.log(start_seq)
            if e["path"].startswith("/api/v1/")]
    expected = [
        ("POST", "/api/v1/sandboxes"), ("POST", "/api/v1/sandboxes"),
        ("GET", "/api/v1/sandboxes/{id}/readiness/stream"), ("GET", "/api/v1/sandboxes/{id}"),
        ("GET", "/api/v1/sandboxes/{id}/events"), ("POST", "/api/v1/sandboxes/{id}/fs/write-many"),
        ("GET", "/api/v1/sandboxes/{id}/fs/download"), ("POST", "/api/v1/sandboxes/{id}/exec"),
        ("POST", "/api/v1/sandboxes/{id}/exec/stream"), ("POST", "/api/v1/sandboxes/{id}/processes"),
        ("GET", "/api/v1/sandboxes/{id}/processes/{pid}"),
        ("GET", "/api/v1/sandboxes/{id}/processes/{pid}/logs"),
        ("POST", "/api/v1/sandboxes/{id}/preview-token"), ("GET", "/api/v1/sandboxes/{id}/files/watch"),
        ("POST", "/api/v1/sandboxes/{id}/fs/write-many"), ("POST", "/api/v1/sandboxes/{id}/snapshots"),
        ("GET", "/api/v1/sandboxes/{id}/snapshots"), ("POST", "/api/v1/sandboxes/{id}/fork"),
        ("GET", "/api/v1/sandboxes/{fork}/readiness/stream"), ("POST", "/api/v1/sandboxes/{fork}/exec"),
        ("DELETE", "/api/v1/sandboxes/{fork}"), ("POST", "/api/v1/sandboxes/{id}/previews"),
        ("POST", "/api/v1/sandboxes/{id}/previews/{preview}/share"), ("GET", "/api/v1/sandboxes/{id}/usage"),
        ("GET", "/api/v1/usage"), ("PATCH", "/api/v1/sandboxes/{id}"), ("POST", "/api/v1/sandboxes/{id}/deploy"),
        ("GET", "/api/v1/deployments/{deployment}"), ("DELETE", "/api/v1/sandboxes/{id}/processes/{pid}"),
        ("DELETE", "/api/v1/sandboxes/{id}"),
    ]
    position = 0
    for call in expected:
        assert call in wire[position:], f"{call} missing after position {position} in {wire}"
        position = wire.index(call, position) + 1
    # Every answer carried a request id.
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", e["request_id"]) for e in emulator.log(start_seq))
