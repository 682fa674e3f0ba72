"""Backend failures surface as BackendError (the library error is the cause), never raw sqlite3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from primitives.durable_objects import DurableObject
from primitives.errors import BackendError

from .conftest import MakeNamespace


class Obj(DurableObject):
    def ping(self) -> str:
        return "pong"


async def test_unusable_directory_is_a_backend_error(
    make_ns: MakeNamespace, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    stub = make_ns(Obj, f"sqlite:///{blocker / 'do'}").getByName("a")
    with pytest.raises(BackendError, match=r"Durable Object storage in .* failed") as info:
        await stub.ping()
    assert isinstance(info.value.__cause__, OSError)


async def test_corrupt_object_file_is_a_backend_error(
    make_ns: MakeNamespace, tmp_path: Path
) -> None:
    ns = make_ns(Obj, f"sqlite:///{tmp_path / 'do'}")
    stub = ns.getByName("a")
    (tmp_path / "do").mkdir()
    (tmp_path / "do" / f"{stub.id}.sqlite3").write_bytes(b"garbage" * 1000)
    with pytest.raises(BackendError, match="file is not a database") as info:
        await stub.ping()
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    assert await ns.getByName("b").ping() == "pong"  # other objects are unaffected
