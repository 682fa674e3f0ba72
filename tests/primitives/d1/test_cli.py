"""``edgeroom d1 …`` and ``edgeroom migrate``, driven through ``primitives.cli.main``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from primitives.cli import main

TOML = """\
name = "cli-test"
main = "worker.py"
compatibility_date = "2026-08-01"

[[d1_databases]]
binding = "DB"
database_name = "app-db"
database_id = "00000000-0000-0000-0000-000000000001"
"""

SECOND = """
[[d1_databases]]
binding = "AUDIT"
database_name = "audit-db"
database_id = "00000000-0000-0000-0000-000000000002"
migrations_dir = "db/audit"
migrations_table = "audit_migrations"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "wrangler.toml").write_text(TOML, encoding="utf-8")
    (tmp_path / "worker.py").write_text("", encoding="utf-8")
    return tmp_path


def run(project: Path, *args: str) -> int:
    return main(
        [*args, "--config", str(project / "wrangler.toml"), "--data-dir", str(project / "data")]
    )


def d1_file(project: Path, name: str = "app-db") -> Path:
    return project / "data" / "d1" / f"{name}.sqlite3"


def test_migrations_create_list_apply_cycle(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "d1", "migrations", "create", "DB", "create users") == 0
    created = project / "migrations" / "0001_create_users.sql"
    out = capsys.readouterr().out
    assert "✅ Successfully created Migration '0001_create_users.sql'!" in out
    assert str(created) in out
    assert created.read_text(encoding="utf-8").startswith("-- Migration number: 0001 \t ")
    with created.open("a", encoding="utf-8") as handle:
        handle.write("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE);\n")

    assert run(project, "d1", "migrations", "list", "app-db") == 0
    out = capsys.readouterr().out
    assert out.startswith("Migrations to be applied:\n┌")
    assert "│ Name                  │" in out
    assert "│ 0001_create_users.sql │" in out

    assert run(project, "d1", "migrations", "apply", "DB") == 0
    out = capsys.readouterr().out
    assert "│ 0001_create_users.sql │ ✅     │" in out

    assert run(project, "d1", "migrations", "list", "DB") == 0
    assert capsys.readouterr().out == "✅ No migrations to apply!\n"
    assert run(project, "d1", "migrations", "apply", "DB") == 0
    assert capsys.readouterr().out == "✅ No migrations to apply!\n"

    conn = sqlite3.connect(d1_file(project))
    try:
        assert conn.execute("SELECT name FROM d1_migrations").fetchall() == [
            ("0001_create_users.sql",)
        ]
    finally:
        conn.close()


