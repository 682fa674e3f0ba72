"""``edgeroom d1 …`` (wrangler's D1 commands, run locally) and ``edgeroom migrate``.

* ``edgeroom d1 migrations create <DB> <message>`` -- a new numbered migration file
* ``edgeroom d1 migrations list <DB>`` -- the migrations not yet applied
* ``edgeroom d1 migrations apply <DB>`` -- apply them, one transaction each
* ``edgeroom d1 execute <DB> --command "SQL" | --file f.sql [--json]`` -- run SQL
* ``edgeroom migrate`` -- apply pending migrations of every D1 binding in wrangler.toml

``<DB>`` is a binding name or a ``database_name``, as with wrangler. Only the D1 bindings are
opened (see :class:`D1Bindings`), with the same backend URLs the server uses. Each binding's
folder and table come from its wrangler.toml entry (``migrations_dir``, default
``migrations`` beside wrangler.toml; ``migrations_table``, default ``d1_migrations``;
``migrations_pattern``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cli import add_env_options, run_command
from ..clock import SystemClock
from ..config import BindingSpec, WorkerConfig, load_config, resolve_backend_urls
from ..env import resolve_data_dir
from ..errors import ConfigError
from . import open_d1_database
from ._sql import split_statements
from .binding import D1Database
from .errors import D1Error
from .migrations import (
    DEFAULT_MIGRATIONS_DIR,
    DEFAULT_MIGRATIONS_TABLE,
    D1MigrationError,
    apply_migrations,
    create_migration,
    list_pending,
)

__all__ = [
    "D1Bindings",
    "D1MigrationsConfig",
    "d1_migrations_config",
    "find_d1_binding",
    "format_d1_table",
    "register",
]

NO_MIGRATIONS = "✅ No migrations to apply!"


@dataclass(frozen=True)
class D1MigrationsConfig:
    """Where one D1 binding's migrations live and where they are recorded."""

    directory: Path
    pattern: str
    table: str


def _normalize(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts) or "."


def d1_migrations_config(config: WorkerConfig, spec: BindingSpec) -> D1MigrationsConfig:
    """The binding's ``migrations_dir`` / ``migrations_pattern`` / ``migrations_table``."""
    options = spec.options
    raw_dir = options.get("migrations_dir")
    raw_pattern = options.get("migrations_pattern")
    table = options.get("migrations_table") or DEFAULT_MIGRATIONS_TABLE
    if raw_pattern is not None and raw_dir is None:
        raise ConfigError(
            f"{config.path}: binding {spec.name!r} sets migrations_pattern but not migrations_dir"
        )
    directory = _normalize(str(raw_dir or DEFAULT_MIGRATIONS_DIR))
    pattern = "*.sql"
    if raw_pattern is not None:
        normalized = _normalize(str(raw_pattern))
        prefix = "" if directory == "." else f"{directory}/"
        if not normalized.startswith(prefix):
            raise ConfigError(
                f"{config.path}: binding {spec.name!r}: migrations_pattern {raw_pattern!r} must "
                f"start with {prefix!r} to match migrations_dir {raw_dir!r}"
            )
        pattern = normalized[len(prefix) :]
    return D1MigrationsConfig((config.root / directory).resolve(), pattern, str(table))


def find_d1_binding(config: WorkerConfig, name: str) -> BindingSpec:
    """The D1 binding named ``name`` (binding name or ``database_name``), as wrangler finds it."""
    for spec in config.of_kind("d1"):
        if name in (spec.name, spec.resource, spec.options.get("database_name")):
            return spec
    raise ConfigError(
        f"Couldn't find a D1 DB with the name or binding '{name}' in your {config.path.name} file."
    )


