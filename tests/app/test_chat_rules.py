"""Presence, typing, token buckets, names and passwords."""

from __future__ import annotations

import pytest

from app.chat.names import (
    NameError_,
    normalize_room_name,
    validate_display_name,
    validate_room,
    validate_username,
)
from app.chat.passwords import hash_password, needs_rehash, verify_password
from app.chat.presence import TYPING_EXPIRES_MS, TYPING_THROTTLE_MS, Presence, TypingTracker
from app.chat.ratelimit import TokenBucket


def test_presence_counts_devices_and_reports_only_first_join_and_last_leave() -> None:
    presence = Presence()
    assert presence.connect("u1", "Ann").kind == "presence.join"
    second = presence.connect("u1", "Ann")
    assert (second.kind, second.devices) == ("presence.devices", 2)
    presence.connect("u2", "Bob")
    assert presence.roster() == [
        {"user": "u1", "name": "Ann", "devices": 2},
        {"user": "u2", "name": "Bob", "devices": 1},
    ]
    change = presence.disconnect("u1")
    assert change is not None and (change.kind, change.devices) == ("presence.devices", 1)
    change = presence.disconnect("u1")
    assert change is not None and change.kind == "presence.leave"
    assert presence.disconnect("u1") is None
    assert "u1" not in presence and len(presence) == 1


def test_typing_is_throttled_and_expires_by_itself() -> None:
    typing = TypingTracker()
    assert typing.update("u1", True, 0)
    assert not typing.update("u1", True, TYPING_THROTTLE_MS - 1)  # throttled, but refreshes expiry
    assert typing.update("u1", True, TYPING_THROTTLE_MS)
    assert typing.active(TYPING_THROTTLE_MS) == ["u1"]
    assert typing.next_expiry() == TYPING_THROTTLE_MS + TYPING_EXPIRES_MS
    assert typing.expire(TYPING_THROTTLE_MS + TYPING_EXPIRES_MS - 1) == []
    assert typing.expire(TYPING_THROTTLE_MS + TYPING_EXPIRES_MS) == ["u1"]
    assert typing.expire(10**9) == []  # reported once


def test_typing_stops_on_demand() -> None:
    typing = TypingTracker()
    typing.update("u1", True, 0)
    assert typing.update("u1", False, 100)
    assert not typing.update("u1", False, 200)  # was not typing any more
    typing.update("u2", True, 0)
    assert typing.stop("u2") and not typing.stop("u2")


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(capacity=3, rate=1)
    assert [bucket.take(0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(0) == pytest.approx(1.0)
    assert bucket.take(0.5) == pytest.approx(0.5)  # refused requests cost nothing
    assert bucket.take(1.0) == 0
    restored = TokenBucket.from_state(3, 1, bucket.to_state())
    assert restored.take(1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, 1)


def test_clock_going_backwards_does_not_mint_tokens() -> None:
    bucket = TokenBucket(capacity=1, rate=1)
    bucket.take(10)
    assert bucket.take(5) > 0


@pytest.mark.parametrize("room", ["lobby", "a", "game-night-42", "x" * 32, "f" * 64])
def test_valid_rooms(room: str) -> None:
    assert validate_room(room)[0] == room


@pytest.mark.parametrize(
    "room", ["", "-a", "a-", "Lobby", "a_b", "x" * 33, "a b", "g" * 64, "../x"]
)
def test_invalid_rooms(room: str) -> None:
    with pytest.raises(NameError_):
        validate_room(room)


def test_room_name_normalisation_and_private_ids() -> None:
    assert normalize_room_name("  Game_Night 42 ") == "game-night-42"
    assert validate_room("0" * 64) == ("0" * 64, True)


def test_usernames_and_display_names() -> None:
    assert validate_username("ann.b_2") == "ann.b_2"
    for bad in ("ab", "x" * 33, "ann b", "ann<script>"):
        with pytest.raises(NameError_):
            validate_username(bad)
    assert validate_display_name("  Zoë  ") == "Zoë"
    for bad in ("", " ", "x" * 33, "evil\u202ename", "bell\x07"):
        with pytest.raises(NameError_):
            validate_display_name(bad)


def test_passwords_hash_verify_and_rehash() -> None:
    stored = hash_password("correct horse", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse!", stored)
    assert not verify_password("correct horse", "garbage")
    assert not verify_password("correct horse", "md5$1$00$00")
    assert needs_rehash(stored) and not needs_rehash(stored, iterations=1000)
    assert hash_password("correct horse", iterations=1000) != stored  # salted
    with pytest.raises(ValueError, match="8-256 characters"):
        hash_password("short")
