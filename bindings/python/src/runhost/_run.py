"""Run: a handle on one run of a Host."""
from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any, Optional, Union, cast

from ._native._core import EventStream
from ._streams import AsyncEventStream, wait_for_terminal
from ._types import TERMINAL_EVENT_TYPES, ApprovalScope, Decision, Event, RunInfo, RunStatus
from .errors import RunhostError, error_class, from_error

if TYPE_CHECKING:
    from ._host import Host, TenantView, _RunCalls


def _check_after(after: object) -> int:
    if isinstance(after, bool) or not isinstance(after, int):
        raise TypeError(f"after must be an int (a seq), not {type(after).__name__}")
    if after < 0:
        raise ValueError(f"after must be >= 0, not {after}")
    return after


def _failure(run_id: str, terminal: Event) -> Optional[RunhostError]:
    """The exception a terminal event stands for: None for run.completed."""
    payload = terminal["payload"]
    if terminal["type"] == "run.failed":
        error = payload.get("error")
        return from_error(error if isinstance(error, dict) else {}, run_id=run_id)
    if terminal["type"] == "run.cancelled":
        reason = payload.get("reason") or "cancelled"
        return error_class("cancelled")(f"run {run_id} was cancelled: {reason}", run_id=run_id)
    return None


class Run:
    """One run: its id, its live status, its events.

    Returned by ``Host.dispatch`` (``created`` is False when the idempotency key named an
    existing run: nothing new was started) and ``Host.run``. Cheap: it holds only the id. A run
    got from a ``TenantView`` acts in that tenant's scope.
    """

    def __init__(self, host: "_RunCalls", info: RunInfo, created: bool = False) -> None:
        self._host = host
        self._id = info.id
        self._created = created
        self.dispatched = info
        """The run's record as of dispatch (or lookup); ``info()`` reads it again."""

    @property
    def id(self) -> str:
        return self._id

    @property
    def created(self) -> bool:
        """True when this dispatch started the run; False when its idempotency key named a run
        that already existed."""
        return self._created

    @property
    def host(self) -> "Union[Host, TenantView]":
        """Where the run came from: the Host, or the TenantView it was got through."""
        return cast("Union[Host, TenantView]", self._host)  # _RunCalls has these two subclasses

    @property
    def status(self) -> RunStatus:
        """The run's status now: queued, running, succeeded, failed or cancelled (read from the store)."""
        return self.info().status

    def info(self) -> RunInfo:
        """The run's record, read from the store now. Runs are never deleted: only a store
        swapped underneath raises ``RunNotFoundError`` (a ``LookupError``) here."""
        return self._host._info(self._id)

    def events(self, after: int = 0) -> EventStream:
        """The run's events with seq > ``after``, stored then live, in order, ending after the
        terminal event (``run.completed``, ``run.failed`` or ``run.cancelled``).

        Blocking: ``for ev in run.events()`` waits for new events with the GIL released, and a
        Ctrl-C (KeyboardInterrupt) stops the wait within about 50 ms without losing anything:
        iterate the same stream again to go on. Each call gives a new, independent stream (a
        replay from ``after``); a stream that has ended raises ``StreamConsumedError`` if
        iterated again. A failed run is not an exception here: its ``run.failed`` event carries
        the error (see ``wait(check=True)``).
        """
        return self._host._stream(self._id, _check_after(after))

    def aevents(self, after: int = 0) -> AsyncEventStream:
        """``async for ev in run.aevents()``: as ``events()``, for asyncio, with no thread per run."""
        return AsyncEventStream(self._host._stream(self._id, _check_after(after)))

    def cancel(self) -> None:
        """Asks the run to stop; it ends with ``run.cancelled``. A finished run is left as it is."""
        self._host.cancel(self._id)

    def resolve_approval(
        self,
        approval_id: str,
        *args: Any,
        decision: Optional[Decision] = None,
        scope: ApprovalScope = "once",
        reason: Optional[str] = None,
        by: Optional[str] = None,
        **legacy: Any,
    ) -> None:
        """Answers the run's pending ``approval.required`` with ``approval_id``:
        ``decision="allow"`` or ``"deny"``, ``reason`` and ``by`` optional (see
        ``Host.resolve_approval``). The 0.1 form, a positional ``allow`` bool, still works, with a
        DeprecationWarning."""
        from ._host import _approval_args  # _host imports this module

        answer = _approval_args(args, legacy, decision, scope, reason, by)  # warns at the caller's line
        self._host.resolve_approval(self._id, approval_id, decision="allow" if answer.allow else "deny",
                                    scope=answer.scope, reason=answer.reason, by=answer.by or None)

    def _wait_from(self) -> int:
        # The terminal event is the run's newest once it has one: start just before it.
        return max(0, self.info().last_seq - 1)

    def wait(self, timeout: Optional[float] = None, *, check: bool = False) -> RunInfo:
        """Blocks until the run has ended and returns its final record.

        ``timeout`` (seconds): raise ``TimeoutError`` if it has not ended by then (the run goes
        on). ``check=True``: a run that did not succeed raises its typed error instead
        (``run.failed`` -> the RunhostError subclass of its code; ``run.cancelled`` ->
        ``RunhostCancelledError``), like ``subprocess.run(check=True)``. The GIL is released while waiting;
        Ctrl-C interrupts it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        terminal: Optional[Event] = None
        with self.events(after=self._wait_from()) as stream:
            while terminal is None:
                left = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    ev = stream._next(left)
                except StopIteration:
                    break
                if ev is None:
                    raise TimeoutError(f"run {self._id} did not end within {timeout} s")
                if ev["type"] in TERMINAL_EVENT_TYPES:
                    terminal = ev
        return self._finished(terminal, check)

    async def await_(self, timeout: Optional[float] = None, *, check: bool = False) -> RunInfo:
        """``await run.await_()``: ``wait()`` for asyncio (``TimeoutError`` after ``timeout``).

        The sync Host's runs name their asyncio helpers with an ``a`` prefix, as the standard
        library does (``aiter``, ``anext``, ``aclose``): ``aevents()`` and ``await_()`` (a+wait,
        with PEP 8's trailing underscore since ``await`` is a keyword). Code that is asyncio
        throughout is better served by ``runhost.AsyncHost``, whose runs have ``events()`` and
        ``wait()`` themselves.
        """

        async def open_stream() -> AsyncEventStream:
            return self.aevents(after=self._wait_from())

        return self._finished(await wait_for_terminal(self._id, open_stream, timeout), check)

    async def wait_async(self, timeout: Optional[float] = None, *, check: bool = False) -> RunInfo:
        """Deprecated (0.1's name): ``await_()``."""
        warnings.warn("Run.wait_async() is deprecated: use await run.await_() (or runhost.AsyncHost)",
                      DeprecationWarning, stacklevel=2)
        return await self.await_(timeout, check=check)

    def _finished(self, terminal: Optional[Event], check: bool) -> RunInfo:
        if check and terminal is not None:
            failure = _failure(self._id, terminal)
            if failure is not None:
                raise failure
        return self.info()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other._id == self._id and other._host._core is self._host._core

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"<runhost.Run {self._id}>"
