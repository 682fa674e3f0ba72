"""``FlagsHub``: the one writer of the flag set, and the fan-out that pushes changes to rooms.

One instance (``env.FLAGS_HUB.getByName("global")``). A change is applied under a lock, so the
version check and the write are one step: two operators can never overwrite each other. Order
of a write: the audit row in D1, the new flag set in KV (if that fails the audit row is removed
and nothing changed), then the hub's own copy. Then every ChatRoom that registered gets the new
set by RPC and sends ``flags.changed`` to its sockets (docs/flags.md, "Propagation").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app import _json
from app._runtime import DurableObject
from app.clock import now_ms
from app.flags.model import FlagError, parse_flag, validate_key
from app.flags.store import KV_KEY, Snapshot, merge_patch

__all__ = ["FlagsHub", "HUB_NAME"]

HUB_NAME = "global"
#: A room that does not answer a push in this time is skipped (it catches up on its next wake).
PUSH_TIMEOUT_S = 2.0
log = logging.getLogger("edgeroom.flags")


def _result(status: int, **fields: Any) -> dict[str, Any]:
    return {"status": status, **fields}


def _error(status: int, code: str, message: str, **fields: Any) -> dict[str, Any]:
    return _result(status, error={"code": code, "message": message}, **fields)


class FlagsHub(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self._lock = asyncio.Lock()
        self._snapshot: dict[str, Any] | None = None
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY)")

    async def _current(self) -> dict[str, Any]:
        """The flag set: the hub's copy; on first use, whatever KV holds (seeded by hand, say)."""
        if self._snapshot is None:
            held = self.ctx.storage.kv.get("snapshot")
            if held is None:
                text = await self.env.FLAGS.get(KV_KEY)
                held = Snapshot.from_json(_json.loads(text)).to_json() if text else None
            self._snapshot = held or {"version": 0, "flags": {}}
        return self._snapshot

    # -- RPC ---------------------------------------------------------------------------------------
    async def snapshot(self) -> dict[str, Any]:
        async with self._lock:
            return await self._current()

    async def register(self, room_id: str) -> dict[str, Any]:
        """A room with sockets asks for pushes; the answer is the current flag set."""
        self.ctx.storage.sql.exec("INSERT OR IGNORE INTO rooms (id) VALUES (?)", room_id)
        return await self.snapshot()

    async def apply(
        self,
        op: str,
        key: str,
        body: dict[str, Any] | None,
        if_match: int | None,
        create_only: bool,
        actor: str,
    ) -> dict[str, Any]:
        """``op``: ``put`` (replace), ``patch`` (JSON merge patch) or ``delete``. HTTP-shaped answer."""
        try:
            validate_key(key)
        except FlagError as exc:
            return _error(400, "bad_key", str(exc))
        async with self._lock:
            snapshot = await self._current()
            answer = self._change(snapshot, op, key, body, if_match, create_only)
            if "error" in answer:
                return answer
            before, after, action = answer.pop("before"), answer.pop("after"), answer.pop("action")
            version = snapshot["version"] + 1
            flags = dict(snapshot["flags"])
            if after is None:
                flags.pop(key, None)
            else:
                after = parse_flag(key, after, version).to_json()
                flags[key] = after
            new = {"version": version, "flags": flags}
            if not await self._commit(key, action, actor, version, before, after, new):
                return _error(
                    503, "unavailable", "the flag store could not be written; nothing changed"
                )
            self._snapshot = new
        await self._push(new)
        return _result(answer["status"], flag=after, version=version, snapshot=new)

    # -- the steps of a change ------------------------------------------------------------------------
    def _change(
        self,
        snapshot: dict[str, Any],
        op: str,
        key: str,
        body: dict[str, Any] | None,
        if_match: int | None,
        create_only: bool,
    ) -> dict[str, Any]:
        current = snapshot["flags"].get(key)
        if current is None and op != "put":
            return _error(404, "unknown_flag", f"no flag named {key!r}")
        if current is not None and create_only:
            return _error(
                412,
                "flag_exists",
                f"flag {key!r} exists (If-None-Match: *)",
                current=current["version"],
            )
        if current is not None and if_match is None and op == "put":
            return _error(
                428,
                "precondition_required",
                f"flag {key!r} exists: send If-Match with its version ({current['version']}) to replace it",
                current=current["version"],
            )
        if if_match is not None and (current is None or current["version"] != if_match):
            found = (
                "it does not exist" if current is None else f"it is at version {current['version']}"
            )
            return _error(
                412,
                "stale_version",
                f"flag {key!r} changed since version {if_match}: {found}",
                current=None if current is None else current["version"],
            )
        named = (body or {}).get("key")
        if named is not None and named != key:
            return _error(400, "invalid_flag", f"key: the body names {named!r}, the URL {key!r}")
        if op == "delete":
            return {"status": 200, "before": current, "after": None, "action": "delete"}
        definition = body if op == "put" else merge_patch(current, body or {})
        try:
            parse_flag(key, definition)
        except FlagError as exc:
            return _error(400, "invalid_flag", str(exc))
        action = "create" if current is None else "update"
        return {
            "status": 201 if current is None else 200,
            "before": current,
            "after": definition,
            "action": action,
        }

    async def _commit(
        self,
        key: str,
        action: str,
        actor: str,
        version: int,
        before: Any,
        after: Any,
        new: dict[str, Any],
    ) -> bool:
        db = self.env.DB
        try:
            audit = await (
                db.prepare(
                    "INSERT INTO flag_audit (flag, action, actor, at, version, before, after)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)"
                )
                .bind(
                    key,
                    action,
                    actor,
                    now_ms(self.env),
                    0 if after is None else version,
                    None if before is None else _json.dumps(before),
                    None if after is None else _json.dumps(after),
                )
                .run()
            )
        except Exception:
            log.exception("flag audit write failed", extra={"flag": key})
            return False
        try:
            await self.env.FLAGS.put(KV_KEY, _json.dumps(new))
        except Exception:
            log.exception("flag store write failed", extra={"flag": key})
            await (
                db.prepare("DELETE FROM flag_audit WHERE id = ?")
                .bind(audit["meta"]["last_row_id"])
                .run()
            )
            return False
        self.ctx.storage.kv.put("snapshot", new)
        return True

    async def _push(self, snapshot: dict[str, Any]) -> None:
        rows = self.ctx.storage.sql.exec("SELECT id FROM rooms").toArray()
        ids = [row["id"] for row in rows]
        if not ids:
            return
        rooms = self.env.ROOMS

        async def one(room_id: str) -> int:
            stub = rooms.get(rooms.idFromString(room_id))
            return int(await asyncio.wait_for(stub.flags_changed(snapshot), PUSH_TIMEOUT_S))

        answers = await asyncio.gather(*(one(room_id) for room_id in ids), return_exceptions=True)
        for room_id, answer in zip(ids, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("flag push to a room failed", extra={"room": room_id}, exc_info=answer)
            elif answer == 0:  # nobody connected: it registers again when someone joins
                self.ctx.storage.sql.exec("DELETE FROM rooms WHERE id = ?", room_id)
