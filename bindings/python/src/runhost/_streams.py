"""Iterating a run's events: blocking (``EventStream``, in C++) and asyncio (``AsyncEventStream``).

Both read the store from a cursor and wait, when caught up, for the host's reactor to report
new events. Neither holds a thread: the blocking one waits on a condition variable with the
GIL released, the asyncio one on an eventfd registered with the loop (``loop.add_reader``).
"""
from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Deque, Optional, Type

from ._native._core import EventStream
from ._types import Event
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
        self._stream = stream
        self._batch: Deque[Event] = deque()
        self._ended = False
        self._running = False

    @property
    def run_id(self) -> str:
        return self._stream.run_id

    @property
    def cursor(self) -> int:
        """The seq of the last event this stream returned (events are returned in seq order)."""
        if self._batch:
            return self._batch[0]["seq"] - 1
        return self._stream.cursor

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
            while True:
                got = self._stream._take(_BATCH)
                if got is None:
                    self._ended = True
                    raise StopAsyncIteration
                if got:
                    self._batch.extend(got)
                    return self._batch.popleft()
                await self._readable(loop)
        finally:
            self._running = False

    async def _readable(self, loop: asyncio.AbstractEventLoop) -> None:
        fd = self._stream.fileno()
        future: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _wake, future)
        try:
            await future
        finally:
            loop.remove_reader(fd)

    async def aclose(self) -> None:
        """Stops following the run (also done when the stream is garbage-collected)."""
        self._batch.clear()
        self._ended = True
        self._stream.close()

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
