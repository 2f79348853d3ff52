"""A FastAPI backend that dispatches a runhost run and streams its events to the browser as
Server-Sent Events.

    pip install ./bindings/python fastapi uvicorn
    uvicorn app:app --app-dir examples/python/fastapi_sse      # then open http://127.0.0.1:8000

POST /runs {"prompt": "...", "approval_policy"?: "auto"}
                                    dispatches a run; returns its id and where to stream it
GET  /runs/{run_id}/events          text/event-stream: one SSE event per runhost event,
                                    `id:` = seq, so a reconnecting browser (Last-Event-ID)
                                    resumes exactly where it stopped; ends after the terminal event
GET  /runs/{run_id}                 the run's record
GET  /approvals                     what waits for a person's answer, in the caller's tenant
POST /runs/{run_id}/approvals/{approval_id} {"decision": "allow"|"deny", "scope"?, "reason"?}
                                    answers one, as the signed-in user
GET  /                              a page that does all of it

The backend is the control plane: it decides the tenant, user, device, runtime and command; the
browser only sends a prompt, and answers approvals as the user the backend authenticated. It uses
runhost.AsyncHost: no call blocks the server's event loop.

Approvals: a policy plugin that asks before a run starts (on RUNHOST_PLUGIN_PATH) holds the run
queued, its stream showing approval.required, until the page's Allow or Deny is posted; that works
with any runtime. Asking mid-run (approval_policy "confirm-risky" or "manual") needs a runtime that
can ask, such as claude-code: runhost refuses them for `custom` at dispatch, a 422 here.

Shutdown: on SIGTERM (or Ctrl-C) the server stops streaming at once, ending every open event
stream without the final `end` event, so that each browser's EventSource reconnects, with
Last-Event-ID, to whichever server takes over; then the Host closes, cancelling the runs it
still had running (they end `run.cancelled`). Without this, uvicorn would wait for every
streamed run to end before it stops. Here the runtime is `custom` running RUNHOST_EXAMPLE_COMMAND (a
JSON array; by default a short shell script that reads the prompt on stdin). Configuration, all
optional: RUNHOST_STORE (the SQLite file), RUNHOST_WORKSPACE_ROOT (where runs work, as for the CLI; default: the
current directory), RUNHOST_EXAMPLE_COMMAND.
"""
from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import threading
import uuid
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any, AsyncIterator, Callable, Dict, List, Literal, Optional, Set

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

import runhost

DEFAULT_COMMAND = [
    "sh", "-c",
    'read -r prompt; echo "working on: $prompt"; sleep 1; echo "writing notes.txt"; '
    'echo "$prompt" > notes.txt; sleep 1; echo "done"',
]


def command() -> List[str]:
    configured = os.environ.get("RUNHOST_EXAMPLE_COMMAND")
    return json.loads(configured) if configured else DEFAULT_COMMAND


def on_termination(callback: Callable[[], None]) -> Callable[[], None]:
    """Calls `callback` on the loop when SIGTERM or SIGINT arrives, then lets the server's own
    handler (uvicorn's graceful shutdown) run as before. Returns what undoes it.

    The hook is needed because the server shuts the application down (the lifespan's exit) only
    after every response has ended, and an event stream ends only when its run does.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals go to the main thread; a server in a thread has its own way
    loop = asyncio.get_running_loop()
    previous: Dict[int, Any] = {}

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        loop.call_soon_threadsafe(callback)
        chained = previous[signum]
        if callable(chained):
            chained(signum, frame)
        elif chained == signal.SIG_DFL:  # what would have happened without this hook
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)

    def undo() -> None:
        for sig, old in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, old)

    return undo


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One Host for the whole process: it owns the store and one reactor thread for every run.
    streams: Set[runhost.AsyncEventStream] = set()  # the event streams being sent to browsers
    stopping = asyncio.Event()

    def stop_streaming() -> None:
        stopping.set()
        for stream in list(streams):
            asyncio.ensure_future(stream.aclose())  # ends that response's `async for` at once

    app.state.streams = streams
    app.state.stopping = stopping
    undo = on_termination(stop_streaming)
    try:
        async with runhost.AsyncHost(store=os.environ.get("RUNHOST_STORE"),
                                     workspace_root=os.environ.get("RUNHOST_WORKSPACE_ROOT")) as host:
            app.state.host = host
            yield
    finally:
        undo()


app = FastAPI(title="runhost SSE example", lifespan=lifespan)


USER = "demo-user"  # from your authentication


def tenant_of(request: Request) -> runhost.AsyncTenantView:
    """The Host as the caller's tenant sees it: another tenant's run id gets the 404 of an unknown
    one, and a dispatch cannot land in another tenant. (The Host itself is the operator's view.)"""
    host: runhost.AsyncHost = request.app.state.host
    return host.for_tenant("demo-tenant")  # from your authentication


def problem(e: runhost.RunhostError) -> Dict[str, Any]:
    return {"code": e.code, "message": e.message, "retryable": e.retryable, "recovery": e.recovery}


class RunRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=100_000)
    # The browser's id for this submission: sending it twice (a double click, a retry after a
    # timeout) returns the same run instead of starting another.
    submission_id: Optional[str] = Field(default=None, min_length=1, max_length=200)
    # "auto", "confirm-risky" or "manual", checked by runhost: a runtime that cannot ask a person
    # mid-run (this example's `custom`) is refused the last two, a 422 naming approvalPolicy.
    approval_policy: str = Field(default="auto", min_length=1, max_length=40)


