"""Request and Response: bodies, streams, JSON, forms, redirects, status rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from primitives import ReadableStream, Request, Response
from primitives.errors import BodyError

BODY_USED = "Body has already been used. It can only be used once. Use tee() first if you need to read it twice."


async def test_request_reads_text_json_and_bytes() -> None:
    request = Request(
        "https://x.test/a?b=1", "POST", {"content-type": "application/json"}, '{"k": [1, 2]}'
    )
    assert request.method == "POST"
    assert request.url == "https://x.test/a?b=1"
    assert request.path == "/a"
    assert request.query == {"b": "1"}
    assert await request.json() == {"k": [1, 2]}
    assert request.bodyUsed


async def test_reading_a_body_twice_fails_with_the_fetch_message() -> None:
    request = Request("https://x.test/", "POST", body=b"abc")
    assert await request.text() == "abc"
    with pytest.raises(BodyError) as info:
        await request.bytes()
    assert str(info.value) == BODY_USED
    assert isinstance(info.value, TypeError)


async def test_body_is_a_stream_read_chunk_by_chunk() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"a", b"", b"bc", bytearray(b"d")):
            yield part  # type: ignore[misc]

    request = Request("https://x.test/", "PUT", body=chunks())
    assert isinstance(request.body, ReadableStream)
    parts = [chunk async for chunk in request.body]
    assert parts == [b"a", b"bc", b"d"]
    with pytest.raises(BodyError):
        await request.text()


def test_get_and_head_requests_cannot_have_a_body() -> None:
    with pytest.raises(TypeError, match=r"Request with a GET or HEAD method cannot have a body\."):
        Request("https://x.test/", "GET", body="x")


async def test_request_can_be_built_from_another_request() -> None:
    original = Request("https://x.test/p", "POST", {"a": "1"}, b"data")
    copy = Request(original, headers={"b": "2"})
    assert copy.method == "POST" and copy.url == original.url
    assert copy.headers.get("b") == "2" and copy.headers.get("a") is None
    assert await copy.bytes() == b"data"


async def test_form_data_parses_urlencoded_and_multipart() -> None:
    request = Request(
        "https://x.test/",
        "POST",
        {"content-type": "application/x-www-form-urlencoded"},
        "a=1&b=two+words&a=3",
    )
    form = await request.form_data()
    assert form.getAll("a") == ["1", "3"] and form.get("b") == "two words"

    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi there\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nfile body\r\n--{boundary}--\r\n"
    ).encode()
    request = Request(
        "https://x.test/",
        "POST",
        {"content-type": f"multipart/form-data; boundary={boundary}"},
        body,
    )
    form = await request.formData()
    assert form.get("note") == "hi there"
    upload = form.get("file")
    assert upload is not None and not isinstance(upload, str)
    assert (upload.name, upload.type, upload.size) == ("a.txt", "text/plain", 9)
    assert await upload.text() == "file body"


async def test_form_data_refuses_other_content_types() -> None:
    request = Request("https://x.test/", "POST", {"content-type": "application/json"}, "{}")
    with pytest.raises(TypeError, match="FormData can only parse"):
        await request.form_data()


async def test_malformed_json_body_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Unexpected token"):
        await Request("https://x.test/", "POST", body="{nope").json()


async def test_response_defaults_and_text_content_type() -> None:
    response = Response("hi")
    assert response.status == 200 and response.ok
    assert response.headers.get("content-type") == "text/plain;charset=UTF-8"
    assert await response.text() == "hi"
    assert Response(b"x").headers.get("content-type") is None


async def test_response_json_builds_and_reads() -> None:
    response = Response.json({"a": [1, None]}, status=201, headers={"x": "y"})
    assert response.status == 201
    assert response.headers.get("content-type") == "application/json"
    assert await response.json() == {"a": [1, None]}


def test_response_redirect() -> None:
    response = Response.redirect("https://x.test/next", 301)
    assert response.status == 301 and response.headers.get("location") == "https://x.test/next"
    with pytest.raises(ValueError, match="Invalid redirect status code 200"):
        Response.redirect("/", 200)


@pytest.mark.parametrize("status", [100, 101, 199, 600])
def test_response_status_must_be_200_to_599(status: int) -> None:
    with pytest.raises(ValueError, match="range 200 to 599"):
        Response(status=status)


def test_null_body_statuses_cannot_have_a_body() -> None:
    with pytest.raises(TypeError, match=r"null body status \(204\)"):
        Response("x", status=204)


def test_websocket_response_must_be_101() -> None:
    from primitives import WebSocketPair

    client, _server = WebSocketPair()
    with pytest.raises(ValueError, match="status code 101"):
        Response(None, status=200, web_socket=client)
    assert Response(None, status=101, web_socket=client).webSocket is client


async def test_response_accepts_an_object_with_a_body_stream() -> None:
    class ObjectBody:
        def __init__(self) -> None:
            async def gen() -> AsyncIterator[bytes]:
                yield b"streamed"

            self.body = ReadableStream(gen())

    response = Response(ObjectBody())  # type: ignore[arg-type]
    assert await response.bytes() == b"streamed"


def test_unsupported_body_type_is_refused() -> None:
    with pytest.raises(TypeError, match="unsupported body type int"):
        Response(42)  # type: ignore[arg-type]
