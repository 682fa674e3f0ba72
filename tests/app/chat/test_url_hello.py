"""``?hello=`` on the upgrade: the welcome follows the 101 without a hello frame (one round trip less)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from app.chat.protocol import MAX_HELLO_PARAM_CHARS
from primitives.env import Env
from tests.app.chat.conftest import sign_up
from tests.app.chat.test_rooms import PRESENCE_BATCH_S


def hello_query(**fields: Any) -> str:
    return "?hello=" + quote(json.dumps(fields))


async def test_the_welcome_comes_without_a_hello_frame(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a = await ann.connect("lobby")
    await a.hello()
    b = await bob.connect("lobby", query=hello_query(device="phone", batch=True))
    welcome = await b.recv("welcome")  # bob sent nothing
    assert welcome["you"]["device"] == "phone"
    assert "ann" in {entry["name"] for entry in welcome["roster"]}
    chat_env.clock.advance(PRESENCE_BATCH_S)
    joined = await a.recv("presence.join")
    assert joined["name"] == "bob"
    a.send(type="chat.send", nonce="m1", text="hi bob")
    assert (await b.recv("chat.message"))["text"] == "hi bob"


async def test_a_resume_point_in_the_url_recovers_exactly_the_missed_events(
    chat_env: Env,
) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello()
    welcome = await b.hello()
    b.close()
    for i in range(1, 4):
        a.send(type="chat.send", nonce=f"m{i}", text=f"msg {i}")
        await a.recv("chat.ack")
    back = await bob.connect(
        "lobby", query=hello_query(resume={"epoch": welcome["epoch"], "seq": 1})
    )
    recovered = await back.recv("welcome")
    assert recovered["recovered"] is True
    assert [e["seq"] for e in recovered["events"]] == [2, 3]


async def test_a_hello_frame_after_a_url_hello_is_refused(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby", query=hello_query())
    await a.recv("welcome")
    a.send(type="hello")
    error = await a.recv("error")
    assert error["message"] == "hello was already received; send resume to catch up"


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("?hello=" + quote("{not json"), "bad_json", "the hello parameter is not valid JSON"),
        ("?hello=" + quote("[1]"), "bad_message", "the hello parameter must be a JSON object"),
        (
            hello_query(type="chat.send"),
            "bad_message",
            "the hello parameter's type must be 'hello'",
        ),
        (hello_query(batch="yes"), "bad_message", "hello: 'batch' must be true or false"),
        (
            hello_query(device="x" * MAX_HELLO_PARAM_CHARS),
            "too_long",
            f"the hello parameter is longer than {MAX_HELLO_PARAM_CHARS} characters",
        ),
    ],
)
async def test_a_bad_hello_parameter_refuses_the_upgrade_with_a_clear_error(
    chat_env: Env, query: str, code: str, message: str
) -> None:
    ann = await sign_up(chat_env, "ann")
    response = await ann.upgrade("lobby", query=query)
    assert response.status == 400
    assert json.loads(await response.text()) == {"error": {"code": code, "message": message}}
    assert response.webSocket is None


async def test_json_whitespace_in_the_hello_is_fine_and_reaches_the_room_re_encoded(
    chat_env: Env,
) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby", query="?hello=" + quote('{"device": "a",\n\t"batch": true}'))
    welcome = await a.recv("welcome")
    assert welcome["you"]["device"] == "a"


async def test_a_refused_hello_is_refused_before_the_upgrade_makes_you_a_member(
    chat_env: Env,
) -> None:
    ann = await sign_up(chat_env, "ann")
    response = await ann.upgrade("lobby", query="?hello=%00")
    assert response.status == 400
    assert json.loads(await response.text())["error"]["code"] == "bad_json"
    count = await chat_env.DB.prepare("SELECT COUNT(*) AS n FROM memberships").first("n")
    assert count == 0


async def test_a_room_that_fails_while_welcoming_keeps_no_ghost(
    chat_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a = await ann.connect("lobby", query=hello_query())
    await a.recv("welcome")
    from app.rooms.chat_room import ChatRoom

    real = ChatRoom._hello

    async def failing(self: Any, ws: Any, info: Any, message: Any) -> None:
        await real(self, ws, info, message)
        raise RuntimeError("storage went away")

    monkeypatch.setattr(ChatRoom, "_hello", failing)
    with pytest.raises(RuntimeError, match="storage went away"):  # the server answers 500
        await bob.upgrade("lobby", query=hello_query())
    monkeypatch.setattr(ChatRoom, "_hello", real)
    b = await bob.connect("lobby", query=hello_query())
    welcome = await b.recv("welcome")
    chat_env.clock.advance(PRESENCE_BATCH_S)
    a.send(type="chat.send", nonce="m1", text="still one bob")
    await b.recv("chat.message")
    info = await chat_env.ROOMS.getByName("lobby").info()
    assert info["online"] == 2  # ann and bob
    roster = {entry["name"]: entry["devices"] for entry in info["roster"]}
    assert roster == {"ann": 1, "bob": 1}  # the failed upgrade left no second device behind
    assert welcome["type"] == "welcome"
