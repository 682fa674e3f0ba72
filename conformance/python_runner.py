"""Runs conformance scripts against ``primitives`` through ``build_env``, as a Python Worker would.

Each case gets a fresh data directory (the embedded SQLite / file backends ``build_env`` picks by
default) and a :class:`~primitives.clock.FakeClock` frozen at the case's start. Ops are called
with the Python Workers SDK's shapes: positional ``args`` and ``kw`` as keyword arguments (the
oracle passes ``kw`` as the trailing options object, which is what the SDK turns them into).
Results are put into stage-1 normal form by :func:`conformance.normalize.to_json`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import importlib.util
import inspect
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from primitives.clock import FakeClock
from primitives.env import build_env

from .normalize import MAP_RESULTS, error_form, to_json

__all__ = ["D1_RESET", "PACKAGES", "available", "run_case", "run_cases"]

#: The ``primitives`` package each script kind needs.
PACKAGES = {
    "kv": "primitives.kv",
    "d1": "primitives.d1",
    "r2": "primitives.r2",
    "do": "primitives.durable_objects",
    "do_ns": "primitives.durable_objects",
}


def available(primitive: str) -> bool:
    """Whether ``primitives`` has the package this kind of case needs (it may not have landed)."""
    return importlib.util.find_spec(PACKAGES[primitive]) is not None


#: The same statements the oracle runs after clearing its database (``worker.mjs``):
#: they leave ``last_insert_rowid()`` at 0.
D1_RESET = (
    "CREATE TABLE IF NOT EXISTS _conformance_reset(x)",
    "INSERT INTO _conformance_reset(rowid, x) VALUES (0, 0)",
    "DROP TABLE _conformance_reset",
)

_CONFIG = {
    "kv": '[[kv_namespaces]]\nbinding = "KV"\nid = "conformance"\n',
    "d1": '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "conformance"\n'
    'database_id = "00000000-0000-0000-0000-000000000000"\n',
    "r2": '[[r2_buckets]]\nbinding = "BUCKET"\nbucket_name = "conformance"\n',
    "do": '[[durable_objects.bindings]]\nname = "OBJ"\nclass_name = "Oracle"\n\n'
    '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Oracle"]\n',
}
_CONFIG["do_ns"] = _CONFIG["do"]


class Thrown(Exception):
    """The script's ``{"op": "throw"}``: leaves a transaction closure."""


class _Ctx:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.refs: dict[str, Any] = {}


def _lookup(refs: dict[str, Any], path: str) -> Any:
    name, *rest = path.split(".")
    if name not in refs:
        raise RuntimeError(f"conformance: no saved result {name}")
    value = refs[name]
    for part in rest:
        if value is None:
            break
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def resolve(value: Any, ctx: _Ctx) -> Any:
    """Script arguments -> Python values (see ``worker.mjs`` for the same in JavaScript)."""
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if not isinstance(value, dict):
        return value
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$repeat" in value:
        text, count = value["$repeat"]
        return str(text) * int(count)
    if "$concat" in value:
        return "".join(str(resolve(v, ctx)) for v in value["$concat"])
    if "$now_s" in value:
        return ctx.now_ms // 1000 + value["$now_s"]
    if "$now_ms" in value:
        return ctx.now_ms + value["$now_ms"]
    if "$date" in value:
        return dt.datetime.fromtimestamp((ctx.now_ms + value["$date"]) / 1000, dt.UTC)
    if "$ref" in value:
        return _lookup(ctx.refs, value["$ref"])
    if "$undefined" in value:
        return None
    if "$nan" in value:
        return float("nan")
    return {k: resolve(v, ctx) for k, v in value.items()}


Special = Callable[[dict[str, Any], _Ctx], Awaitable[tuple[bool, Any]]]


