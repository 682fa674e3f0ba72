"""Chat attachments: a message carries the sender's uploads, checked by the room, kept in history."""

from __future__ import annotations

import pytest

from app.chat.protocol import ChatSend, ProtocolError, parse_client_frame
from primitives.env import Env
from tests.app.uploads.conftest import image_bytes, raw, sign_up

ID = "f_" + "a" * 24


def test_parse_chat_send_with_attachments() -> None:
    assert parse_client_frame(
        f'{{"type": "chat.send", "nonce": "n1", "attachments": ["{ID}"]}}'
    ) == ChatSend("n1", "", (ID,))
    assert parse_client_frame(
        f'{{"type": "chat.send", "nonce": "n1", "text": " look ", "attachments": ["{ID}"]}}'
    ) == ChatSend("n1", "look", (ID,))


@pytest.mark.parametrize(
    "attachments",
    ['"x"', "[]", '["../etc"]', f'["{ID}", "{ID}"]', "[1]", str([ID] * 5).replace("'", '"')],
)
def test_parse_chat_send_rejects_bad_attachments(attachments: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(f'{{"type": "chat.send", "nonce": "n1", "attachments": {attachments}}}')
    assert (caught.value.code, caught.value.nonce) == ("bad_attachment", "n1")


async def test_message_with_an_image_reaches_the_room_and_history(env: Env) -> None:
    ann, bob = await sign_up(env, "ann"), await sign_up(env, "bob")
    for client in (ann, bob):
        assert (await client.call("POST", "/api/rooms/tea/join"))[0] == 200
    _, upload, _ = await raw(ann, "POST", "/api/uploads?name=cat.png", image_bytes(800, 600))
    file_id = upload["upload"]["id"]
    ann_ws, bob_ws = await ann.connect("tea"), await bob.connect("tea")
    await ann_ws.hello()
    await bob_ws.hello()
    ann_ws.send(type="chat.send", nonce="n1", text="my cat", attachments=[file_id])
    message = await bob_ws.recv("chat.message")
    assert message["text"] == "my cat"
    assert message["attachments"] == [
        {
            "id": file_id,
            "name": "cat.png",
            "kind": "image",
            "content_type": "image/png",
            "size": upload["upload"]["size"],
            "width": 800,
            "height": 600,
            "url": f"/files/{file_id}",
            "preview": f"/files/{file_id}/256",
            "full": f"/files/{file_id}/1024",
        }
    ]
    status, history, _ = await bob.call("GET", "/api/rooms/tea/messages")
    assert status == 200 and history["messages"][-1]["attachments"] == message["attachments"]


async def test_attachments_must_be_the_senders_public_uploads(env: Env) -> None:
    ann, bob = await sign_up(env, "ann"), await sign_up(env, "bob")
    _, mine_private, _ = await raw(ann, "POST", "/api/uploads?private=1", b"secret")
    _, bobs, _ = await raw(bob, "POST", "/api/uploads", b"bob's")
    ws = await ann.connect("tea")
    await ws.hello()
    for n, file_id in enumerate(
        [mine_private["upload"]["id"], bobs["upload"]["id"], "f_" + "0" * 24]
    ):
        ws.send(type="chat.send", nonce=f"n{n}", text="x", attachments=[file_id])
        error = await ws.recv("error")
        assert (error["code"], error["nonce"]) == ("bad_attachment", f"n{n}")


async def test_attachments_reach_d1_and_go_with_a_deleted_message(env: Env) -> None:
    from tests.app.chat.test_rooms import drain_outbox

    ann = await sign_up(env, "ann")
    _, upload, _ = await raw(ann, "POST", "/api/uploads?name=a.txt", b"notes")
    file_id = upload["upload"]["id"]
    ws = await ann.connect("tea")
    await ws.hello()
    ws.send(type="chat.send", nonce="n1", attachments=[file_id])
    ack = await ws.recv("chat.ack")
    await drain_outbox(env)
    stored = await env.DB.prepare("SELECT text, attachments FROM messages").first()
    assert stored["text"] == "" and file_id in stored["attachments"]
    ws.send(type="chat.delete", nonce="n2", target=ack["seq"])
    await ws.recv("chat.deleted")
    await drain_outbox(env)
    stored = await env.DB.prepare("SELECT attachments, deleted FROM messages").first()
    assert (stored["attachments"], stored["deleted"]) == (None, 1)
