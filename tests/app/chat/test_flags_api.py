"""Feature flags over the in-process runtime: the admin API, the audit log, GET /api/flags,
pushes to connected rooms, experiments, and the two chat features behind flags."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.flags import store
from primitives.env import Env
from tests.app.chat.conftest import Client, open_chat_env, sign_up

TOKEN = "operator-secret-token-0123456789"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    built = await open_chat_env(tmp_path, OPERATOR_TOKEN=TOKEN)
    yield built
    await built.aclose()


def operator(env: Env) -> Client:
    return Client(env, TOKEN)


async def make_admin(env: Env, name: str) -> Client:
    client = await sign_up(env, name)
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE username = ?").bind(name).run()
    return client


async def put(client: Client, key: str, body: Any, **headers: str) -> tuple[int, Any, Any]:
    result: tuple[int, Any, Any] = await client.call("PUT", f"/admin/flags/{key}", body, headers)
    return result


async def test_admin_requires_operator_token_or_admin_role(env: Env) -> None:
    status, body, _ = await Client(env).call("GET", "/admin/flags")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, body, _ = await Client(env, "not-the-token-but-long-enough").call("GET", "/admin/flags")
    assert (status, body["error"]["code"]) == (401, "bad_credentials")
    member = await sign_up(env, "mallory")
    status, body, _ = await member.call("PUT", "/admin/flags/x", {"enabled": True})
    assert (status, body["error"]) == (
        403,
        {"code": "forbidden", "message": "only admins may administer feature flags"},
    )
    admin = await make_admin(env, "ada")
    assert (await put(admin, "x", {"enabled": True}))[0] == 201
    status, body, _ = await operator(env).call("GET", "/admin/flags")
    assert status == 200 and body["version"] == 1 and list(body["flags"]) == ["x"]
    assert body["flags"]["x"]["enabled"] is True


async def test_put_get_patch_delete_with_versions(env: Env) -> None:
    op = operator(env)
    status, body, response = await put(op, "new-composer", {"enabled": True})
    assert status == 201 and response.headers.get("etag") == '"1"'
    assert body["flag"]["key"] == "new-composer" and body["flag"]["version"] == 1
    status, body, response = await op.call("GET", "/admin/flags/new-composer")
    assert status == 200 and response.headers.get("etag") == '"1"'
    status, body, _ = await put(op, "new-composer", {"enabled": False})
    assert (status, body["error"]["code"], body["current_version"]) == (
        428,
        "precondition_required",
        1,
    )
    status, body, _ = await put(op, "new-composer", {"enabled": False}, **{"if-match": '"1"'})
    assert status == 200 and body["flag"]["version"] == 2 and body["flag"]["enabled"] is False
    status, body, _ = await op.call(
        "PATCH", "/admin/flags/new-composer", {"rules": [{"variant": "on", "rollout": 25}]}
    )
    assert status == 200 and body["flag"]["version"] == 3
    assert body["flag"]["rules"] == [{"variant": "on", "rollout": 25}]
    status, body, _ = await put(op, "new-composer", {}, **{"if-none-match": "*"})
    assert (status, body["error"]["code"]) == (412, "flag_exists")
    status, body, _ = await op.call("DELETE", "/admin/flags/new-composer", None, {"if-match": "2"})
    assert (status, body["error"]["code"]) == (412, "stale_version")
    assert (
        body["error"]["message"]
        == "flag 'new-composer' changed since version 2: it is at version 3"
    )
    status, body, _ = await op.call("DELETE", "/admin/flags/new-composer")
    assert (status, body) == (200, {"deleted": "new-composer", "version": 4})
    status, body, _ = await op.call("GET", "/admin/flags/new-composer")
    assert (status, body["error"]["code"]) == (404, "unknown_flag")


async def test_bad_input_is_a_specific_4xx_and_changes_nothing(env: Env) -> None:
    op = operator(env)
    await put(op, "f", {"enabled": True})
    cases: list[tuple[str, str, Any, dict[str, str], int, str]] = [
        ("PATCH", "/admin/flags/missing", {"enabled": True}, {}, 404, "unknown_flag"),
        ("DELETE", "/admin/flags/missing", None, {}, 404, "unknown_flag"),
        ("PUT", "/admin/flags/Bad%20Key", {}, {}, 400, "bad_key"),
        (
            "PATCH",
            "/admin/flags/f",
            {"rules": [{"variant": "on", "rollout": 150}]},
            {},
            400,
            "invalid_flag",
        ),
        ("PATCH", "/admin/flags/f", {"rules": [{"variant": "maybe"}]}, {}, 400, "invalid_flag"),
        ("PATCH", "/admin/flags/f", {"enabled": True}, {"if-match": "v1"}, 400, "bad_precondition"),
        ("PATCH", "/admin/flags/f", [1], {}, 400, "bad_request"),
        ("PUT", "/admin/flags/f", {"key": "g"}, {"if-match": "1"}, 400, "invalid_flag"),
        ("PATCH", "/admin/flags/f", {"enabled": True}, {"if-match": '"7"'}, 412, "stale_version"),
    ]
    for method, path, body, headers, status, code in cases:
        got, answer, _ = await op.call(method, path, body, headers)
        assert (got, answer["error"]["code"]) == (status, code), (method, path, answer)
    got, answer, _ = await op.call(
        "PATCH", "/admin/flags/f", {"rules": [{"variant": "on", "rollout": 150}]}
    )
    assert answer["error"]["message"] == "rules[0].rollout: must be a number from 0 to 100"
    status, body, _ = await op.call("GET", "/admin/flags/f")
    assert body["flag"]["version"] == 1 and "rules" in body["flag"] and body["flag"]["rules"] == []
    assert len((await op.call("GET", "/admin/audit"))[1]["entries"]) == 1


async def test_concurrent_updates_with_one_version_only_one_wins(env: Env) -> None:
    op = operator(env)
    await put(op, "f", {"enabled": False})
    results = await asyncio.gather(
        *(
            op.call("PATCH", "/admin/flags/f", {"description": f"writer {i}"}, {"if-match": '"1"'})
            for i in range(5)
        )
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 412, 412, 412, 412]
    winner = next(body for status, body, _ in results if status == 200)
    _status, body, _ = await op.call("GET", "/admin/flags/f")
    assert body["flag"]["description"] == winner["flag"]["description"]
    assert body["flag"]["version"] == 2


async def test_concurrent_patches_without_if_match_are_all_applied(env: Env) -> None:
    op = operator(env)
    await put(op, "f", {"enabled": True, "rules": []})
    users = [f"u_{i}" for i in range(5)]
    await asyncio.gather(
        *(op.call("PATCH", "/admin/flags/f", {"description": user}) for user in users)
    )
    _status, body, _ = await op.call("GET", "/admin/flags/f")
    assert body["flag"]["version"] == 6
    assert len((await op.call("GET", "/admin/flags/f/history"))[1]["entries"]) == 6


async def test_audit_log_records_who_when_before_after(env: Env) -> None:
    op = operator(env)
    admin = await make_admin(env, "ada")
    await put(op, "f", {"enabled": True})
    await admin.call("PATCH", "/admin/flags/f", {"enabled": False})
    await put(op, "g", {"enabled": True})
    await op.call("DELETE", "/admin/flags/g")
    _status, body, _ = await op.call("GET", "/admin/flags/f/history")
    entries = body["entries"]
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["actor"].startswith("user:u_") and entries[0]["actor"].endswith(":ada")
    assert entries[1]["actor"] == "operator"
    assert entries[0]["before"]["enabled"] is True and entries[0]["after"]["enabled"] is False
    assert entries[1]["before"] is None and entries[0]["at"] == 1_800_000_000_000
    _status, body, _ = await op.call("GET", "/admin/audit?limit=2")
    assert [(e["flag"], e["action"]) for e in body["entries"]] == [("g", "delete"), ("g", "create")]
    assert body["entries"][0]["after"] is None
    older = body["entries"][1]["id"]
    _status, body, _ = await op.call("GET", f"/admin/audit?before={older}")
    assert [(e["flag"], e["action"]) for e in body["entries"]] == [("f", "update"), ("f", "create")]
    assert (await op.call("GET", "/admin/audit?limit=0"))[0] == 400


async def test_client_flags_are_evaluated_for_the_caller_and_fresh_after_a_write(env: Env) -> None:
    op = operator(env)
    ann, guest = await sign_up(env, "ann"), Client(env)
    status, body, _ = await guest.call("POST", "/api/auth/guest", {"name": "Gus"})
    guest = Client(env, body["token"])
    await put(
        op,
        "members-only",
        {
            "enabled": True,
            "default": "off",
            "rules": [{"if": [{"attr": "member", "op": "eq", "value": True}], "variant": "on"}],
        },
    )
    await put(op, "page-size", {"type": "number", "enabled": True, "variants": {"s": 50, "l": 100}})
    status, body, response = await ann.call("GET", "/api/flags")
    assert status == 200 and response.headers.get("cache-control") == "no-store"
    assert body == {"version": 2, "values": {"members-only": True, "page-size": 50}}
    assert (await guest.call("GET", "/api/flags"))[1]["values"]["members-only"] is False
    assert (await Client(env).call("GET", "/api/flags"))[1]["values"]["members-only"] is False
    await op.call("PATCH", "/admin/flags/members-only", {"enabled": False})
    assert (await ann.call("GET", "/api/flags"))[1]["values"]["members-only"] is False


async def test_client_flags_read_kv_once_the_cache_expires(env: Env) -> None:
    op = operator(env)
    await put(op, "f", {"enabled": True})
    # Another isolate's write: straight into KV with a newer version.
    snapshot = store.Snapshot.from_json({"version": 9, "flags": {"f": {"enabled": False}}})
    await env.FLAGS.put(store.KV_KEY, json.dumps(snapshot.to_json()))
    assert (await Client(env).call("GET", "/api/flags"))[1]["values"]["f"] is True
    env.clock.advance(store.CACHE_MS / 1000)
    assert (await Client(env).call("GET", "/api/flags"))[1] == {
        "version": 9,
        "values": {"f": False},
    }


async def test_experiment_exposures_are_deduplicated_and_counted(env: Env) -> None:
    op = operator(env)
    await put(
        op,
        "composer-test",
        {
            "type": "string",
            "enabled": True,
            "variants": {"control": "classic", "rich": "rich", "unused": "x"},
            "default": "control",
            "rules": [{"split": {"control": 50, "rich": 50}}],
        },
    )
    people = [await sign_up(env, f"user{i}") for i in range(12)]
    for person in people:
        for _ in range(2):
            assert (await person.call("GET", "/api/flags"))[0] == 200
    status, body, _ = await op.call("GET", "/admin/flags/composer-test/results")
    assert status == 200 and body["total"] == 12
    assert (
        set(body["variants"]) == {"control", "rich", "unused"} and body["variants"]["unused"] == 0
    )
    assert body["variants"]["control"] + body["variants"]["rich"] == 12
    assert (await op.call("GET", "/admin/flags/nothing/results"))[0] == 404


async def test_a_change_is_pushed_to_connected_sockets(env: Env) -> None:
    op = operator(env)
    await put(op, "new-composer", {"enabled": False})
    ann, bob = await sign_up(env, "ann"), await sign_up(env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    welcome = await a.hello()
    assert welcome["flags"] == {"version": 1, "values": {"new-composer": False}}
    await b.hello()
    await op.call(
        "PATCH",
        "/admin/flags/new-composer",
        {
            "enabled": True,
            "default": "off",
            "rules": [{"users": [welcome["you"]["user"]], "variant": "on"}],
        },
    )
    changed_a = await a.recv("flags.changed", timeout=1.0)
    changed_b = await b.recv("flags.changed", timeout=1.0)
    assert changed_a == {"type": "flags.changed", "version": 2, "values": {"new-composer": True}}
    assert changed_b["values"] == {"new-composer": False}


async def test_message_edits_flag_refuses_edits_when_off(env: Env) -> None:
    op = operator(env)
    ann = await sign_up(env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    a.send(type="chat.send", nonce="m1", text="typo")
    await a.recv("chat.ack")
    await put(op, "message-edits", {"enabled": False})
    await a.recv("flags.changed")
    a.send(type="chat.edit", nonce="e1", target=1, text="fixed")
    error = await a.recv("error")
    assert (error["code"], error["nonce"]) == ("disabled", "e1")
    await op.call("PATCH", "/admin/flags/message-edits", {"enabled": True})
    await a.recv("flags.changed")
    a.send(type="chat.edit", nonce="e2", target=1, text="fixed")
    assert (await a.recv("chat.edited"))["text"] == "fixed"


async def test_typing_indicators_flag_silences_typing_when_off(env: Env) -> None:
    op = operator(env)
    ann, bob = await sign_up(env, "ann"), await sign_up(env, "bob")
    a, b = await ann.connect("lobby"), await bob.connect("lobby")
    await a.hello()
    await b.hello()
    a.send(type="typing", active=True)
    assert (await b.recv("typing"))["active"] is True
    a.send(type="typing", active=False)
    await b.recv("typing")
    await put(op, "typing-indicators", {"enabled": False})
    await b.recv("flags.changed")
    a.send(type="typing", active=True)
    assert [f for f in await b.quiet() if f["type"] == "typing"] == []


async def test_a_failed_kv_write_changes_nothing_and_leaves_no_audit_row(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = operator(env)
    await put(op, "f", {"enabled": True})

    async def broken_put(*args: object, **kwargs: object) -> None:
        raise RuntimeError("KV is down")

    monkeypatch.setattr(env.FLAGS, "put", broken_put)
    status, body, _ = await op.call("PATCH", "/admin/flags/f", {"enabled": False})
    assert (status, body["error"]["code"]) == (503, "unavailable")
    monkeypatch.undo()
    status, body, _ = await op.call("GET", "/admin/flags/f")
    assert (body["flag"]["enabled"], body["flag"]["version"]) == (True, 1)
    assert len((await op.call("GET", "/admin/audit"))[1]["entries"]) == 1
    status, body, _ = await op.call("PATCH", "/admin/flags/f", {"enabled": False})
    assert (status, body["flag"]["version"]) == (200, 2)


async def test_a_hibernated_room_keeps_its_flags_and_still_gets_pushes(env: Env) -> None:
    op = operator(env)
    await put(op, "message-edits", {"enabled": False})
    ann = await sign_up(env, "ann")
    a = await ann.connect("lobby")
    await a.hello()
    a.send(type="chat.send", nonce="m1", text="typo")
    await a.recv("chat.ack")
    for _ in range(10):  # the outbox alarm runs, then the idle room is evicted
        env.clock.advance(30)
        await env.clock.settle(50)
        await asyncio.sleep(0.05)
        if env.ROOMS.live_instances == 0:
            break
    assert env.ROOMS.live_instances == 0  # evicted, the socket still open
    a.send(type="chat.edit", nonce="e1", target=1, text="fixed")
    assert (await a.recv("error"))["code"] == "disabled"
    await op.call("PATCH", "/admin/flags/message-edits", {"enabled": True})
    assert (await a.recv("flags.changed"))["values"] == {"message-edits": True}
    a.send(type="chat.edit", nonce="e2", target=1, text="fixed")
    assert (await a.recv("chat.edited"))["text"] == "fixed"


async def test_a_room_woken_by_a_burst_of_joins_asks_the_hub_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.rooms.flags_hub import FlagsHub

    asked: list[str] = []
    register = FlagsHub.register

    async def counting(self: FlagsHub, room_id: str) -> dict[str, Any]:
        asked.append(room_id)
        return await register(self, room_id)

    monkeypatch.setattr(FlagsHub, "register", counting)
    assert (await put(operator(env), "new-composer", {"enabled": False}))[0] == 201
    clients = [await sign_up(env, f"user{i}") for i in range(8)]
    hello = "?hello=" + json.dumps({"device": "d"})
    sockets = await asyncio.gather(*(c.connect("burst", query=hello) for c in clients))
    welcomes = [await s.recv("welcome") for s in sockets]
    assert len(asked) == 1  # one question for the whole burst
    # and every join of the burst got the hub's flag set, not the defaults
    assert all(w["flags"] == {"version": 1, "values": {"new-composer": False}} for w in welcomes)


async def test_a_failed_question_gives_the_burst_defaults_and_the_next_join_asks_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.rooms.chat_room import ChatRoom
    from app.rooms.flags_hub import FlagsHub

    asked: list[str] = []
    joining: list[object] = []
    register, register_for_flags = FlagsHub.register, ChatRoom._register_for_flags

    async def counting_joins(self: ChatRoom) -> None:
        joining.append(self)
        await register_for_flags(self)

    async def failing_once(self: FlagsHub, room_id: str) -> dict[str, Any]:
        asked.append(room_id)
        if len(asked) > 1:
            return await register(self, room_id)
        for _ in range(1000):  # the whole burst is waiting for this answer before it fails
            if len(joining) == 4:
                raise RuntimeError("hub is down")
            await asyncio.sleep(0)
        raise AssertionError("the burst never arrived")

    monkeypatch.setattr(FlagsHub, "register", failing_once)
    monkeypatch.setattr(ChatRoom, "_register_for_flags", counting_joins)
    assert (await put(operator(env), "new-composer", {"enabled": False}))[0] == 201
    clients = [await sign_up(env, f"user{i}") for i in range(4)]
    hello = "?hello=" + json.dumps({"device": "d"})
    sockets = await asyncio.gather(*(c.connect("burst", query=hello) for c in clients))
    welcomes = [await s.recv("welcome") for s in sockets]
    assert len(asked) == 1 and all(w["flags"]["values"] == {} for w in welcomes)  # defaults
    late = await (await sign_up(env, "late")).connect("burst", query=hello)
    assert (await late.recv("welcome"))["flags"]["values"] == {"new-composer": False}
    assert len(asked) == 2


async def test_when_the_asker_is_cancelled_a_waiting_join_asks_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.rooms.chat_room import ChatRoom
    from app.rooms.flags_hub import FlagsHub

    asked: list[str] = []
    joining: list[asyncio.Task[Any] | None] = []
    register, register_for_flags = FlagsHub.register, ChatRoom._register_for_flags
    never = asyncio.get_running_loop().create_future()  # the first answer never comes

    async def counting_joins(self: ChatRoom) -> None:
        joining.append(asyncio.current_task())
        await register_for_flags(self)

    async def first_hangs(self: FlagsHub, room_id: str) -> dict[str, Any]:
        asked.append(room_id)
        if len(asked) == 1:
            await never
        return await register(self, room_id)

    monkeypatch.setattr(FlagsHub, "register", first_hangs)
    monkeypatch.setattr(ChatRoom, "_register_for_flags", counting_joins)
    assert (await put(operator(env), "new-composer", {"enabled": False}))[0] == 201
    clients = [await sign_up(env, f"user{i}") for i in range(3)]
    hello = "?hello=" + json.dumps({"device": "d"})
    joins = [asyncio.ensure_future(c.connect("burst", query=hello)) for c in clients]
    for _ in range(1000):  # until the whole burst waits for the first question
        if len(joining) == 3:
            break
        await asyncio.sleep(0)
    asker = joining[0]
    assert asker is not None and len(asked) == 1
    asker.cancel()  # say its request was cancelled while the question was out
    done = await asyncio.gather(*joins, return_exceptions=True)
    assert sum(isinstance(d, asyncio.CancelledError) for d in done) == 1
    sockets = [d for d in done if not isinstance(d, BaseException)]
    welcomes = [await s.recv("welcome") for s in sockets]
    assert len(welcomes) == 2 and len(asked) == 2  # a waiter asked again, once
    assert all(w["flags"]["values"] == {"new-composer": False} for w in welcomes)
