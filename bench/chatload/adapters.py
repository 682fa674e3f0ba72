"""One small adapter per server protocol: how to sign in, join a room, send, and read frames.

An adapter makes a :class:`Conversation` per connection: the frames to send once the socket is
open, and :meth:`Conversation.feed`, which classifies each received frame (and answers it when
the protocol wants an answer, such as Engine.IO's ping). Classification looks at a frame's
prefix first, so the frames a load run does not need (presence, typing) cost almost nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import IntEnum
from typing import Any, ClassVar, NamedTuple
from urllib.parse import quote

import httpx
import orjson

__all__ = [
    "ADAPTERS",
    "Adapter",
    "Conversation",
    "EdgeroomAdapter",
    "Event",
    "Kind",
    "RawAdapter",
    "SocketioAdapter",
    "UvicornAdapter",
]


class Kind(IntEnum):
    OTHER = 0
    READY = 1  # joined: the room will deliver from now on
    MESSAGE = 2  # value: the payload
    ACK = 3  # value: the nonce
    ERROR = 4  # value: the error code (and the nonce after a '|', when there is one)
    BATCH = 5  # batch: the events of the frames one message carried


class Event(NamedTuple):
    kind: Kind
    value: str | None = None
    reply: str | None = None
    batch: tuple[Event, ...] = ()

    def events(self) -> tuple[Event, ...]:
        """The events this received message stands for: itself, or those of its batch."""
        return self.batch if self.kind is Kind.BATCH else (self,)


_OTHER = Event(Kind.OTHER)


class Conversation(ABC):
    """One connection's side of the protocol (with whatever handshake state it needs)."""

    def opening(self) -> list[str]:
        """Frames to send as soon as the socket is open."""
        return []

    @abstractmethod
    def feed(self, frame: str | bytes) -> Event: ...

    @abstractmethod
    def message(self, payload: str, nonce: str) -> str:
        """The frame that sends ``payload`` to the room."""


class Adapter(ABC):
    #: the name in tables and plots
    name: ClassVar[str]
    #: whether the server acknowledges each message (only edgeroom: the ``durable`` scenario)
    has_acks: ClassVar[bool] = False

    @abstractmethod
    def url(self, base: str, room: str) -> str: ...

    async def sign_in(self, http: httpx.AsyncClient, client: int) -> dict[str, str]:
        """Headers that authenticate ``client``'s socket (nothing by default)."""
        return {}

    @abstractmethod
    def conversation(self, room: str) -> Conversation: ...


# -- edgeroom (docs/protocol.md) -------------------------------------------------------------------


_HELLO = quote('{"device":"load","batch":true}', safe="")


class EdgeroomConversation(Conversation):
    """Says hello in the upgrade's URL and asks for ``batch`` messages, as the web client does."""

    def feed(self, frame: str | bytes) -> Event:
        if isinstance(frame, bytes):
            return _OTHER
        # orjson writes "type" first: {"type":"chat.message",...
        head = frame[9:21]
        if head == "chat.message":
            return Event(Kind.MESSAGE, orjson.loads(frame)["text"])
        if head == 'chat.ack","n':
            return Event(Kind.ACK, orjson.loads(frame)["nonce"])
        if head.startswith("welcome"):
            return Event(Kind.READY)
        if head == 'batch","fram':
            frames = orjson.loads(frame)["frames"]
            return Event(Kind.BATCH, batch=tuple(_edgeroom_event(data) for data in frames))
        if head.startswith("error"):
            return _edgeroom_event(orjson.loads(frame))
        return _OTHER

    def message(self, payload: str, nonce: str) -> str:
        return f'{{"type":"chat.send","nonce":"{nonce}","text":"{payload}"}}'


def _edgeroom_event(data: dict[str, Any]) -> Event:
    kind = data.get("type")
    if kind == "chat.message":
        return Event(Kind.MESSAGE, data["text"])
    if kind == "chat.ack":
        return Event(Kind.ACK, data["nonce"])
    if kind == "welcome":
        return Event(Kind.READY)
    if kind == "error":
        nonce = data.get("nonce")
        return Event(Kind.ERROR, data["code"] + (f"|{nonce}" if nonce else ""))
    return _OTHER


class EdgeroomAdapter(Adapter):
    """Guest sessions (``POST /api/auth/guest``: the cheapest sign-in), then ``hello``/``welcome``."""

    name = "edgeroom"
    has_acks = True

    def url(self, base: str, room: str) -> str:
        # The hello rides on the upgrade (docs/protocol.md, "Hello in the URL"): the welcome
        # follows the 101 with no round trip, as for the raw peer's welcome.
        return f"{base}/api/rooms/{room}/ws?hello={_HELLO}"

    async def sign_in(self, http: httpx.AsyncClient, client: int) -> dict[str, str]:
        response = await http.post("/api/auth/guest", json={"name": f"load-{client}"})
        if response.status_code != 201:
            raise RuntimeError(f"guest sign-in answered {response.status_code}: {response.text}")
        return {"authorization": f"Bearer {response.json()['token']}"}

    def conversation(self, room: str) -> Conversation:
        return EdgeroomConversation()


# -- the raw websockets peer (peers/raw.py) ---------------------------------------------------------


class RawConversation(Conversation):
    def feed(self, frame: str | bytes) -> Event:
        if frame == "welcome":
            return Event(Kind.READY)
        if isinstance(frame, bytes):
            return _OTHER
        return Event(Kind.MESSAGE, frame)

    def message(self, payload: str, nonce: str) -> str:
        return payload


class RawAdapter(Adapter):
    """Path ``/<room>``; the server says ``welcome``, then relays every text frame to the room."""

    name = "raw"

    def url(self, base: str, room: str) -> str:
        return f"{base}/{room}"

    def conversation(self, room: str) -> Conversation:
        return RawConversation()


class UvicornAdapter(RawAdapter):
    """The raw peer's protocol, served by a bare ASGI app on uvicorn (peers/bare_asgi.py)."""

    name = "uvicorn"


# -- the python-socketio peer (peers/sio.py): Engine.IO 4 / Socket.IO 5 over a WebSocket ----------


class SocketioConversation(Conversation):
    _CHAT = '42["chat","'

    def __init__(self, room: str) -> None:
        self.room = room

    def feed(self, frame: str | bytes) -> Event:
        if isinstance(frame, bytes):
            return _OTHER
        if frame.startswith(self._CHAT):
            return Event(Kind.MESSAGE, frame[len(self._CHAT) : -2])
        if frame == "2":  # Engine.IO ping: answer pong or be dropped
            return Event(Kind.OTHER, reply="3")
        if frame.startswith('42["joined"'):
            return Event(Kind.READY)
        if frame.startswith("0{"):  # Engine.IO open: connect to the default namespace
            return Event(Kind.OTHER, reply="40")
        if frame.startswith("40"):  # namespace connected: join the room
            return Event(Kind.OTHER, reply=f'42["join","{self.room}"]')
        if frame.startswith("44"):
            return Event(Kind.ERROR, frame[2:])
        return _OTHER

    def message(self, payload: str, nonce: str) -> str:
        return f'42["chat","{payload}"]'


class SocketioAdapter(Adapter):
    name = "socketio"

    def url(self, base: str, room: str) -> str:
        return f"{base}/socket.io/?EIO=4&transport=websocket"

    def conversation(self, room: str) -> Conversation:
        return SocketioConversation(room)


ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls for cls in (EdgeroomAdapter, RawAdapter, SocketioAdapter, UvicornAdapter)
}
