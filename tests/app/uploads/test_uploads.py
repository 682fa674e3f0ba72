"""POST /api/uploads, GET /files, DELETE: the real Worker on memory backends, good and bad input."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from app.uploads.store import sweep
from primitives.env import Env
from tests.app.uploads.conftest import image_bytes, r2_keys, raw, rows, sign_up

MiB = 1024 * 1024


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


def form_body(
    data: bytes, filename: str, content_type: str = "application/octet-stream"
) -> tuple[bytes, str]:
    boundary = "----edgeroomTestBoundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def test_create_upload_raw_image(env: Env) -> None:
    alice = await sign_up(env, "alice")
    data = image_bytes(1600, 1200, "JPEG")
    status, body, _ = await raw(
        alice, "POST", "/api/uploads?name=../../holiday.jpg", data, {"content-type": "image/jpeg"}
    )
    assert status == 201, body
    upload = body["upload"]
    file_id = upload["id"]
    assert upload | {"id": None, "created_at": None, "links": None} == {
        "id": None,
        "name": "holiday.jpg",
        "kind": "image",
        "content_type": "image/jpeg",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": 1600,
        "height": 1200,
        "private": False,
        "state": "ready",
        "created_at": None,
        "links": None,
    }
    assert upload["links"] == {
        "self": f"/api/uploads/{file_id}",
        "file": f"/files/{file_id}",
        "variants": {"256": f"/files/{file_id}/256", "1024": f"/files/{file_id}/1024"},
    }
    head = await env.UPLOADS.head(f"files/{file_id}/original")
    assert head.httpMetadata["contentType"] == "image/jpeg"
    user_id = (await raw(alice, "GET", "/api/me"))[1]["user"]["id"]
    assert head.customMetadata == {
        "uploader": user_id,
        "name": "holiday.jpg",
        "sha256": upload["sha256"],
    }
    assert sorted(await r2_keys(env)) == [
        f"files/{file_id}/{v}" for v in ("1024", "256", "original")
    ]
    status, variant, response = await raw(alice, "GET", f"/files/{file_id}/256")
    assert status == 200 and response.headers.get("content-type") == "image/jpeg"
    assert Image.open(io.BytesIO(variant)).size == (256, 192)


async def test_create_upload_streamed_form(env: Env) -> None:
    alice = await sign_up(env, "alice")
    body, content_type = form_body("plain text, été\n".encode() * 1000, "notes.txt", "text/plain")
    status, answer, _ = await raw(
        alice, "POST", "/api/uploads", chunks(body, 777), {"content-type": content_type}
    )
    assert status == 201, answer
    assert (answer["upload"]["name"], answer["upload"]["kind"], answer["upload"]["size"]) == (
        "notes.txt",
        "text",
        len("plain text, été\n".encode()) * 1000,
    )
    status, data, response = await raw(alice, "GET", answer["upload"]["links"]["file"])
    assert data == "plain text, été\n".encode() * 1000
    assert response.headers.get("content-type") == "text/plain; charset=utf-8"
    assert response.headers.get("x-content-type-options") == "nosniff"


@pytest.mark.parametrize(
    ("data", "headers", "status", "code"),
    [
        (b"PK\x03\x04zipfile", {"content-type": "application/zip"}, 415, "unsupported_type"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            {"content-type": "image/svg+xml"},
            415,
            "unsupported_type",
        ),
        (
            b"<!DOCTYPE html><script>alert(1)</script>",
            {"content-type": "text/plain"},
            415,
            "unsupported_type",
        ),
        (b"GIF89a/*<script>alert(1)</script>*/", {"content-type": "image/gif"}, 415, "polyglot"),
        (image_bytes(50, 50, "PNG"), {"content-type": "image/jpeg"}, 415, "type_mismatch"),
        (b"%PDF-1.4 not really", {"content-type": "image/png"}, 415, "type_mismatch"),
        (b"", {"content-type": "text/plain"}, 400, "empty_file"),
        (image_bytes(300, 300, "PNG")[:300], {"content-type": "image/png"}, 422, "corrupt_image"),
        (b"text then \xff\xfe" + b"x" * 2000, {}, 415, "unsupported_type"),
        (b"x" * 5000 + b"\x00binary tail", {}, 415, "bad_text"),
    ],
)
async def test_create_upload_rejects(
    env: Env, data: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    alice = await sign_up(env, "alice")
    got, body, _ = await raw(alice, "POST", "/api/uploads", chunks(data, 1000), headers)
    assert (got, body["error"]["code"]) == (status, code), body
    assert await r2_keys(env) == [] and await rows(env) == []


async def test_create_upload_needs_a_session_and_our_origin(env: Env) -> None:
    alice = await sign_up(env, "alice")
    alice_anonymous = type(alice)(env)
    status, body, _ = await raw(alice_anonymous, "POST", "/api/uploads", b"hello")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, body, _ = await raw(
        alice, "POST", "/api/uploads", b"hello", {"origin": "https://evil.example"}
    )
    assert (status, body["error"]["code"]) == (403, "forbidden_origin")


@pytest.mark.parametrize("upload_vars", [{"UPLOAD_MAX_BYTES": str(10 * MiB)}])
async def test_create_upload_large_streams_through_multipart(env: Env) -> None:
    alice = await sign_up(env, "alice")
    data = ("0123456789abcdef" * (MiB // 16)).encode() * 9  # 9 MiB of text: two R2 parts
    status, body, _ = await raw(alice, "POST", "/api/uploads?name=big.txt", chunks(data, MiB // 3))
    assert status == 201, body
    head = await env.UPLOADS.head(f"files/{body['upload']['id']}/original")
    assert head.size == len(data) and head.etag.endswith("-2")
    assert body["upload"]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("upload_vars", [{"UPLOAD_MAX_BYTES": str(10 * MiB)}])
async def test_create_upload_too_large_while_streaming(env: Env) -> None:
    alice = await sign_up(env, "alice")
    data = b"a" * (10 * MiB + 1)
    status, body, _ = await raw(alice, "POST", "/api/uploads", chunks(data, MiB))
    assert (status, body["error"]["code"]) == (413, "too_large")
    assert await r2_keys(env) == [] and await rows(env) == []
    assert (await env.DB.prepare("SELECT COUNT(*) AS n FROM uploads").first("n")) == 0
    status, body, _ = await raw(
        alice, "POST", "/api/uploads", b"a", {"content-length": str(10 * MiB + 1)}
    )
    assert (status, body["error"]["code"]) == (413, "too_large")


async def test_create_upload_truncated_body(env: Env) -> None:
    alice = await sign_up(env, "alice")
    status, body, _ = await raw(alice, "POST", "/api/uploads", b"hello", {"content-length": "10"})
    assert (status, body["error"]) == (
        400,
        {"code": "truncated", "message": "the body ended after 5 of 10 bytes"},
    )
    form, content_type = form_body(b"hello world", "a.txt")
    status, body, _ = await raw(
        alice, "POST", "/api/uploads", form[:-10], {"content-type": content_type}
    )
    assert (status, body["error"]["code"]) == (400, "truncated")
    assert await r2_keys(env) == [] and await rows(env) == []


async def test_create_upload_form_without_file(env: Env) -> None:
    alice = await sign_up(env, "alice")
    body = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n'
    status, answer, _ = await raw(
        alice, "POST", "/api/uploads", body, {"content-type": "multipart/form-data; boundary=b"}
    )
    assert (status, answer["error"]["code"]) == (400, "missing_file")
    status, answer, _ = await raw(
        alice, "POST", "/api/uploads", body, {"content-type": "multipart/form-data"}
    )
    assert (status, answer["error"]["code"]) == (400, "bad_multipart")


@pytest.mark.parametrize("upload_vars", [{"UPLOAD_QUOTA_BYTES": "10000"}])
async def test_create_upload_quota(env: Env) -> None:
    alice = await sign_up(env, "alice")
    assert (await raw(alice, "POST", "/api/uploads", b"a" * 6000))[0] == 201
    status, body, _ = await raw(alice, "POST", "/api/uploads", chunks(b"b" * 6000, 1000))
    assert (status, body["error"]["code"]) == (413, "quota_exceeded")
    bob = await sign_up(env, "bob")
    assert (await raw(bob, "POST", "/api/uploads", b"a" * 6000))[0] == 201


@pytest.mark.parametrize("upload_vars", [{"UPLOAD_OTHER_TYPES": "attachment"}])
async def test_create_upload_other_types_as_attachments(env: Env) -> None:
    alice = await sign_up(env, "alice")
    status, body, _ = await raw(
        alice,
        "POST",
        "/api/uploads?name=page.html",
        b"<html><script>alert(1)</script>",
        {"content-type": "text/html"},
    )
    assert status == 201 and body["upload"]["kind"] == "attachment"
    status, _, response = await raw(alice, "GET", body["upload"]["links"]["file"])
    assert response.headers.get("content-type") == "application/octet-stream"
    assert response.headers.get("content-disposition").startswith("attachment;")


async def test_download_range_etag_and_head(env: Env) -> None:
    alice = await sign_up(env, "alice")
    _, body, _ = await raw(alice, "POST", "/api/uploads?name=a.txt", b"0123456789")
    link = body["upload"]["links"]["file"]
    status, data, response = await raw(alice, "GET", link, headers={"range": "bytes=2-4"})
    assert (status, data, response.headers.get("content-range")) == (206, b"234", "bytes 2-4/10")
    etag = response.headers.get("etag")
    status, data, response = await raw(
        alice, "GET", link, headers={"if-none-match": f'W/{etag}, "x"'}
    )
    assert (status, data) == (304, b"")
    status, data, response = await raw(alice, "GET", link, headers={"range": "bytes=20-"})
    assert (status, data["error"]["code"], response.headers.get("content-range")) == (
        416,
        "range_not_satisfiable",
        "bytes */10",
    )
    status, data, response = await raw(
        alice, "GET", link, headers={"range": "bytes=2-4", "if-range": '"old"'}
    )
    assert (status, data) == (200, b"0123456789")
    status, data, response = await raw(alice, "HEAD", link)
    assert (status, data, response.headers.get("content-length")) == (200, b"", "10")
    status, data, _ = await raw(alice, "GET", "/files/f_unknown")
    assert (status, data["error"]["code"]) == (404, "not_found")
    status, data, _ = await raw(alice, "GET", link + "/999")
    assert (status, data["error"]["code"]) == (404, "not_found")


async def test_download_pdf_is_an_attachment(env: Env) -> None:
    alice = await sign_up(env, "alice")
    _, body, _ = await raw(
        alice, "POST", "/api/uploads?name=r%C3%A9sum%C3%A9.pdf", b"%PDF-1.7\n1 0 obj\n"
    )
    _, _, response = await raw(alice, "GET", body["upload"]["links"]["file"])
    assert response.headers.get("content-type") == "application/pdf"
    assert response.headers.get("content-disposition") == (
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )


async def test_private_files_need_a_fresh_signed_link(env: Env) -> None:
    alice = await sign_up(env, "alice")
    _, body, _ = await raw(alice, "POST", "/api/uploads?private=1", image_bytes(300, 300))
    upload = body["upload"]
    signed = upload["links"]["file"]
    plain = signed.split("?")[0]
    assert upload["private"] and "sig=" in signed and upload["links"]["expires_at"] == 1_800_003_600
    assert (await raw(alice, "GET", signed))[0] == 200
    assert (await raw(alice, "GET", upload["links"]["variants"]["256"]))[0] == 200
    status, data, _ = await raw(alice, "GET", plain)
    assert (status, data["error"]["code"]) == (403, "signature_required")
    tampered = signed[:-1] + ("0" if signed[-1] != "0" else "1")
    status, data, _ = await raw(alice, "GET", tampered)
    assert (status, data["error"]["code"]) == (403, "bad_signature")
    other_variant = upload["links"]["variants"]["256"].replace("/256?", "/1024?")
    assert (await raw(alice, "GET", other_variant))[1]["error"]["code"] == "bad_signature"
    env.clock.advance(3601)
    status, data, _ = await raw(alice, "GET", signed)
    assert (status, data["error"]["code"]) == (403, "link_expired")
    status, fresh, _ = await raw(alice, "GET", f"/api/uploads/{upload['id']}?ttl=60")
    assert (await raw(alice, "GET", fresh["upload"]["links"]["file"]))[0] == 200


async def test_signing_key_is_generated_once(env: Env) -> None:
    alice = await sign_up(env, "alice")
    _, first, _ = await raw(alice, "POST", "/api/uploads?private=1", b"one")
    _, second, _ = await raw(alice, "GET", f"/api/uploads/{first['upload']['id']}")
    assert second["upload"]["links"]["file"] == first["upload"]["links"]["file"]
    assert await env.DB.prepare("SELECT COUNT(*) AS n FROM app_secrets").first("n") == 1


async def test_delete_upload(env: Env) -> None:
    alice, bob = await sign_up(env, "alice"), await sign_up(env, "bob")
    _, body, _ = await raw(alice, "POST", "/api/uploads", image_bytes(300, 300))
    path = body["upload"]["links"]["self"]
    status, data, _ = await raw(bob, "DELETE", path)
    assert (status, data["error"]["code"]) == (403, "forbidden")
    status, data, _ = await raw(bob, "GET", path)
    assert (status, data["error"]["code"]) == (403, "forbidden")
    assert (await raw(alice, "DELETE", path))[0] == 204
    assert await r2_keys(env) == [] and await rows(env) == []
    status, data, _ = await raw(alice, "DELETE", path)
    assert (status, data["error"]["code"]) == (404, "not_found")
    assert (await raw(alice, "GET", body["upload"]["links"]["file"]))[0] == 404


async def test_delete_upload_half_failed_is_finished_by_the_sweeper(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await sign_up(env, "alice")
    _, body, _ = await raw(alice, "POST", "/api/uploads", image_bytes(300, 300))
    file_id = body["upload"]["id"]
    real_delete = env.UPLOADS.delete

    async def broken(keys: Any) -> None:
        raise RuntimeError("R2 is down")

    monkeypatch.setattr(env.UPLOADS, "delete", broken)
    status, data, _ = await raw(alice, "DELETE", f"/api/uploads/{file_id}")
    assert (status, data) == (202, {"status": "deleting"})
    assert await rows(env) == [{"id": file_id, "state": "deleting"}]
    assert (await raw(alice, "GET", f"/files/{file_id}"))[0] == 404
    assert await sweep(env) == 0
    monkeypatch.setattr(env.UPLOADS, "delete", real_delete)
    assert await sweep(env) == 1
    assert await r2_keys(env) == [] and await rows(env) == []


async def test_sweep_removes_abandoned_uploads(env: Env) -> None:
    alice = await sign_up(env, "alice")
    user_id = (await raw(alice, "GET", "/api/me"))[1]["user"]["id"]
    upload = await env.UPLOADS.createMultipartUpload("files/f_old/original")
    await upload.uploadPart(1, b"x" * 100)
    await (
        env.DB.prepare(
            "INSERT INTO uploads (id, owner, name, kind, content_type, state, upload_id, created_at, updated_at)"
            " VALUES ('f_old', ?, 'a', 'text', 'text/plain', 'uploading', ?, ?, ?)"
        )
        .bind(user_id, upload.uploadId, env.clock.now_ms(), env.clock.now_ms())
        .run()
    )
    assert await sweep(env) == 0
    env.clock.advance(24 * 3600 + 1)
    assert await sweep(env) == 1
    assert await rows(env) == []


async def test_list_uploads(env: Env) -> None:
    alice, bob = await sign_up(env, "alice"), await sign_up(env, "bob")
    await raw(alice, "POST", "/api/uploads?name=a.txt", b"a")
    await raw(bob, "POST", "/api/uploads?name=b.txt", b"bb")
    status, body, _ = await raw(alice, "GET", "/api/uploads")
    assert status == 200
    assert ([u["name"] for u in body["uploads"]], body["used_bytes"]) == (["a.txt"], 1)


async def test_scheduled_runs_the_sweeper(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.worker import Default
    from primitives import ExecutionContext

    alice = await sign_up(env, "alice")
    _, body, _ = await raw(alice, "POST", "/api/uploads", b"to be deleted")

    async def broken(keys: Any) -> None:
        raise RuntimeError("R2 is down")

    real_delete = env.UPLOADS.delete
    monkeypatch.setattr(env.UPLOADS, "delete", broken)
    assert (await raw(alice, "DELETE", body["upload"]["links"]["self"]))[0] == 202
    monkeypatch.setattr(env.UPLOADS, "delete", real_delete)
    await Default(ExecutionContext(), env).scheduled(None)
    assert await rows(env) == [] and await r2_keys(env) == []
