"""The streaming multipart parser against well-formed and hostile bodies, fed in every chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from app.uploads.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    boundary_from_content_type,
)

B = "xYzZY"


def form(*parts: tuple[str, str | None, bytes], boundary: str = B, preamble: bytes = b"") -> bytes:
    out = bytearray(preamble)
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            out += b"Content-Type: image/png\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def parse(
    body: bytes, sizes: list[int] | None = None, **kwargs: int
) -> list[tuple[str, str | None, bytes]]:
    parser = MultipartParser(B, **kwargs)
    parts: list[tuple[str, str | None, bytes]] = []
    current: tuple[str, str | None] | None = None
    data = bytearray()
    position = 0
    for size in [*(sizes or []), len(body)]:
        chunk, position = body[position : position + size], position + size
        for event in parser.feed(chunk):
            if isinstance(event, PartStart):
                current = (event.name, event.filename)
                data.clear()
            elif isinstance(event, PartData):
                data += event.data
            elif isinstance(event, PartEnd):
                assert current is not None
                parts.append((*current, bytes(data)))
        if position >= len(body):
            break
    parser.close()
    return parts


def test_parse_fields_and_file() -> None:
    body = form(
        ("title", None, b"hello"), ("file", "a.png", b"\x89PNG\r\n--xYzZ not a boundary\r\n")
    )
    assert parse(body) == [
        ("title", None, b"hello"),
        ("file", "a.png", b"\x89PNG\r\n--xYzZ not a boundary\r\n"),
    ]


def test_parse_one_byte_at_a_time() -> None:
    body = form(("file", "a.bin", bytes(range(256)) * 8), preamble=b"ignored preamble\r\n")
    assert parse(body, [1] * len(body)) == [("file", "a.bin", bytes(range(256)) * 8)]


@given(st.binary(max_size=600), st.lists(st.integers(1, 50), max_size=40))
def test_parse_any_data_in_any_chunking(data: bytes, sizes: list[int]) -> None:
    assert parse(form(("file", "x", data)), sizes) == [("file", "x", data)]


def test_parse_rfc2231_filename() -> None:
    body = (
        f"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n\r\n"
        f"x\r\n--{B}--\r\n"
    ).encode()
    assert parse(body) == [("file", "été.txt", b"x")]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            form(("file", "a", b"data"))[:-8],
            "truncated",
            "the multipart body ended before its final boundary",
        ),
        (b"", "truncated", "the multipart body ended before its final boundary"),
        (b"x" * 20000, "bad_multipart", "no multipart boundary found"),
        (
            f"--{B}\r\n".encode() + b"X-A: " + b"a" * 9000,
            "bad_multipart",
            "a part's headers are too large",
        ),
        (
            f"--{B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{B}--".encode(),
            "bad_multipart",
            "a part has no Content-Disposition",
        ),
        (
            f"--{B}\r\nContent-Disposition: attachment\r\n\r\nx\r\n--{B}--".encode(),
            "bad_multipart",
            "a part's Content-Disposition is not form-data",
        ),
        (
            f"--{B}\r\nno colon here\r\n\r\nx\r\n--{B}--".encode(),
            "bad_multipart",
            "a part header line is malformed",
        ),
        (f"--{B}garbage\r\n".encode(), "bad_multipart", "a multipart boundary line is malformed"),
        (form(*[("f", None, b"") for _ in range(40)]), "bad_multipart", "more than 32 parts"),
    ],
)
def test_parse_hostile_body(body: bytes, code: str, message: str) -> None:
    with pytest.raises(MultipartError) as caught:
        parse(body)
    assert (caught.value.code, str(caught.value)) == (code, message)


def test_feed_after_the_end_is_ignored() -> None:
    parser = MultipartParser(B)
    parser.feed(form(("a", None, b"1")))
    assert parser.done
    assert parser.feed(b"--xYzZY\r\nmore") == []


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/form-data; boundary=abc", "abc"),
        ('multipart/form-data; boundary="a b:c"', "a b:c"),
        (
            "Multipart/Form-Data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxk",
            "----WebKitFormBoundary7MA4YWxk",
        ),
    ],
)
def test_boundary_from_content_type(content_type: str, boundary: str) -> None:
    assert boundary_from_content_type(content_type) == boundary


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("multipart/form-data", "the multipart boundary is missing or invalid"),
        (
            "multipart/form-data; boundary=" + "a" * 71,
            "the multipart boundary is missing or invalid",
        ),
        ("multipart/form-data; boundary=a\x00b", "the multipart boundary is missing or invalid"),
        ("multipart/mixed; boundary=a", "the content type is not multipart/form-data"),
    ],
)
def test_boundary_from_content_type_rejects(content_type: str, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        boundary_from_content_type(content_type)
