"""POST /write?room=&n= stores n in the room's Durable Object (KV + SQL) and answers once durable;
GET /read?room=&n= answers "<value> <sql rows>" or "NONE 0"."""

from __future__ import annotations

from typing import Any

from primitives import DurableObject, Request, Response, WorkerEntrypoint


class Ledger(DurableObject):
    def record(self, n: int) -> int:
        self.ctx.storage.put(f"k{n}", n)  # not awaited: the output gate holds the reply
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (n INTEGER)")
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", n)
        return n

    async def read(self, n: int) -> Any:
        value = await self.ctx.storage.get(f"k{n}")
        if value is None:
            return None
        return [
            value,
            self.ctx.storage.sql.exec("SELECT count(*) AS c FROM log WHERE n = ?", n).one()["c"],
        ]


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        query = request.query
        stub = self.env.LEDGER.getByName(query["room"])
        n = int(query["n"])
        if request.path == "/write" and request.method == "POST":
            return Response(f"OK {await stub.record(n)}")
        found = await stub.read(n)
        return Response("NONE 0" if found is None else f"{found[0]} {found[1]}")