async def run_ops(
    ops: list[dict[str, Any]], root: Any, ctx: _Ctx, primitive: str, special: Special | None = None
) -> list[Any]:
    """Run ``ops`` against ``root``; one stage-1 result (or error form) per op."""
    results: list[Any] = []
    for op in ops:
        try:
            if op["op"] == "throw":
                raise Thrown(op.get("message", "thrown by the script"))
            handled, value = (False, None)
            if special is not None:
                handled, value = await special(op, ctx)
            if not handled:
                target = _lookup(ctx.refs, op["on"]) if op.get("on") else root
                if "prop" in op:
                    value = getattr(target, op["prop"])
                else:
                    args = resolve(op.get("args", []), ctx)
                    kw = resolve(op.get("kw", {}), ctx)
                    method = getattr(target, op["op"], None)
                    if not callable(method):
                        raise RuntimeError(f"conformance: no method {op['op']}")
                    value = method(*args, **kw)
                    if inspect.isawaitable(value):
                        value = await value
                    is_map = MAP_RESULTS.get((primitive, op["op"]))
                    on_root = not op.get("on") or op.get("on") == "txn"
                    if is_map is not None and on_root and is_map(args):
                        value = {"$map": [[k, to_json(v)] for k, v in dict(value).items()]}
            if op.get("as"):
                ctx.refs[op["as"]] = value
            results.append(value if isinstance(value, dict) and "$map" in value else to_json(value))
        except Thrown:
            raise
        except Exception as exc:
            if op.get("as"):
                ctx.refs[op["as"]] = None
            results.append(error_form(exc))
    return results


def _cursor_result(cursor: Any, read: str | None) -> dict[str, Any]:
    if read == "one":
        return {"row": to_json(cursor.one()), "columnNames": list(cursor.columnNames)}
    if read == "raw":
        return {"raw": to_json(list(cursor.raw())), "columnNames": list(cursor.columnNames)}
    rows = to_json(cursor.toArray())
    return {
        "rows": rows,
        "columnNames": list(cursor.columnNames),
        "rowsRead": cursor.rowsRead,
        "rowsWritten": cursor.rowsWritten,
    }


def _do_class() -> type:
    from primitives.durable_objects import DurableObject

    class Oracle(DurableObject):  # type: ignore[misc]
        """Runs a script against ``self.ctx.storage`` (the oracle's ``Oracle`` class)."""

        async def run(self, ops: list[dict[str, Any]], now_ms: int) -> list[Any]:
            ctx = _Ctx(now_ms)
            storage = self.ctx.storage

            async def special(op: dict[str, Any], ctx: _Ctx) -> tuple[bool, Any]:
                on: Any = _lookup(ctx.refs, op["on"]) if op.get("on") else storage
                if op["op"] == "sql":
                    cursor = storage.sql.exec(
                        resolve(op["sql"], ctx), *resolve(op.get("bind", []), ctx)
                    )
                    return True, _cursor_result(cursor, op.get("read"))
                if op["op"] == "databaseSize":
                    return True, storage.sql.databaseSize
                if op["op"] == "transaction":

                    async def closure(txn: Any) -> list[Any]:
                        ctx.refs["txn"] = txn
                        return await run_ops(op["ops"], txn, ctx, "do", special)

                    try:
                        return True, await on.transaction(closure)
                    except Thrown as exc:
                        return True, error_form(exc)
                if op["op"] == "rollback":
                    on.rollback()
                    return True, None
                return False, None

            return await run_ops(ops, storage, ctx, "do", special)

        async def alarm(self, alarm_info: Any = None) -> None:
            return None

    return Oracle


OracleObject: type | None = None


def _d1_special(db: Any) -> Special:
    def statement(spec: dict[str, Any], ctx: _Ctx, on: Any) -> Any:
        stmt = on.prepare(resolve(spec["sql"], ctx))
        return stmt.bind(*resolve(spec["bind"], ctx)) if "bind" in spec else stmt

    async def special(op: dict[str, Any], ctx: _Ctx) -> tuple[bool, Any]:
        if op["op"] == "stmt":
            args = resolve(op.get("args", []), ctx)
            kw = resolve(op.get("kw", {}), ctx)
            on = _lookup(ctx.refs, op["on"]) if op.get("on") else db
            stmt = statement(op, ctx, on)
            return True, await getattr(stmt, op.get("call", "all"))(*args, **kw)
        if op["op"] == "batch":
            on = _lookup(ctx.refs, op["on"]) if op.get("on") else db
            return True, await on.batch([statement(s, ctx, on) for s in op["stmts"]])
        return False, None

    return special


