"""Accounts and sessions: sign up, log in (rate-limited), guests, log out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app import sessions
from app.clock import now_ms
from primitives.env import Env
from tests.app.chat.conftest import Client, sign_up


async def test_signup_login_me_logout(chat_env: Env) -> None:
    anon = Client(chat_env)
    status, body, response = await anon.call(
        "POST", "/api/auth/signup", {"username": "ann", "password": "hunter22!"}
    )
    assert status == 201
    assert body["user"]["name"] == "ann" and body["user"]["guest"] is False
    cookie = response.headers.get("set-cookie")
    assert (
        cookie.startswith("edgeroom_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    )
    status, body, _ = await anon.call(
        "POST", "/api/auth/login", {"username": "ANN", "password": "hunter22!"}
    )
    assert status == 200
    user = Client(chat_env, body["token"])
    assert (await user.call("GET", "/api/me"))[1]["user"]["name"] == "ann"
    by_cookie = Client(chat_env)
    status, body, _ = await by_cookie.call(
        "GET", "/api/me", headers={"cookie": f"edgeroom_session={user.token}"}
    )
    assert status == 200
    assert (await user.call("POST", "/api/auth/logout"))[0] == 204
    status, body, _ = await user.call("GET", "/api/me")
    assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_passwords_are_stored_hashed(chat_env: Env) -> None:
    await sign_up(chat_env, "ann")
    row = await chat_env.DB.prepare(
        "SELECT password_hash FROM users WHERE username = 'ann'"
    ).first()
    assert (
        row["password_hash"].startswith("pbkdf2_sha256$1000$")
        and "hunter22" not in row["password_hash"]
    )


async def test_taken_names_and_bad_input(chat_env: Env) -> None:
    await sign_up(chat_env, "ann")
    anon = Client(chat_env)
    status, body, _ = await anon.call(
        "POST", "/api/auth/signup", {"username": "Ann", "password": "another1!"}
    )
    assert (status, body["error"]["code"]) == (409, "username_taken")
    for payload in (
        {"username": "a", "password": "hunter22!"},
        {"username": "ann2", "password": "short"},
        {"username": 5},
    ):
        status, body, _ = await anon.call("POST", "/api/auth/signup", payload)
        assert (status, body["error"]["code"]) == (400, "bad_request"), payload
    status, body, _ = await anon.call(
        "POST", "/api/auth/signup", headers={"content-type": "application/json"}, body=None
    )
    assert status == 400
    request_status, body, _ = await anon.call("POST", "/api/auth/guest", {"name": "x" * 40})
    assert request_status == 400


async def test_failed_logins_are_rate_limited(chat_env: Env) -> None:
    await sign_up(chat_env, "ann")
    anon = Client(chat_env)
    for _ in range(5):
        status, body, _ = await anon.call(
            "POST", "/api/auth/login", {"username": "ann", "password": "wrong-pass"}
        )
        assert (status, body["error"]["code"]) == (401, "bad_credentials")
    status, body, response = await anon.call(
        "POST", "/api/auth/login", {"username": "ann", "password": "hunter22!"}
    )
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert body["error"]["retry_after"] > 0 and int(response.headers.get("retry-after")) >= 1
    chat_env.clock.advance(15 * 60)
    status, _, _ = await anon.call(
        "POST", "/api/auth/login", {"username": "ann", "password": "hunter22!"}
    )
    assert status == 200


async def test_unknown_user_gets_the_same_answer_as_a_wrong_password(chat_env: Env) -> None:
    status, body, _ = await Client(chat_env).call(
        "POST", "/api/auth/login", {"username": "nobody", "password": "whatever1"}
    )
    assert (status, body["error"]["code"]) == (401, "bad_credentials")


async def test_guests_and_forged_tokens(chat_env: Env) -> None:
    status, body, _ = await Client(chat_env).call("POST", "/api/auth/guest", {"name": "  Zoë  "})
    assert status == 201 and body["user"] == {
        "id": body["user"]["id"],
        "name": "Zoë",
        "guest": True,
    }
    forged = Client(chat_env, "A" * 43)
    assert (await forged.call("GET", "/api/me"))[0] == 401
    weird = Client(chat_env, "not a token; drop table")
    assert (await weird.call("GET", "/api/me"))[0] == 401


async def test_sessions_expire(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    chat_env.clock.advance(7 * 24 * 3600 + 1)
    assert (await ann.call("GET", "/api/me"))[0] == 401


async def test_a_session_is_remembered_for_a_minute_never_past_its_end(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    assert ann.token is not None
    # Deleted behind this isolate's back (another process, the CLI): still known here, as a
    # Workers KV read may be served from a location's cache, for at most CACHE_SECONDS.
    await chat_env.SESSIONS.delete("session:" + ann.token)
    assert (await ann.call("GET", "/api/me"))[0] == 200
    chat_env.clock.advance(sessions.CACHE_SECONDS)
    assert (await ann.call("GET", "/api/me"))[0] == 401


async def test_signing_out_forgets_the_session_at_once(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    assert (await ann.call("POST", "/api/auth/logout"))[0] == 204
    assert (await ann.call("GET", "/api/me"))[0] == 401


async def _made_elsewhere(env: Env, client: Client, **put: Any) -> str:
    """Store ``client``'s session again as another process would (this one never saw it);
    ``put`` changes the metadata (``metadata=``) or the TTL. Returns the KV key."""
    assert client.token is not None
    key = "session:" + client.token
    stored = await env.SESSIONS.getWithMetadata(key)
    sessions._remembered.forget(env, client.token)
    metadata = put.pop("metadata", stored["metadata"])
    await env.SESSIONS.put(key, stored["value"], metadata=metadata, **put)
    return key


async def test_a_session_read_from_kv_is_remembered_until_its_expiry(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    # It ends in 30 s, as its metadata says (KV itself keeps a key at least 60 s).
    expires = now_ms(chat_env) // 1000 + 30
    meta = {"name": "ann", "guest": False, "expires": expires}
    key = await _made_elsewhere(chat_env, ann, metadata=meta, expirationTtl=90)
    assert (await ann.call("GET", "/api/me"))[0] == 200  # read from KV, and remembered
    await chat_env.SESSIONS.delete(key)
    assert (await ann.call("GET", "/api/me"))[0] == 200  # remembered
    chat_env.clock.advance(30)
    assert (await ann.call("GET", "/api/me"))[0] == 401  # its expiry wins over the minute


async def test_a_session_without_a_known_expiry_is_not_remembered(chat_env: Env) -> None:
    ann = await sign_up(chat_env, "ann")
    old_style = {"name": "ann", "guest": False}  # made before "expires" was kept
    key = await _made_elsewhere(chat_env, ann, metadata=old_style)
    assert (await ann.call("GET", "/api/me"))[0] == 200
    await chat_env.SESSIONS.delete(key)
    assert (await ann.call("GET", "/api/me"))[0] == 401


async def test_a_read_that_began_before_a_sign_out_is_not_remembered(
    chat_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await sign_up(chat_env, "ann")
    key = await _made_elsewhere(chat_env, ann)  # not remembered here: /api/me reads KV
    sessions_kv = chat_env.SESSIONS
    read = sessions_kv.getWithMetadata
    reading, finish = asyncio.Event(), asyncio.Event()

    async def slow_read(name: str, **options: Any) -> Any:
        found = await read(name, **options)  # the session, as it was when the read began
        reading.set()
        await finish.wait()
        return found

    monkeypatch.setattr(sessions_kv, "getWithMetadata", slow_read)
    early = asyncio.ensure_future(ann.call("GET", "/api/me"))
    await reading.wait()
    monkeypatch.setattr(sessions_kv, "getWithMetadata", read)
    assert (await ann.call("POST", "/api/auth/logout"))[0] == 204  # while that read is out
    finish.set()
    assert (await early)[0] == 200  # it began before the sign-out
    assert await sessions_kv.get(key) is None
    assert (await ann.call("GET", "/api/me"))[0] == 401  # and was not remembered
