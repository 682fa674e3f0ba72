"""POST /write?room=&n= stores n in the room's Durable Object (KV + SQL) and answers once durable;
GET /read?room=&n= answers "<value> <sql rows>" or "NONE 0"; /ws?room=&user= is a hibernatable
WebSocket echoing "<user>:<message>:<count>:<constructions>"; GET /live gives the number of
instances in memory."""

from __future__ import annotations

from typing import Any

from primitives import DurableObject, Request, Response, WebSocket, WebSocketPair, WorkerEntrypoint

BUILT: dict[str, int] = {}  # constructions per object id, in this process


class Ledger(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        BUILT[ctx.id.toString()] = BUILT.get(ctx.id.toString(), 0) + 1

    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server, ["member"])
        server.serializeAttachment({"user": request.query.get("user", "anon")})
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: WebSocket, message: str | bytes) -> None:
        count = (await self.ctx.storage.get("messages")) or 0
        self.ctx.storage.put("messages", count + 1)
        user = ws.deserializeAttachment()["user"]
        ws.send(f"{user}:{message!s}:{count + 1}:{BUILT[self.ctx.id.toString()]}")

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
        if request.path == "/live":
            return Response(str(self.env.LEDGER.live_instances))
        stub = self.env.LEDGER.getByName(query["room"])
        if request.path == "/ws":
            response: Response = await stub.fetch(request)
            return response
        n = int(query["n"])
        if request.path == "/write" and request.method == "POST":
            return Response(f"OK {await stub.record(n)}")
        found = await stub.read(n)
        return Response("NONE 0" if found is None else f"{found[0]} {found[1]}")
