"""``build_env`` builds a D1 binding from wrangler.toml, lazily, with the default file URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from primitives.d1 import D1Database
from primitives.env import build_env

TOML = """\
name = "env-test"
main = "worker.py"

[[d1_databases]]
binding = "DB"
database_name = "app-db"
database_id = "00000000-0000-0000-0000-000000000001"
migrations_dir = "schema"
"""


async def test_build_env_gives_a_lazy_d1_binding(tmp_path: Path) -> None:
    config = tmp_path / "wrangler.toml"
    await asyncio.to_thread(config.write_text, TOML, encoding="utf-8")
    await asyncio.to_thread((tmp_path / "worker.py").write_text, "", encoding="utf-8")
    data = tmp_path / "data"
    env = build_env(config, data_dir=data, environ={})
    async with env:
        assert isinstance(env.DB, D1Database)
        assert env.config.binding("DB").options["migrations_dir"] == "schema"
        assert not await asyncio.to_thread(data.exists)
        assert await env.DB.prepare("SELECT 1 AS one").first("one") == 1
        assert await asyncio.to_thread((data / "d1" / "app-db.sqlite3").exists)


async def test_build_env_accepts_memory_url(tmp_path: Path) -> None:
    config = tmp_path / "wrangler.toml"
    await asyncio.to_thread(config.write_text, TOML, encoding="utf-8")
    env = build_env(config, data_dir=tmp_path / "data", urls={"DB": "memory:"}, environ={})
    async with env:
        await env.DB.exec("CREATE TABLE t (a)")
        assert await env.DB.prepare("SELECT count(*) AS n FROM t").first("n") == 0
