"""AsyncHost: runhost for asyncio code. Every call is a coroutine, and none runs on the loop.

    async with runhost.AsyncHost() as host:
        run = await host.dispatch(tenant_id="t1", ..., command=["make"])
        async for ev in run.events():
            ...

Each call into the core (dispatch, reads, cancel, close, opening the store) can wait on SQLite,
on the store's writer or on the host's reactor; the extension releases the GIL while it does, so
AsyncHost runs these calls on a small thread pool of its own and the loop only awaits their
result. Following a run is different: it is what a server does for every connected client, so a
run's event stream holds no thread at all. It awaits an eventfd registered with the loop, and
only its short store reads go to the pool (``AsyncEventStream``).

A call that is cancelled (a timeout, a client that went away) stops awaiting, but what it asked
for may still happen: a dispatch cancelled while in flight may still start its run. Send it
again with the same idempotency key to learn which run it was.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterable, List, Literal, Mapping, Optional, Sequence, Type, TypeVar, Union, overload

from ._host import (
    Host, StrPath, TenantView, _approval_args, _core_options, _grant_args, _request_of, _RunCalls, _str,
    _usage_args,
)
from ._native import _core
from ._run import Run, _check_after, _failure
from ._streams import AsyncEventStream, wait_for_terminal
from ._types import (
    ApprovalPolicy,
    ApprovalScope,
    Decision,
    DeviceType,
    Event,
    Grant,
    MiosaOptions,
    PendingApproval,
    PluginInfo,
    PluginRefusal,
    RunInfo,
    UsageTotal,
)
from .errors import HostClosedError

T = TypeVar("T")

# Calls in flight at once per AsyncHost. Each is short (a dispatch takes a few ms, a read less);
# more would only queue behind the store's single writer.
DEFAULT_MAX_WORKERS = 4


class _Engine:
    """What an AsyncHost and its tenant views share: the sync Host once open, and the pool."""

    def __init__(self, options: Mapping[str, Any], max_workers: int) -> None:
        self.options = options
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="runhost-async")
        self.host: Optional[Host] = None
        self.store_path: Optional[Path] = None
        self.closed = False
        self.opening: "Optional[asyncio.Future[None]]" = None

    def sync_host(self) -> Host:
        if self.closed:
            raise HostClosedError("this AsyncHost is closed; open a new one on the same store to go on")
        if self.host is None:
            raise RuntimeError(
                "this AsyncHost is not open: use `async with runhost.AsyncHost(...) as host:` "
                "or `host = await runhost.AsyncHost(...).open()`"
            )
        return self.host

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.closed:
            raise HostClosedError("this AsyncHost is closed; open a new one on the same store to go on")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))


class _AsyncRunCalls:
    """The calls that read and steer runs, and keep connector grants, awaitable: the operator's
    (AsyncHost) or one tenant's (AsyncTenantView). Runs they return act in the same scope."""

    _engine: _Engine

    def _sync(self) -> _RunCalls:
        raise NotImplementedError

    @overload
    async def dispatch(self, request: Mapping[str, object], /) -> "AsyncRun": ...

    @overload
    async def dispatch(
        self,
        *,
        tenant_id: str = ...,
        workspace_id: str,
        user_id: str,
        device_type: DeviceType,
        runtime: str,
        prompt: str,
        approval_policy: ApprovalPolicy,
        idempotency_key: str,
        device_id: str = ...,
        project_id: str = ...,
        cwd: str = ...,
        connectors: Sequence[str] = ...,
        command: Sequence[str] = ...,
        output_mode: Literal["text", "jsonl"] = ...,
        timeout_seconds: int = ...,
        resume_session_id: str = ...,
    ) -> "AsyncRun": ...

    async def dispatch(self, *args: object, **fields: object) -> "AsyncRun":
        """``Host.dispatch``, awaitable: snake_case keywords or one camelCase dict, never both.

        Raises what ``Host.dispatch`` raises (``InvalidDispatchError``,
        ``IdempotencyConflictError``, ``TypeError``...).
        """
        body = _request_of("dispatch", args, fields)
        sync = self._sync()
        return AsyncRun(self, await self._engine.call(sync._dispatch, body))

    async def run(self, run_id: str) -> "Optional[AsyncRun]":
        """The run with this id, or None (in a tenant's view: none of that tenant's)."""
        sync = self._sync()
        found = await self._engine.call(sync.run, _str("run_id", run_id))
        return AsyncRun(self, found) if found is not None else None

    async def runs(self, *, tenant_id: Optional[str] = None, status: Optional[str] = None, limit: int = 100) -> List[RunInfo]:
        """Runs, newest first, optionally of one tenant and/or one status (``Host.runs``)."""
        sync = self._sync()
        return await self._engine.call(sync.runs, tenant_id=tenant_id, status=status, limit=limit)

    async def events(self, run_id: str, after: int = 0, limit: int = 10000) -> List[Event]:
        """The run's stored events with seq > ``after``, without waiting for more."""
        sync = self._sync()
        return await self._engine.call(sync.events, _str("run_id", run_id), _check_after(after), limit)

    async def cancel(self, run_id: str) -> None:
        """Asks a run to stop; it ends ``run.cancelled``. A finished run is left as it is."""
        sync = self._sync()
        await self._engine.call(sync.cancel, _str("run_id", run_id))

    async def pending_approvals(self) -> List[PendingApproval]:
        """The ``approval.required`` requests waiting for an answer, oldest first, from every
        process sharing the store (in a tenant's view: that tenant's; ``Host.pending_approvals``)."""
        sync = self._sync()
        return await self._engine.call(sync.pending_approvals)

    async def resolve_approval(
        self,
        run_id: str,
        approval_id: str,
        *,
        decision: Decision,
        scope: ApprovalScope = "once",
        reason: Optional[str] = None,
        by: Optional[str] = None,
    ) -> None:
        """Answers a run's ``approval.required``: ``decision="allow"`` or ``"deny"``; ``scope``
        ``"once"`` (this request) or ``"run"`` (the same request for the rest of the run);
        ``reason`` and ``by`` (who answers) recorded in ``approval.resolved``
        (``Host.resolve_approval``)."""
        _approval_args((), {}, decision, scope, reason, by)  # refuse a bad one here, before the pool
        sync = self._sync()
        await self._engine.call(
            sync.resolve_approval, _str("run_id", run_id), _str("approval_id", approval_id),
            decision=decision, scope=scope, reason=reason, by=by)

    async def add_grant(
        self,
        *,
        connector: str,
        user_id: str,
        tenant_id: Optional[str] = None,
        code: Optional[str] = None,
        secret: Union[Mapping[str, Any], str, None] = None,
        scopes: Optional[Sequence[str]] = None,
        expires_in: Union[float, _dt.timedelta, None] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Grant:
        """Records a connector grant (``Host.add_grant``): exactly one of ``code`` (exchanged by
        the connector with its provider, on the pool) or ``secret`` (a dict, or a token)."""
        # Checked here, before the pool: a mistake is raised where it was made.
        checked = _grant_args(connector, user_id, tenant_id, code, secret, scopes, expires_in, metadata)
        sync = self._sync()
        return await self._engine.call(sync._add_grant, checked)

    async def grants(
        self,
        *,
        user_id: Optional[str] = None,
        connector: Optional[str] = None,
        tenant_id: Optional[str] = None,
        include_inactive: bool = False,
        limit: int = 100,
    ) -> List[Grant]:
        """Grants, newest first, never a secret (``Host.grants``)."""
        sync = self._sync()
        return await self._engine.call(
            sync.grants, user_id=user_id, connector=connector, tenant_id=tenant_id,
            include_inactive=include_inactive, limit=limit)

    async def revoke_grant(self, grant_id: str) -> None:
        """Revokes a grant and deletes its secret (``Host.revoke_grant``)."""
        sync = self._sync()
        await self._engine.call(sync.revoke_grant, _str("grant_id", grant_id))

    async def usage(self, *, user_id: Optional[str] = None, workspace_id: Optional[str] = None,
                    run_id: Optional[str] = None, tenant_id: Optional[str] = None,
                    since: Union[_dt.datetime, int, None] = None,
                    until: Union[_dt.datetime, int, None] = None) -> List[UsageTotal]:
        """What the usage events add up to, per usage source, most spent first (``Host.usage``)."""
        checked = _usage_args(tenant_id, user_id, workspace_id, run_id, since, until)
        sync = self._sync()
        return await self._engine.call(sync._usage, checked)


class AsyncHost(_AsyncRunCalls):
    """runhost in this process, for asyncio: ``Host``'s arguments and calls, every call a
    coroutine that never blocks the event loop.

    Use it as ``async with runhost.AsyncHost(...) as host:`` (or ``await host.open()`` and
    ``await host.close()``). Opening reads the store and loads the plugins, on the pool, as
    every later call does. ``max_workers`` bounds the calls in flight at once; following runs
    (``run.events()``) needs no worker while it waits.

    Raises (from ``open``): what ``Host(...)`` raises: ``StoreUnavailableError``,
    ``PluginError``, ``InvalidDispatchError`` for bad ``limits``; argument errors (``TypeError``, ``ValueError``) at construction.
    """

    def __init__(
        self,
        store: Optional[StrPath] = None,
        plugin_paths: Iterable[StrPath] = (),
        *,
        workspace_root: Optional[StrPath] = None,
        plugin_config: Optional[Mapping[str, Union[Mapping[str, Any], str]]] = None,
        default_timeout: Union[float, _dt.timedelta] = 3600,
        approval_timeout: Union[float, _dt.timedelta] = 3600,
        limits: Union[Mapping[str, Any], str, None] = None,
        durable: bool = True,
        keep_raw: bool = False,
        max_output_bytes: int = 64 << 20,
        artifact_patterns: Iterable[str] = (),
        miosa: Optional[MiosaOptions] = None,
        use_environment: bool = True,
        use_bundled: bool = True,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int, not {max_workers!r}")
        options = _core_options(
            store, plugin_paths, workspace_root=workspace_root, plugin_config=plugin_config,
            default_timeout=default_timeout, approval_timeout=approval_timeout, limits=limits, durable=durable,
            keep_raw=keep_raw, max_output_bytes=max_output_bytes, artifact_patterns=artifact_patterns,
            miosa=miosa, use_environment=use_environment, use_bundled=use_bundled)
        self._engine = _Engine(options, max_workers)

    def _sync(self) -> Host:
        return self._engine.sync_host()

    # ---- lifetime ----

    async def open(self) -> "AsyncHost":
        """Opens the store and loads the plugins (once; later calls return at once)."""
        engine = self._engine
        if engine.host is not None or engine.closed:
            engine.sync_host()  # HostClosedError when closed
            return self
        if engine.opening is None:
            engine.opening = asyncio.ensure_future(self._open())
        await asyncio.shield(engine.opening)
        return self

    async def _open(self) -> None:
        engine = self._engine
        try:
            core = await engine.call(lambda: _core.Host(**engine.options))
            engine.store_path = Path(await engine.call(core.store_path))
            engine.host = Host._adopt(core)
        finally:
            engine.opening = None

    async def close(self) -> None:
        """``Host.close()``: cancels this host's running runs (they end ``run.cancelled``) and
        closes the store. Idempotent; completes even if the awaiting task is cancelled."""
        engine = self._engine
        if engine.closed:
            return
        if engine.opening is not None:
            try:
                await asyncio.shield(engine.opening)
            except Exception:  # noqa: BLE001  the opener got the error; closing goes on
                pass
        host, engine.host = engine.host, None
        engine.closed = True
        loop = asyncio.get_running_loop()
        try:
            if host is not None:
                await asyncio.shield(loop.run_in_executor(engine.executor, host.close))
        finally:
            engine.executor.shutdown(wait=False)

    @property
    def closed(self) -> bool:
        return self._engine.closed

    async def __aenter__(self) -> "AsyncHost":
        return await self.open()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    @property
    def store_path(self) -> Path:
        """The store's file (known once open)."""
        self._engine.sync_host()
        assert self._engine.store_path is not None
        return self._engine.store_path

    # ---- scopes ----

    def for_tenant(self, tenant_id: str) -> "AsyncTenantView":
        """This host as one tenant sees it (``Host.for_tenant``); cheap, make one per request."""
        if not isinstance(tenant_id, str):
            raise TypeError(f"tenant_id must be a str, not {type(tenant_id).__name__}")
        if not tenant_id:
            raise ValueError("tenant_id must not be empty")
        return AsyncTenantView(self._engine, tenant_id)

    # ---- plugins ----

    async def plugins(self) -> List[PluginInfo]:
        """The plugins this host loaded, in search order."""
        return await self._engine.call(self._sync().plugins)

    async def plugin_refusals(self) -> List[PluginRefusal]:
        """Everything the host refused to load, and why."""
        return await self._engine.call(self._sync().plugin_refusals)

    async def plugin_directories(self) -> List[Path]:
        """The directories searched for plugins, in order."""
        return await self._engine.call(self._sync().plugin_directories)

    def __repr__(self) -> str:
        engine = self._engine
        state = "closed" if engine.closed else ("not open" if engine.host is None else str(engine.store_path))
        return f"<runhost.AsyncHost {state}>"


class AsyncTenantView(_AsyncRunCalls):
    """An :class:`AsyncHost` as one tenant sees it (``host.for_tenant(tenant_id)``): the calls
    and walls of :class:`TenantView`, awaitable. It owns nothing; closing the AsyncHost ends it."""

    def __init__(self, engine: _Engine, tenant_id: str) -> None:
        self._engine = engine
        self._tenant_id = tenant_id

    def _sync(self) -> TenantView:
        return self._engine.sync_host().for_tenant(self._tenant_id)

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def closed(self) -> bool:
        return self._engine.closed

    def __repr__(self) -> str:
        return f"<runhost.AsyncTenantView tenant_id={self._tenant_id!r}{' closed' if self.closed else ''}>"


class AsyncRun:
    """One run of an AsyncHost (or of an AsyncTenantView, in its scope): ``Run``'s calls, each
    a coroutine, and ``events()``, an async iterator."""

    def __init__(self, calls: _AsyncRunCalls, run: Run) -> None:
        self._calls = calls
        self._run = run
        self.dispatched: RunInfo = run.dispatched
        """The run's record as of dispatch (or lookup); ``await info()`` reads it again."""

    @property
    def id(self) -> str:
        return self._run.id

    @property
    def created(self) -> bool:
        """True when this dispatch started the run; False when its idempotency key named a run
        that already existed."""
        return self._run.created

    @property
    def host(self) -> "Union[AsyncHost, AsyncTenantView]":
        """Where the run came from: the AsyncHost, or the AsyncTenantView it was got through."""
        calls = self._calls
        assert isinstance(calls, (AsyncHost, AsyncTenantView))
        return calls

    async def info(self) -> RunInfo:
        """The run's record, read from the store now (its ``status``, ``last_seq``...)."""
        return await self._calls._engine.call(self._run.info)

    def events(self, after: int = 0) -> AsyncEventStream:
        """``async for ev in run.events()``: the run's events with seq > ``after``, stored then
        live, in order, ending after the terminal event (``Run.events``' semantics).

        Holds no thread while it waits; a cancelled ``__anext__`` loses nothing. A missing run
        raises ``RunNotFoundError`` at the first ``__anext__``.
        """
        after = _check_after(after)
        sync = self._run._host
        return AsyncEventStream._off_loop(
            self.id, after, functools.partial(sync._stream, self.id, after), self._calls._engine.executor)

    async def wait(self, timeout: Optional[float] = None, *, check: bool = False) -> RunInfo:
        """Waits until the run has ended and returns its final record (``Run.wait``):
        ``TimeoutError`` after ``timeout`` seconds (the run goes on); ``check=True`` raises the
        run's typed error unless it succeeded."""

        async def open_stream() -> AsyncEventStream:
            # The terminal event is the run's newest once it has one: start just before it.
            info = await self.info()
            return self.events(after=max(0, info.last_seq - 1))

        terminal = await wait_for_terminal(self.id, open_stream, timeout)
        if check and terminal is not None:
            failure = _failure(self.id, terminal)
            if failure is not None:
                raise failure
        return await self.info()

    async def cancel(self) -> None:
        """Asks the run to stop; it ends with ``run.cancelled``."""
        await self._calls.cancel(self.id)

    async def resolve_approval(
        self,
        approval_id: str,
        *,
        decision: Decision,
        scope: ApprovalScope = "once",
        reason: Optional[str] = None,
        by: Optional[str] = None,
    ) -> None:
        """Answers the run's pending ``approval.required`` with ``approval_id`` (``reason`` and
        ``by``, who answers, recorded in ``approval.resolved``)."""
        await self._calls.resolve_approval(self.id, approval_id, decision=decision, scope=scope, reason=reason, by=by)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncRun) and other._run == self._run

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<runhost.AsyncRun {self.id}>"
