"""Sandbox routes: CRUD, readiness, lifecycle, fork, snapshots, restore, events, usage.

Lifecycle as the emulator plays it:
  create   -> ``running`` at once (``creating`` for ``ms`` under a ``slow_readiness_ms`` fault;
              ``?wait=N`` then waits up to N seconds for readiness before answering)
  pause    -> SIGSTOP every process group, ``paused``
  stop     -> kill every process group, ``paused`` (what the service reports for a stop today)
  both open a checkpoint window (``checkpoint_pending: true``, ``--checkpoint-ms``, default
  300 ms) during which ``resume`` is 503 ``RESTORE_TRANSIENT`` (retryable)
  resume   -> SIGCONT after a pause (processes killed by a stop stay dead), ``running``
  destroy  -> kill everything, end every stream of the sandbox, delete its directory,
              ``destroyed`` (still readable with GET, gone from lists and by-name)
Snapshots, fork and restore copy the workspace and home with ``shutil.copytree(symlinks=True)``.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any, Optional

from . import files
from .app import Ctx
from .httpcore import ApiError, Reply
from .state import DEFAULT_TEMPLATE, SIZES, Sandbox, iso, new_id, now_iso, tenant_id_of

READINESS_COMPONENTS = ("command_agent", "process_control", "resource_contract", "clock", "identity",
                        "durability", "filesystem", "internal_probe")


def register(app: Any) -> None:
    app.add("POST", "/sandboxes", create)
    app.add("GET", "/sandboxes", list_sandboxes)
    app.add("GET", "/sandboxes/by-name/{name}", by_name)
    app.add("GET", "/sandboxes/{id}", get)
    app.add("PATCH", "/sandboxes/{id}", update)
    app.add("DELETE", "/sandboxes/{id}", destroy)
    app.add("GET", "/sandboxes/{id}/readiness", readiness)
    app.add("GET", "/sandboxes/{id}/readiness/stream", readiness_stream, sse=True)
    app.add("POST", "/sandboxes/{id}/pause", pause)
    app.add("POST", "/sandboxes/{id}/stop", stop)
    app.add("POST", "/sandboxes/{id}/resume", resume)
    app.add("POST", "/sandboxes/{id}/extend", extend)
    app.add("GET", "/sandboxes/{id}/usage", usage)
    app.add("POST", "/sandboxes/{id}/fork", fork)
    app.add("POST", "/sandboxes/{id}/snapshots", snapshot_create)
    app.add("GET", "/sandboxes/{id}/snapshots", snapshot_list)
    app.add("DELETE", "/sandboxes/{id}/snapshots/{sid}", snapshot_delete)
    app.add("POST", "/sandboxes/{id}/snapshot", snapshot_legacy)
    app.add("POST", "/sandboxes/{id}/restore/{sid}", restore)
    app.add("GET", "/sandboxes/{id}/events", events, sse=True)
    app.add("GET", "/usage", tenant_usage)


# -- validation helpers --

def _str(body: dict, name: str) -> Optional[str]:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be a string", details={"field": name})
    return value


def _dict(body: dict, name: str, *, strings: bool = False) -> Optional[dict]:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or (strings and not all(isinstance(v, (str, int, float)) and
                                                           not isinstance(v, bool) for v in value.values())):
        what = "an object of strings" if strings else "an object"
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be {what}", details={"field": name})
    return value


def _pos_int(body: dict, name: str) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be a positive integer", details={"field": name})
    return value


def validate_create(ctx: Ctx, body: dict) -> str:
    template_id = body.get("template_id") or body.get("image") or DEFAULT_TEMPLATE
    if not isinstance(template_id, str):
        raise ApiError(422, "VALIDATION_FAILED", "'template_id' must be a string", details={"field": "template_id"})
    if template_id not in ctx.state.templates:
        known = ", ".join(sorted(ctx.state.templates))
        raise ApiError(422, "TEMPLATE_NOT_FOUND",
                       f"unknown template_id {template_id!r}; this emulator serves: {known} "
                       f"(declare one with serve --template ID:DIR[:DIR...])",
                       details={"field": "template_id", "template_id": template_id,
                                "known": sorted(ctx.state.templates)})
    for name in ("name", "slug", "region"):
        _str(body, name)
    _dict(body, "env", strings=True)
    _dict(body, "metadata")
    for name in ("timeout_sec", "idle_timeout_sec", "cpu_count", "memory_mb", "disk_size_mb", "disk_mb"):
        _pos_int(body, name)
    size = body.get("size")
    if size is not None and size not in SIZES:
        raise ApiError(422, "VALIDATION_FAILED", f"unknown size {size!r}; sizes: {list(SIZES)}",
                       details={"field": "size"})
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise ApiError(422, "VALIDATION_FAILED", "'tags' must be a list of strings", details={"field": "tags"})
    return template_id


def _check_name_free(ctx: Ctx, name: Optional[str]) -> None:
    if name and ctx.state.by_name(ctx.tenant, name) is not None:
        raise ApiError(409, "SANDBOX_NAME_TAKEN", f"a live sandbox named {name!r} already exists",
                       details={"name": name})


def new_sandbox(ctx: Ctx, template_id: str, body: dict, *, copy_from: Optional[tuple] = None) -> Sandbox:
    """Create the record and its directories (copied from ``(workspace, home)`` when given)."""
    delay = ctx.slow_readiness()
    sbx = Sandbox(tenant=ctx.tenant, root=ctx.state.root, template_id=template_id, body=body,
                  ready_delay=delay)
    os.makedirs(sbx.dir)
    workspace, home = os.path.join(sbx.dir, "workspace"), os.path.join(sbx.dir, "home")
    if copy_from is None:
        os.makedirs(workspace)
        os.makedirs(home)
    else:
        src_ws, src_home = copy_from
        files.copy_tree(src_ws, workspace)
        if src_home and os.path.isdir(src_home):
            files.copy_tree(src_home, home)
        else:
            os.makedirs(home)
    ctx.state.add_sandbox(sbx)
    sbx.events.add("sandbox.created", {"sandbox_id": sbx.id, "template_id": template_id})
    sbx.refresh()
    return sbx


def _wait_param(ctx: Ctx) -> float:
    raw = ctx.req.q("wait")
    if raw is None or raw == "" or raw.lower() == "false":
        return 0.0
    if raw.lower() == "true":
        return 60.0
    try:
        return max(0.0, min(float(raw), 120.0))
    except ValueError:
        raise ApiError(422, "VALIDATION_FAILED", "'wait' must be a number of seconds",
                       details={"field": "wait"}) from None


def wait_ready(sbx: Sandbox, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    with sbx.cond:
        while True:
            sbx.refresh()
            if sbx.state != "creating":
                return sbx.state == "running"
            left = min(deadline, sbx.ready_deadline + 0.005) - time.monotonic()
            if time.monotonic() >= deadline or sbx.gone.is_set():
                return False
            sbx.cond.wait(max(0.005, left))


# -- CRUD --

def create(ctx: Ctx) -> Reply:
    body = ctx.body()
    template_id = validate_create(ctx, body)
    wait = _wait_param(ctx)
    with ctx.state.lock:  # a name is taken atomically
        _check_name_free(ctx, body.get("name"))
        sbx = new_sandbox(ctx, template_id, body)
    if wait:
        wait_ready(sbx, wait)
    return Ctx.ok(sbx.to_json(), 201)


def get(ctx: Ctx) -> Reply:
    return Ctx.ok(ctx.sandbox(live=False).to_json())


def by_name(ctx: Ctx) -> Reply:
    name = ctx.params["name"]
    sbx = ctx.state.by_name(ctx.tenant, name)
    if sbx is None:
        raise ApiError(404, "NOT_FOUND", f"no live sandbox named {name!r}", details={"name": name})
    return Ctx.ok(sbx.to_json())


def list_sandboxes(ctx: Ctx) -> Reply:
    want_state = ctx.req.q("state") or None
    tags = [t for t in (ctx.req.q("tags") or "").split(",") if t]
    out = []
    for sbx in sorted(ctx.state.sandboxes_of(ctx.tenant), key=lambda s: s.created_at):
        sbx.refresh()
        if want_state is None and sbx.state == "destroyed":
            continue
        if want_state is not None and sbx.state != want_state:
            continue
        if tags and not all(t in sbx.tags for t in tags):
            continue
        if any(ctx.req.q(k) is not None and sbx.attribution.get(k) != ctx.req.q(k)
               for k in ("external_workspace_id", "external_user_id", "external_project_id")):
            continue
        out.append(sbx.to_json())
    return Ctx.ok(out)


def update(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    for name in ("name", "slug"):
        _str(body, name)
    metadata = _dict(body, "metadata")
    for name in ("timeout_sec", "idle_timeout_sec"):
        _pos_int(body, name)
    with ctx.state.lock:
        if body.get("name") and body["name"] != sbx.name:
            _check_name_free(ctx, body["name"])
        with sbx.lock:
            if "name" in body:
                sbx.name = body["name"]
            if "slug" in body:
                sbx.slug = body["slug"]
            if "tags" in body:
                tags = body["tags"]
                if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                    raise ApiError(422, "VALIDATION_FAILED", "'tags' must be a list of strings")
                sbx.tags = list(tags)
            if metadata is not None:
                sbx.metadata.update(metadata)
                if isinstance(metadata.get("miosa_persistent"), bool):
                    sbx.persistent = metadata["miosa_persistent"]
            if "always_on" in body:
                sbx.always_on = bool(body["always_on"])
            if body.get("timeout_sec"):
                sbx.timeout_sec = body["timeout_sec"]
                sbx.timeout_base = time.monotonic()
            if body.get("idle_timeout_sec"):
                sbx.idle_timeout_sec = body["idle_timeout_sec"]
    sbx.events.add("sandbox.updated", {"sandbox_id": sbx.id, "fields": sorted(body)})
    return Ctx.ok(sbx.to_json())


def kill_jobs(ctx: Ctx, sbx: Sandbox, grace: Optional[float] = None) -> None:
    grace = ctx.cfg.kill_grace_ms / 1000.0 if grace is None else grace
    jobs = [j for j in list(sbx.jobs) if not j.done.is_set()]
    threads = [threading.Thread(target=j.terminate, args=(grace,), daemon=True) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def destroy(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox(live=False)
    if sbx.state != "destroyed":
        kill_jobs(ctx, sbx, grace=0.5)
        with sbx.lock:
            sbx.set_state("destroyed")
            sbx.destroyed_at = now_iso()
        sbx.gone.set()
        sbx.events.add("sandbox.destroyed", {"sandbox_id": sbx.id})
        sbx.events.close()
        with ctx.state.lock:
            for token in ctx.state.tokens.values():
                if token["sandbox_id"] == sbx.id:
                    token["revoked"] = True
        shutil.rmtree(sbx.dir, ignore_errors=True)
    return Ctx.ok(sbx.to_json())


# -- readiness --

def readiness_payload(sbx: Sandbox) -> dict:
    ready = sbx.ready
    status = "ready" if ready else "pending"
    return {
        "sandbox_id": sbx.id,
        "state": sbx.state,
        "ready": ready,
        "readiness": {"ready": ready, "components": {c: {"status": status} for c in READINESS_COMPONENTS}},
    }


def readiness(ctx: Ctx) -> Reply:
    return Ctx.ok(readiness_payload(ctx.sandbox()))


def readiness_stream(ctx: Ctx) -> None:
    sbx = ctx.sandbox()
    try:
        timeout = min(max(float(ctx.req.q("timeout") or 60), 0.0), 3600.0)
    except ValueError:
        raise ApiError(422, "VALIDATION_FAILED", "'timeout' must be a number of seconds",
                       details={"field": "timeout"}) from None
    stream = ctx.sse()
    stream.start()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or sbx.gone.is_set():
            stream.send({"sandbox_id": sbx.id, "ready": False, "state": sbx.state}, event="timeout")
            break
        if wait_ready(sbx, min(left, ctx.cfg.keepalive_sec)):
            stream.send(readiness_payload(sbx), event="ready")
            break
        if sbx.state not in ("creating", "running"):
            stream.send({"sandbox_id": sbx.id, "ready": False, "state": sbx.state}, event="timeout")
            break
        stream.comment()
    stream.finish()


# -- lifecycle --

def pause(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    with sbx.lock:
        if sbx.state == "paused":
            return Ctx.ok(sbx.to_json())
        if sbx.state != "running":
            raise ApiError(409, "RESOURCE_STATE", f"cannot pause a {sbx.state} sandbox", details={"state": sbx.state})
        for job in list(sbx.jobs):
            job.pause()
        sbx.stop_kind = "pause"
        sbx.checkpoint_until = time.monotonic() + ctx.cfg.checkpoint_ms / 1000.0
        sbx.set_state("paused")
    return Ctx.ok(sbx.to_json())


def stop(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    if sbx.state not in ("running", "paused"):
        raise ApiError(409, "RESOURCE_STATE", f"cannot stop a {sbx.state} sandbox", details={"state": sbx.state})
    kill_jobs(ctx, sbx)
    with sbx.lock:
        sbx.stop_kind = "stop"
        sbx.checkpoint_until = time.monotonic() + ctx.cfg.checkpoint_ms / 1000.0
        sbx.set_state("paused")
    return Ctx.ok(sbx.to_json())


def resume(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    env = _dict(body, "env", strings=True)
    with sbx.lock:
        if env:
            sbx.env.update({str(k): str(v) for k, v in env.items()})
        if sbx.state in ("running", "creating"):
            return Ctx.ok(sbx.to_json())
        if sbx.state != "paused":
            raise ApiError(409, "RESOURCE_STATE", f"cannot resume a {sbx.state} sandbox", details={"state": sbx.state})
        if sbx.checkpoint_pending:
            left = max(0.05, sbx.checkpoint_until - time.monotonic())
            raise ApiError(503, "RESTORE_TRANSIENT", "the checkpoint taken after the pause is still in flight",
                           details={"reason": "checkpoint_in_flight"}, retryable=True, retry_after=left)
        if sbx.stop_kind == "pause":
            for job in list(sbx.jobs):
                job.resume()
        sbx.stop_kind = None
        delay = ctx.slow_readiness()
        if delay:
            sbx.state = "creating"
            sbx.ready_deadline = time.monotonic() + delay
            sbx.events.add("sandbox.state", {"sandbox_id": sbx.id, "state": "creating"})
        else:
            sbx.set_state("running")
        sbx.timeout_base = time.monotonic()
    return Ctx.ok(sbx.to_json())


def extend(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    timeout = _pos_int(body, "timeout_sec")
    with sbx.lock:
        if timeout:
            sbx.timeout_sec = timeout
        sbx.timeout_base = time.monotonic()
    return Ctx.ok(sbx.to_json())


def usage_of(sbx: Sandbox) -> dict:
    runtime_ms = sbx.total_runtime_ms()
    return {
        "sandbox_id": sbx.id,
        "state": sbx.state,
        "runtime_sec": int(runtime_ms // 1000),
        "provisioned_vcpu_ms": int(runtime_ms * sbx.cpu_count),
        "provisioned_memory_mb_ms": int(runtime_ms * sbx.memory_mb),
        "creation_count": 1,
        "active_cpu_ms": None,
        "network_ingress_bytes": sbx.proxy_in,
        "network_egress_bytes": sbx.proxy_out,
        "measurement_status": {"runtime": "measured", "active_cpu_ms": "unavailable",
                               "network": "preview_proxy_only"},
        "estimated_cost_cents": int(runtime_ms * sbx.cpu_count / 3_600_000 * 5),
        "timeout_sec": sbx.timeout_sec,
        "timeout_remaining_ms": sbx.remaining_ms() if sbx.state != "destroyed" else 0,
        "external_user_id": sbx.attribution.get("external_user_id"),
        "external_project_id": sbx.attribution.get("external_project_id"),
    }


def usage(ctx: Ctx) -> Reply:
    return Ctx.ok(usage_of(ctx.sandbox(live=False)))


def tenant_usage(ctx: Ctx) -> Reply:
    group_by = ctx.req.q("group_by") or "external_user_id"
    if group_by not in ("external_user_id", "external_project_id", "workspace_id"):
        raise ApiError(422, "VALIDATION_FAILED", "group_by is one of external_user_id, external_project_id, "
                       "workspace_id", details={"field": "group_by"})
    want_user = ctx.req.q("external_user_id")
    groups: dict = {}
    earliest = time.time()
    for sbx in ctx.state.sandboxes_of(ctx.tenant):
        if want_user is not None and sbx.attribution.get("external_user_id") != want_user:
            continue
        key = sbx.attribution.get(group_by)
        u = usage_of(sbx)
        g = groups.setdefault(key, {group_by: key, "sandbox_count": 0, "runtime_sec": 0,
                                    "provisioned_vcpu_ms": 0, "estimated_cost_cents": 0, "sandbox_ids": []})
        g["sandbox_count"] += 1
        g["sandbox_ids"].append(sbx.id)
        for name in ("runtime_sec", "provisioned_vcpu_ms", "estimated_cost_cents"):
            g[name] += u[name]
        earliest = min(earliest, time.time() - sbx.total_runtime_ms() / 1000)
    return Ctx.ok({"period_start": iso(earliest), "period_end": now_iso(), "group_by": group_by,
                   "period": ctx.req.q("period"), "results": list(groups.values())})


# -- fork, snapshots, restore --

def _snapshot_of(ctx: Ctx, sid: str) -> dict:
    snap = ctx.state.snapshots.get(sid)
    if snap is None or snap["tenant"] != ctx.tenant:
        raise ApiError(404, "NOT_FOUND", f"snapshot {sid} not found", details={"resource": "snapshot", "id": sid})
    return snap


def fork(ctx: Ctx) -> Reply:
    src = ctx.sandbox()
    body = ctx.body()
    sid = _str(body, "snapshot_id")
    template_id = body.get("template_id") or src.template_id
    if template_id not in ctx.state.templates:
        raise ApiError(422, "TEMPLATE_NOT_FOUND", f"unknown template_id {template_id!r}",
                       details={"field": "template_id"})
    if sid:
        snap = _snapshot_of(ctx, sid)
        copy_from = (os.path.join(snap["dir"], "workspace"), os.path.join(snap["dir"], "home"))
    else:
        copy_from = (os.path.join(src.dir, "workspace"), os.path.join(src.dir, "home"))
    settings = {
        "name": body.get("name"), "metadata": {**src.metadata, **(_dict(body, "metadata") or {})},
        "env": {**src.env, **(_dict(body, "env", strings=True) or {})},
        "timeout_sec": _pos_int(body, "timeout_sec") or src.timeout_sec, "persistent": src.persistent,
        "tags": list(src.tags), "size": src.size, "cpu_count": src.cpu_count, "memory_mb": src.memory_mb,
        "disk_size_mb": src.disk_size_mb, **src.attribution,
    }
    if body.get("external_user_id"):
        settings["external_user_id"] = body["external_user_id"]
    with ctx.state.lock:
        _check_name_free(ctx, settings["name"])
        sbx = new_sandbox(ctx, template_id, settings, copy_from=copy_from)
    sbx.forked_from = src.id
    src.events.add("sandbox.forked", {"sandbox_id": src.id, "fork_id": sbx.id, "snapshot_id": sid})
    return Ctx.ok(sbx.to_json(), 201)


def _dir_size(path: str) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def take_snapshot(ctx: Ctx, sbx: Sandbox, comment: Optional[str]) -> dict:
    sid = new_id("snap")
    target = os.path.join(ctx.state.snapshot_root, sid)
    files.copy_tree(os.path.join(sbx.dir, "workspace"), os.path.join(target, "workspace"))
    files.copy_tree(os.path.join(sbx.dir, "home"), os.path.join(target, "home"))
    snap = {"id": sid, "snapshot_id": sid, "sandbox_id": sbx.id, "tenant": ctx.tenant, "comment": comment,
            "state": "ready", "size_bytes": _dir_size(target), "created_at": now_iso(), "dir": target}
    with ctx.state.lock:
        ctx.state.snapshots[sid] = snap
    sbx.events.add("sandbox.snapshot.created", {"sandbox_id": sbx.id, "snapshot_id": sid})
    return snap


def public_snapshot(snap: dict) -> dict:
    out = {k: v for k, v in snap.items() if k not in ("dir", "tenant")}
    out["tenant_id"] = tenant_id_of(snap["tenant"])
    return out


def snapshot_create(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    comment = _str(ctx.body(), "comment")
    return Ctx.ok(public_snapshot(take_snapshot(ctx, sbx, comment)), 201)


def snapshot_legacy(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    return Ctx.ok(public_snapshot(take_snapshot(ctx, sbx, None)), 201)


def snapshot_list(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox(live=False)
    snaps = [public_snapshot(s) for s in list(ctx.state.snapshots.values())
             if s["sandbox_id"] == sbx.id and s["tenant"] == ctx.tenant]
    return Ctx.ok(sorted(snaps, key=lambda s: s["created_at"]))


def snapshot_delete(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox(live=False)
    snap = _snapshot_of(ctx, ctx.params["sid"])
    if snap["sandbox_id"] != sbx.id:
        raise ApiError(404, "NOT_FOUND", f"snapshot {snap['id']} is not a snapshot of {sbx.id}")
    with ctx.state.lock:
        ctx.state.snapshots.pop(snap["id"], None)
    shutil.rmtree(snap["dir"], ignore_errors=True)
    return Ctx.ok({"id": snap["id"], "deleted": True})


def restore(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    snap = _snapshot_of(ctx, ctx.params["sid"])
    with sbx.lock:
        files.replace_contents(os.path.join(sbx.dir, "workspace"), os.path.join(snap["dir"], "workspace"))
        files.replace_contents(os.path.join(sbx.dir, "home"), os.path.join(snap["dir"], "home"))
    sbx.events.add("sandbox.restored", {"sandbox_id": sbx.id, "snapshot_id": snap["id"]})
    return Ctx.ok(sbx.to_json())


# -- events --

def events(ctx: Ctx) -> None:
    """Replays the sandbox's events (ring of 2000), then follows them until it is destroyed."""
    sbx = ctx.sandbox(live=False)
    stream = ctx.sse()
    stream.start()
    after = 0
    while True:
        items, closed = sbx.events.follow(after, ctx.cfg.keepalive_sec)
        for item in items:
            after = item["seq"]
            stream.send({"type": item["type"], **item["data"], "created_at": item["created_at"]},
                        event=item["type"], id=item["id"])
        if closed:
            break
        if not items:
            stream.comment()
    stream.finish()
