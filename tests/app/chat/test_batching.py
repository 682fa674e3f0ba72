"""``hello.batch``: a client may take the frames of one tick as one ``batch`` message."""

from __future__ import annotations

import asyncio

from app.rooms.limits import MAX_REFUSALS
from primitives.env import Env
from tests.app.chat.conftest import Socket, sign_up
from tests.app.chat.test_rooms import PRESENCE_BATCH_S, drain_outbox


async def batching_ann_and_plain_bob(env: Env) -> tuple[Socket, Socket]:
    """Two joined sockets, ann's with ``hello.batch``, with everything so far received and cleared."""
    ann, bob = await sign_up(env, "ann"), await sign_up(env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello(batch=True)
    await b.hello()
    env.clock.advance(PRESENCE_BATCH_S)
    for socket in (a, b):
        await socket.quiet()
        socket.messages.clear()
    return a, b


async def test_a_batching_sender_gets_its_ack_and_its_message_as_one_batch(chat_env: Env) -> None:
    a, b = await batching_ann_and_plain_bob(chat_env)
    a.send(type="chat.send", nonce="m1", text="hello")
    ack, message = await a.recv(), await a.recv()
    assert (ack["type"], ack["nonce"], ack["seq"]) == ("chat.ack", "m1", 1)
    assert (message["type"], message["seq"], message["text"]) == ("chat.message", 1, "hello")
    assert a.messages == [{"type": "batch", "frames": [ack, message]}]
    assert await b.recv() == message  # a client that did not ask gets plain frames
    assert b.messages == [message]


async def test_a_lone_frame_is_not_wrapped(chat_env: Env) -> None:
    a, b = await batching_ann_and_plain_bob(chat_env)
    b.send(type="chat.send", nonce="b1", text="hi ann")
    message = await a.recv("chat.message")
    assert a.messages == [message]


async def test_frames_waiting_for_a_socket_go_out_before_its_close(chat_env: Env) -> None:
    """The refusals a flooding client earned all reach it, then the 1008 close."""
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello(batch=True)
    for i in range(10 + MAX_REFUSALS + 1):
        a.send(type="chat.send", nonce=f"f{i}", text="spam")
    assert await asyncio.wait_for(a.closed, 5) == (1008, "too many messages")
    frames = [a.frames.get_nowait() for _ in range(a.frames.qsize())]
    refusals = [f["nonce"] for f in frames if f["type"] == "error"]
    assert refusals == [f"f{i}" for i in range(10, 10 + MAX_REFUSALS + 1)]
    assert [f["seq"] for f in frames if f["type"] == "chat.ack"] == list(range(1, 11))


async def test_batching_survives_hibernation(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello(batch=True)
    a.send(type="chat.send", nonce="m1", text="before sleep")
    await a.recv("chat.message")
    await drain_outbox(chat_env)
    chat_env.clock.advance(30)
    await chat_env.clock.settle(50)
    await asyncio.sleep(0.05)
    assert chat_env.ROOMS.live_instances == 0
    a.messages.clear()
    a.send(type="chat.send", nonce="m2", text="after waking")
    await a.recv("chat.message")
    assert [m["type"] for m in a.messages] == ["batch"]
    assert [f["type"] for f in a.messages[0]["frames"]] == ["chat.ack", "chat.message"]


async def test_hello_batch_must_be_a_boolean(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    a.send(type="hello", batch="yes")
    error = await a.recv("error")
    assert (error["code"], error["message"]) == (
        "bad_message",
        "hello: 'batch' must be true or false",
    )
