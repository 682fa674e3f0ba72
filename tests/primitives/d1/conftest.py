"""Fixtures for the D1 unit tests: real SQLite files in tmp_path, and the in-memory database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from primitives.clock import FakeClock
from primitives.d1 import D1Database, open_d1_database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "d1" / "db.sqlite3"


@pytest.fixture
async def db(db_path: Path, fake_clock: FakeClock) -> AsyncIterator[D1Database]:
    database = open_d1_database(f"sqlite:///{db_path}", clock=fake_clock, name="DB")
    yield database
    await database.aclose()


@pytest.fixture
async def mem_db(fake_clock: FakeClock) -> AsyncIterator[D1Database]:
    database = open_d1_database("memory:", clock=fake_clock, name="DB")
    yield database
    await database.aclose()
