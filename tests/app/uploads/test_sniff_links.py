"""Type sniffing, signed links, file names and ranges (sans-I/O)."""

from __future__ import annotations

import pytest

from app.uploads.links import (
    LinkRejected,
    content_disposition,
    parse_range,
    sanitize_filename,
    sign,
    verify,
)
from app.uploads.sniff import Sniffed, TextValidator, looks_like_markup, sniff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", Sniffed("image", "image/png", "PNG")),
        (b"\xff\xd8\xff\xe0", Sniffed("image", "image/jpeg", "JPEG")),
        (b"GIF89a...", Sniffed("image", "image/gif", "GIF")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", Sniffed("image", "image/webp", "WEBP")),
        (b"%PDF-1.7\n", Sniffed("pdf", "application/pdf")),
        ("héllo\tworld\r\n".encode(), Sniffed("text", "text/plain; charset=utf-8")),
        ("cut at the end \u00e9".encode()[:-1], Sniffed("text", "text/plain; charset=utf-8")),
    ],
)
def test_sniff_supported(head: bytes, expected: Sniffed) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"PK\x03\x04zip",
        b"\x00\x01binary",
        b"text with a NUL\x00",
        b"\xff\xfe not utf-8",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"\x1b[31m",
    ],
)
def test_sniff_unsupported(head: bytes) -> None:
    assert sniff(head) is None


@pytest.mark.parametrize(
    "head",
    [b"GIF89a<script>alert(1)</script>", b"%PDF-1 <HTML>", b"<svg onload=x>", b"<!DOCTYPE html>"],
)
def test_looks_like_markup(head: bytes) -> None:
    assert looks_like_markup(head)


def test_text_validator_across_chunks() -> None:
    encoded = "é".encode()
    validator = TextValidator()
    assert validator.feed(encoded[:1]) and validator.feed(encoded[1:]) and validator.close()
    cut = TextValidator()
    assert cut.feed(encoded[:1]) and not cut.close()
    assert not TextValidator().feed(b"ok\x00")


KEY = b"k" * 32


def test_verify_accepts_a_fresh_link() -> None:
    verify(KEY, "f_1", "original", "2000", sign(KEY, "f_1", "original", 2000), now=1999.0)


@pytest.mark.parametrize(
    ("file_id", "variant", "expires", "signature", "code"),
    [
        ("f_1", "original", None, None, "signature_required"),
        ("f_1", "original", "2000", "zz", "bad_signature"),
        ("f_2", "original", "2000", sign(KEY, "f_1", "original", 2000), "bad_signature"),
        ("f_1", "256", "2000", sign(KEY, "f_1", "original", 2000), "bad_signature"),
        ("f_1", "original", "2001", sign(KEY, "f_1", "original", 2000), "bad_signature"),
        ("f_1", "original", "-1", sign(KEY, "f_1", "original", 2000), "bad_signature"),
        ("f_1", "original", "1000", sign(KEY, "f_1", "original", 1000), "link_expired"),
    ],
)
def test_verify_rejects(
    file_id: str, variant: str, expires: str | None, signature: str | None, code: str
) -> None:
    with pytest.raises(LinkRejected) as caught:
        verify(KEY, file_id, variant, expires, signature, now=1500.0)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/abs/path/.htaccess", "htaccess"),
        ("a\x00b\r\nc.txt", "a_b_c.txt"),
        ('x"<script>.png', "x_script_.png"),
        ("\u202egnp.exe", "gnp.exe"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("  spaced   name .txt ", "spaced name .txt"),
    ],
)
def test_sanitize_filename(name: str | None, safe: str) -> None:
    assert sanitize_filename(name) == safe


def test_sanitize_filename_keeps_the_extension_of_long_names() -> None:
    name = sanitize_filename("é" * 300 + ".jpeg")
    assert name.endswith(".jpeg") and len(name.encode()) <= 200


def test_content_disposition_ascii_fallback() -> None:
    assert content_disposition("inline", "été.txt") == (
        "inline; filename=\"_t_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=90-", (90, 10)),
        ("bytes=-5", (95, 5)),
        ("bytes=-500", (0, 100)),
        ("bytes=50-5000", (50, 50)),
        ("bytes=100-", False),
        ("bytes=-0", False),
        ("bytes=0-1,5-6", None),
        ("bytes=9-3", None),
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, 100) == expected
