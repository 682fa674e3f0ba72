"""Coalesce the frames one socket gets within one turn of the event loop into one message.

A busy room sends every member a frame per event, and each WebSocket message costs the server a
write (and the client a wake-up) however small it is. Cloudflare's guidance for Durable Objects
is to batch such traffic, 10-100 messages per frame, and that is what this does, without a
timer: frames for a socket that asked for batches (``hello.batch: true``, docs/protocol.md) wait
until the current turn of the event loop is over (``loop.call_soon``, as ``queueMicrotask`` would
in JavaScript) and then go out as one ``{"type":"batch","frames":[...]}`` message. An idle room
adds no latency (a lone frame goes out unwrapped, one tick later); a busy room sends one message
per socket per tick, however many events the tick handled.

Order is kept per socket: once a socket batches, every frame for it must go through
:meth:`FrameBatcher.send` (and :meth:`flush_socket` before closing it). The flush runs in the
context of the event that scheduled it, so the Durable Object's output gate still holds the
frames until every write made before them is durable.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["MAX_BATCH_CHARS", "FrameBatcher", "batch_messages"]

#: A batch grows to at most this many characters (up to four times as many UTF-8 bytes); a larger
#: frame goes out on its own.
MAX_BATCH_CHARS = 64 * 1024
_OPEN = '{"type":"batch","frames":['
_CLOSE = "]}"


def batch_messages(frames: list[str], limit: int = MAX_BATCH_CHARS) -> list[str]:
    """The WebSocket messages that carry ``frames`` (encoded JSON objects), in order.

    One frame is sent as it is; consecutive frames are wrapped in ``batch`` messages of at most
    ``limit`` characters each (a frame over the limit travels alone, unwrapped).
    """
    if len(frames) == 1:
        return frames
    messages: list[str] = []
    group: list[str] = []
    size = len(_OPEN) + len(_CLOSE)
    for frame in frames:
        if group and size + len(frame) + 1 > limit:
            messages.append(_wrap(group))
            group, size = [], len(_OPEN) + len(_CLOSE)
        group.append(frame)
        size += len(frame) + 1
    messages.append(_wrap(group))
    return messages


def _wrap(group: list[str]) -> str:
    if len(group) == 1:
        return group[0]
    return _OPEN + ",".join(group) + _CLOSE


class FrameBatcher:
    """Per-socket queues of encoded frames, flushed together once per turn of the event loop."""

    def __init__(self) -> None:
        self._batching: set[Any] = set()
        self._pending: dict[Any, list[str]] = {}
        self._scheduled = False

    def enable(self, ws: Any) -> None:
        """From now on ``ws`` gets its frames in batches."""
        self._batching.add(ws)

    def forget(self, ws: Any) -> None:
        """``ws`` is gone: drop whatever was still waiting for it."""
        self._batching.discard(ws)
        self._pending.pop(ws, None)

    def send(self, ws: Any, frame: str) -> None:
        """Send ``frame`` to ``ws``: now if it does not batch, else with the others at the tick's end."""
        if ws not in self._batching:
            ws.send(frame)
            return
        pending = self._pending.get(ws)
        if pending is not None:
            pending.append(frame)
            return
        self._pending[ws] = [frame]
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Send every socket what is waiting for it."""
        self._scheduled = False
        pending, self._pending = self._pending, {}
        for ws, frames in pending.items():
            _send_all(ws, frames)

    def flush_socket(self, ws: Any) -> None:
        """Send ``ws`` what is waiting for it now (before a close, which must come last)."""
        frames = self._pending.pop(ws, None)
        if frames:
            _send_all(ws, frames)


def _send_all(ws: Any, frames: list[str]) -> None:
    try:
        for message in batch_messages(frames):
            ws.send(message)
    except Exception:  # closed since: the room hears of it through its close event
        return
