"""Migrations by wrangler's rules: naming, ordering, the table, transactions, interop."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from primitives.clock import FakeClock
from primitives.d1 import D1Database, D1Error, open_d1_database
from primitives.d1._sql import split_statements
from primitives.d1.migrations import (
    D1MigrationError,
    applied_migrations,
    apply_migrations,
    create_migration,
    create_table_sql,
    list_pending,
    migration_names,
    migration_query,
    next_migration_number,
)

WRANGLER_DDL = (
    'CREATE TABLE IF NOT EXISTS "d1_migrations"(\n'
    "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "\t\tname       TEXT UNIQUE,\n"
    "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n"
    ");"
)


def write(folder: Path, name: str, sql: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql, encoding="utf-8")


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    return folder


def test_create_table_sql_is_wranglers_ddl() -> None:
    assert create_table_sql() == WRANGLER_DDL
    assert create_table_sql('my"table').startswith('CREATE TABLE IF NOT EXISTS "my""table"(')


def test_migration_query_appends_the_record_insert() -> None:
    assert migration_query("CREATE TABLE a (x);", "0001_it's.sql") == (
        "CREATE TABLE a (x);\nINSERT INTO \"d1_migrations\" (name)\nvalues ('0001_it''s.sql');"
    )


def test_migration_names_sort_like_wrangler(migrations_dir: Path) -> None:
    for name in ["10_c.sql", "9_b.sql", "1_a.sql", "0002_x.sql", "init.sql", "0002_a.sql"]:
        write(migrations_dir, name, "")
    write(migrations_dir, ".hidden.sql", "")
    write(migrations_dir, "notes.txt", "")
    write(migrations_dir, "0003_dir/migration.sql", "")
    assert migration_names(migrations_dir) == [
        "1_a.sql",
        "0002_a.sql",
        "0002_x.sql",
        "9_b.sql",
        "10_c.sql",
        "init.sql",
    ]
    assert migration_names(migrations_dir, "*/migration.sql") == ["0003_dir/migration.sql"]


def test_next_migration_number_is_highest_plus_one(migrations_dir: Path) -> None:
    assert next_migration_number(migrations_dir) == 1
    write(migrations_dir, "0000_init.sql", "")
    assert next_migration_number(migrations_dir) == 1
    write(migrations_dir, "0007_x.sql", "")
    write(migrations_dir, "readme.sql", "")
    assert next_migration_number(migrations_dir) == 8


def test_create_migration_writes_wranglers_file(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "migrations"
    now = datetime(2026, 8, 1, 12, 30, 5, 123456, tzinfo=UTC)
    first = create_migration(folder, "create users", now=now)
    assert first == folder / "0001_create_users.sql"
    assert (
        first.read_text(encoding="utf-8")
        == "-- Migration number: 0001 \t 2026-08-01T12:30:05.123Z\n"
    )
    assert create_migration(folder, "add index", now=now).name == "0002_add_index.sql"
    with pytest.raises(ValueError, match="must not contain"):
        create_migration(folder, "a/b", now=now)


async def test_apply_migrations_applies_pending_in_order(
    db: D1Database, migrations_dir: Path
) -> None:
    write(migrations_dir, "0002_add_age.sql", "ALTER TABLE users ADD COLUMN age INTEGER;\n")
    write(
        migrations_dir,
        "0001_create_users.sql",
        "-- header\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    )
    assert await list_pending(db, migrations_dir) == ["0001_create_users.sql", "0002_add_age.sql"]
    seen: list[str] = []
    applied = await apply_migrations(db, migrations_dir, on_applied=seen.append)
    assert applied == seen == ["0001_create_users.sql", "0002_add_age.sql"]
    assert await applied_migrations(db) == applied
    assert await list_pending(db, migrations_dir) == []
    assert await apply_migrations(db, migrations_dir) == []
    await db.prepare("INSERT INTO users (name, age) VALUES ('a', 1)").run()


async def test_failing_migration_is_rolled_back_and_stops_the_run(
    db: D1Database, migrations_dir: Path
) -> None:
    write(migrations_dir, "0001_ok.sql", "CREATE TABLE a (x);")
    write(migrations_dir, "0002_bad.sql", "CREATE TABLE b (x);\nINSERTZ INTO b VALUES (1);")
    write(migrations_dir, "0003_later.sql", "CREATE TABLE c (x);")
    with pytest.raises(D1MigrationError) as info:
        await apply_migrations(db, migrations_dir)
    assert info.value.name == "0002_bad.sql"
    assert str(info.value) == (
        "Migration 0002_bad.sql failed with the following errors:\n"
        'near "INSERTZ": syntax error: SQLITE_ERROR'
    )
    tables = await db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).raw()
    assert [t[0] for t in tables] == ["a", "d1_migrations", "sqlite_sequence"]
    assert await applied_migrations(db) == ["0001_ok.sql"]
    assert await list_pending(db, migrations_dir) == ["0002_bad.sql", "0003_later.sql"]


async def test_foreign_keys_are_deferred_while_migrating(
    db: D1Database, migrations_dir: Path
) -> None:
    write(
        migrations_dir,
        "0001_init.sql",
        "CREATE TABLE rooms (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE msgs (id INTEGER PRIMARY KEY, room INTEGER NOT NULL REFERENCES rooms(id));\n"
        "INSERT INTO msgs (room) VALUES (1);\n"  # child before parent: fine once deferred
        "INSERT INTO rooms (id, name) VALUES (1, 'lobby');\n",
    )
    rebuild = (
        "CREATE TABLE rooms_old AS SELECT * FROM rooms;\n"
        "DROP TABLE rooms;\n"  # leaves msgs dangling until the rows are back
        "CREATE TABLE rooms (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n"
        "INSERT INTO rooms SELECT id, name FROM rooms_old;\n"
        "DROP TABLE rooms_old;\n"
    )
    assert await apply_migrations(db, migrations_dir) == ["0001_init.sql"]
    with pytest.raises(
        D1Error, match="FOREIGN KEY constraint failed"
    ):  # the same SQL, not deferred
        await db.batch([db.prepare(s) for s in split_statements(rebuild)])
    write(migrations_dir, "0002_rebuild_rooms.sql", rebuild)
    assert await apply_migrations(db, migrations_dir) == ["0002_rebuild_rooms.sql"]
    assert await db.prepare("SELECT count(*) AS n FROM msgs").first("n") == 1
    with pytest.raises(D1Error, match="FOREIGN KEY constraint failed"):
        await db.prepare("INSERT INTO msgs (room) VALUES (2)").run()


async def test_custom_table_and_quoted_names(db: D1Database, migrations_dir: Path) -> None:
    write(migrations_dir, "0001_it's.sql", "CREATE TABLE q (x);")
    assert await apply_migrations(db, migrations_dir, "schema_history") == ["0001_it's.sql"]
    assert await applied_migrations(db, "schema_history") == ["0001_it's.sql"]
    assert await list_pending(db, migrations_dir) == ["0001_it's.sql"]  # other table: not applied


async def test_database_migrated_by_wrangler_is_up_to_date_here(
    db: D1Database, db_path: Path, migrations_dir: Path
) -> None:
    write(migrations_dir, "0001_init.sql", "CREATE TABLE a (x);")
    write(migrations_dir, "0002_more.sql", "CREATE TABLE b (x);")
    await db.prepare("SELECT 1").run()  # create the file
    await db.aclose()
    # What wrangler does: its DDL, then each file plus its INSERT, as it builds them.
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute(WRANGLER_DDL)
    conn.executescript(migration_query("CREATE TABLE a (x);", "0001_init.sql"))
    conn.close()
    reopened = open_d1_database(f"sqlite:///{db_path}", clock=FakeClock(), name="DB")
    try:
        assert await list_pending(reopened, migrations_dir) == ["0002_more.sql"]
        assert await apply_migrations(reopened, migrations_dir) == ["0002_more.sql"]
    finally:
        await reopened.aclose()


async def test_database_migrated_here_is_up_to_date_for_wrangler(
    db: D1Database, db_path: Path, migrations_dir: Path
) -> None:
    write(migrations_dir, "0001_init.sql", "CREATE TABLE a (x);")
    await apply_migrations(db, migrations_dir)
    await db.aclose()
    conn = sqlite3.connect(db_path)
    try:
        # wrangler's query for applied names, and the table exactly as its DDL creates it.
        rows = conn.execute('SELECT *\n\t\tFROM "d1_migrations"\n\t\tORDER BY id').fetchall()
        assert [(r[0], r[1]) for r in rows] == [(1, "0001_init.sql")]
        assert rows[0][2]  # applied_at defaulted to CURRENT_TIMESTAMP
        stored = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'"
        ).fetchone()[0]
        reference = sqlite3.connect(":memory:")
        reference.execute(WRANGLER_DDL)
        expected = reference.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'"
        ).fetchone()[0]
        reference.close()
        assert stored == expected
    finally:
        conn.close()
