"""Deployments (``POST /sandboxes/{id}/deploy``, ``GET /deployments/{id}``) and runs (``/runs``).

Deploy copies ``output_path`` (default ``/workspace``) into ``<root>/_deploys/<id>/v<N>`` and
answers ``{deployment_id, state: "building", ...}``; after ``--deploy-build-ms`` (default 300 ms)
the deployment is ``running`` with ``public_url`` = ``http://127.0.0.1:<port>/d/<slug>/``, where
the emulator serves the copied files statically (``index.html`` for a directory). A deploy with
the same name (or ``deployment_id``) adds a version to the same deployment.
``GET /deployments/{id}`` answers every field the SDK's pydantic ``Deployment`` requires.

A run executes ``command`` (or ``runtime_command``; without either, the runner's binary with the
instruction as its one argument) as a background process of the target sandbox, with
``MIOSA_INSTRUCTION`` and ``MIOSA_RUN_ID`` in its environment. Its events are
``run.queued``, ``run.started``, one ``run.output`` per output line (``message`` is the line,
``metadata.stream`` the stream) and ``run.finished`` (``status`` succeeded|failed|canceled).
``GET /runs/{id}/events`` is a JSON list (``after_id``, ``limit``) or, with
``Accept: text/event-stream``, a stream that replays then follows until the run ends.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
import threading
import time
from typing import Any, Optional

from . import files
from .app import Ctx
from .httpcore import ApiError, Handler, Reply, Request
from .state import new_id, now_iso, tenant_id_of

RUNNER_BINARIES = {"claude-code": "claude", "claude": "claude", "claude_code": "claude", "codex": "codex",
                   "hermes": "hermes", "hermes-agent": "hermes", "osa": "osa", "pi": "pi"}
TERMINAL = ("succeeded", "failed", "canceled")


def register(app: Any) -> None:
    app.add("POST", "/sandboxes/{id}/deploy", deploy)
    app.add("GET", "/deployments", deployment_list)
    app.add("GET", "/deployments/{dep}", deployment_get)
    app.add("POST", "/runs", run_create)
    app.add("GET", "/runs", run_list)
    app.add("GET", "/runs/{run}", run_get)
    app.add("GET", "/runs/{run}/events", run_events)
    app.add("GET", "/runs/{run}/activity", run_events)
    app.add("POST", "/runs/{run}/cancel", run_cancel)


# -- deployments --

def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "app"


def tree_sha256(path: str) -> str:
    digest = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as f:
            digest.update(f.read())
        return digest.hexdigest()
    for dirpath, dirnames, names in os.walk(path):
        dirnames.sort()
        for name in sorted(names):
            full = os.path.join(dirpath, name)
            digest.update(os.path.relpath(full, path).encode() + b"\0")
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as f:
                    digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


class Deployment:
    def __init__(self, tenant: str, name: str, slug: str) -> None:
        self.id = new_id("dep")
        self.tenant = tenant
        self.name = name
        self.slug = slug
        self.state = "pending"
        self.versions: list = []
        self.active_version: Optional[dict] = None
        self.pending_version: Optional[dict] = None
        self.build_until = 0.0
        self.created_at = now_iso()
        self.updated_at = self.created_at
        self.settings: dict = {}
        self.metadata: dict = {}
        self.attribution: dict = {}
        self.base_url = ""
        self.lock = threading.Lock()

    def refresh(self) -> None:
        with self.lock:
            if self.state == "building" and time.monotonic() >= self.build_until:
                self.pending_version["state"] = "ready"
                self.active_version = self.pending_version
                self.pending_version = None
                self.state = "running"
                self.updated_at = now_iso()

    @property
    def public_url(self) -> Optional[str]:
        return f"{self.base_url}/d/{self.slug}/" if self.active_version else None

    def to_json(self) -> dict:
        self.refresh()
        with self.lock:
            active = self.active_version
            return {
                "id": self.id, "tenant_id": tenant_id_of(self.tenant), "owner_id": None,
                "workspace_id": self.attribution.get("workspace_id"),
                "project_id": self.attribution.get("project_id"),
                "name": self.name, "slug": self.slug, "repo_url": None, "repo_provider": None, "branch": None,
                "build_command": self.settings.get("build_command"),
                "run_command": self.settings.get("run_command") or self.settings.get("start_command"),
                "runtime_image": None, "current_build_id": (self.pending_version or active or {}).get("id"),
                "active_version_id": active["id"] if active else None,
                "active_release_id": active["release_id"] if active else None,
                "running_artifact_sha256": active["sha256"] if active else None,
                "source_type": "sandbox", "state": self.state, "auto_deploy": False,
                "custom_domain_id": None, "linked_database_id": None, "deployment_product": "miosa_deploy",
                "docker_deploy_host_id": None, "docker_deploy_app": None, "metadata": dict(self.metadata),
                "external_workspace_id": self.attribution.get("external_workspace_id"),
                "external_user_id": self.attribution.get("external_user_id"),
                "external_project_id": self.attribution.get("external_project_id"),
                "public_url": self.public_url, "url": self.public_url, "auto_subdomain": self.slug,
                "versions": len(self.versions), "created_at": self.created_at, "updated_at": self.updated_at,
            }


def deploy(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    output_path = body.get("output_path") or "/workspace"
    spath, host = files.resolve(sbx.dir, output_path)
    if not os.path.lexists(host):
        raise ApiError(422, "VALIDATION_FAILED", f"output_path {spath} does not exist",
                       details={"field": "output_path", "path": spath})
    name = body.get("name") or sbx.name or sbx.id
    if not isinstance(name, str):
        raise ApiError(422, "VALIDATION_FAILED", "'name' must be a string", details={"field": "name"})
    with ctx.state.lock:
        dep = None
        if body.get("deployment_id"):
            dep = ctx.state.deployments.get(body["deployment_id"])
            if dep is None or dep.tenant != ctx.tenant:
                raise ApiError(404, "NOT_FOUND", f"deployment {body['deployment_id']} not found")
        else:
            for d in ctx.state.deployments.values():
                if d.tenant == ctx.tenant and d.name == name:
                    dep = d
        if dep is None:
            slug = slugify(name)
            taken = {d.slug for d in ctx.state.deployments.values()}
            base, n = slug, 2
            while slug in taken:
                slug, n = f"{base}-{n}", n + 1
            dep = Deployment(ctx.tenant, name, slug)
            dep.base_url = ctx.cfg.base_url
            ctx.state.deployments[dep.id] = dep
    number = len(dep.versions) + 1
    target = os.path.join(ctx.state.deploy_root, dep.id, f"v{number}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(host):
        shutil.copytree(host, target, symlinks=True)
    else:
        os.makedirs(target)
        shutil.copy2(host, os.path.join(target, "index.html" if spath.endswith(".html") else os.path.basename(host)))
    version = {"id": new_id("dver"), "release_id": new_id("rel"), "number": number, "state": "building",
               "dir": target, "sha256": tree_sha256(target), "source_sandbox_id": sbx.id,
               "output_path": spath, "created_at": now_iso()}
    with dep.lock:
        dep.versions.append(version)
        dep.pending_version = version
        dep.state = "building"
        dep.build_until = time.monotonic() + ctx.cfg.deploy_build_ms / 1000.0
        dep.updated_at = now_iso()
        dep.settings = {k: body.get(k) for k in ("build_command", "run_command", "start_command", "entrypoint",
                                                 "port", "health_check_path", "deployment_type", "type", "mode")}
        dep.metadata.update({"source_sandbox_id": sbx.id, "output_path": spath})
        dep.attribution = dict(sbx.attribution)
    sbx.events.add("sandbox.deploy.started", {"sandbox_id": sbx.id, "deployment_id": dep.id})
    return Ctx.ok({
        "deployment_id": dep.id, "id": dep.id, "name": dep.name, "slug": dep.slug, "state": "building",
        "url": None, "public_url": None, "version_id": version["id"], "version": number,
        "release_id": version["release_id"], "sandbox_id": sbx.id, "output_path": spath,
        "created_at": version["created_at"],
    }, 201)


def _deployment(ctx: Ctx) -> Deployment:
    dep = ctx.state.deployments.get(ctx.params["dep"])
    if dep is None or dep.tenant != ctx.tenant:
        raise ApiError(404, "NOT_FOUND", f"deployment {ctx.params['dep']} not found",
                       details={"resource": "deployment", "id": ctx.params["dep"]})
    return dep


def deployment_get(ctx: Ctx) -> Reply:
    return Ctx.ok(_deployment(ctx).to_json())


def deployment_list(ctx: Ctx) -> Reply:
    deps = [d.to_json() for d in list(ctx.state.deployments.values()) if d.tenant == ctx.tenant]
    state = ctx.req.q("state")
    return Ctx.ok([d for d in deps if state is None or d["state"] == state])


def serve_static(app: Any, req: Request, h: Handler) -> None:
    """``/d/<slug>/<path>``: the active version of a running deployment, no auth (it is public)."""
    rest = req.path[len("/d/"):]
    slug, slash, tail = rest.partition("/")
    if not slash:
        return h.send_bytes(308, b"", "text/plain", {"Location": f"/d/{slug}/"})
    dep = next((d for d in list(app.state.deployments.values()) if d.slug == slug), None)
    if dep is not None:
        dep.refresh()
    if dep is None or dep.active_version is None:
        raise ApiError(404, "NOT_FOUND", f"no running deployment at /d/{slug}/")
    root = dep.active_version["dir"]
    path = os.path.normpath(os.path.join(root, tail))
    if path != root and not path.startswith(root + os.sep):
        raise ApiError(404, "NOT_FOUND", "not found")
    if os.path.isdir(path):
        path = os.path.join(path, "index.html")
    if not os.path.isfile(path):
        raise ApiError(404, "NOT_FOUND", f"/{tail} is not in deployment {dep.slug}")
    with open(path, "rb") as f:
        data = f.read()
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    h.send_bytes(200, data, ctype)


# -- runs --

class Run:
    def __init__(self, tenant: str, body: dict, sandbox_id: str, command: str, cwd: str) -> None:
        self.id = new_id("run")
        self.tenant = tenant
        self.body = body
        self.sandbox_id = sandbox_id
        self.command = command
        self.cwd = cwd
        self.status = "queued"
        self.exit_code: Optional[int] = None
        self.created_at = now_iso()
        self.started_at: Optional[str] = None
        self.finished_at: Optional[str] = None
        self.pid: Optional[int] = None
        self.proc: Any = None
        self.cancel_requested = False
        self.events: list = []
        self.cond = threading.Condition()

    def to_json(self) -> dict:
        b = self.body
        return {
            "id": self.id, "object": "run", "status": self.status, "runner": b.get("runner"),
            "provider": b.get("provider"), "model": b.get("model"), "target_kind": "sandbox",
            "target_id": self.sandbox_id, "sandbox_id": self.sandbox_id, "instruction": b.get("instruction"),
            "command": self.command, "cwd": self.cwd, "pid": self.pid, "exit_code": self.exit_code,
            "metadata": b.get("metadata") if isinstance(b.get("metadata"), dict) else {},
            "run_group_id": b.get("run_group_id"), "chat_id": b.get("chat_id"),
            "external_user_id": b.get("external_user_id"), "tenant_id": tenant_id_of(self.tenant),
            "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
        }


def _add_event(ctx: Ctx, run: Run, type_: str, status: Optional[str], message: Optional[str],
               metadata: Optional[dict] = None) -> None:
    event = {"id": ctx.state.next_run_event_id(), "run_id": run.id, "type": type_, "status": status,
             "message": message, "metadata": metadata or {}, "created_at": now_iso()}
    with run.cond:
        run.events.append(event)
        run.cond.notify_all()


def run_create(ctx: Ctx) -> Reply:
    from .api_exec import resolve_cwd, start_process
    body = ctx.body()
    kind = body.get("target_kind") or "sandbox"
    if kind != "sandbox":
        raise ApiError(422, "VALIDATION_FAILED", f"this emulator runs on sandboxes only, not {kind!r}",
                       details={"field": "target_kind"})
    sandbox_id = body.get("sandbox_id") or body.get("target_id") or body.get("runtime_id")
    if not isinstance(sandbox_id, str):
        raise ApiError(422, "VALIDATION_FAILED", "give sandbox_id (or target_id)", details={"field": "sandbox_id"})
    sbx = ctx.state.find_sandbox(ctx.tenant, sandbox_id)
    if sbx is None or sbx.state == "destroyed":
        raise ApiError(404, "NOT_FOUND", f"sandbox {sandbox_id} not found")
    sbx.refresh()
    if sbx.state != "running":
        raise ApiError(409, "TARGET_NOT_RUNNING", f"sandbox {sandbox_id} is {sbx.state}", details={"state": sbx.state})
    command = body.get("command") or body.get("runtime_command")
    if not command:
        runner = body.get("runner") or body.get("provider")
        binary = RUNNER_BINARIES.get(str(runner)) if runner else None
        if binary is None:
            raise ApiError(422, "VALIDATION_FAILED", f"give a command or a known runner ({sorted(RUNNER_BINARIES)})",
                           details={"field": "runner"})
        command = f'{binary} "$MIOSA_INSTRUCTION"'
    if not isinstance(command, str):
        raise ApiError(422, "VALIDATION_FAILED", "'command' must be a string", details={"field": "command"})
    cwd = resolve_cwd(sbx, body.get("cwd"))
    run = Run(ctx.tenant, body, sbx.id, command, cwd)
    with ctx.state.lock:
        ctx.state.runs[run.id] = run
    _add_event(ctx, run, "run.queued", "queued", None)

    def on_line(stream: str, line: str) -> None:
        _add_event(ctx, run, "run.output", None, line, {"stream": stream})

    def on_exit(proc: Any) -> None:
        with run.cond:
            run.exit_code = proc.exit_code
            run.status = "canceled" if run.cancel_requested else ("succeeded" if proc.exit_code == 0 else "failed")
            run.finished_at = now_iso()
        _add_event(ctx, run, "run.finished", run.status, f"exit code {proc.exit_code}", {"exit_code": proc.exit_code})

    env = body.get("env") if isinstance(body.get("env"), dict) else {}
    proc = start_process(ctx, sbx, {"command": command, "cwd": cwd, "env": env, "name": f"run-{run.id}",
                                    "timeout": body.get("timeout")},
                         line_hook=on_line, exit_hook=on_exit,
                         extra_env={"MIOSA_INSTRUCTION": str(body.get("instruction") or ""), "MIOSA_RUN_ID": run.id})
    with run.cond:
        run.proc, run.pid = proc, proc.pid
        if run.status == "queued":
            run.status = "running"
            run.started_at = now_iso()
    _add_event(ctx, run, "run.started", "running", None, {"pid": proc.pid})
    if body.get("wait"):
        limit = time.monotonic() + min(float(body.get("timeout") or 600), 600)
        with run.cond:
            while run.status not in TERMINAL and time.monotonic() < limit:
                run.cond.wait(min(1.0, max(0.0, limit - time.monotonic())))
    return Ctx.ok(run.to_json(), 201)


def _run(ctx: Ctx) -> Run:
    run = ctx.state.runs.get(ctx.params["run"])
    if run is None or run.tenant != ctx.tenant:
        raise ApiError(404, "NOT_FOUND", f"run {ctx.params['run']} not found",
                       details={"resource": "run", "id": ctx.params["run"]})
    return run


def run_get(ctx: Ctx) -> Reply:
    return Ctx.ok(_run(ctx).to_json())


def run_list(ctx: Ctx) -> Reply:
    runs = [r for r in list(ctx.state.runs.values()) if r.tenant == ctx.tenant]
    for name in ("sandbox_id", "target_id"):
        if ctx.req.q(name):
            runs = [r for r in runs if r.sandbox_id == ctx.req.q(name)]
    if ctx.req.q("status"):
        runs = [r for r in runs if r.status == ctx.req.q("status")]
    runs.sort(key=lambda r: r.created_at, reverse=True)
    limit = ctx.req.q_int("limit", None)
    return Ctx.ok([r.to_json() for r in (runs[:limit] if limit else runs)])


def _after(events: list, after_id: Optional[str]) -> list:
    if not after_id:
        return list(events)
    return [e for e in events if e["id"] > after_id]


def run_events(ctx: Ctx) -> Optional[Reply]:
    run = _run(ctx)
    after_id = ctx.req.q("after_id")
    if not ctx.req.wants_sse:
        limit = ctx.req.q_int("limit", None)
        with run.cond:
            events = _after(run.events, after_id)
        return Ctx.ok(events[:limit] if limit else events)
    stream = ctx.sse()
    stream.start()
    last = after_id
    while True:
        with run.cond:
            fresh = _after(run.events, last)
            if not fresh and run.status not in TERMINAL:
                run.cond.wait(ctx.cfg.keepalive_sec)
                fresh = _after(run.events, last)
            ended = run.status in TERMINAL and (not run.events or run.events[-1]["type"] == "run.finished")
        for event in fresh:
            last = event["id"]
            stream.send(event, event=event["type"], id=event["id"])
        if ended and not _after(run.events, last):
            break
        if not fresh:
            stream.comment()
    stream.finish()
    return None


def run_cancel(ctx: Ctx) -> Reply:
    run = _run(ctx)
    with run.cond:
        if run.status in TERMINAL:
            return Ctx.ok(run.to_json())
        run.cancel_requested = True
    if run.proc is not None:
        run.proc.terminate(ctx.cfg.kill_grace_ms / 1000.0)
        with run.cond:
            deadline = time.monotonic() + 5
            while run.status not in TERMINAL and time.monotonic() < deadline:
                run.cond.wait(0.5)
    return Ctx.ok(run.to_json())