def _ns_special(ns: Any) -> Special:
    async def special(op: dict[str, Any], ctx: _Ctx) -> tuple[bool, Any]:
        def is_hex(text: str) -> bool:
            return len(text) == 64 and all(c in "0123456789abcdef" for c in text)

        if op["op"] == "idInfo":
            ident = ns.idFromName(op["name"])
            text = ident.toString()
            return True, {
                "length": len(text),
                "hex": is_hex(text),
                "name": ident.name,
                "equalsSame": ident.equals(ns.idFromName(op["name"])),
                "sameString": text == ns.idFromName(op["name"]).toString(),
                "differs": not ident.equals(ns.idFromName(op["name"] + "!")),
            }
        if op["op"] == "uniqueInfo":
            first, second = ns.newUniqueId(), ns.newUniqueId()
            text = first.toString()
            return True, {
                "length": len(text),
                "hex": is_hex(text),
                "name": first.name,
                "distinct": not first.equals(second),
            }
        if op["op"] == "roundTrip":
            ident = ns.idFromName(op["name"])
            back = ns.idFromString(ident.toString())
            return True, {"equals": back.equals(ident), "name": back.name}
        return False, None

    return special


def _write_config(data_dir: Path, primitive: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "wrangler.toml"
    config.write_text(
        'name = "conformance"\nmain = "worker.py"\ncompatibility_date = "2026-07-01"\n\n'
        + _CONFIG[primitive]
    )
    return config


async def run_case(spec: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """Run one case on a fresh env; ``{"now_ms", "results"}`` or ``{"now_ms", "fatal"}``."""
    global OracleObject
    if not available(spec["primitive"]):
        return {"unavailable": PACKAGES[spec["primitive"]]}
    now_ms = time.time_ns() // 1_000_000
    primitive = spec["primitive"]
    ctx = _Ctx(now_ms)
    config = await asyncio.to_thread(_write_config, data_dir, primitive)
    classes: dict[str, type] = {}
    if primitive in ("do", "do_ns"):
        OracleObject = OracleObject or _do_class()
        classes["Oracle"] = OracleObject
    clock = FakeClock(now_ms / 1000)
    try:
        env = build_env(
            config, data_dir=data_dir / "data", environ={}, clock=clock, classes=classes
        )
        async with env:
            results: list[Any]
            if primitive == "kv":
                results = await run_ops(spec["ops"], env.KV, ctx, "kv")
            elif primitive == "d1":
                for sql in D1_RESET:
                    await env.DB.prepare(sql).run()
                results = await run_ops(spec["ops"], env.DB, ctx, "d1", _d1_special(env.DB))
            elif primitive == "r2":
                results = await run_ops(spec["ops"], env.BUCKET, ctx, "r2")
            elif primitive == "do":
                stub = env.OBJ.get(env.OBJ.idFromName(spec["name"]))
                results = await stub.run(spec["ops"], now_ms)
            elif primitive == "do_ns":
                results = await run_ops(spec["ops"], env.OBJ, ctx, "do_ns", _ns_special(env.OBJ))
            else:
                raise ValueError(f"unknown primitive {primitive}")
    except Exception as exc:
        return {"now_ms": now_ms, "fatal": error_form(exc)["error"]}
    return {"now_ms": now_ms, "results": results}


async def run_cases(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every case, one after the other, each in its own temporary data directory."""
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="edgeroom-conformance-") as tmp:
        for index, spec in enumerate(cases):
            out[spec["name"]] = await run_case(spec, Path(tmp) / f"case{index}")
    return out


def main() -> None:  # pragma: no cover - manual use
    import json
    import sys

    cases = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps({"results": asyncio.run(run_cases(cases))}))


if __name__ == "__main__":  # pragma: no cover
    main()
