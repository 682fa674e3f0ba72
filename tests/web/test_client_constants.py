"""The client's copies of server limits (web/protocol.js) match the Python rules they mirror."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.chat import names, passwords, presence, protocol

PROTOCOL_JS = Path(__file__).resolve().parents[2] / "web" / "protocol.js"


def _js_constants() -> dict[str, str]:
    text = PROTOCOL_JS.read_text(encoding="utf-8")
    return dict(re.findall(r"^export const ([A-Z_]+) = (.+);$", text, flags=re.MULTILINE))


def _js_number(raw: str) -> int:
    if not re.fullmatch(r"[0-9 *]+", raw):
        raise AssertionError(f"not a plain number expression: {raw!r}")
    value = 1
    for part in raw.split("*"):
        value *= int(part)
    return value


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TYPING_THROTTLE_MS", presence.TYPING_THROTTLE_MS),
        ("TYPING_EXPIRES_MS", presence.TYPING_EXPIRES_MS),
        ("MAX_DISPLAY_NAME_CHARS", names.MAX_DISPLAY_NAME),
        ("MAX_DEVICE_CHARS", protocol.MAX_DEVICE_CHARS),
        ("MIN_PASSWORD_CHARS", passwords.MIN_PASSWORD_CHARS),
        ("MAX_PASSWORD_CHARS", passwords.MAX_PASSWORD_CHARS),
        ("MAX_TEXT_CHARS", protocol.MAX_TEXT_CHARS),
    ],
)
def test_protocol_js_number_matches_server(name: str, expected: int) -> None:
    assert _js_number(_js_constants()[name]) == expected


def test_protocol_js_nonce_pattern_matches_server() -> None:
    raw = _js_constants()["NONCE_PATTERN"]
    assert raw.strip('"') == protocol._NONCE.pattern
