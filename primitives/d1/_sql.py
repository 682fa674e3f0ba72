"""Pure helpers over SQL text: split a string into statements, spot blank ones, classify reads.

Statements are split at ``;`` where :func:`sqlite3.complete_statement` says a statement ends,
so semicolons inside strings, identifiers, comments and ``CREATE TRIGGER … BEGIN … END`` bodies
are handled by SQLite's own tokenizer rules.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache

__all__ = ["first_keyword", "has_empty_statement", "is_blank", "split_statements"]


def _skip_space_and_comments(sql: str, start: int = 0) -> int:
    """Index of the first character at or after ``start`` that is not whitespace or a comment."""
    i, n = start, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
        else:
            return i
    return n


def is_blank(sql: str) -> bool:
    """True if ``sql`` holds nothing but whitespace, comments and semicolons."""
    i = 0
    while True:
        i = _skip_space_and_comments(sql, i)
        if i >= len(sql):
            return True
        if sql[i] != ";":
            return False
        i += 1


@lru_cache(maxsize=1024)
def split_statements(sql: str) -> tuple[str, ...]:
    """The non-blank statements of ``sql``, in order (each keeps its text and trailing ``;``)."""
    if ";" not in sql:
        return () if is_blank(sql) else (sql,)
    statements: list[str] = []
    start = 0
    search = 0
    while (end := sql.find(";", search)) != -1:
        search = end + 1
        chunk = sql[start:search]
        if sqlite3.complete_statement(chunk):
            if not is_blank(chunk):
                statements.append(chunk)
            start = search
    rest = sql[start:]
    if not is_blank(rest):
        statements.append(rest)
    return tuple(statements)


@lru_cache(maxsize=1024)
def has_empty_statement(sql: str) -> bool:
    """True if a statement of ``sql`` is only comments or ``;`` (workerd: "SQL code did not
    contain a statement."); trailing whitespace does not count, a trailing comment does."""
    start = 0
    search = 0
    while (end := sql.find(";", search)) != -1:
        search = end + 1
        chunk = sql[start:search]
        if sqlite3.complete_statement(chunk):
            if is_blank(chunk):
                return True
            start = search
    rest = sql[start:]
    return bool(rest.strip()) and is_blank(rest)


@lru_cache(maxsize=1024)
def first_keyword(sql: str) -> str:
    """The statement's first word, upper-cased (``SELECT``, ``INSERT``, ``WITH``…), or ``""``."""
    i = _skip_space_and_comments(sql)
    j = i
    while j < len(sql) and (sql[j].isalnum() or sql[j] == "_"):
        j += 1
    return sql[i:j].upper()
