"""Routing: admin routes, the preview proxy, then ``/api/v1`` with auth, faults and idempotency.

Order for a request under ``/api/v1``:
  1. ``Authorization: Bearer <anything>`` is required (401 ``UNAUTHORIZED`` otherwise);
  2. an armed answer-kind fault matching ``"METHOD /api/v1/path"`` answers instead;
  3. the route is found (404 ``NOT_FOUND`` / 405 ``METHOD_NOT_ALLOWED`` otherwise);
  4. a POST/PATCH/PUT/DELETE with ``Idempotency-Key`` goes through the idempotency store,
     keyed by (tenant, method, path, key): a replay returns the stored status and body, the
     same key with another body is 409 ``IDEMPOTENCY_CONFLICT``; only 2xx answers are stored,
     and requests sharing a key are serialised;
  5. the route runs. JSON routes return a ``Reply``; stream and byte routes write themselves.

Admin routes (outside ``/api/v1``, no auth): ``/_emulator/faults`` (POST arm, GET list, DELETE
clear), ``/_emulator/log`` (GET ``?since=N``, DELETE), ``/_emulator/config`` (GET, POST),
``/_emulator/state`` (GET), ``/_emulator/sandboxes/{id}/settle`` (POST: end a slow readiness
and a checkpoint window now). ``/healthz`` answers 200.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import unquote

from . import faults as faults_mod
from .httpcore import SSE, ApiError, Handler, Reply, Request, dumps
from .state import DEFAULT_TENANT, Sandbox, State

LOG_LIMIT = 50000  # the request log keeps the newest entries


@dataclass
class Config:
    port: int = 0
    root: str = ""
    base_url: str = ""
    keepalive_sec: float = 15.0
    checkpoint_ms: int = 300
    deploy_build_ms: int = 300
    kill_grace_ms: int = 2000
    exec_timeout_sec: int = 600
    max_body_bytes: int = 64 << 20
    templates: dict = field(default_factory=dict)

    TUNABLE = ("keepalive_sec", "checkpoint_ms", "deploy_build_ms", "kill_grace_ms",
               "exec_timeout_sec", "max_body_bytes")


class Route:
    def __init__(self, method: str, pattern: str, fn: Callable, sse: bool) -> None:
        self.method = method
        self.pattern = pattern
        self.fn = fn
        self.sse = sse
        regex = ""
        for part in re.split(r"(\{[a-z_]+\*?\})", pattern):
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                regex += f"(?P<{name[:-1]}>.+)" if name.endswith("*") else f"(?P<{name}>[^/]+)"
            else:
                regex += re.escape(part)
        self.regex = re.compile(regex)


class Ctx:
    """What a route handler gets: the request, its path parameters, and helpers."""

    def __init__(self, app: "App", req: Request, h: Handler, params: dict, route: Optional[Route]) -> None:
        self.app = app
        self.req = req
        self.h = h
        self.params = params
        self.route = route

    @property
    def state(self) -> State:
        return self.app.state

    @property
    def cfg(self) -> Config:
        return self.app.cfg

    @property
    def tenant(self) -> str:
        return self.req.tenant or DEFAULT_TENANT

    def body(self) -> dict:
        return self.req.json()

    @staticmethod
    def ok(obj: Any, status: int = 200) -> Reply:
        return Reply(status, {"data": obj})

    def sandbox(self, *, live: bool = True, command: bool = False, key: str = "id") -> Sandbox:
        """The sandbox named in the path, scoped to the tenant.

        ``live``: a destroyed sandbox is 404. ``command``: it must be able to run commands now
        (409 ``RESOURCE_STATE`` when paused, 409 ``SANDBOX_NOT_COMMAND_READY`` while creating).
        """
        sandbox_id = self.params[key]
        sbx = self.state.find_sandbox(self.tenant, sandbox_id)
        if sbx is None:
            raise ApiError(404, "NOT_FOUND", f"sandbox {sandbox_id} not found",
                           details={"resource": "sandbox", "id": sandbox_id})
        sbx.refresh()
        if live and sbx.state == "destroyed":
            raise ApiError(404, "NOT_FOUND", f"sandbox {sandbox_id} was destroyed",
                           details={"resource": "sandbox", "id": sandbox_id, "state": "destroyed"})
        if command:
            if sbx.state == "paused":
                raise ApiError(409, "RESOURCE_STATE", f"sandbox {sandbox_id} is paused; resume it first",
                               details={"state": "paused", "recommended_next_action": "resume"})
            if sbx.state != "running":
                raise ApiError(409, "SANDBOX_NOT_COMMAND_READY", f"sandbox {sandbox_id} is {sbx.state}",
                               details={"state": sbx.state}, retryable=True, retry_after=0.1)
        return sbx

    def sse(self) -> SSE:
        """An event stream for this response; a matching drop fault limits its frames."""
        fault = self.app.faults.take(self.req.method, self.req.path, faults_mod.STREAM_KINDS)
        limit = int(fault.spec["frames"]) if fault is not None else None
        return SSE(self.h, limit)

    def slow_readiness(self) -> float:
        """Seconds of readiness delay a matching ``slow_readiness_ms`` fault asks for (else 0)."""
        fault = self.app.faults.take(self.req.method, self.req.path, faults_mod.CREATE_KINDS)
        return float(fault.spec["ms"]) / 1000.0 if fault is not None else 0.0


class App:
    def __init__(self, cfg: Config, state: State, spawner: Any, confinement: Any) -> None:
        self.cfg = cfg
        self.state = state
        self.spawner = spawner
        self.confinement = confinement
        self.faults = faults_mod.Faults()
        self.routes: list[Route] = []
        self._log: list = []
        self._log_lock = threading.Lock()
        self._log_seq = 0
        from . import api_deploy_runs, api_exec, api_files, api_previews, api_sandboxes, proxy
        self.proxy = proxy
        self.deploys = api_deploy_runs
        for module in (api_sandboxes, api_exec, api_files, api_previews, api_deploy_runs):
            module.register(self)

    def add(self, method: str, pattern: str, fn: Callable, *, sse: bool = False) -> None:
        self.routes.append(Route(method, pattern, fn, sse))

    # -- request log --
    def record(self, req: Request, status: int, *, sse: bool = False, response_headers: Optional[dict] = None) -> None:
        if req.path == "/_emulator/log":
            return
        present, scheme, _ = req.authorization()
        headers = {k: v for k, v in req.headers.items() if k.lower() != "authorization"}
        with self._log_lock:
            self._log_seq += 1
            self._log.append({
                "seq": self._log_seq,
                "time": time.time(),
                "method": req.method,
                "path": req.raw_path,
                "query": req.raw_query,
                "headers": headers,
                "authorization": {"present": present, "scheme": scheme},
                "idempotency_key": req.idempotency_key,
                "tenant": req.header("X-MIOSA-Tenant"),
                "user_agent": req.header("User-Agent"),
                "body_bytes": len(req.body),
                "status": status,
                "request_id": req.request_id,
                "response_headers": {**(response_headers or {}), "x-request-id": req.request_id},
                "sse": sse,
            })
            if len(self._log) > LOG_LIMIT:
                del self._log[: len(self._log) - LOG_LIMIT]

    # -- dispatch --
    def handle(self, req: Request, h: Handler) -> None:
        path = req.path
        if path.startswith("/_emulator/") or path == "/_emulator":
            return self.admin(req, h)
        if path.startswith("/p/"):
            return self.proxy.handle(self, req, h)
        if path.startswith("/d/"):
            return self.deploys.serve_static(self, req, h)
        if path == "/healthz":
            return h.send_json(200, {"data": {"ok": True}})
        if not (path.startswith("/api/v1/") or path == "/api/v1"):
            raise ApiError(404, "NOT_FOUND", f"no route for {req.method} {path} (the API is under /api/v1)")
        present, scheme, cred = req.authorization()
        if not present or (scheme or "").lower() != "bearer" or not cred:
            raise ApiError(401, "UNAUTHORIZED", "missing or malformed Authorization: Bearer <key>")
        fault = self.faults.take(req.method, path, faults_mod.ANSWER_KINDS)
        if fault is not None:
            raise fault.error()
        # Routes match the raw path and each parameter is decoded on its own, so an encoded
        # "/" inside a name (by-name/a%2Fb) stays inside the parameter.
        sub = req.raw_path[len("/api/v1"):] or "/"
        route, params, other_methods = None, {}, []
        for r in self.routes:
            m = r.regex.fullmatch(sub)
            if m is None:
                continue
            if r.method == req.method:
                route, params = r, {k: unquote(v) for k, v in m.groupdict().items()}
                break
            other_methods.append(r.method)
        if route is None:
            if other_methods:
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"{req.method} is not allowed on {path}",
                               details={"allowed": sorted(set(other_methods))},
                               headers={"Allow": ", ".join(sorted(set(other_methods)))})
            raise ApiError(404, "NOT_FOUND", f"no route for {req.method} {path}")
        ctx = Ctx(self, req, h, params, route)
        key = req.idempotency_key
        if key and req.method in ("POST", "PATCH", "PUT", "DELETE") and not route.sse:
            return self._idempotent(ctx, key)
        reply = route.fn(ctx)
        if reply is not None:
            h.send_json(reply.status, reply.body, reply.headers)

    def _idempotent(self, ctx: Ctx, key: str) -> None:
        req = ctx.req
        store = self.state.idempotency
        ident = (ctx.tenant, req.method, req.path, key)
        digest = hashlib.sha256(req.body).hexdigest()
        with store.lock_for(ident):
            record = store.get(ident)
            if record is not None:
                stored_digest, status, body = record
                if stored_digest != digest:
                    raise ApiError(409, "IDEMPOTENCY_CONFLICT",
                                   "this Idempotency-Key was already used with a different request body",
                                   details={"idempotency_key": key})
                ctx.h.send_bytes(status, body, "application/json", {"Idempotent-Replayed": "true"})
                return
            reply = ctx.route.fn(ctx)
            if reply is None:
                return
            data = dumps(reply.body)
            if 200 <= reply.status < 300:
                store.put(ident, (digest, reply.status, data))
            ctx.h.send_bytes(reply.status, data, "application/json", reply.headers)

    # -- admin --
    def admin(self, req: Request, h: Handler) -> None:
        path, method = req.path.rstrip("/"), req.method
        if path == "/_emulator/faults":
            if method == "POST":
                spec = req.json() if req.body.strip().startswith(b"{") else json.loads(req.body or b"[]")
                specs = spec if isinstance(spec, list) else [spec]
                return h.send_json(201, {"data": [self.faults.arm(s) for s in specs]})
            if method == "GET":
                return h.send_json(200, {"data": self.faults.list()})
            if method == "DELETE":
                self.faults.clear()
                return h.send_json(200, {"data": {"cleared": True}})
        elif path == "/_emulator/log":
            if method == "GET":
                since = req.q_int("since", 0) or 0
                with self._log_lock:
                    entries = [e for e in self._log if e["seq"] > since]
                return h.send_json(200, {"data": entries})
            if method == "DELETE":
                with self._log_lock:
                    self._log.clear()
                return h.send_json(200, {"data": {"cleared": True}})
        elif path == "/_emulator/config":
            if method == "POST":
                body = req.json()
                for name, value in body.items():
                    if name not in Config.TUNABLE:
                        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} is not tunable; "
                                       f"tunable: {list(Config.TUNABLE)}")
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be a number >= 0")
                    setattr(self.cfg, name, type(getattr(self.cfg, name))(value))
                    if name == "max_body_bytes":
                        h.server.max_body_bytes = int(value)
            if method in ("GET", "POST"):
                return h.send_json(200, {"data": asdict(self.cfg)})
        elif path.startswith("/_emulator/sandboxes/") and path.endswith("/settle") and method == "POST":
            # Finish the pending transitions of a sandbox now: a slow readiness, a checkpoint
            # window. Lets a test hold a sandbox in a state as long as it needs, then release it.
            sandbox_id = path[len("/_emulator/sandboxes/"):-len("/settle")]
            sbx = self.state.sandboxes.get(sandbox_id)
            if sbx is None:
                raise ApiError(404, "NOT_FOUND", f"sandbox {sandbox_id} not found")
            with sbx.lock:
                sbx.ready_deadline = min(sbx.ready_deadline, time.monotonic())
                sbx.checkpoint_until = 0.0
                sbx.refresh()
                sbx.cond.notify_all()
            return h.send_json(200, {"data": sbx.to_json()})
        elif path == "/_emulator/state" and method == "GET":
            sandboxes = []
            for sbx in list(self.state.sandboxes.values()):
                sbx.refresh()
                sandboxes.append({"id": sbx.id, "tenant": sbx.tenant, "name": sbx.name, "state": sbx.state,
                                  "live_jobs": sum(1 for j in list(sbx.jobs) if not j.done.is_set())})
            return h.send_json(200, {"data": {"sandboxes": sandboxes,
                                              "process_groups": len(self.spawner.groups)}})
        raise ApiError(404, "NOT_FOUND", f"no admin route {method} {req.path}")