def _display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide characters (emoji) count 2, combining marks 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def format_d1_table(headers: list[str], rows: list[list[str]]) -> str:
    """A boxed table like the one wrangler's logger prints."""
    columns = zip(headers, *rows, strict=False)
    widths = [max(_display_width(str(v)) for v in column) for column in columns]

    def line(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right

    def cells(values: list[str]) -> str:
        padded = [
            f" {v}{' ' * (w - _display_width(str(v)))} "
            for v, w in zip(values, widths, strict=True)
        ]
        return "│" + "│".join(padded) + "│"

    out = [line("┌", "┬", "┐"), cells(headers), line("├", "┼", "┤")]
    out += [cells(row) for row in rows]
    out.append(line("└", "┴", "┘"))
    return "\n".join(out)


class D1Bindings:
    """The D1 bindings of wrangler.toml, opened on demand with the URLs the server would use.

    Backend URLs and the data directory are resolved exactly as :func:`primitives.env.build_env`
    resolves them (``--data-dir``, ``EDGEROOM_<BINDING>_URL``, defaults), but only D1 bindings
    are opened: migrating a database must not depend on the other primitives or on importing
    the Worker's Durable Object classes.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.config = load_config(args.config)
        data_dir = resolve_data_dir(self.config, args.data_dir, os.environ)
        self._urls = resolve_backend_urls(self.config, data_dir, None, os.environ)
        self._open: dict[str, D1Database] = {}

    def __getitem__(self, name: str) -> D1Database:
        if name not in self._open:
            self._open[name] = open_d1_database(self._urls[name], clock=SystemClock(), name=name)
        return self._open[name]

    async def __aenter__(self) -> D1Bindings:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for database in self._open.values():
            await database.aclose()


def _migrations_dir_or_fail(migrations: D1MigrationsConfig) -> Path:
    if not migrations.directory.is_dir():
        raise ConfigError(f"No migrations present at {migrations.directory}.")
    return migrations.directory


async def _create(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    spec = find_d1_binding(config, args.database)
    migrations = d1_migrations_config(config, spec)
    try:
        path = create_migration(migrations.directory, args.message, pattern=migrations.pattern)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    print(f"✅ Successfully created Migration '{path.name}'!\n")
    print("The migration is available for editing here")
    print(path)
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with D1Bindings(args) as env:
        spec = find_d1_binding(env.config, args.database)
        migrations = d1_migrations_config(env.config, spec)
        directory = _migrations_dir_or_fail(migrations)
        pending = await list_pending(
            env[spec.name], directory, migrations.table, pattern=migrations.pattern
        )
    if not pending:
        print(NO_MIGRATIONS)
        return 0
    print("Migrations to be applied:")
    print(format_d1_table(["Name"], [[name] for name in pending]))
    return 0


async def _apply(args: argparse.Namespace) -> int:
    async with D1Bindings(args) as env:
        spec = find_d1_binding(env.config, args.database)
        migrations = d1_migrations_config(env.config, spec)
        directory = _migrations_dir_or_fail(migrations)
        db = env[spec.name]
        pending = await list_pending(db, directory, migrations.table, pattern=migrations.pattern)
        if not pending:
            print(NO_MIGRATIONS)
            return 0
        print("Migrations to be applied:")
        print(format_d1_table(["Name"], [[name] for name in pending]))
        status = {name: "🕒️" for name in pending}

        def show(name: str, mark: str) -> None:
            status[name] = mark
            print(format_d1_table(["Name", "Status"], [[n, s] for n, s in status.items()]))

        try:
            await apply_migrations(
                db,
                directory,
                migrations.table,
                pattern=migrations.pattern,
                on_applied=lambda name: show(name, "✅"),
            )
        except D1MigrationError as exc:
            show(exc.name, "❌")
            print(f"Migration {exc.name} failed with the following errors:", file=sys.stderr)
            print(exc.message, file=sys.stderr)
            return 1
    return 0


async def _migrate(args: argparse.Namespace) -> int:
    async with D1Bindings(args) as env:
        specs = env.config.of_kind("d1")
        if not specs:
            print(f"No D1 databases in {env.config.path}; nothing to migrate.")
            return 0
        for spec in specs:
            migrations = d1_migrations_config(env.config, spec)
            label = f"{spec.name} ({spec.resource})"
            if not migrations.directory.is_dir():
                print(f"{label}: no migrations folder at {migrations.directory}; nothing to apply.")
                continue
            print(f"{label}: applying migrations from {migrations.directory}")
            try:
                applied = await apply_migrations(
                    env[spec.name],
                    migrations.directory,
                    migrations.table,
                    pattern=migrations.pattern,
                    on_applied=lambda name: print(f"  ✅ {name}"),
                )
            except D1MigrationError as exc:
                print(f"  ❌ {exc.name}", file=sys.stderr)
                print(str(exc), file=sys.stderr)
                return 1
            if not applied:
                print(f"  {NO_MIGRATIONS}")
    return 0


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


async def _execute(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            sql = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    else:
        sql = args.command
    async with D1Bindings(args) as env:
        spec = find_d1_binding(env.config, args.database)
        db = env[spec.name]
        statements = split_statements(sql)
        try:
            if not statements:
                await db.prepare(sql).run()  # raises D1's "No SQL statements detected."
            results = await db.batch([db.prepare(statement) for statement in statements])
        except D1Error as exc:
            if args.json:
                print(json.dumps({"error": {"text": str(exc)}}, indent=2))
                return 1
            raise
    if args.json:
        print(json.dumps(_jsonable(results), indent=2, ensure_ascii=False))
        return 0
    count = len(statements)
    print(f"🚣 {count} command{'s' if count != 1 else ''} executed successfully.")
    for result in results:
        rows = result["results"]
        if rows:
            headers = list(rows[0].keys())
            print(format_d1_table(headers, [[str(row.get(h)) for h in headers] for row in rows]))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``d1`` (``migrations create|list|apply``, ``execute``) and ``migrate``."""
    d1 = subparsers.add_parser("d1", help="run wrangler's D1 commands against local databases")
    d1_commands = d1.add_subparsers(dest="d1_command", metavar="COMMAND", required=True)

    migrations = d1_commands.add_parser("migrations", help="create, list and apply migrations")
    steps = migrations.add_subparsers(dest="migrations_command", metavar="COMMAND", required=True)
    create = steps.add_parser("create", help="create a new numbered migration file")
    create.add_argument("database", metavar="DB", help="binding name or database_name")
    create.add_argument("message", help="what the migration does (becomes the file name)")
    add_env_options(create)
    create.set_defaults(handler=run_command(_create))
    for name, handler, text in (
        ("list", _list, "list the migrations not yet applied"),
        ("apply", _apply, "apply the migrations not yet applied"),
    ):
        step = steps.add_parser(name, help=text)
        step.add_argument("database", metavar="DB", help="binding name or database_name")
        add_env_options(step)
        step.set_defaults(handler=run_command(handler))

    execute = d1_commands.add_parser("execute", help="run SQL against a local D1 database")
    execute.add_argument("database", metavar="DB", help="binding name or database_name")
    source = execute.add_mutually_exclusive_group(required=True)
    source.add_argument("--command", help="the SQL to run")
    source.add_argument("--file", help="a file of SQL to run")
    execute.add_argument("--json", action="store_true", help="print the results as JSON")
    add_env_options(execute)
    execute.set_defaults(handler=run_command(_execute))

    migrate = subparsers.add_parser(
        "migrate", help="apply pending D1 migrations of every D1 binding in wrangler.toml"
    )
    add_env_options(migrate)
    migrate.set_defaults(handler=run_command(_migrate))
