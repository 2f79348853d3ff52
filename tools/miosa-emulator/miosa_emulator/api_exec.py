"""Exec, exec/stream, background processes and ``/commands``.

``POST /exec`` waits and answers ``{stdout, stderr, exit_code, duration_ms, timed_out}``.
``POST /exec/stream`` answers an event stream, one frame per output line (``\\n`` removed):

    event: stdout            event: stderr            event: exit
    data: {"line": "..."}    data: {"line": "..."}    data: {"exit_code": 3}

A client that goes away (or a ``drop_stream_after_frames`` cut) kills the command. Only a
``timeout`` in the body limits a stream; ``/exec`` defaults to 600 s (``exec_timeout_sec``).

``POST /processes`` starts a background process and answers ``{pid, state: "running", ...}``;
``pid`` is the emulator's handle (from 1001 per sandbox), not a pid inside the sandbox.
``GET /processes/{pid}`` is ``{pid, state, exit_code, ...}`` with state ``running``, ``paused``,
``exited`` or ``killed``; ``logs?tail=N`` is the last N lines of stdout and stderr as one
string under ``data``; ``stream`` replays the output then follows it, frames as exec/stream
but with ``{"stream", "line"}`` in the data, and ends with ``event: exit``. ``DELETE`` sends
SIGTERM to the process group, SIGKILL after ``--kill-grace-ms``, and answers once it is dead.

``POST /commands`` is the synchronous road with ``stdin`` and a 600 s cap (422
``TIMEOUT_TOO_LONG`` above it); before readiness it answers 409 ``SANDBOX_STARTING``.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any, Optional

from . import files
from .app import Ctx
from .httpcore import ApiError, Reply
from .sandbox_exec import Confinement, Job, ProcRec, exit_code_of, pump, start_waiter
from .state import Sandbox

COMMANDS_CAP_SEC = 600


def register(app: Any) -> None:
    app.add("POST", "/sandboxes/{id}/exec", exec_sync)
    app.add("POST", "/sandboxes/{id}/exec/stream", exec_stream, sse=True)
    app.add("POST", "/sandboxes/{id}/processes", process_start)
    app.add("GET", "/sandboxes/{id}/processes", process_list)
    app.add("GET", "/sandboxes/{id}/processes/{pid}", process_get)
    app.add("DELETE", "/sandboxes/{id}/processes/{pid}", process_kill)
    app.add("GET", "/sandboxes/{id}/processes/{pid}/logs", process_logs)
    app.add("GET", "/sandboxes/{id}/processes/{pid}/stream", process_stream, sse=True)
    app.add("POST", "/sandboxes/{id}/commands", commands_run)
    app.add("GET", "/sandboxes/{id}/commands", process_list)
    app.add("GET", "/sandboxes/{id}/commands/{pid}", process_get)
    app.add("GET", "/sandboxes/{id}/commands/{pid}/logs", command_logs)
    app.add("POST", "/sandboxes/{id}/commands/{pid}/kill", process_kill)


# -- shared --

def command_of(body: dict) -> str:
    command = body.get("command")
    if isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        import shlex
        command = " ".join(shlex.quote(c) for c in command)
    if not isinstance(command, str) or not command.strip():
        raise ApiError(422, "VALIDATION_FAILED", "'command' must be a non-empty string", details={"field": "command"})
    return command


def env_of(body: dict) -> Optional[dict]:
    env = body.get("env")
    if env is None:
        return None
    if not isinstance(env, dict):
        raise ApiError(422, "VALIDATION_FAILED", "'env' must be an object of strings", details={"field": "env"})
    return {str(k): str(v) for k, v in env.items()}


def timeout_of(body: dict, name: str, default: Optional[float]) -> Optional[float]:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be a positive number of seconds",
                       details={"field": name})
    return float(value)


def resolve_cwd(sbx: Sandbox, cwd: Any) -> str:
    """The working directory inside the sandbox; it must be an existing directory in /workspace."""
    spath, host = files.resolve(sbx.dir, cwd, default="/workspace")
    if not (spath == "/workspace" or spath.startswith("/workspace/")):
        raise files.invalid_path(f"cwd {spath} is outside /workspace", cwd)
    if not os.path.isdir(host):
        raise files.invalid_path(f"cwd {spath} is not an existing directory", cwd)
    return spath


def spawn(ctx: Ctx, sbx: Sandbox, command: str, cwd: str, env: Optional[dict], *, stdin: bool = False):
    template_dirs = ctx.state.templates.get(sbx.template_id, [])
    argv = ctx.app.confinement.argv(sbx.dir, cwd, template_dirs, command)
    full_env = Confinement.env(template_dirs, sbx.env, env)
    return ctx.app.spawner.spawn(argv, full_env, stdin=stdin)


def _watchdog(job: Job, seconds: Optional[float], grace: float, flag: dict) -> Optional[threading.Timer]:
    if not seconds:
        return None

    def fire() -> None:
        if not job.done.is_set():
            flag["timed_out"] = True
            job.terminate(grace)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def run_sync(ctx: Ctx, sbx: Sandbox, command: str, cwd: str, env: Optional[dict], timeout: Optional[float],
             stdin_data: Optional[bytes] = None) -> dict:
    started = time.monotonic()
    popen = spawn(ctx, sbx, command, cwd, env, stdin=stdin_data is not None)
    job = Job(popen, "exec")
    sbx.jobs.add(job)
    flag: dict = {}
    timer = _watchdog(job, timeout, ctx.cfg.kill_grace_ms / 1000.0, flag)
    if stdin_data is not None:
        def feed() -> None:
            try:
                popen.stdin.write(stdin_data)
            except OSError:
                pass
            finally:
                try:
                    popen.stdin.close()
                except OSError:
                    pass
        threading.Thread(target=feed, daemon=True).start()
    chunks: dict = {"stdout": [], "stderr": []}
    try:
        pump(popen, lambda stream, line: None, lambda stream, data: chunks[stream].append(data))
        rc = popen.wait()
    finally:
        if timer is not None:
            timer.cancel()
        job.returncode = popen.returncode
        job.done.set()
        sbx.jobs.discard(job)
        ctx.app.spawner.forget(popen)
    timed_out = bool(flag.get("timed_out"))
    return {
        "stdout": b"".join(chunks["stdout"]).decode("utf-8", errors="replace"),
        "stderr": b"".join(chunks["stderr"]).decode("utf-8", errors="replace"),
        "exit_code": 124 if timed_out else exit_code_of(rc),
        "duration_ms": int((time.monotonic() - started) * 1000),
        "timed_out": timed_out,
    }


# -- exec --

def exec_sync(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox(command=True)
    body = ctx.body()
    command = command_of(body)
    cwd = resolve_cwd(sbx, body.get("cwd"))
    result = run_sync(ctx, sbx, command, cwd, env_of(body),
                      timeout_of(body, "timeout", ctx.cfg.exec_timeout_sec))
    sbx.events.add("sandbox.exec.completed", {"sandbox_id": sbx.id, "command": command,
                                              "exit_code": result["exit_code"]})
    return Ctx.ok(result)


def exec_stream(ctx: Ctx) -> None:
    sbx = ctx.sandbox(command=True)
    body = ctx.body()
    command = command_of(body)
    cwd = resolve_cwd(sbx, body.get("cwd"))
    timeout = timeout_of(body, "timeout", None)  # a stream lives as long as its command or client
    stream = ctx.sse()
    popen = spawn(ctx, sbx, command, cwd, env_of(body))
    job = Job(popen, "exec")
    sbx.jobs.add(job)
    flag: dict = {}
    timer = _watchdog(job, timeout, ctx.cfg.kill_grace_ms / 1000.0, flag)
    frames: "queue.Queue" = queue.Queue()

    def relay() -> None:
        try:
            pump(popen, lambda s, line: frames.put((s, line)))
        finally:
            rc = popen.wait()
            job.returncode = rc
            job.done.set()
            frames.put(("exit", rc))
    threading.Thread(target=relay, name="exec-stream", daemon=True).start()
    finished = False
    try:
        stream.start()
        while True:
            try:
                kind, value = frames.get(timeout=ctx.cfg.keepalive_sec)
            except queue.Empty:
                stream.comment()
                continue
            if kind == "exit":
                finished = True
                code = 124 if flag.get("timed_out") else exit_code_of(value)
                stream.send({"exit_code": code}, event="exit")
                break
            stream.send({"line": value}, event=kind)
        stream.finish()
    finally:
        if timer is not None:
            timer.cancel()
        if not finished:  # the client went away or the stream was cut: the command goes too
            job.kill_now()
        job.done.wait()
        sbx.jobs.discard(job)
        ctx.app.spawner.forget(popen)


# -- processes --

def start_process(ctx: Ctx, sbx: Sandbox, body: dict, *, line_hook: Any = None, exit_hook: Any = None,
                  extra_env: Optional[dict] = None) -> ProcRec:
    command = command_of(body)
    cwd = resolve_cwd(sbx, body.get("cwd"))
    timeout = timeout_of(body, "timeout", None)
    name = body.get("name") if isinstance(body.get("name"), str) else None
    env = {**(env_of(body) or {}), **(extra_env or {})}
    popen = spawn(ctx, sbx, command, cwd, env)
    pid = sbx.alloc_pid()
    proc = ProcRec(popen, pid, sbx.id, command, name, cwd, os.path.join(sbx.dir, "procs"))
    if line_hook is not None:
        proc.on_line_hooks.append(line_hook)
    with sbx.lock:
        sbx.procs[pid] = proc
        sbx.jobs.add(proc)

    def on_exit(p: ProcRec) -> None:
        sbx.jobs.discard(p)
        ctx.app.spawner.forget(p.popen)
        if not sbx.gone.is_set():
            sbx.events.add("sandbox.process.exited", {"sandbox_id": sbx.id, "pid": p.pid,
                                                      "exit_code": p.exit_code, "state": p.state})
        if exit_hook is not None:
            exit_hook(p)
    start_waiter(proc, ctx.app.spawner, on_exit)
    _watchdog(proc, timeout, ctx.cfg.kill_grace_ms / 1000.0, {})
    sbx.events.add("sandbox.process.started", {"sandbox_id": sbx.id, "pid": pid, "command": command,
                                               "name": name})
    return proc


def process_start(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox(command=True)
    proc = start_process(ctx, sbx, ctx.body())
    return Ctx.ok(proc.to_json(), 201)


def process_of(ctx: Ctx, sbx: Sandbox) -> ProcRec:
    raw = ctx.params["pid"]
    try:
        pid = int(raw)
    except ValueError:
        pid = None
    proc = sbx.procs.get(pid) if pid is not None else None
    if proc is None:
        raise ApiError(404, "NOT_FOUND", f"no process {raw} in sandbox {sbx.id}",
                       details={"resource": "process", "pid": raw})
    return proc


def process_list(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    return Ctx.ok([p.to_json() for p in sorted(list(sbx.procs.values()), key=lambda p: p.pid)])


def process_get(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    return Ctx.ok(process_of(ctx, sbx).to_json())


def process_kill(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    proc = process_of(ctx, sbx)
    proc.terminate(ctx.cfg.kill_grace_ms / 1000.0)
    proc.done.wait(5.0)
    return Ctx.ok(proc.to_json())


def process_logs(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    proc = process_of(ctx, sbx)
    tail = ctx.req.q_int("tail", 200)
    return Ctx.ok(proc.tail(max(0, tail or 0)))


def command_logs(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    proc = process_of(ctx, sbx)
    with proc.cond:
        lines = list(proc.lines)
    return Ctx.ok({"pid": proc.pid,
                   "stdout": "".join(l + "\n" for _, s, l in lines if s == "stdout"),
                   "stderr": "".join(l + "\n" for _, s, l in lines if s == "stderr"),
                   "exit_code": proc.exit_code, "state": proc.state})


def process_stream(ctx: Ctx) -> None:
    sbx = ctx.sandbox()
    proc = process_of(ctx, sbx)
    stream = ctx.sse()
    stream.start()
    after = 0
    while True:
        fresh, done = proc.follow(after, ctx.cfg.keepalive_sec)
        for seq, name, line in fresh:
            after = seq
            stream.send({"stream": name, "line": line}, event=name)
        if done:
            stream.send({"exit_code": proc.exit_code, "state": proc.state}, event="exit")
            break
        if sbx.gone.is_set():
            break
        if not fresh:
            stream.comment()
    stream.finish()


# -- commands --

def commands_run(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    if sbx.state == "creating":
        raise ApiError(409, "SANDBOX_STARTING", f"sandbox {sbx.id} is still starting",
                       details={"state": sbx.state}, retryable=True, retry_after=0.1)
    sbx = ctx.sandbox(command=True)
    body = ctx.body()
    command = command_of(body)
    timeout = timeout_of(body, "timeout_seconds", None)
    if timeout is not None and timeout > COMMANDS_CAP_SEC:
        raise ApiError(422, "TIMEOUT_TOO_LONG", f"timeout_seconds {timeout:g} exceeds the {COMMANDS_CAP_SEC} s "
                       "cap; run longer work as a detached process",
                       details={"field": "timeout_seconds", "max": COMMANDS_CAP_SEC})
    stdin = body.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise ApiError(422, "VALIDATION_FAILED", "'stdin' must be a string", details={"field": "stdin"})
    if body.get("detached"):
        proc = start_process(ctx, sbx, {**body, "timeout": timeout})
        return Ctx.ok({**proc.to_json(), "detached": True}, 201)
    cwd = resolve_cwd(sbx, body.get("cwd"))
    result = run_sync(ctx, sbx, command, cwd, env_of(body), timeout or COMMANDS_CAP_SEC,
                      stdin.encode("utf-8") if stdin is not None else None)
    return Ctx.ok({"command": command, "cwd": cwd, **result})