def test_migrations_apply_reports_failure(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project / "migrations"
    folder.mkdir()
    (folder / "0001_ok.sql").write_text("CREATE TABLE a (x);", encoding="utf-8")
    (folder / "0002_bad.sql").write_text("CREATE TABLE b (x);\nSELEC 1;", encoding="utf-8")
    assert run(project, "d1", "migrations", "apply", "DB") == 1
    captured = capsys.readouterr()
    assert "│ 0001_ok.sql  │ ✅     │" in captured.out
    assert "│ 0002_bad.sql │ ❌     │" in captured.out
    assert captured.err == (
        "Migration 0002_bad.sql failed with the following errors:\n"
        'near "SELEC": syntax error: SQLITE_ERROR\n'
    )
    assert run(project, "d1", "migrations", "list", "DB") == 0
    assert "0002_bad.sql" in capsys.readouterr().out


def test_migrations_without_folder_or_binding_fail(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "d1", "migrations", "apply", "DB") == 2
    assert f"No migrations present at {project / 'migrations'}." in capsys.readouterr().err
    assert run(project, "d1", "migrations", "list", "NOPE") == 2
    assert "Couldn't find a D1 DB with the name or binding 'NOPE' in your wrangler.toml file." in (
        capsys.readouterr().err
    )


def test_execute_command_prints_tables_and_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            project,
            "d1",
            "execute",
            "DB",
            "--command",
            "CREATE TABLE t (a, b); INSERT INTO t VALUES (1, 'x')",
        )
        == 0
    )
    assert capsys.readouterr().out == "🚣 2 commands executed successfully.\n"
    assert run(project, "d1", "execute", "DB", "--command", "SELECT a, b FROM t") == 0
    out = capsys.readouterr().out
    assert "│ a │ b │" in out
    assert "│ 1 │ x │" in out
    assert run(project, "d1", "execute", "DB", "--command", "SELECT a, b FROM t", "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["results"] == [{"a": 1, "b": "x"}]
    assert results[0]["success"] is True
    assert set(results[0]["meta"]) >= {"changes", "last_row_id", "rows_read", "size_after"}


def test_execute_file_and_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = project / "seed.sql"
    script.write_text(
        "CREATE TABLE t (a);\n-- seed\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n",
        encoding="utf-8",
    )
    assert run(project, "d1", "execute", "DB", "--file", str(script)) == 0
    assert capsys.readouterr().out == "🚣 3 commands executed successfully.\n"
    assert run(project, "d1", "execute", "DB", "--command", "INSERT INTO nope VALUES (1)") == 1
    assert capsys.readouterr().err == "edgeroom: D1_ERROR: no such table: nope: SQLITE_ERROR\n"
    assert run(project, "d1", "execute", "DB", "--command", "SELEC", "--json") == 1
    assert json.loads(capsys.readouterr().out) == {
        "error": {"text": 'D1_ERROR: near "SELEC": syntax error: SQLITE_ERROR'}
    }
    assert run(project, "d1", "execute", "DB", "--command", "-- nothing") == 1
    assert capsys.readouterr().err == "edgeroom: D1_ERROR: SQL code did not contain a statement.\n"
    assert run(project, "d1", "execute", "DB", "--file", str(project / "missing.sql")) == 2
    assert (
        run(project, "d1", "execute", "DB", "--command", "SELECT count(*) AS n FROM t", "--json")
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["results"] == [{"n": 2}]


def test_migrate_applies_every_binding_with_its_folder_and_table(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (project / "wrangler.toml").open("a", encoding="utf-8") as handle:
        handle.write(SECOND)
    (project / "migrations").mkdir()
    (project / "migrations" / "0001_users.sql").write_text(
        "CREATE TABLE users (id INTEGER);", encoding="utf-8"
    )
    audit = project / "db" / "audit"
    audit.mkdir(parents=True)
    (audit / "0001_log.sql").write_text("CREATE TABLE log (id INTEGER);", encoding="utf-8")

    assert run(project, "migrate") == 0
    out = capsys.readouterr().out
    assert (
        f"DB (app-db): applying migrations from {project / 'migrations'}\n  ✅ 0001_users.sql\n"
        in out
    )
    assert f"AUDIT (audit-db): applying migrations from {audit}\n  ✅ 0001_log.sql\n" in out

    assert run(project, "migrate") == 0
    assert capsys.readouterr().out.count("✅ No migrations to apply!") == 2
    conn = sqlite3.connect(d1_file(project, "audit-db"))
    try:
        assert conn.execute("SELECT name FROM audit_migrations").fetchall() == [("0001_log.sql",)]
    finally:
        conn.close()


def test_migrate_without_folder_applies_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "migrate") == 0
    assert capsys.readouterr().out == (
        f"DB (app-db): no migrations folder at {project / 'migrations'}; nothing to apply.\n"
    )


def test_migrate_stops_on_failing_migration(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "migrations").mkdir()
    (project / "migrations" / "0001_bad.sql").write_text("CREATE TABLE;", encoding="utf-8")
    assert run(project, "migrate") == 1
    err = capsys.readouterr().err
    assert "❌ 0001_bad.sql" in err
    assert "Migration 0001_bad.sql failed with the following errors:" in err


def test_migrate_uses_the_servers_url_and_opens_only_d1(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with (project / "wrangler.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[[kv_namespaces]]\nbinding = "SESSIONS"\nid = "sessions"\n')
    (project / "migrations").mkdir()
    (project / "migrations" / "0001_users.sql").write_text(
        "CREATE TABLE users (id INTEGER);", encoding="utf-8"
    )
    custom = project / "elsewhere" / "db.sqlite3"
    monkeypatch.setenv("EDGEROOM_DB_URL", f"sqlite:///{custom}")
    assert run(project, "migrate") == 0
    assert "✅ 0001_users.sql" in capsys.readouterr().out
    conn = sqlite3.connect(custom)
    try:
        assert conn.execute("SELECT name FROM d1_migrations").fetchall() == [("0001_users.sql",)]
    finally:
        conn.close()
    assert not d1_file(project).exists()
