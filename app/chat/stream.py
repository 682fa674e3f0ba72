"""A room's ordered stream: contiguous ``seq`` numbers, idempotent sends, edits, deletes and resume.

The state holds the room's ``epoch``, the last ``seq`` given out and a window of the most recent
events (default 1,000). Nonces are recognised for as long as their event is in the window, so a
client that resends after a reconnect never causes a second copy. Edits and deletes target a
message inside the window. Resume answers "here is exactly what you missed" or "not recovered",
never a partial answer: ``Recovery.history_needed`` names the older range the caller must load
(from D1) and hand back to :meth:`StreamState.complete_recovery` for a contiguity check.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Literal

from app import _json
from app.chat.protocol import ProtocolError, ResumePoint

__all__ = ["MAX_RECOVERY", "SNAPSHOT_SIZE", "Recovery", "SendOutcome", "StreamEvent", "StreamState"]

#: A client that missed more than this many events gets a snapshot instead of a replay.
MAX_RECOVERY = 1000
#: How many of the latest events a snapshot (or a first join) carries.
SNAPSHOT_SIZE = 50
DEFAULT_WINDOW = 1000

EventKind = Literal["message", "edit", "delete"]
_WIRE_TYPE = {"message": "chat.message", "edit": "chat.edited", "delete": "chat.deleted"}


def _load_attachments(value: Any) -> tuple[dict[str, Any], ...]:
    """Attachments from storage: a JSON list (or ``None``)."""
    if not value:
        return ()
    loaded = _json.loads(value) if isinstance(value, str | bytes) else value
    return tuple(item for item in loaded if isinstance(item, dict))


@dataclass(frozen=True)
class StreamEvent:
    """One stored event of the stream."""

    seq: int
    kind: EventKind
    user: str
    name: str
    ts: int
    nonce: str
    text: str | None = None
    target: int | None = None
    #: Uploads shown with a message (docs/uploads.md): ``[{id, name, kind, url, preview?, ...}]``.
    attachments: tuple[dict[str, Any], ...] = ()

    def message_id(self, epoch: str) -> str:
        return f"{epoch}.{self.seq}"

    def to_wire(self, epoch: str) -> dict[str, Any]:
        """The event as clients receive it (``chat.message`` / ``chat.edited`` / ``chat.deleted``)."""
        wire: dict[str, Any] = {
            "type": _WIRE_TYPE[self.kind],
            "seq": self.seq,
            "epoch": epoch,
            "id": self.message_id(epoch),
            "user": self.user,
            "name": self.name,
            "ts": self.ts,
        }
        if self.kind == "message":
            wire["nonce"] = self.nonce
        if self.text is not None:
            wire["text"] = self.text
        if self.target is not None:
            wire["target"] = self.target
        if self.attachments:
            wire["attachments"] = list(self.attachments)
        return wire

    def to_record(self) -> dict[str, Any]:
        """A plain dict for storage."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "user": self.user,
            "name": self.name,
            "ts": self.ts,
            "nonce": self.nonce,
            "text": self.text,
            "target": self.target,
            "attachments": _json.dumps(list(self.attachments)) if self.attachments else None,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StreamEvent:
        return cls(
            seq=int(record["seq"]),
            kind=record["kind"],
            user=str(record["user"]),
            name=str(record["name"]),
            ts=int(record["ts"]),
            nonce=str(record["nonce"]),
            text=record.get("text"),
            target=record.get("target"),
            attachments=_load_attachments(record.get("attachments")),
        )


@dataclass(frozen=True)
class SendOutcome:
    """What a send, edit or delete did: the event to store and broadcast, or a recognised resend."""

    seq: int
    event: StreamEvent | None  # None when the nonce was seen before (nothing new to store)

    @property
    def duplicate(self) -> bool:
        return self.event is None


@dataclass(frozen=True)
class Recovery:
    """The answer to a (re)join."""

    recovered: bool
    events: list[StreamEvent]
    #: ``(first_seq, last_seq)`` to load from history before answering, or None.
    history_needed: tuple[int, int] | None = None