@app.post("/runs", status_code=201)
async def create_run(body: RunRequest, request: Request) -> Dict[str, Any]:
    try:
        run = await tenant_of(request).dispatch(
            workspace_id="demo-workspace",
            user_id=USER,
            device_type="local",
            device_id="example-server",
            runtime="custom",
            prompt=body.prompt,
            approval_policy=body.approval_policy,
            idempotency_key=body.submission_id or str(uuid.uuid4()),
            command=command(),
        )
    except runhost.IdempotencyConflictError as e:
        raise HTTPException(status_code=409, detail=problem(e)) from None
    except runhost.InvalidDispatchError as e:
        raise HTTPException(status_code=422, detail=problem(e)) from None
    except runhost.RunhostError as e:
        raise HTTPException(status_code=503 if e.retryable else 500, detail=problem(e)) from None
    return {"run_id": run.id, "created": run.created, "events_url": f"/runs/{run.id}/events"}


@app.get("/runs/{run_id}")
async def get_run(run_id: str, request: Request) -> Dict[str, Any]:
    run = await tenant_of(request).run(run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no run {run_id}")
    info = await run.info()
    return {"id": info.id, "status": info.status, "error_code": info.error_code, "last_seq": info.last_seq}


@app.get("/approvals")
async def list_approvals(request: Request) -> List[Dict[str, Any]]:
    """What waits for a person, oldest first; one already answered (being applied) is left out."""
    waiting = await tenant_of(request).pending_approvals()
    return [approval_view(p) for p in waiting if not p.answered]


def approval_view(p: runhost.PendingApproval) -> Dict[str, Any]:
    action = p.request["action"]
    return {
        "approval_id": p.id, "run_id": p.run_id, "summary": p.summary,
        "reason": p.request.get("reason"), "policy": p.request.get("policy"), "deadline": p.request.get("deadline"),
        "action": {"kind": action.get("kind"), "name": action.get("name"), "input": action.get("input")},
    }


class ApprovalAnswer(BaseModel):
    decision: Literal["allow", "deny"]
    scope: Literal["once", "run"] = "once"  # this request, or the same one for the rest of the run
    reason: Optional[str] = Field(default=None, max_length=10_000)


@app.post("/runs/{run_id}/approvals/{approval_id}")
async def answer_approval(run_id: str, approval_id: str, body: ApprovalAnswer, request: Request) -> Dict[str, Any]:
    try:
        await tenant_of(request).resolve_approval(run_id, approval_id, decision=body.decision, scope=body.scope,
                                                  reason=body.reason, by=USER)
    except runhost.RunNotFoundError as e:  # unknown, or another tenant's: the same answer
        raise HTTPException(status_code=404, detail=problem(e)) from None
    except runhost.InvalidDispatchError as e:  # no such approval pending: unknown, answered, run ended
        raise HTTPException(status_code=409, detail=problem(e)) from None
    except runhost.RunhostError as e:
        raise HTTPException(status_code=503 if e.retryable else 500, detail=problem(e)) from None
    return {"answered": True}


def sse(event: runhost.Event) -> str:
    # One SSE message; `data` is the whole envelope on one line (JSON escapes newlines).
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


@app.get("/runs/{run_id}/events")
async def stream_events(run_id: str, request: Request, last_event_id: Optional[str] = Header(default=None)) -> StreamingResponse:
    run = await tenant_of(request).run(run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no run {run_id}")
    streams: Set[runhost.AsyncEventStream] = request.app.state.streams
    stopping: asyncio.Event = request.app.state.stopping
    # A reconnecting EventSource sends the last id it got: resume after that seq.
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0

    async def body() -> AsyncIterator[str]:
        # No thread per client: the stream waits on an eventfd registered with this event loop.
        # If the browser goes away, Starlette cancels this generator and `async with` stops
        # following the run (the run itself goes on). At shutdown, stop_streaming() closes the
        # stream: the loop ends without the `end` event, and the browser reconnects.
        async with run.events(after=after) as events:
            streams.add(events)
            try:
                async for event in events:
                    yield sse(event)
            finally:
                streams.discard(events)
        if not stopping.is_set():
            yield "event: end\ndata: {}\n\n"  # the run has ended: the page closes its EventSource

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# The page, shared with the Node example.
PAGE = (pathlib.Path(__file__).resolve().parents[2] / "sse-page.html").read_text(encoding="utf-8")


@app.get("/", response_class=HTMLResponse)
def page() -> str:
    return PAGE
