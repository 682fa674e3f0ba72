"""Parsing client frames and building server frames (docs/protocol.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.chat import names, protocol
from app.chat.protocol import (
    ChatDelete,
    ChatEdit,
    ChatSend,
    Hello,
    Ping,
    ProtocolError,
    Resume,
    ResumePoint,
    Typing,
    encode,
    error_frame,
    parse_client_frame,
)

WEB = Path(__file__).parents[2] / "web" / "protocol.js"


def frame(**fields: object) -> str:
    return json.dumps(fields)


def test_parses_every_client_message() -> None:
    assert parse_client_frame(frame(type="hello")) == Hello(None, None)
    assert parse_client_frame(
        frame(type="hello", resume={"epoch": "e1", "seq": 5}, device="d1")
    ) == Hello(ResumePoint("e1", 5), "d1")
    assert parse_client_frame(frame(type="chat.send", nonce="n-1", text="  hi  ")) == ChatSend(
        "n-1", "hi"
    )
    assert parse_client_frame(frame(type="chat.edit", nonce="n2", target=3, text="x")) == ChatEdit(
        "n2", 3, "x"
    )
    assert parse_client_frame(frame(type="chat.delete", nonce="n3", target=3)) == ChatDelete(
        "n3", 3
    )
    assert parse_client_frame(frame(type="typing", active=True)) == Typing(True)
    assert parse_client_frame(frame(type="resume", epoch="e", seq=0)) == Resume(ResumePoint("e", 0))
    assert parse_client_frame(frame(type="ping")) == Ping()


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("{not json", "bad_json", "frame is not valid JSON"),
        ("[1, 2]", "bad_message", "frame must be a JSON object"),
        ('{"text": "x"}', "bad_message", "frame has no 'type'"),
        ('{"type": "chat.shout"}', "bad_message", "unknown message type 'chat.shout'"),
        ('{"type": "chat.send", "text": "x"}', "bad_nonce", "nonce must be 1-64 characters"),
        ('{"type": "chat.send", "nonce": "a b", "text": "x"}', "bad_nonce", "nonce must be"),
        (
            '{"type": "chat.send", "nonce": "n", "text": "   "}',
            "bad_message",
            "message text is empty",
        ),
        (
            '{"type": "chat.send", "nonce": "n", "text": 5}',
            "bad_message",
            "'text' must be a string",
        ),
        (
            '{"type": "chat.edit", "nonce": "n", "target": -1, "text": "x"}',
            "bad_message",
            "'target' must be",
        ),
        (
            '{"type": "chat.edit", "nonce": "n", "target": true, "text": "x"}',
            "bad_message",
            "'target' must be",
        ),
        ('{"type": "typing", "active": "yes"}', "bad_message", "'active' must be true or false"),
        ('{"type": "hello", "resume": {"epoch": "", "seq": 1}}', "bad_message", "'epoch' must be"),
        ('{"type": "hello", "device": ""}', "bad_message", "'device' must be 1-64"),
        ('{"type": "resume", "epoch": "e", "seq": 1.5}', "bad_message", "'seq' must be"),
    ],
)
def test_bad_frames_name_what_is_wrong(raw: str, code: str, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(raw)
    assert info.value.code == code
    assert message in info.value.message


def test_text_and_frame_limits() -> None:
    ok = "x" * protocol.MAX_TEXT_CHARS
    assert parse_client_frame(frame(type="chat.send", nonce="n", text=ok)) == ChatSend("n", ok)
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(frame(type="chat.send", nonce="n7", text=ok + "y"))
    assert (info.value.code, info.value.nonce) == ("too_long", "n7")
    with pytest.raises(ProtocolError, match="frame is larger than 16384 bytes"):
        parse_client_frame(frame(type="chat.send", nonce="n", text="é" * 9000))


def test_binary_frames_are_refused() -> None:
    with pytest.raises(ProtocolError, match="binary frames"):
        parse_client_frame(b'{"type": "ping"}')


def test_html_is_carried_as_text_not_interpreted() -> None:
    message = parse_client_frame(
        frame(type="chat.send", nonce="n", text="<script>alert(1)</script>")
    )
    assert isinstance(message, ChatSend) and message.text == "<script>alert(1)</script>"
    assert (
        json.loads(encode("chat.message", text=message.text))["text"] == "<script>alert(1)</script>"
    )


def test_encode_and_error_frames() -> None:
    assert json.loads(encode("pong")) == {"type": "pong"}
    with pytest.raises(ValueError, match="not a server message type"):
        encode("chat.send")
    error = ProtocolError("rate_limited", "slow down", nonce="n1")
    assert json.loads(error_frame(error, retry_after=1.23456)) == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "nonce": "n1",
        "retry_after": 1.235,
    }


def _js_array(source: str, name: str) -> list[str]:
    found = re.search(rf"export const {name} = \[(.*?)\];", source, re.S)
    assert found, name
    return re.findall(r'"([^"]+)"', found.group(1))


def _js_string(source: str, name: str) -> str:
    found = re.search(rf'export const {name} = "(.*?)";', source)
    assert found, name
    return found.group(1)


def test_web_client_uses_the_same_strings_and_rules() -> None:
    source = WEB.read_text()
    assert _js_array(source, "CLIENT_TYPES") == list(protocol.CLIENT_TYPES)
    assert _js_array(source, "SERVER_TYPES") == list(protocol.SERVER_TYPES)
    assert _js_array(source, "ERROR_CODES") == list(protocol.ERROR_CODES)
    assert _js_string(source, "ROOM_NAME_PATTERN") == names.ROOM_NAME_PATTERN
    assert _js_string(source, "PRIVATE_ROOM_PATTERN") == names.PRIVATE_ROOM_PATTERN
    assert _js_string(source, "USERNAME_PATTERN") == names.USERNAME_PATTERN
    assert f"MAX_TEXT_CHARS = {protocol.MAX_TEXT_CHARS};" in source
