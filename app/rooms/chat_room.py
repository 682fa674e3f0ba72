"""``ChatRoom``: one Durable Object per room; owns the room's ordered stream (docs/protocol.md).

Glue only: the rules live in ``app.chat``. What this class adds:

* **Storage.** Every accepted event is inserted into the object's SQL table (and the head ``seq``
  into its KV) in the same coalesced transaction, before the ack and the broadcast are sent; the
  output gate holds those frames until the write is durable, so no client ever sees an event a
  crash could lose.
* **Outbox.** Events are copied to D1 (history and search) by the alarm, in ``seq`` order and
  idempotently (``ON CONFLICT DO NOTHING`` on ``(room, seq)``). A D1 failure only delays history:
  the rows stay marked undrained and the alarm retries with backoff.
* **Hibernation.** Sockets are accepted with ``ctx.acceptWebSocket``; who is who lives in each
  socket's attachment, so after eviction the constructor rebuilds presence and the stream state.
* **Fan-out.** Joined sockets are kept in an in-memory set (rebuilt from the attachments after a
  wake), so a broadcast encodes the frame once and touches no attachment.
* **Presence batching.** Arrivals and departures are published in batches, as names up to
  ``ROSTER_LIMIT`` users and as a count above it (presence_publisher.py), so a join storm costs
  neither N broadcasts of N frames nor N welcomes listing N people.
* **Batches.** Every frame to a socket goes through a ``FrameBatcher``: a client that said
  ``hello.batch`` gets the frames of one event-loop turn as one ``batch`` message (frame_batcher.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from app import _json
from app._runtime import DurableObject, Request, Response, websocket_pair
from app.chat.presence import TYPING_EXPIRES_MS, Presence, TypingTracker
from app.chat.protocol import (
    ChatDelete,
    ChatEdit,
    ChatSend,
    ClientMessage,
    Hello,
    Ping,
    ProtocolError,
    Resume,
    ResumePoint,
    Typing,
    encode,
    error_frame,
    parse_client_frame,
    parse_hello_param,
)
from app.chat.stream import DEFAULT_WINDOW, Recovery, SendOutcome, StreamEvent, StreamState
from app.clock import now_ms, sleep_ms
from app.flags.evaluate import evaluate
from app.flags.store import Snapshot, context_for, evaluated
from app.rooms.flags_hub import HUB_NAME
from app.rooms.frame_batcher import FrameBatcher
from app.rooms.history import history_statements, load_events
from app.rooms.limits import MAX_REFUSALS, LimitSettings, RoomLimits
from app.rooms.presence_publisher import PresencePublisher
from app.uploads.attachments import resolve_attachments

__all__ = ["ChatRoom"]

log = logging.getLogger("edgeroom.chat")


#: Outbox drain delay: batches a room's D1 writes. History and search in D1 lag the room by at
#: most this much (recent history is served by the room itself). At 200 ms a room with a few
#: messages a second drained each one on its own, and in many-room loads that per-drain cost
#: (alarm, D1 batch with the search index, marking rows drained) was most of the CPU.
DRAIN_DELAY_MS = 1000
DRAIN_BATCH = 200

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, user TEXT NOT NULL,"
    " name TEXT NOT NULL, ts INTEGER NOT NULL, nonce TEXT NOT NULL, text TEXT, target INTEGER,"
    " drained INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS events_undrained ON events (drained, seq)",
)
_EVENT_COLUMNS = "seq, kind, user, name, ts, nonce, text, target, attachments"
# Attachments (docs/uploads.md): added to rooms created before uploads existed.
_ADD_ATTACHMENTS = "ALTER TABLE events ADD COLUMN attachments TEXT"


class ChatRoom(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.presence = Presence()
        self.typing = TypingTracker()
        self.stream = StreamState(epoch="")
        self.room = ""
        self.limits = RoomLimits(env.LIMITERS, LimitSettings.from_env(env))
        self._drain_failures = 0
        self._drain_at: int | None = None  # when the alarm this instance set will fire
        self._socket_tails: dict[Any, asyncio.Future[None]] = {}
        self._joined: dict[Any, None] = {}  # sockets that have had their welcome, in join order
        self._out = FrameBatcher()  # every frame to a socket goes through it (order)
        self.presence_out = PresencePublisher(
            self.presence,
            self._broadcast,
            lambda: now_ms(self.env),
            lambda ms: sleep_ms(self.env, ms),
        )
        # Feature flags (docs/flags.md): pushed by FlagsHub once this room has registered.
        self.flags = Snapshot()
        self._flags_registered = False
        self._flags_asking: asyncio.Future[bool] | None = None  # a register() in flight
        self.ctx.blockConcurrencyWhile(self._load)

    # -- loading ---------------------------------------------------------------------------------
    async def _load(self) -> None:
        sql = self.ctx.storage.sql
        for statement in _SCHEMA:
            sql.exec(statement)
        columns = {row["name"] for row in sql.exec("PRAGMA table_info(events)").toArray()}
        if "attachments" not in columns:
            sql.exec(_ADD_ATTACHMENTS)
        kv = self.ctx.storage.kv
        epoch = kv.get("epoch")
        if epoch is None:
            epoch = secrets.token_hex(8)
            kv.put("epoch", epoch)
        self.room = kv.get("room") or ""
        self.flags = Snapshot.from_json(kv.get("flags"))  # survives hibernation; pushes update it
        head = int(kv.get("head") or 0)
        rows = sql.exec(
            f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?", DEFAULT_WINDOW
        ).toArray()
        recent = [StreamEvent.from_record(dict(row)) for row in reversed(rows)]
        self.stream = StreamState.restore(epoch, head, recent)
        for ws in self.ctx.getWebSockets():
            info = ws.deserializeAttachment() or {}
            if info.get("ready"):
                self.presence.connect(info["user"], info["name"])
                self._joined[ws] = None
                if info.get("batch"):
                    self._out.enable(ws)
        self.presence_out.restored()  # nothing to send: these sockets' clients know the roster
        self.ctx.setWebSocketAutoResponse(_ping_pong_pair())

    # -- HTTP: the upgrade and the room's own queries ----------------------------------------------
    async def fetch(self, request: Request) -> Response:
        path = urlsplit(request.url).path
        if path == "/ws":
            return await self._connect(request)
        return Response.json(
            {"error": {"code": "not_found", "message": "no such room endpoint"}}, status=404
        )

    async def _connect(self, request: Request) -> Response:
        headers = request.headers
        user = headers.get("x-edgeroom-user")
        name = headers.get("x-edgeroom-name")
        if not user or not name:
            return Response("the room is reached through the Worker", status=403)
        room = headers.get("x-edgeroom-room") or ""
        if room and room != self.room:
            self.room = room
            self.ctx.storage.kv.put("room", room)
        raw_hello = headers.get("x-edgeroom-hello")
        try:
            hello = None if raw_hello is None else parse_hello_param(raw_hello)
        except ProtocolError as exc:  # refused before anything is accepted
            return Response.json({"error": {"code": exc.code, "message": exc.message}}, status=400)
        client, server = websocket_pair()
        self.ctx.acceptWebSocket(server, [f"user:{user}"])
        info = {
            "user": user,
            "name": name,
            "ip": headers.get("x-edgeroom-ip") or "unknown",
            "guest": headers.get("x-edgeroom-guest") == "1",
            "device": None,
            "ready": False,
            "bucket": None,
            "refusals": 0,
        }
        if hello is None:
            server.serializeAttachment(info)
        else:
            # The hello came in the URL: the welcome goes out right behind the 101, one round
            # trip sooner (_hello stores the attachment). No frame of this socket can arrive
            # before the 101 is returned.
            try:
                await self._hello(server, info, hello)
            except ProtocolError as exc:
                server.serializeAttachment(info)
                self._out.send(server, error_frame(exc))
            except BaseException:
                # No 101 will carry this socket: it must not stay joined (or in the roster).
                self._leave(server)
                server.close(1011, "internal error")
                raise
        return Response(None, status=101, web_socket=client)

    async def info(self) -> dict[str, Any]:
        """RPC for the Worker: the room's head and who is online."""
        return {
            "room": self.room,
            "epoch": self.stream.epoch,
            "seq": self.stream.head,
            "online": len(self.presence),
            "roster": self.presence.roster(),
        }

    async def recent(self, before_seq: int, limit: int) -> dict[str, Any]:
        """RPC: up to ``limit`` messages below ``before_seq`` that this room still holds, oldest first.

        Edits and deletes the room knows of are applied. ``complete`` is False when older
        messages may exist that only D1 has (the Worker then reads those from D1).
        """
        sql = self.ctx.storage.sql
        rows = sql.exec(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE kind = 'message' AND seq < ?"
            " ORDER BY seq DESC LIMIT ?",
            before_seq,
            limit,
        ).toArray()
        messages = {row["seq"]: _history_message(dict(row), self.stream.epoch) for row in rows}
        if messages:
            changes = sql.exec(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE kind != 'message' AND target >= ?"
                " ORDER BY seq",
                min(messages),
            ).toArray()
            for change in changes:
                message = messages.get(change["target"])
                if message is None:
                    continue
                if change["kind"] == "edit":
                    message.update(text=change["text"], edited_at=change["ts"])
                else:
                    message.update(text=None, deleted=True)
                    message.pop("attachments", None)
        lowest_held = sql.exec("SELECT MIN(seq) AS low FROM events").one()["low"] or 1
        oldest = min(messages, default=before_seq)
        return {
            "epoch": self.stream.epoch,
            "messages": [messages[seq] for seq in sorted(messages)],
            "complete": len(messages) >= limit or lowest_held <= 1,
            "oldest": oldest,
        }

    # -- WebSocket events ------------------------------------------------------------------------------
    async def webSocketMessage(self, ws: Any, message: Any) -> None:
        """Handle one frame. Frames of one socket are handled strictly one after another.

        Handlers await things other than storage (a rate-limit lease, a D1 read), and at those
        points the runtime may deliver the socket's next frame; chaining them keeps each
        connection's messages in the order they were sent, and its attachment consistent.
        """
        previous = self._socket_tails.get(ws)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._socket_tails[ws] = done
        try:
            if previous is not None:
                await asyncio.shield(previous)
            await self._frame(ws, message)
        finally:
            done.set_result(None)
            if self._socket_tails.get(ws) is done:
                del self._socket_tails[ws]

    async def _frame(self, ws: Any, message: Any) -> None:
        if not isinstance(message, str):
            self._close(ws, 1003, "binary frames are not supported")
            return
        info = ws.deserializeAttachment() or {}
        try:
            parsed = parse_client_frame(message)
            await self._handle(ws, info, parsed)
        except ProtocolError as exc:
            self._out.send(ws, error_frame(exc))

    async def webSocketClose(self, ws: Any, code: int, reason: str, wasClean: bool) -> None:
        self._leave(ws)

    async def webSocketError(self, ws: Any, error: Any) -> None:
        self._leave(ws)

    async def _handle(self, ws: Any, info: dict[str, Any], message: ClientMessage) -> None:
        if isinstance(message, Hello):
            await self._hello(ws, info, message)
            return
        if isinstance(message, Ping):
            self._out.send(ws, encode("pong"))
            return
        if not info.get("ready"):
            raise ProtocolError("bad_message", "send hello first")
        if isinstance(message, Resume):
            recovery = await self._recover(message.point)
            self._out.send(ws, encode("resumed", **self._recovery_fields(recovery)))
        elif isinstance(message, Typing):
            if not self._feature("typing-indicators", info):
                return
            if self.typing.update(info["user"], message.active, now_ms(self.env)):
                self._broadcast_typing(info, message.active, exclude=ws)
        elif isinstance(message, ChatSend | ChatEdit | ChatDelete):
            if isinstance(message, ChatEdit) and not self._feature("message-edits", info):
                raise ProtocolError("disabled", "message edits are turned off", nonce=message.nonce)
            await self._write(ws, info, message)

    # -- joining ----------------------------------------------------------------------------------------
    async def _hello(self, ws: Any, info: dict[str, Any], message: Hello) -> None:
        if info.get("ready"):
            raise ProtocolError(
                "bad_message", "hello was already received; send resume to catch up"
            )
        await self._register_for_flags()
        recovery = await self._recover(message.resume)
        # No await from here on: the welcome covers every event up to the head, and this socket
        # starts receiving broadcasts (it is marked ready) in the same step as the welcome is sent.
        info["ready"] = True
        info["device"] = message.device
        info["batch"] = message.batch
        ws.serializeAttachment(info)
        self.presence.connect(info["user"], info["name"])
        # Published now (to the others: this socket is not joined yet) or with the next batch,
        # which this socket receives too; the welcome's roster is the one last published.
        self.presence_out.changed()
        now = now_ms(self.env)
        ws.send(
            encode(
                "welcome",
                room=self.room,
                you={"user": info["user"], "name": info["name"], "device": message.device},
                **self.presence_out.welcome_fields(),
                typing=self.typing.active(now),
                limits=self.limits.settings.describe(),
                flags={"version": self.flags.version, "values": self._flag_values(info)},
                **self._recovery_fields(recovery),
            )
        )
        self._joined[ws] = None
        if message.batch:
            self._out.enable(ws)

    def _recovery_fields(self, recovery: Recovery) -> dict[str, Any]:
        epoch = self.stream.epoch
        return {
            "epoch": epoch,
            "seq": self.stream.head,
            "recovered": recovery.recovered,
            "events": [event.to_wire(epoch) for event in recovery.events],
        }

    async def _recover(self, point: ResumePoint | None) -> Recovery:
        """The answer for a client at ``point``, as of the moment this returns (no await after it)."""
        recovery = self.stream.recover(point)
        if recovery.history_needed is None:
            return recovery
        history = await self._load_history(*recovery.history_needed)
        # Events may have arrived while history was loading: answer as of now.
        return self.stream.complete_recovery(self.stream.recover(point), history)

    async def _load_history(self, first: int, last: int) -> list[StreamEvent]:
        rows = self.ctx.storage.sql.exec(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
            first,
            last,
        ).toArray()
        history = [StreamEvent.from_record(dict(row)) for row in rows]
        if len(history) < last - first + 1:
            history = await self._history_from_d1(first, last)
        return history

    async def _history_from_d1(self, first: int, last: int) -> list[StreamEvent]:
        try:
            return await load_events(self.env.DB, self.room, self.stream.epoch, first, last)
        except Exception:
            log.exception("history lookup failed", extra={"room": self.room})
            return []

    # -- leaving ----------------------------------------------------------------------------------------
    def _leave(self, ws: Any) -> None:
        info = ws.deserializeAttachment() or {}
        if not info.get("ready"):
            return
        info["ready"] = False
        ws.serializeAttachment(info)
        self._joined.pop(ws, None)
        self._out.forget(ws)
        change = self.presence.disconnect(info["user"])
        if change is not None and change.kind == "presence.leave":
            self.presence_out.changed()
            if self.typing.stop(info["user"]):
                self._broadcast_typing(info, False, exclude=ws)

    # -- writing ----------------------------------------------------------------------------------------
    async def _write(
        self, ws: Any, info: dict[str, Any], message: ChatSend | ChatEdit | ChatDelete
    ) -> None:
        retry_after = await self.limits.check(info, now_ms(self.env) / 1000)
        ws.serializeAttachment(info)
        if retry_after > 0:
            error = ProtocolError("rate_limited", "you are sending too fast", nonce=message.nonce)
            self._out.send(ws, error_frame(error, retry_after=retry_after))
            if info["refusals"] > MAX_REFUSALS:
                self._close(ws, 1008, "too many messages")
            return
        user, name, now = info["user"], info["name"], now_ms(self.env)
        outcome: SendOutcome
        if isinstance(message, ChatSend):
            attachments: tuple[dict[str, Any], ...] = ()
            if message.attachments:
                try:
                    attachments = await resolve_attachments(self.env, user, message.attachments)
                except ProtocolError as exc:
                    exc.nonce = message.nonce
                    self._out.send(ws, error_frame(exc))
                    return
            outcome = self.stream.send(user, name, message.nonce, message.text, now, attachments)
        elif isinstance(message, ChatEdit):
            outcome = self.stream.edit(user, name, message.nonce, message.target, message.text, now)
        else:
            outcome = self.stream.delete(user, name, message.nonce, message.target, now)
        event = outcome.event
        if event is not None:
            self._store(event)
        ack_id = f"{self.stream.epoch}.{outcome.seq}"
        self._out.send(
            ws,
            encode(
                "chat.ack",
                nonce=message.nonce,
                seq=outcome.seq,
                id=ack_id,
                duplicate=outcome.duplicate,
            ),
        )
        if event is None:
            return
        self._broadcast(_json.dumps(event.to_wire(self.stream.epoch)))
        if isinstance(message, ChatSend) and self.typing.stop(user):
            self._broadcast_typing(info, False, exclude=ws)

    def _store(self, event: StreamEvent) -> None:
        """Insert the event and the new head in one coalesced transaction; schedule the outbox."""
        self.ctx.storage.sql.exec(
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            event.seq,
            event.kind,
            event.user,
            event.name,
            event.ts,
            event.nonce,
            event.text,
            event.target,
            event.to_record()["attachments"],
        )
        self.ctx.storage.kv.put("head", event.seq)
        self._schedule_drain(DRAIN_DELAY_MS)

    # -- sending --------------------------------------------------------------------------------------
    def _broadcast(self, frame: str, exclude: Any = None) -> None:
        """Send one encoded frame to every joined socket; sockets that are gone are skipped.

        No back-pressure here: ``send`` only queues, and the runtime closes a socket whose queue
        outgrows its limit (1013) rather than letting one slow reader hold the room up.
        """
        for ws in list(self._joined):
            if ws is exclude:
                continue
            try:
                self._out.send(ws, frame)
            except Exception:  # closed between the check and the send: it will get its close event
                continue

    def _close(self, ws: Any, code: int, reason: str) -> None:
        """Close ``ws`` after the frames still waiting for it, and take it out of the room."""
        self._out.flush_socket(ws)
        ws.close(code, reason)
        self._leave(ws)

    def _broadcast_typing(self, info: dict[str, Any], active: bool, exclude: Any) -> None:
        frame = encode(
            "typing",
            user=info["user"],
            name=info["name"],
            active=active,
            expires_in=TYPING_EXPIRES_MS,
        )
        self._broadcast(frame, exclude=exclude)

    # -- feature flags --------------------------------------------------------------------------------
    async def _register_for_flags(self) -> None:
        """Once per wake: ask FlagsHub for pushes (the answer is the current flag set).

        Joins that come while the question is out wait for its answer instead of asking again
        (a room woken by a burst of joins asks once, not once per join). If the asker is
        cancelled before the answer, a waiter asks again.
        """
        while not self._flags_registered:
            asking = self._flags_asking
            if asking is None:
                await self._ask_flags_hub()
                return
            if await asyncio.shield(asking):  # answered (defaults apply if it failed)
                return

    async def _ask_flags_hub(self) -> None:
        self._flags_asking = asyncio.get_running_loop().create_future()
        answered = False
        try:
            hub = self.env.FLAGS_HUB.getByName(HUB_NAME)
            self._apply_flags(await hub.register(self.ctx.id.toString()))
            self._flags_registered = answered = True
        except Exception:  # flags are not worth refusing a connection for: defaults apply
            log.warning("flags hub unreachable", extra={"room": self.room}, exc_info=True)
            answered = True
        finally:
            asking, self._flags_asking = self._flags_asking, None
            asking.set_result(answered)  # False: cancelled, so the waiters ask themselves

    def _apply_flags(self, data: Any) -> bool:
        snapshot = Snapshot.from_json(data)
        if snapshot.version < self.flags.version:
            return False
        if snapshot.version > self.flags.version:
            try:
                self.ctx.storage.kv.put("flags", data)
            except Exception:  # too large to keep: a wake waits for the next push or hello
                log.warning("flag set not kept", extra={"room": self.room}, exc_info=True)
        self.flags = snapshot
        return True

    def _flag_context(self, info: dict[str, Any]) -> dict[str, Any]:
        return context_for(info.get("user"), info.get("guest"), self.room)

    def _flag_values(self, info: dict[str, Any]) -> dict[str, Any]:
        return evaluated(self.flags, self._flag_context(info))

    def _feature(self, key: str, info: dict[str, Any]) -> bool:
        """A feature behind flag ``key`` is on unless the flag exists and says otherwise."""
        flag = self.flags.flags.get(key)
        return flag is None or bool(evaluate(flag, self._flag_context(info)).value)

    async def flags_changed(self, data: dict[str, Any]) -> int:
        """RPC from FlagsHub: apply a new flag set and tell every joined socket its values.

        Answers the number of sockets; 0 tells the hub to stop pushing until someone joins.
        """
        sockets = self.ctx.getWebSockets()
        if not sockets:
            self._flags_registered = False
        if not self._apply_flags(data):
            return len(sockets)
        for ws in sockets:
            info = ws.deserializeAttachment()
            if not info or not info.get("ready"):
                continue
            frame = encode(
                "flags.changed", version=self.flags.version, values=self._flag_values(info)
            )
            try:
                self._out.send(ws, frame)
            except Exception:
                continue
        return len(sockets)

    # -- the outbox ----------------------------------------------------------------------------------
    def _schedule_drain(self, delay_ms: int) -> None:
        """Have the alarm drain the outbox within ``delay_ms``.

        An alarm already due by then is kept: a busy room neither pushes its drain back with
        every message (history would wait for a quiet spell) nor rewrites its alarm per message.
        """
        at = now_ms(self.env) + delay_ms
        if self._drain_at is not None and self._drain_at <= at:
            return
        self.ctx.storage.setAlarm(at)
        self._drain_at = at

    async def alarm(self, alarm_info: Any = None) -> None:
        self._drain_at = None  # this alarm has fired; writes from now on schedule the next
        rows = self.ctx.storage.sql.exec(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE drained = 0 ORDER BY seq LIMIT ?",
            DRAIN_BATCH,
        ).toArray()
        if not rows:
            return
        events = [StreamEvent.from_record(dict(row)) for row in rows]
        try:
            await self.env.DB.batch(
                history_statements(self.env.DB, self.room, self.stream.epoch, events)
            )
        except Exception:
            self._drain_failures += 1
            delay = min(300_000, 1000 * 2**self._drain_failures)
            log.warning(
                "history write failed; will retry",
                extra={"room": self.room, "retry_in_ms": delay, "pending": len(events)},
                exc_info=True,
            )
            self._schedule_drain(delay)
            return
        self._drain_failures = 0
        last = events[-1].seq
        sql = self.ctx.storage.sql
        sql.exec("UPDATE events SET drained = 1 WHERE seq <= ? AND drained = 0", last)
        sql.exec(
            "DELETE FROM events WHERE drained = 1 AND seq <= ?", self.stream.head - DEFAULT_WINDOW
        )
        if len(events) == DRAIN_BATCH:
            self._schedule_drain(0)


def _history_message(row: dict[str, Any], epoch: str) -> dict[str, Any]:
    wire = StreamEvent.from_record(row).to_wire(epoch)
    wire["deleted"] = False
    return wire


def _ping_pong_pair() -> Any:
    """``{"type":"ping"}`` is answered with ``{"type":"pong"}`` by the runtime, without waking the room."""
    from app._runtime import WebSocketRequestResponsePair

    return WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}')
