"""Iterating a run's events: blocking (``EventStream``, in C++) and asyncio (``AsyncEventStream``).

Both read the store from a cursor and wait, when caught up, for the host's reactor to report
new events. Neither holds a thread: the blocking one waits on a condition variable with the
GIL released, the asyncio one on an eventfd registered with the loop (``loop.add_reader``).

An asyncio stream of a sync Host's run (``run.aevents()``) reads the store on the loop's thread,
a batch at a time. One of an AsyncHost's run (``run.events()``) is given the AsyncHost's
executor and does every call that may touch the store there (opening, each read, closing), so
that the loop never waits on SQLite; the wait itself stays on the eventfd.
"""
from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import Executor
from types import TracebackType
from typing import Any, Awaitable, Callable, Deque, List, Optional, Tuple, Type

from ._native._core import EventStream
from ._types import TERMINAL_EVENT_TYPES, Event
from .errors import StreamConsumedError

# Events decoded per read in asyncio: the loop is not held longer than this many json.loads.
_BATCH = 64


def _wake(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


class AsyncEventStream:
    """``async for ev in run.aevents()``: a run's events from a cursor to its terminal event.

    Reads the store on the event loop's thread in small batches (the store is local: a batch
    costs well under a millisecond) and awaits an eventfd while caught up. Safe to cancel: a
    cancelled ``__anext__`` loses nothing, and the next call goes on from the same place.
    One task at a time may iterate a stream.
    """

    def __init__(self, stream: EventStream) -> None:
        self._stream: Optional[EventStream] = stream
        self._run_id = stream.run_id
        self._after = stream.cursor
        self._open: Optional[Callable[[], EventStream]] = None
        self._executor: Optional[Executor] = None
        # The call running in the executor, kept when the task awaiting it is cancelled: the
        # next __anext__ takes its result, so a cancelled wait loses no event it had read.
        self._pending: "Optional[asyncio.Future[Any]]" = None
        # While caught up: (loop, eventfd, the future it wakes), so that aclose() can end the wait.
        self._waiting: "Optional[Tuple[asyncio.AbstractEventLoop, int, asyncio.Future[None]]]" = None
        self._batch: Deque[Event] = deque()
        self._ended = False
        self._running = False

    @classmethod
    def _off_loop(cls, run_id: str, after: int, open: Callable[[], EventStream], executor: Executor) -> "AsyncEventStream":
        """A stream that opens (on first ``__anext__``), reads and closes in ``executor``."""
        self = cls.__new__(cls)
        self._stream = None
        self._run_id = run_id
        self._after = after
        self._open = open
        self._executor = executor
        self._pending = None
        self._waiting = None
        self._batch = deque()
        self._ended = False
        self._running = False
        return self

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def cursor(self) -> int:
        """The seq of the last event this stream returned (events are returned in seq order)."""
        if self._batch:
            return self._batch[0]["seq"] - 1
        return self._stream.cursor if self._stream is not None else self._after

    async def _call(self, loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> Any:
        if self._executor is None:
            return fn(*args)
        if self._pending is None:
            self._pending = loop.run_in_executor(self._executor, fn, *args)
        pending = self._pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending = None

    async def _core(self, loop: asyncio.AbstractEventLoop) -> EventStream:
        if self._stream is None:
            assert self._open is not None
            self._stream = await self._call(loop, self._open)
        return self._stream

    def __aiter__(self) -> "AsyncEventStream":
        if self._ended:
            raise StreamConsumedError(
                f"this AsyncEventStream of run {self.run_id} has ended; call run.aevents() again for a new "
                "stream (it replays from the start, or from after=SEQ)"
            )
        return self

    async def __anext__(self) -> Event:
        if self._batch:
            return self._batch.popleft()
        if self._running:
            raise RuntimeError("this AsyncEventStream is already being iterated by another task")
        self._running = True
        try:
            loop = asyncio.get_running_loop()
            stream = await self._core(loop)
            while True:
                got: Optional[List[Event]] = await self._call(loop, stream._take, _BATCH)
                if got is None or self._stream is None:  # the end, or aclose() meanwhile
                    self._ended = True
                    raise StopAsyncIteration
                if got:
                    self._batch.extend(got)
                    return self._batch.popleft()
                await self._readable(loop)
                if self._stream is None:
                    raise StopAsyncIteration
        finally:
            self._running = False

    async def _readable(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._stream is not None
        fd = self._stream.fileno()
        future: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _wake, future)
        self._waiting = (loop, fd, future)
        try:
            await future
        finally:
            self._stop_waiting()

    def _stop_waiting(self) -> None:
        # Before the eventfd is closed: a closed fd's number may be reused at once.
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            loop, fd, future = waiting
            loop.remove_reader(fd)
            _wake(future)

    async def aclose(self) -> None:
        """Stops following the run (also done when the stream is garbage-collected).

        Called from another task while one iterates the stream, it ends that iteration: the
        waiting ``__anext__`` raises ``StopAsyncIteration`` (as ``close()`` from another thread
        ends a blocking iteration). A server uses this to let go of its clients' streams when it
        shuts down."""
        self._batch.clear()
        self._ended = True
        self._stop_waiting()
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._after = stream.cursor
        if self._executor is None:
            stream.close()
            return
        # Closing drops the subscription, which may wait briefly for the reactor: off the loop,
        # and completed even if the task closing it is cancelled meanwhile.
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(self._executor, stream.close))

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<runhost.AsyncEventStream run_id={self.run_id} cursor={self.cursor}{' ended' if self._ended else ''}>"


async def wait_for_terminal(
    run_id: str, open_stream: Callable[[], Awaitable[AsyncEventStream]], timeout: Optional[float]
) -> Optional[Event]:
    """The run's terminal event, read from the stream ``open_stream`` gives (started near the
    run's end by the caller); ``TimeoutError`` after ``timeout`` seconds (the run goes on)."""

    async def last() -> Optional[Event]:
        terminal: Optional[Event] = None
        async with await open_stream() as stream:
            async for ev in stream:
                if ev["type"] in TERMINAL_EVENT_TYPES:
                    terminal = ev
        return terminal

    try:
        return await asyncio.wait_for(last(), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"run {run_id} did not end within {timeout} s") from None
