"""Resumable uploads: create, parts in any order, resume after an interruption, complete, abort, bad input."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from primitives.env import Env
from tests.app.uploads.conftest import Client, image_bytes, r2_keys, raw, rows, sign_up

MiB = 1024 * 1024
PART = 5 * MiB


async def create(client: Client, **body: object) -> dict[str, Any]:
    status, answer, _ = await raw(
        client, "POST", "/api/uploads/multipart", json.dumps({"part_size": PART, **body})
    )  # type: ignore[arg-type]
    assert status == 201, answer
    return dict(answer)


async def test_resumed_upload_completes(env: Env) -> None:
    alice = await sign_up(env, "alice")
    data = b"line of text\n" * (PART * 2 // 13 + 1000)
    created = await create(alice, name="log.txt")
    file_id = created["upload"]["id"]
    base = f"/api/uploads/multipart/{file_id}"
    pieces = [data[at : at + PART] for at in range(0, len(data), PART)]
    assert len(pieces) == 3
    # Part 3 first, then part 1; the connection "drops" before part 2.
    for number in (3, 1):
        status, answer, _ = await raw(alice, "PUT", f"{base}/parts/{number}", pieces[number - 1])
        assert (status, answer["size"]) == (200, len(pieces[number - 1]))
    status, answer, _ = await raw(alice, "POST", f"{base}/complete")
    assert (status, answer["error"]) == (
        400,
        {"code": "missing_parts", "message": "parts [2] have not arrived"},
    )
    status, answer, _ = await raw(alice, "GET", base)
    assert [p["part"] for p in answer["parts"]] == [1, 3] and answer["part_size"] == PART
    assert (await raw(alice, "PUT", f"{base}/parts/2", pieces[1]))[0] == 200
    status, answer, _ = await raw(alice, "POST", f"{base}/complete")
    assert status == 200, answer
    assert (answer["upload"]["state"], answer["upload"]["kind"], answer["upload"]["size"]) == (
        "ready",
        "text",
        len(data),
    )
    status, body, _ = await raw(alice, "GET", f"/files/{file_id}")
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert (await raw(alice, "PUT", f"{base}/parts/1", b"more"))[1]["error"][
        "code"
    ] == "not_uploading"


async def test_resumable_image_gets_variants(env: Env) -> None:
    alice = await sign_up(env, "alice")
    file_id = (await create(alice))["upload"]["id"]
    base = f"/api/uploads/multipart/{file_id}"
    assert (await raw(alice, "PUT", f"{base}/parts/1", image_bytes(800, 600, "JPEG")))[0] == 200
    status, answer, _ = await raw(alice, "POST", f"{base}/complete")
    assert status == 200 and sorted(answer["upload"]["links"]["variants"]) == ["1024", "256"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/parts/0", b"x", 400, "bad_part_number"),
        ("/parts/10001", b"x", 400, "bad_part_number"),
        ("/parts/abc", b"x", 400, "bad_part_number"),
        ("/parts/1", b"\x00\x01\x02 binary", 415, "unsupported_type"),
        ("/parts/1", b"", 400, "empty_file"),
        ("/parts/1", b"a" * (PART + 1), 413, "part_too_large"),
    ],
)
async def test_upload_part_rejects(
    env: Env, path: str, body: bytes, status: int, code: str
) -> None:
    alice = await sign_up(env, "alice")
    file_id = (await create(alice))["upload"]["id"]
    got, answer, _ = await raw(alice, "PUT", f"/api/uploads/multipart/{file_id}{path}", body)
    assert (got, answer["error"]["code"]) == (status, code)


async def test_complete_rejects_short_middle_parts(env: Env) -> None:
    alice = await sign_up(env, "alice")
    file_id = (await create(alice))["upload"]["id"]
    base = f"/api/uploads/multipart/{file_id}"
    await raw(alice, "PUT", f"{base}/parts/1", b"a" * 100)
    await raw(alice, "PUT", f"{base}/parts/2", b"b" * 100)
    status, answer, _ = await raw(alice, "POST", f"{base}/complete")
    assert (status, answer["error"]["code"]) == (400, "bad_part_size")
    status, answer, _ = await raw(alice, "POST", "/api/uploads/multipart/f_nope/complete")
    assert (status, answer["error"]["code"]) == (404, "not_found")


async def test_abort_and_other_users(env: Env) -> None:
    alice, bob = await sign_up(env, "alice"), await sign_up(env, "bob")
    file_id = (await create(alice))["upload"]["id"]
    base = f"/api/uploads/multipart/{file_id}"
    await raw(alice, "PUT", f"{base}/parts/1", b"a" * 100)
    status, answer, _ = await raw(bob, "PUT", f"{base}/parts/2", b"b")
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert (await raw(alice, "DELETE", base))[0] == 204
    assert await rows(env) == [] and await r2_keys(env) == []


@pytest.mark.parametrize("part_size", [MiB, 65 * MiB, "8", True])
async def test_create_rejects_bad_part_size(env: Env, part_size: object) -> None:
    alice = await sign_up(env, "alice")
    status, answer, _ = await raw(
        alice, "POST", "/api/uploads/multipart", json.dumps({"part_size": part_size})
    )
    assert (status, answer["error"]["code"]) == (400, "bad_request")
