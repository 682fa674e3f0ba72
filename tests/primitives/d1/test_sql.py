"""Splitting SQL text into statements."""

from __future__ import annotations

from primitives.d1._sql import first_keyword, is_blank, split_statements


def test_split_statements_respects_strings_comments_and_triggers() -> None:
    sql = (
        "CREATE TABLE t(a); INSERT INTO t VALUES (';'); -- a comment; with a semicolon\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END; /* end */"
    )
    assert split_statements(sql) == (
        "CREATE TABLE t(a);",
        " INSERT INTO t VALUES (';');",
        " -- a comment; with a semicolon\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;",
    )


def test_split_statements_keeps_a_last_statement_without_semicolon() -> None:
    assert split_statements("SELECT 1; SELECT 2") == ("SELECT 1;", " SELECT 2")


def test_split_statements_drops_blank_statements() -> None:
    assert split_statements("") == ()
    assert split_statements("  ;; -- c\n /* x */ ;") == ()


def test_is_blank_and_first_keyword() -> None:
    assert is_blank("-- only a comment")
    assert not is_blank("-- c\nSELECT 1")
    assert first_keyword(" /* x */ -- y\n select 1") == "SELECT"
    assert first_keyword("") == ""
