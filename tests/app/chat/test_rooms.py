"""Rooms over the in-process runtime: the ordered stream, resume, presence, typing, limits, outbox."""

from __future__ import annotations

import asyncio

import pytest

from app.rooms.presence_publisher import PRESENCE_INTERVAL_MS
from primitives.env import Env
from tests.app.chat.conftest import Client, sign_up

#: Just past one presence interval (a whole millisecond more, against float rounding).
PRESENCE_BATCH_S = (PRESENCE_INTERVAL_MS + 1) / 1000


async def drain_outbox(env: Env) -> None:
    """Let the room's alarm copy its events to D1 (time moves on the fake clock)."""
    env.clock.advance(1)
    await env.clock.settle(50)
    await asyncio.sleep(0.05)


async def test_create_list_and_join_rooms(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    status, body, _ = await ann.call("POST", "/api/rooms", {"name": "Game Night"})
    assert (status, body) == (201, {"room": "game-night", "private": False, "title": "game-night"})
    status, body, _ = await ann.call("POST", "/api/rooms", {"name": "game-night"})
    assert (status, body["error"]["code"]) == (409, "room_exists")
    status, body, _ = await ann.call("POST", "/api/rooms", {"private": True, "title": "Secret"})
    assert status == 201 and body["private"] and len(body["room"]) == 64
    status, body, _ = await ann.call("GET", "/api/rooms")
    assert [r["room"] for r in body["rooms"]] == ["game-night"] and body["rooms"][0]["members"] == 1
    bob = await sign_up(chat_env, "bob")
    assert (await bob.call("POST", "/api/rooms/game-night/join"))[0] == 200
    assert (await bob.call("GET", "/api/rooms/game-night"))[1]["members"] == 2
    for bad in ("Bad Name", "-x", "a" * 40):
        status, body, _ = await ann.call("POST", "/api/rooms/" + bad.replace(" ", "%20") + "/join")
        assert status == 400, bad


async def test_messages_are_stored_acked_and_broadcast_in_order(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    welcome = await a.hello()
    assert welcome["seq"] == 0 and welcome["recovered"] is False and welcome["events"] == []
    assert [r["name"] for r in welcome["roster"]] == ["ann"]
    await b.hello()
    chat_env.clock.advance(PRESENCE_BATCH_S)  # presence is published at most every 100 ms
    assert (await a.recv("presence.join"))["name"] == "bob"
    for i in range(3):
        a.send(type="chat.send", nonce=f"n{i}", text=f"hello {i}")
    acks = [await a.recv("chat.ack") for _ in range(3)]
    assert [(x["nonce"], x["seq"], x["duplicate"]) for x in acks] == [
        ("n0", 1, False),
        ("n1", 2, False),
        ("n2", 3, False),
    ]
    got = [await b.recv("chat.message") for _ in range(3)]
    assert [(m["seq"], m["text"], m["name"]) for m in got] == [
        (1, "hello 0", "ann"),
        (2, "hello 1", "ann"),
        (3, "hello 2", "ann"),
    ]
    assert got[0]["epoch"] == welcome["epoch"] and got[0]["id"] == f"{welcome['epoch']}.1"


async def test_a_resent_nonce_is_acked_again_and_never_stored_twice(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello()
    await b.hello()
    a.send(type="chat.send", nonce="same", text="once")
    assert (await a.recv("chat.ack"))["seq"] == 1
    a.send(type="chat.send", nonce="same", text="once")
    again = await a.recv("chat.ack")
    assert (again["seq"], again["duplicate"]) == (1, True)
    assert [f["seq"] for f in await b.quiet() if f["type"] == "chat.message"] == [1]


async def test_edits_and_deletes_only_by_the_author(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello()
    await b.hello()
    a.send(type="chat.send", nonce="m1", text="typo")
    await a.recv("chat.ack")
    b.send(type="chat.edit", nonce="x1", target=1, text="hijack")
    error = await b.recv("error")
    assert (error["code"], error["nonce"]) == ("not_author", "x1")
    a.send(type="chat.edit", nonce="e1", target=1, text="fixed")
    edited = await b.recv("chat.edited")
    assert (edited["seq"], edited["target"], edited["text"]) == (2, 1, "fixed")
    a.send(type="chat.delete", nonce="d1", target=1)
    deleted = await b.recv("chat.deleted")
    assert (deleted["seq"], deleted["target"]) == (3, 1)


async def test_resume_delivers_exactly_the_missed_events(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello()
    welcome = await b.hello()
    a.send(type="chat.send", nonce="m1", text="one")
    await b.recv("chat.message")
    b.close()
    for i in range(2, 5):
        a.send(type="chat.send", nonce=f"m{i}", text=f"msg {i}")
        await a.recv("chat.ack")
    b2 = await bob.connect("lobby")
    back = await b2.hello(resume={"epoch": welcome["epoch"], "seq": 1})
    assert back["recovered"] is True
    assert [e["seq"] for e in back["events"]] == [2, 3, 4]
    stale = await (await bob.connect("lobby")).hello(resume={"epoch": "another-epoch", "seq": 1})
    assert stale["recovered"] is False and [e["seq"] for e in stale["events"]] == [1, 2, 3, 4]


async def test_a_gap_noticed_while_connected_is_filled_by_resume(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    welcome = await a.hello()
    for i in range(3):
        a.send(type="chat.send", nonce=f"m{i}", text="x")
        await a.recv("chat.ack")
    a.send(type="resume", epoch=welcome["epoch"], seq=1)
    resumed = await a.recv("resumed")
    assert resumed["recovered"] and [e["seq"] for e in resumed["events"]] == [2, 3]


async def test_resume_from_history_after_the_room_forgot(chat_env: Env) -> None:
    """Events older than the room's window come back from D1, contiguous or not at all."""
    from app.chat import stream

    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    welcome = await a.hello()
    for i in range(6):
        a.send(type="chat.send", nonce=f"m{i}", text=f"t{i}")
        await a.recv("chat.ack")
    await drain_outbox(chat_env)
    room = chat_env.ROOMS.getByName("lobby")
    from primitives.testing import run_in_durable_object

    def shrink(obj, ctx):  # type: ignore[no-untyped-def]
        ctx.storage.sql.exec("DELETE FROM events WHERE seq <= 4")
        obj.stream = stream.StreamState.restore(
            obj.stream.epoch, obj.stream.head, obj.stream.recent(2), window_size=2
        )

    await run_in_durable_object(room, shrink)
    a.send(type="resume", epoch=welcome["epoch"], seq=1)
    resumed = await a.recv("resumed")
    assert resumed["recovered"] and [e["seq"] for e in resumed["events"]] == [2, 3, 4, 5, 6]


async def test_presence_counts_devices_and_typing_reaches_only_others(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    b = await bob.connect("lobby")
    await b.hello()
    phone, laptop = await ann.connect("lobby"), await ann.connect("lobby")
    await phone.hello(device="phone")
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert (await b.recv("presence.join"))["name"] == "ann"
    chat_env.clock.advance(PRESENCE_BATCH_S)
    welcome = await laptop.hello(device="laptop")
    assert {r["name"]: r["devices"] for r in welcome["roster"]} == {"ann": 2, "bob": 1}
    phone.send(type="typing", active=True)
    typing = await b.recv("typing")
    assert (typing["name"], typing["active"], typing["expires_in"]) == ("ann", True, 6000)
    assert not [f for f in await phone.quiet() if f["type"] == "typing"]
    phone.close()
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert not [f for f in await b.quiet() if f["type"] == "presence.leave"]
    laptop.close()
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert (await b.recv("presence.leave"))["name"] == "ann"


async def test_a_join_storm_is_published_in_batches(chat_env: Env) -> None:
    """Joins within 100 ms of a publication go out together, in one frame per socket."""
    users = [await sign_up(chat_env, name) for name in ("ann", "bob", "cat", "dan", "eve")]
    ann, bob, cat, dan, eve = [await user.connect("lobby") for user in users]
    await ann.hello()  # the first change after a quiet spell is published at once
    welcomes = [await client.hello() for client in (bob, cat, dan)]
    assert [[r["name"] for r in w["roster"]] for w in welcomes] == [["ann"]] * 3
    assert not [f for f in await ann.quiet() if f["type"].startswith("presence")]
    chat_env.clock.advance(PRESENCE_BATCH_S)
    diff = await ann.recv("presence.diff")
    assert sorted(j["name"] for j in diff["joins"]) == ["bob", "cat", "dan"]
    assert diff["leaves"] == []
    # Those who joined during the interval learn of themselves and each other the same way.
    assert (await bob.recv("presence.diff")) == diff
    assert (await dan.recv("presence.diff")) == diff
    chat_env.clock.advance(PRESENCE_BATCH_S)  # a quiet spell: the next change goes out at once
    roster = (await eve.hello())["roster"]
    assert sorted(r["name"] for r in roster) == ["ann", "bob", "cat", "dan", "eve"]
    assert (await ann.recv("presence.join"))["name"] == "eve"
    # Within the next interval dan leaves, and fay comes and goes: only dan's leave is news.
    fay = await (await sign_up(chat_env, "fay")).connect("lobby")
    await fay.hello()
    dan.close()
    fay.close()
    await chat_env.clock.settle()  # the room has handled both closes
    chat_env.clock.advance(PRESENCE_BATCH_S)
    frames = [f for f in await ann.quiet() if f["type"].startswith("presence")]
    assert [(f["type"], f["name"]) for f in frames] == [("presence.leave", "dan")]


async def test_sending_too_fast_is_refused_with_retry_after(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    for i in range(10):
        a.send(type="chat.send", nonce=f"m{i}", text="x")
        await a.recv("chat.ack")
    a.send(type="chat.send", nonce="m10", text="x")
    error = await a.recv("error")
    assert (error["code"], error["nonce"]) == ("rate_limited", "m10") and 0 < error[
        "retry_after"
    ] <= 1
    chat_env.clock.advance(1)
    a.send(type="chat.send", nonce="m10", text="x")
    assert (await a.recv("chat.ack"))["seq"] == 11


async def test_bad_frames_get_errors_and_the_room_keeps_working(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    a.send(type="chat.send", nonce="early", text="before hello")
    assert (await a.recv("error"))["message"] == "send hello first"
    await a.hello()
    await b.hello()
    chat_env.clock.advance(PRESENCE_BATCH_S)
    a.send_raw("{not json")
    assert (await a.recv("error"))["code"] == "bad_json"
    a.send(type="chat.shout", text="x")
    assert (await a.recv("error"))["code"] == "bad_message"
    a.send(type="chat.send", nonce="h", text="<script>alert(1)</script>")
    assert (await b.recv("chat.message"))["text"] == "<script>alert(1)</script>"
    b.send_raw(b"\x00binary")
    assert await asyncio.wait_for(b.closed, 5) == (1003, "binary frames are not supported")
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert (await a.recv("presence.leave"))["name"] == "bob"
    a.send(type="chat.send", nonce="after", text="still here")
    assert (await a.recv("chat.ack"))["seq"] == 2


async def test_the_socket_needs_a_session_and_the_right_origin(chat_env: Env) -> None:
    status, body, _ = await Client(chat_env).call(
        "GET", "/api/rooms/lobby/ws", headers={"upgrade": "websocket"}
    )
    assert status == 401
    ann = await sign_up(chat_env, "ann")
    status, body, _ = await ann.call(
        "GET",
        "/api/rooms/lobby/ws",
        headers={"upgrade": "websocket", "origin": "https://evil.example"},
    )
    assert (status, body["error"]["code"]) == (403, "bad_origin")
    socket = await ann.connect("lobby", headers={"origin": "http://edgeroom.test"})
    assert (await socket.hello())["you"]["name"] == "ann"
    status, _, _ = await ann.call("GET", "/api/rooms/lobby/ws")
    assert status == 426


async def test_client_headers_cannot_impersonate_another_user(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    socket = await ann.connect(
        "lobby", headers={"x-edgeroom-user": "u_admin", "x-edgeroom-name": "admin"}
    )
    assert (await socket.hello())["you"]["name"] == "ann"


async def test_a_busy_room_drains_its_outbox_without_waiting_for_quiet(chat_env: Env) -> None:
    """A message every 200 ms must not keep pushing the drain alarm back."""
    from app.rooms.chat_room import DRAIN_DELAY_MS

    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    before_first_drain = DRAIN_DELAY_MS // 200  # sent before the first drain is due
    for i in range(before_first_drain + 3):  # within the connection's burst of 10
        a.send(type="chat.send", nonce=f"b{i}", text=f"busy {i}")
        await a.recv("chat.ack")
        chat_env.clock.advance(0.2)
        await chat_env.clock.settle(50)
        await asyncio.sleep(0.01)  # the alarm's D1 batch runs on D1's thread
    count = await chat_env.DB.prepare("SELECT COUNT(*) AS n FROM messages").first()
    assert count["n"] >= before_first_drain  # drained while messages kept coming


async def test_outbox_writes_history_and_search_finds_it(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    for i, text in enumerate(["the quick brown fox", "lazy dogs sleep", "a quick reply"]):
        a.send(type="chat.send", nonce=f"m{i}", text=text)
        await a.recv("chat.ack")
    a.send(type="chat.delete", nonce="d", target=2)
    await a.recv("chat.ack")
    await drain_outbox(chat_env)
    rows = await chat_env.DB.prepare("SELECT seq, text, deleted FROM messages ORDER BY seq").all()
    assert [(r["seq"], r["text"], r["deleted"]) for r in rows["results"]] == [
        (1, "the quick brown fox", 0),
        (2, None, 1),
        (3, "a quick reply", 0),
    ]
    status, body, _ = await ann.call("GET", "/api/rooms/lobby/search?q=quick")
    assert status == 200 and [m["seq"] for m in body["results"]] == [3, 1]
    status, body, _ = await ann.call("GET", "/api/rooms/lobby/search?q=%22OR%22%20NEAR(")
    assert status == 200 and body["results"] == []  # FTS operators are searched for, not run
    status, body, _ = await ann.call("GET", "/api/rooms/lobby/messages?limit=2")
    assert [(m["seq"], m["text"], m["deleted"]) for m in body["messages"]] == [
        (2, None, True),
        (3, "a quick reply", False),
    ]
    assert body["has_more"] is True
    status, body, _ = await ann.call("GET", "/api/rooms/lobby/messages?before_seq=2")
    assert [(m["seq"], m["text"]) for m in body["messages"]] == [(1, "the quick brown fox")]
    assert body["has_more"] is False


async def test_history_needs_membership_and_pages_backwards(chat_env: Env) -> None:
    ann, eve = await sign_up(chat_env, "ann"), await sign_up(chat_env, "eve")
    a = await ann.connect("lobby")
    await a.hello()
    for i in range(8):
        chat_env.clock.advance(1)
        a.send(type="chat.send", nonce=f"m{i}", text=f"t{i}")
        await a.recv("chat.ack")
    status, body, _ = await eve.call("GET", "/api/rooms/lobby/messages")
    assert (status, body["error"]["code"]) == (403, "not_member")
    status, body, _ = await ann.call("GET", "/api/rooms/lobby/messages?before_seq=6&limit=3")
    assert [m["seq"] for m in body["messages"]] == [3, 4, 5] and body["has_more"] is True
    assert (await ann.call("GET", "/api/rooms/lobby/messages?limit=1000"))[0] == 400


async def test_a_failing_d1_delays_history_and_loses_nothing(
    chat_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    real_batch = chat_env.DB.batch

    async def broken(statements):  # type: ignore[no-untyped-def]
        raise RuntimeError("D1 is down")

    monkeypatch.setattr(chat_env.DB, "batch", broken)
    a.send(type="chat.send", nonce="m1", text="kept safe")
    assert (await a.recv("chat.ack"))["seq"] == 1
    await drain_outbox(chat_env)
    assert (await chat_env.DB.prepare("SELECT COUNT(*) AS n FROM messages").first())["n"] == 0
    monkeypatch.setattr(chat_env.DB, "batch", real_batch)
    chat_env.clock.advance(5)
    await drain_outbox(chat_env)
    rows = await chat_env.DB.prepare("SELECT seq, text FROM messages").all()
    assert [(r["seq"], r["text"]) for r in rows["results"]] == [(1, "kept safe")]


async def test_invites_redirect_record_uses_and_expire(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    await ann.call("POST", "/api/rooms", {"name": "lobby"})
    status, invite, _ = await ann.call("POST", "/api/rooms/lobby/invites", {"ttl_hours": 1})
    assert status == 201 and invite["url"] == f"http://edgeroom.test/i/{invite['code']}"
    status, _, response = await Client(chat_env).call("GET", f"/i/{invite['code']}")
    assert status == 302 and response.headers.get("location") == "http://edgeroom.test/#/room/lobby"
    uses = await chat_env.DB.prepare("SELECT code, room FROM invite_uses").all()
    assert [(u["code"], u["room"]) for u in uses["results"]] == [(invite["code"], "lobby")]
    chat_env.clock.advance(3601)
    assert (await Client(chat_env).call("GET", f"/i/{invite['code']}"))[0] == 404
    assert (await Client(chat_env).call("GET", "/i/../../etc"))[0] == 404
    assert (await ann.call("POST", "/api/rooms/lobby/invites", {"ttl_hours": 0}))[0] == 400


async def test_an_idle_room_hibernates_and_wakes_with_its_stream_and_members(chat_env: Env) -> None:
    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    welcome = await a.hello()
    await b.hello()
    a.send(type="chat.send", nonce="m1", text="before sleep")
    assert (await a.recv("chat.ack"))["seq"] == 1
    await b.recv("chat.message")
    await drain_outbox(chat_env)
    chat_env.clock.advance(30)
    await chat_env.clock.settle(50)
    await asyncio.sleep(0.05)
    assert chat_env.ROOMS.live_instances == 0  # evicted, sockets still open
    a.send(type="chat.send", nonce="m2", text="after waking")
    message = await b.recv("chat.message")
    assert (message["seq"], message["epoch"]) == (2, welcome["epoch"])
    assert (await a.recv("chat.ack"))["seq"] == 2
    a.send(type="chat.send", nonce="m1", text="before sleep")
    assert (await a.recv("chat.ack"))["duplicate"] is True  # nonces survive hibernation
    third = await (await ann.connect("lobby")).hello()
    assert {r["name"]: r["devices"] for r in third["roster"]} == {"ann": 2, "bob": 1}


async def test_history_beyond_what_the_room_keeps_comes_from_d1_with_edits(chat_env: Env) -> None:
    from primitives.testing import run_in_durable_object

    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    for i in range(5):
        a.send(type="chat.send", nonce=f"m{i}", text=f"t{i}")
        await a.recv("chat.ack")
    a.send(type="chat.edit", nonce="e", target=1, text="t0 (edited)")
    await a.recv("chat.ack")
    await drain_outbox(chat_env)

    def forget_old(obj, ctx):  # type: ignore[no-untyped-def]
        ctx.storage.sql.exec("DELETE FROM events WHERE seq <= 3")

    await run_in_durable_object(chat_env.ROOMS.getByName("lobby"), forget_old)
    status, body, _ = await ann.call("GET", "/api/rooms/lobby/messages?limit=10")
    assert status == 200
    assert [(m["seq"], m["text"]) for m in body["messages"]] == [
        (1, "t0 (edited)"),
        (2, "t1"),
        (3, "t2"),
        (4, "t3"),
        (5, "t4"),
    ]


async def test_a_client_that_keeps_flooding_is_closed_with_1008(chat_env: Env) -> None:
    from app.rooms.limits import MAX_REFUSALS

    ann, bob = await sign_up(chat_env, "ann"), await sign_up(chat_env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello()
    await b.hello()
    chat_env.clock.advance(PRESENCE_BATCH_S)
    for i in range(10 + MAX_REFUSALS + 1):
        a.send(type="chat.send", nonce=f"f{i}", text="spam")
    assert await asyncio.wait_for(a.closed, 5) == (1008, "too many messages")
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert (await b.recv("presence.leave"))["name"] == "ann"
    b.send(type="chat.send", nonce="b1", text="the room still works")
    assert (await b.recv("chat.ack"))["seq"] == 11


async def test_one_sockets_frames_keep_their_order_across_rate_limit_round_trips(
    chat_env: Env,
) -> None:
    """Frames are delivered concurrently here; the room still sequences them in the order sent."""
    ann = await sign_up(chat_env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    for i in range(10):  # crosses two IP-lease round trips to the RateLimiter object
        a.send(type="chat.send", nonce=f"n{i}", text=f"t{i}")
    acks = [await a.recv("chat.ack") for _ in range(10)]
    assert [(ack["nonce"], ack["seq"]) for ack in acks] == [(f"n{i}", i + 1) for i in range(10)]


async def test_a_large_room_tells_a_count_instead_of_names(
    chat_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ROSTER_LIMIT users: counts (at most every second); the roster again at 90% of it."""
    from app.rooms import presence_publisher

    monkeypatch.setattr(presence_publisher, "ROSTER_LIMIT", 3)
    large_interval_s = (presence_publisher.LARGE_ROOM_INTERVAL_MS + 1) / 1000
    users = [await sign_up(chat_env, name) for name in ("ann", "bob", "cat", "dan", "eve")]
    ann, bob, cat, dan, eve = [await user.connect("lobby") for user in users]
    for client in (ann, bob, cat):
        await client.hello()
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert sorted(j["name"] for j in (await ann.recv("presence.diff"))["joins"]) == ["bob", "cat"]
    chat_env.clock.advance(PRESENCE_BATCH_S)
    welcome = await dan.hello()  # the fourth user: published at once, as a count
    assert (welcome["roster"], welcome["online"]) == ([], 4)
    assert await ann.recv("presence.count") == {"type": "presence.count", "online": 4}
    assert (await eve.hello())["online"] == 4  # within the large room's interval: not yet told
    chat_env.clock.advance(PRESENCE_BATCH_S)
    assert not [f for f in await ann.quiet() if f["type"].startswith("presence")]
    chat_env.clock.advance(large_interval_s)
    assert [(await bob.recv("presence.count"))["online"] for _ in range(2)] == [4, 5]
    assert (await eve.recv("presence.count"))["online"] == 5
    dan.close()
    eve.close()
    await chat_env.clock.settle()
    chat_env.clock.advance(large_interval_s)
    assert (await bob.recv("presence.count"))["online"] == 3  # at the limit: still a count
    cat.close()
    await chat_env.clock.settle()
    chat_env.clock.advance(large_interval_s)
    back = await bob.recv("presence.roster")  # at 90% of the limit: everyone gets the names
    assert back["online"] == 2
    assert sorted(r["name"] for r in back["roster"]) == ["ann", "bob"]
    welcome = await (await users[3].connect("lobby")).hello()
    assert welcome["online"] == 2 and len(welcome["roster"]) == 2