@dataclass
class StreamState:
    """The in-memory state of one room's stream (rebuilt from storage after a restart)."""

    epoch: str
    head: int = 0
    window_size: int = DEFAULT_WINDOW
    _window: OrderedDict[int, StreamEvent] = field(default_factory=OrderedDict)
    _nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    _deleted: set[int] = field(default_factory=set)

    @classmethod
    def restore(
        cls, epoch: str, head: int, recent: Iterable[StreamEvent], window_size: int = DEFAULT_WINDOW
    ) -> StreamState:
        """Rebuild from storage: the epoch, the head ``seq`` and the latest events in order."""
        state = cls(epoch=epoch, head=head, window_size=window_size)
        for event in recent:
            state._remember(event)
        return state

    # -- window bookkeeping --------------------------------------------------------------------
    def _remember(self, event: StreamEvent) -> None:
        self._window[event.seq] = event
        self._nonces[(event.user, event.nonce)] = event.seq
        if event.kind == "delete" and event.target is not None:
            self._deleted.add(event.target)
        while len(self._window) > self.window_size:
            _, old = self._window.popitem(last=False)
            self._nonces.pop((old.user, old.nonce), None)
            self._deleted.discard(old.seq)

    @property
    def window_start(self) -> int:
        """The lowest ``seq`` still in the window (``head + 1`` when it is empty)."""
        return next(iter(self._window), self.head + 1)

    def recent(self, limit: int) -> list[StreamEvent]:
        if limit <= 0:
            return []
        newest_first = list(islice(reversed(self._window.values()), limit))
        newest_first.reverse()
        return newest_first

    def get(self, seq: int) -> StreamEvent | None:
        return self._window.get(seq)

    # -- writes --------------------------------------------------------------------------------
    def _append(
        self, kind: EventKind, user: str, name: str, nonce: str, now_ms: int, **extra: Any
    ) -> SendOutcome:
        seen = self._nonces.get((user, nonce))
        if seen is not None:
            return SendOutcome(seen, None)
        event = StreamEvent(
            seq=self.head + 1, kind=kind, user=user, name=name, ts=now_ms, nonce=nonce, **extra
        )
        self.head = event.seq
        self._remember(event)
        return SendOutcome(event.seq, event)

    def send(
        self,
        user: str,
        name: str,
        nonce: str,
        text: str,
        now_ms: int,
        attachments: tuple[dict[str, Any], ...] = (),
    ) -> SendOutcome:
        """A new message (or the earlier outcome, if this nonce was already accepted)."""
        return self._append(
            "message", user, name, nonce, now_ms, text=text, attachments=attachments
        )

    def _own_message(self, user: str, target: int, nonce: str) -> StreamEvent:
        original = self._window.get(target)
        if original is None or original.kind != "message" or target in self._deleted:
            if (
                target > self.head
                or target < 1
                or (original is not None and original.kind != "message")
            ):
                raise ProtocolError(
                    "not_found", f"there is no message {target} in this room", nonce=nonce
                )
            if target in self._deleted:
                raise ProtocolError("not_found", f"message {target} was deleted", nonce=nonce)
            raise ProtocolError(
                "not_found",
                f"message {target} is too old to change (only the last {self.window_size} events)",
                nonce=nonce,
            )
        if original.user != user:
            raise ProtocolError(
                "not_author", f"message {target} was written by someone else", nonce=nonce
            )
        return original

    def edit(
        self, user: str, name: str, nonce: str, target: int, text: str, now_ms: int
    ) -> SendOutcome:
        seen = self._nonces.get((user, nonce))
        if seen is not None:
            return SendOutcome(seen, None)
        self._own_message(user, target, nonce)
        return self._append("edit", user, name, nonce, now_ms, text=text, target=target)

    def delete(self, user: str, name: str, nonce: str, target: int, now_ms: int) -> SendOutcome:
        seen = self._nonces.get((user, nonce))
        if seen is not None:
            return SendOutcome(seen, None)
        self._own_message(user, target, nonce)
        return self._append("delete", user, name, nonce, now_ms, target=target)

    # -- resume ----------------------------------------------------------------------------------
    def snapshot(self) -> Recovery:
        return Recovery(recovered=False, events=self.recent(SNAPSHOT_SIZE))

    def recover(self, point: ResumePoint | None) -> Recovery:
        """What a client holding ``point`` gets: missed events, a history range to load, or a snapshot."""
        if point is None or point.epoch != self.epoch or point.seq > self.head:
            return self.snapshot()
        if self.head - point.seq > MAX_RECOVERY:
            return self.snapshot()
        first_missing = point.seq + 1
        from_window = [event for seq, event in self._window.items() if seq >= first_missing]
        if first_missing >= self.window_start:
            return Recovery(recovered=True, events=from_window)
        return Recovery(
            recovered=True,
            events=from_window,
            history_needed=(first_missing, self.window_start - 1),
        )

    def complete_recovery(self, recovery: Recovery, history: Sequence[StreamEvent]) -> Recovery:
        """Join loaded history with the window part; anything short of contiguous is a snapshot."""
        if recovery.history_needed is None:
            return recovery
        first, last = recovery.history_needed
        ordered = sorted(history, key=lambda e: e.seq)
        if [e.seq for e in ordered] != list(range(first, last + 1)):
            return self.snapshot()
        return Recovery(recovered=True, events=[*ordered, *recovery.events])
