"""A minimal line-protocol server in front of a Durable Object namespace, for the kill -9 test.

``python -m tests.primitives.durable_objects.kill_server <data_dir>`` listens on a free
127.0.0.1 port, prints ``READY <port>``, then answers ``PUT <room> <n>`` with ``OK <n>`` once the
object acknowledged the write (after its output gate opened), and ``GET <room> <n>`` with the
stored value (``NONE`` if missing).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from primitives.clock import SystemClock
from primitives.durable_objects import DurableObject, DurableObjectNamespace
from primitives.durable_objects.backends import backend_for_url


class Ledger(DurableObject):
    def record(self, n: int) -> int:
        self.ctx.storage.put(f"k{n}", n)  # not awaited: the output gate holds the answer
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (n INTEGER)")
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", n)
        return n

    async def read(self, n: int) -> Any:
        value = await self.ctx.storage.get(f"k{n}")
        rows = self.ctx.storage.sql.exec("SELECT count(*) AS c FROM log WHERE n = ?", n).one()
        return None if value is None else [value, rows["c"]]


async def main(data_dir: str) -> None:
    ns = DurableObjectNamespace(
        backend_for_url(f"sqlite:///{data_dir}"), object_class=Ledger, env=None, clock=SystemClock()
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            op, room, n = line.decode().split()
            stub = ns.getByName(room)
            if op == "PUT":
                writer.write(f"OK {await stub.record(int(n))}\n".encode())
            else:
                value = await stub.read(int(n))
                stored, rows = (None, 0) if value is None else value
                writer.write(f"{'NONE' if stored is None else stored} {rows}\n".encode())
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
