"""``ConnectionThread``: one thread that owns one ``sqlite3`` connection and runs calls on it.

A call is handed over through a ``SimpleQueue`` and its result comes back with one
``call_soon_threadsafe``: one thread hop each way, which is what makes a query cheap (the
general-purpose ``run_in_executor`` costs about a third more per call). The connection is
opened on the thread by the first call and closed by :meth:`ConnectionThread.stop`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["ConnectionThread"]

T = TypeVar("T")
_STOP = object()


class ConnectionThread:
    """Runs ``fn(connection)`` calls one at a time on a dedicated thread."""

    def __init__(self, name: str, opener: Callable[[], sqlite3.Connection]) -> None:
        self.name = name
        self._opener = opener
        self._queue: SimpleQueue[Any] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: calls queued or running (read and written on the event loop's thread only)
        self.in_flight = 0
        #: the connection once the thread has opened it; while ``in_flight`` is 0 the thread is
        #: not using it, so the loop may (``primitives.d1.backends._inline``)
        self.connection: sqlite3.Connection | None = None

    def _main(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            loop, future, fn = self._queue.get()
            if fn is _STOP:
                self.connection = None
                if conn is not None:
                    conn.close()
                loop.call_soon_threadsafe(self._resolve, future, True, None)
                return
            try:
                if conn is None:
                    conn = self.connection = self._opener()
                result, ok = fn(conn), True
            except BaseException as exc:  # handed to the awaiting task, never lost
                result, ok = exc, False
            loop.call_soon_threadsafe(self._resolve, future, ok, result)

    def _resolve(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self.in_flight -= 1
        if future.done():
            return  # the caller was cancelled; the work itself has already happened
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn(connection)``; the future gets its result (or its error)."""
        if self._stopped:
            raise RuntimeError(f"{self.name} is stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.in_flight += 1
        self._queue.put((loop, future, fn))
        return future

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the thread and return its result (or raise its error)."""
        return await self.submit(fn)

    async def stop(self) -> None:
        """Finish queued calls, close the connection and end the thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is None:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self.in_flight += 1
        self._queue.put((loop, future, _STOP))
        await future
        await asyncio.to_thread(self._thread.join)
