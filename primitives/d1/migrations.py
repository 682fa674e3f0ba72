"""D1 migrations by wrangler's rules, so a database migrated here or by wrangler is the same.

The rules (wrangler ``packages/wrangler/src/d1/migrations/*`` and
``packages/workers-utils/src/d1-migrations.ts``):

* Migrations are the files under ``migrations_dir`` matching ``migrations_pattern`` (default
  ``<migrations_dir>/*.sql``), named by their path relative to ``migrations_dir``
  (``0001_create_users.sql``).
* They sort by the leading integer of each path segment (``parseInt`` of the text before the
  first ``_``), numerically; ties sort lexically; numbered files come before unnumbered ones.
* Applied migrations are the ``name`` column of the table ``migrations_table`` (default
  ``d1_migrations``), created with wrangler's exact DDL; a migration is pending when its name
  is not there.
* Applying one runs the file followed by ``INSERT INTO "<table>" (name) values ('<name>');`` as
  one transaction (here: one ``batch``, led by ``PRAGMA defer_foreign_keys = true``). A failing
  migration is rolled back and stops the run; earlier ones stay applied.
* ``create`` numbers a new file one above the highest leading number (``0001`` first) and
  writes ``-- Migration number: NNNN \\t <ISO time>`` as its first line.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from ..errors import PrimitiveError
from ._sql import split_statements
from .binding import D1Database
from .errors import D1Error

__all__ = [
    "DEFAULT_MIGRATIONS_DIR",
    "DEFAULT_MIGRATIONS_TABLE",
    "D1MigrationError",
    "apply_migrations",
    "applied_migrations",
    "create_migration",
    "create_table_sql",
    "list_pending",
    "migration_names",
    "migration_query",
    "migration_sort_key",
    "next_migration_number",
]

DEFAULT_MIGRATIONS_DIR = "migrations"
DEFAULT_MIGRATIONS_TABLE = "d1_migrations"
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")


class D1MigrationError(PrimitiveError):
    """A migration failed (it was rolled back; the ones before it stay applied)."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"Migration {name} failed with the following errors:\n{message}")


def escape_identifier(name: str) -> str:
    """A SQLite identifier in double quotes, as wrangler writes the table name."""
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: str = DEFAULT_MIGRATIONS_TABLE) -> str:
    """wrangler's DDL for the migrations table, character for character."""
    return (
        f"CREATE TABLE IF NOT EXISTS {escape_identifier(table)}(\n"
        "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "\t\tname       TEXT UNIQUE,\n"
        "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n"
        ");"
    )


def list_applied_sql(table: str = DEFAULT_MIGRATIONS_TABLE) -> str:
    """wrangler's query for the applied migrations, in the order they were applied."""
    return f"SELECT *\n\t\tFROM {escape_identifier(table)}\n\t\tORDER BY id"


def migration_query(sql: str, name: str, table: str = DEFAULT_MIGRATIONS_TABLE) -> str:
    """A migration's SQL followed by the insert that records it, as wrangler builds it."""
    quoted = name.replace("'", "''")
    return f"{sql}\nINSERT INTO {escape_identifier(table)} (name)\nvalues ('{quoted}');"


def _leading_number(segment: str) -> int | None:
    match = _LEADING_INT.match(segment.split("_")[0])
    return int(match.group(1)) if match else None


def migration_sort_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key for migration paths: per segment, numbered first by number, then lexically."""
    key = []
    for segment in name.split("/"):
        number = _leading_number(segment)
        key.append((0, number, segment) if number is not None else (1, 0, segment))
    return tuple(key)


def migration_names(migrations_dir: Path, pattern: str = "*.sql") -> list[str]:
    """Migration names (paths relative to ``migrations_dir``) in wrangler's order.

    ``pattern`` is a glob relative to ``migrations_dir`` (wrangler's ``migrations_pattern``
    with its ``<migrations_dir>/`` prefix removed); hidden files are skipped as wrangler does.
    """
    names = []
    for path in migrations_dir.glob(pattern):
        relative = PurePosixPath(path.relative_to(migrations_dir).as_posix())
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            names.append(str(relative))
    return sorted(names, key=migration_sort_key)


def next_migration_number(migrations_dir: Path, pattern: str = "*.sql") -> int:
    """One above the highest leading number of the existing migrations (1 when there are none)."""
    numbers = [
        _leading_number(name.split("/")[0]) for name in migration_names(migrations_dir, pattern)
    ]
    return max([n for n in numbers if n is not None] + [0]) + 1


def create_migration(
    migrations_dir: Path, message: str, *, now: datetime | None = None, pattern: str = "*.sql"
) -> Path:
    """Write ``NNNN_<message, spaces as _>.sql`` with wrangler's header line; return the path."""
    if "/" in message or "\\" in message:
        raise ValueError(f"migration name {message!r} must not contain '/' or '\\'")
    migrations_dir.mkdir(parents=True, exist_ok=True)
    number = f"{next_migration_number(migrations_dir, pattern):04d}"
    path = migrations_dir / f"{number}_{message.replace(' ', '_')}.sql"
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    with path.open("x", encoding="utf-8", newline="\n") as handle:
        handle.write(f"-- Migration number: {number} \t {stamp}\n")
    return path


async def applied_migrations(db: D1Database, table: str = DEFAULT_MIGRATIONS_TABLE) -> list[str]:
    """Names recorded in the migrations table (created first if missing), in applied order."""
    await db.prepare(create_table_sql(table)).run()
    rows = (await db.prepare(list_applied_sql(table)).all())["results"]
    return [str(row["name"]) for row in rows]


async def list_pending(
    db: D1Database,
    migrations_dir: Path,
    table: str = DEFAULT_MIGRATIONS_TABLE,
    *,
    pattern: str = "*.sql",
) -> list[str]:
    """The migrations not yet applied to ``db``, in the order they would be applied."""
    applied = set(await applied_migrations(db, table))
    return [name for name in migration_names(migrations_dir, pattern) if name not in applied]


async def apply_migrations(
    db: D1Database,
    migrations_dir: Path,
    table: str = DEFAULT_MIGRATIONS_TABLE,
    *,
    pattern: str = "*.sql",
    on_applied: Callable[[str], None] | None = None,
) -> list[str]:
    """Apply every pending migration in order, each in its own transaction with its record.

    Returns the names applied. A failing migration raises :class:`D1MigrationError` after being
    rolled back; the ones applied before it stay applied (and ``on_applied`` saw them).
    """
    applied: list[str] = []
    for name in await list_pending(db, migrations_dir, table, pattern=pattern):
        text = await asyncio.to_thread((migrations_dir / name).read_text, encoding="utf-8")
        statements = split_statements(migration_query(text, name, table))
        try:
            await db.batch(
                [db.prepare("PRAGMA defer_foreign_keys = true")]
                + [db.prepare(statement) for statement in statements]
            )
        except D1Error as exc:
            raise D1MigrationError(name, exc.message) from exc
        applied.append(name)
        if on_applied is not None:
            on_applied(name)
    return applied
