"""Writing a staged value to its file for :class:`~primitives.r2.backends.file.FileR2Backend`.

A :class:`StagingWriter` writes the chunks it is given, in order, on a thread of its own, and lets
the producer run up to ``ahead_bytes`` ahead of the disk. The producer (the binding's hashing, the
caller's stream) is then held up only when the disk is the slower side, and a put takes about
max(hash time, write time) instead of their sum. Every ``sync_bytes`` the thread also
``fdatasync``s what it has written, so the disk works while the producer goes on and the final
``fsync`` has little left to do.

The thread alone touches the file. A write that fails stops the ones queued after it (no holes),
and its error surfaces -- an ``OSError`` as a ``BackendError`` -- from the next :meth:`write` or
from :meth:`finish`. :meth:`abort` closes the file and removes it once the thread is done with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections import deque
from pathlib import Path
from typing import Any

from ...errors import BackendError

__all__ = ["StagingWriter", "write_all"]


def write_all(handle: Any, data: Any) -> None:
    """Write all of ``data`` (a raw file's ``write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        view = view[written:]


class StagingWriter:
    """Writes one staging file on its own thread, up to ``ahead_bytes`` behind the producer."""

    def __init__(self, path: Path, *, ahead_bytes: int, sync_bytes: int) -> None:
        self._path = path
        self._ahead_bytes = ahead_bytes
        self._sync_bytes = sync_bytes
        self._thread = concurrent.futures.ThreadPoolExecutor(1, "r2-stage")
        self._pending: deque[tuple[asyncio.Future[None], int]] = deque()
        self._queued = 0  # bytes handed to the thread and not yet written
        self._unsynced = 0
        self._stopped = False  # set by a failed write or by abort(): later jobs do nothing
        self._handle: Any = None  # opened, written and closed on the thread only

    # -- event loop side ------------------------------------------------------------------------
    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` (which must not change afterwards); wait while too much is queued."""
        self._unsynced += len(data)
        sync = self._unsynced >= self._sync_bytes
        if sync:
            self._unsynced = 0
        job = asyncio.get_running_loop().run_in_executor(self._thread, self._write, data, sync)
        self._pending.append((job, len(data)))
        self._queued += len(data)
        while self._pending and (self._queued > self._ahead_bytes or self._pending[0][0].done()):
            await self._settle_oldest()

    async def finish(self) -> None:
        """Wait for every write, then fsync and close the file (it stays in place)."""
        job = asyncio.get_running_loop().run_in_executor(self._thread, self._finish)
        self._pending.append((job, 0))
        while self._pending:
            await self._settle_oldest()
        self._thread.shutdown(wait=False)

    async def abort(self) -> None:
        """Stop writing, close the file and remove it, once the thread is done with it.

        The removal is queued behind the thread's jobs, so it happens even if this is cancelled.
        """
        self._stopped = True
        jobs = [job for job, _ in self._pending]
        self._pending.clear()
        self._queued = 0
        discard = asyncio.wrap_future(self._thread.submit(self._discard))
        self._thread.shutdown(wait=False)
        await asyncio.gather(*jobs, discard, return_exceptions=True)

    async def _settle_oldest(self) -> None:
        job, size = self._pending[0]
        try:
            await job  # a job that fails stays queued: abort() collects it
        except OSError as exc:
            raise BackendError(f"cannot write R2 staging file {self._path}: {exc}") from exc
        self._pending.popleft()
        self._queued -= size

    # -- writer thread --------------------------------------------------------------------------
    def _write(self, data: Any, sync: bool) -> None:
        if self._stopped:
            return
        try:
            if self._handle is None:
                self._handle = open(self._path, "wb", buffering=0)  # noqa: SIM115 -- closed in _finish/_close
            write_all(self._handle, data)
            if sync:
                os.fdatasync(self._handle.fileno())
        except BaseException:
            self._stopped = True
            raise

    def _finish(self) -> None:
        if self._stopped:
            raise RuntimeError("finish() after a failed write or abort()")
        if self._handle is None:
            self._handle = open(self._path, "wb", buffering=0)  # noqa: SIM115 -- closed below
        os.fsync(self._handle.fileno())
        self._close()

    def _close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def _discard(self) -> None:
        try:
            self._close()
        finally:
            self._path.unlink(missing_ok=True)
