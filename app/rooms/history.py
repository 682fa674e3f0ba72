"""A room's history in D1: the outbox's idempotent writes, and reads for resume.

The room writes each batch of events in one D1 ``batch`` (one transaction): messages into
``messages`` (``ON CONFLICT (room, seq) DO NOTHING``, so a retried batch writes nothing twice),
edits and deletes into ``message_events`` and onto the message they change, and the room's
activity counters.
"""

from __future__ import annotations

from typing import Any

from app.chat.stream import StreamEvent

__all__ = ["history_statements", "load_events"]

_INSERT_MESSAGE = (
    "INSERT INTO messages (room, seq, epoch, user_id, name, ts, nonce, text, attachments)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, seq) DO NOTHING"
)
_INSERT_CHANGE = (
    "INSERT INTO message_events (room, seq, epoch, kind, user_id, name, ts, nonce, target, text)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, seq) DO NOTHING"
)
_APPLY_EDIT = "UPDATE messages SET text = ?, edited_at = ? WHERE room = ? AND seq = ?"
_APPLY_DELETE = (
    "UPDATE messages SET text = NULL, attachments = NULL, deleted = 1 WHERE room = ? AND seq = ?"
)
_TOUCH_ROOM = (
    "UPDATE rooms SET last_activity = MAX(last_activity, ?),"
    " message_count = (SELECT COUNT(*) FROM messages WHERE room = ? AND deleted = 0)"
    " WHERE room = ?"
)
_LOAD = (
    "SELECT seq, 'message' AS kind, user_id AS user, name, ts, nonce, text, NULL AS target,"
    " attachments FROM messages WHERE room = ?1 AND epoch = ?2 AND seq BETWEEN ?3 AND ?4"
    " UNION ALL SELECT seq, kind, user_id, name, ts, nonce, text, target, NULL FROM message_events"
    " WHERE room = ?1 AND epoch = ?2 AND seq BETWEEN ?3 AND ?4 ORDER BY seq"
)


def history_statements(db: Any, room: str, epoch: str, events: list[StreamEvent]) -> list[Any]:
    """The statements that copy ``events`` (in order) into D1, ending with the room's counters."""
    statements = []
    for e in events:
        if e.kind == "message":
            statements.append(
                db.prepare(_INSERT_MESSAGE).bind(
                    room,
                    e.seq,
                    epoch,
                    e.user,
                    e.name,
                    e.ts,
                    e.nonce,
                    e.text,
                    e.to_record()["attachments"],
                )
            )
            continue
        statements.append(
            db.prepare(_INSERT_CHANGE).bind(
                room, e.seq, epoch, e.kind, e.user, e.name, e.ts, e.nonce, e.target, e.text
            )
        )
        if e.kind == "edit":
            statements.append(db.prepare(_APPLY_EDIT).bind(e.text, e.ts, room, e.target))
        else:
            statements.append(db.prepare(_APPLY_DELETE).bind(room, e.target))
    statements.append(db.prepare(_TOUCH_ROOM).bind(events[-1].ts, room, room))
    return statements


async def load_events(db: Any, room: str, epoch: str, first: int, last: int) -> list[StreamEvent]:
    """Stream events ``first..last`` of this epoch as D1 holds them, in ``seq`` order."""
    result = await db.prepare(_LOAD).bind(room, epoch, first, last).all()
    return [StreamEvent.from_record(dict(row)) for row in result["results"]]
