"""``FrameBatcher``: one message per socket per tick, in order, and still behind the output gate."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.rooms.frame_batcher import MAX_BATCH_CHARS, FrameBatcher, batch_messages
from primitives.clock import FakeClock
from primitives.durable_objects import DurableObject, DurableObjectNamespace
from primitives.http import Request, Response
from primitives.websocket import MessageEvent, WebSocket, WebSocketPair
from tests.primitives.durable_objects.conftest import HeldSyncBackend


def frame(n: int, size: int = 0) -> str:
    return json.dumps({"type": "chat.message", "seq": n, "text": "x" * size})


def unwrap(messages: list[str]) -> list[str]:
    frames: list[str] = []
    for message in messages:
        data = json.loads(message)
        inner = data["frames"] if data["type"] == "batch" else [data]
        frames.extend(json.dumps(f) for f in inner)
    return frames


def test_one_frame_travels_as_it_is_and_several_as_one_batch() -> None:
    assert batch_messages([frame(1)]) == [frame(1)]
    [message] = batch_messages([frame(1), frame(2)])
    assert json.loads(message) == {
        "type": "batch",
        "frames": [json.loads(frame(n)) for n in (1, 2)],
    }


def test_batches_are_split_at_the_size_limit_and_keep_order() -> None:
    frames = [frame(n, size=20_000) for n in range(10)]
    messages = batch_messages(frames)
    assert len(messages) > 1 and all(len(m) <= MAX_BATCH_CHARS for m in messages)
    assert unwrap(messages) == frames


def test_a_frame_over_the_limit_goes_alone_between_batches() -> None:
    big = frame(2, size=MAX_BATCH_CHARS)
    messages = batch_messages([frame(1), big, frame(3)])
    assert messages == [frame(1), big, frame(3)]


class FakeSocket:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def send(self, message: str) -> None:
        if self.fail:
            raise RuntimeError("closed")
        self.sent.append(message)


async def test_frames_of_one_tick_go_out_together_at_its_end() -> None:
    batcher, plain, batching = FrameBatcher(), FakeSocket(), FakeSocket()
    batcher.enable(batching)
    for n in range(3):
        batcher.send(plain, frame(n))
        batcher.send(batching, frame(n))
    assert plain.sent == [frame(0), frame(1), frame(2)]  # not batching: sent at once
    assert batching.sent == []
    await asyncio.sleep(0)
    assert batching.sent == batch_messages([frame(0), frame(1), frame(2)])
    batcher.send(batching, frame(3))
    await asyncio.sleep(0)
    assert batching.sent[-1] == frame(3)  # the next tick: a lone frame, unwrapped


async def test_flush_socket_sends_now_and_forget_drops() -> None:
    batcher, kept, dropped, broken = FrameBatcher(), FakeSocket(), FakeSocket(), FakeSocket(True)
    for ws in (kept, dropped, broken):
        batcher.enable(ws)
        batcher.send(ws, frame(1))
    batcher.flush_socket(kept)
    assert kept.sent == [frame(1)]
    batcher.forget(dropped)
    await asyncio.sleep(0)  # the broken socket's error stays inside the flush
    assert kept.sent == [frame(1)] and dropped.sent == []
    batcher.send(dropped, frame(2))  # forgotten: it no longer batches
    assert dropped.sent == [frame(2)]


class Room(DurableObject):
    """Stores each message, then answers it through a batcher."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.out = FrameBatcher()

    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server)
        self.out.enable(server)
        return Response(None, status=101, web_socket=client)

    def webSocketMessage(self, ws: WebSocket, message: str) -> None:
        count = int(self.ctx.storage.kv.get("count") or 0) + 1
        self.ctx.storage.kv.put("count", count)
        self.out.send(ws, json.dumps({"type": "ack", "n": count}))
        self.out.send(ws, json.dumps({"type": "echo", "text": message}))


async def test_a_batch_is_held_by_the_output_gate_until_its_writes_are_durable(
    fake_clock: FakeClock,
) -> None:
    backend = HeldSyncBackend()
    ns = DurableObjectNamespace(backend, object_class=Room, env=None, clock=fake_clock)
    try:
        await _answered_once_durable(ns, backend)
    finally:
        backend.release.set()  # a failed assertion must not leave the close waiting for a sync
        await ns.aclose()


async def _answered_once_durable(ns: DurableObjectNamespace, backend: HeldSyncBackend) -> None:
    stub = ns.getByName("r")
    client = (await stub.fetch("https://do/ws")).webSocket
    assert isinstance(client, WebSocket)
    received: list[str | bytes] = []
    client._attach_transport(
        lambda ws, event: received.append(event.data) if isinstance(event, MessageEvent) else None
    )
    result = client._transmit(MessageEvent("hi"))
    if result is not None:
        await asyncio.wait_for(result, 1)
    for _ in range(20):
        await asyncio.sleep(0)
    assert received == []  # flushed at the tick's end, and held: the write is not durable yet
    backend.release.set()
    for _ in range(50):
        await asyncio.sleep(0)
        if received:
            break
    assert [json.loads(m) for m in received] == [
        {"type": "batch", "frames": [{"type": "ack", "n": 1}, {"type": "echo", "text": "hi"}]}
    ]
