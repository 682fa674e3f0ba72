"""``FileR2Backend``: keys never become paths, writes are atomic, blobs are cleaned up."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest

from primitives.clock import FakeClock
from primitives.r2 import BadDigest, R2Bucket, open_r2_bucket
from primitives.r2.backends.file import FileR2Backend

BLOB = re.compile(r"^blobs/[0-9a-f]{2}/[0-9a-f]{32}$")


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def blobs(root: Path) -> list[str]:
    return [f for f in files(root) if f.startswith("blobs/")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "bucket"


@pytest.fixture
async def bucket(root: Path, fake_clock: FakeClock):
    b = R2Bucket(FileR2Backend(root), clock=fake_clock, name="B", min_part_bytes=50)
    yield b
    await b.aclose()


async def test_construction_does_no_io(root: Path, fake_clock: FakeClock) -> None:
    bucket = open_r2_bucket(f"file://{root}", clock=fake_clock, name="B")
    assert not await asyncio.to_thread(root.exists)
    await bucket.head("k")
    assert (root / "index.sqlite3").exists()
    await bucket.aclose()


@pytest.mark.parametrize(
    "key", ["../../escape", "/etc/passwd", "a\x00b", "..", "x/" * 300, "C:\\windows", "é" * 500]
)
async def test_put_never_derives_paths_from_keys(bucket: Any, root: Path, key: str) -> None:
    await bucket.put(key, "value")
    assert await (await bucket.get(key)).text() == "value"
    assert all(name.startswith(("index.sqlite3", "blobs/")) for name in files(root))
    assert [b for b in blobs(root) if not BLOB.match(b)] == []
    assert not (root.parent / "escape").exists()


async def test_objects_survive_reopening(root: Path, fake_clock: FakeClock) -> None:
    first = R2Bucket(FileR2Backend(root), clock=fake_clock, min_part_bytes=50)
    await first.put("key", "value", customMetadata={"a": "b"})
    upload = await first.createMultipartUpload("mp")
    part = await upload.uploadPart(1, "p" * 60)
    await first.aclose()
    second: Any = R2Bucket(FileR2Backend(root), clock=fake_clock, min_part_bytes=50)
    assert (await second.head("key")).customMetadata == {"a": "b"}
    assert (await second.resumeMultipartUpload("mp", upload.uploadId).complete([part])).size == 60
    assert await (await second.get("mp")).text() == "p" * 60
    await second.aclose()


async def test_open_wipes_unfinished_staging(root: Path, fake_clock: FakeClock) -> None:
    """A crash mid-put leaves only a staging file, which the next open removes."""
    (root / "staging").mkdir(parents=True)
    (root / "staging" / "deadbeef").write_bytes(b"torn")
    bucket = R2Bucket(FileR2Backend(root), clock=fake_clock)
    assert (await bucket.list()).objects == []
    assert files(root / "staging") == []
    await bucket.aclose()


async def test_small_values_live_in_the_index(bucket: Any, root: Path) -> None:
    await bucket.put("small", b"s" * (64 << 10))
    await bucket.put("big", b"b" * ((64 << 10) + 1))
    assert len(blobs(root)) == 1
    body = await bucket.get("small", range={"offset": 10, "length": 5})
    assert await body.bytes() == b"sssss"
    assert len(await (await bucket.get("big")).bytes()) == (64 << 10) + 1


async def test_replaced_and_deleted_objects_release_their_blobs(bucket: Any, root: Path) -> None:
    await bucket.put("key", "1" * 100_000)
    await bucket.put("key", "2" * 100_000)
    assert len(blobs(root)) == 1
    upload = await bucket.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, str(n) * 50) for n in (1, 2, 3)]
    await upload.uploadPart(4, "unused")
    await upload.complete(parts)
    assert len(blobs(root)) == 3  # the plain value and the unused part are gone
    await bucket.put("key", "small, inline")
    assert blobs(root) == []
    await bucket.put("key", "3" * 100_000)
    await bucket.delete("key")
    assert blobs(root) == []


async def test_failed_puts_leave_nothing_behind(bucket: Any, root: Path) -> None:
    with pytest.raises(BadDigest):
        await bucket.put("key", "value", md5="0" * 32)
    assert await bucket.put("key", "value", onlyIf={"etagMatches": "abc"}) is None
    assert blobs(root) == [] and files(root / "staging") == []


async def test_aborted_upload_releases_part_blobs(bucket: Any, root: Path) -> None:
    upload = await bucket.createMultipartUpload("key")
    await upload.uploadPart(1, "a" * 50)
    await upload.uploadPart(1, "b" * 50)
    assert len(blobs(root)) == 1
    await upload.abort()
    assert blobs(root) == []


async def test_reader_keeps_blob_until_finished(bucket: Any, root: Path) -> None:
    upload = await bucket.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, str(n) * 50) for n in (1, 2, 3)]
    await upload.complete(parts)
    body = await bucket.get("key", range={"offset": 10})
    await bucket.delete("key")
    assert len(blobs(root)) == 3
    assert await body.text() == "1" * 40 + "2" * 50 + "3" * 50
    assert blobs(root) == []


async def test_unreadable_directory_is_a_backend_error(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    bucket = R2Bucket(FileR2Backend(blocker / "sub"), clock=fake_clock)
    from primitives.errors import BackendError

    with pytest.raises(BackendError, match="cannot open R2 directory"):
        await bucket.head("k")
    await bucket.aclose()


# -- reading content files (``_blob_reader``) ---------------------------------------------------
@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Read bodies in 16-byte chunks, so a few hundred bytes make many chunks."""
    monkeypatch.setattr("primitives.r2.backends.file.READ_CHUNK_BYTES", 16)
    return 16


async def test_chunks_never_span_blobs_and_each_blob_goes_once_read(
    bucket: Any, root: Path, small_chunks: int
) -> None:
    upload = await bucket.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, str(n) * 50) for n in (1, 2, 3)]
    await upload.complete(parts)
    body = await bucket.get("key", range={"offset": 10, "length": 120})
    await bucket.delete("key")
    chunks, left = [], []
    async for chunk in body.body:
        chunks.append(chunk)
        left.append(len(blobs(root)))
    assert [len(c) for c in chunks] == [16, 16, 8, 16, 16, 16, 2, 16, 14]
    # a blob is unlinked as soon as its last chunk is taken: the reader no longer needs it
    assert left == [3, 3, 2, 2, 2, 2, 1, 1, 0]
    assert b"".join(chunks) == b"1" * 40 + b"2" * 50 + b"3" * 30
    assert blobs(root) == []


async def test_reader_stays_one_chunk_ahead_of_a_slow_consumer(tmp_path: Path) -> None:
    from primitives.r2.backends._blob_reader import BlobReader

    data = bytes(range(256)) * 4
    (tmp_path / "blob").write_bytes(data)
    reader = BlobReader(asyncio.get_running_loop(), [(tmp_path / "blob", 100, 500)], 16)
    assert await reader.take() == data[100:116]
    await asyncio.sleep(0.05)  # time enough to read everything, were it not bounded
    assert len(reader._ready) == 1 and not reader._running
    rest = [await reader.take() for _ in range(31)]
    assert b"".join(rest) == data[116:600]
    await reader.aclose()


async def test_a_body_dropped_midway_releases_its_blob(
    bucket: Any, root: Path, small_chunks: int
) -> None:
    await bucket.put("key", "x" * 100_000)
    body = await bucket.get("key")
    await bucket.delete("key")
    stream = body.body.__aiter__()
    assert await stream.__anext__() == b"x" * 16
    assert len(blobs(root)) == 1
    await body.body.cancel()
    assert blobs(root) == []


async def test_missing_or_short_content_files_are_internal_errors(
    bucket: Any, root: Path, small_chunks: int
) -> None:
    from primitives.r2 import InternalError

    await bucket.put("gone", "g" * 100_000)
    (gone,) = blobs(root)
    (root / gone).unlink()
    await bucket.put("short", "s" * 100_000)
    (short,) = blobs(root)
    os.truncate(root / short, 40)
    for key, read in (("gone", 0), ("short", 40)):
        body = await bucket.get(key)
        got = bytearray()
        with pytest.raises(InternalError):
            async for chunk in body.body:
                got += chunk
        assert len(got) == read, key


async def test_reader_refuses_to_read_past_its_ranges(tmp_path: Path) -> None:
    from primitives.r2.backends._blob_reader import BlobReader

    (tmp_path / "blob").write_bytes(b"0123456789")
    reader = BlobReader(asyncio.get_running_loop(), [(tmp_path / "blob", 2, 5)], 4)
    assert [await reader.take(), await reader.take()] == [b"2345", b"6"]
    with pytest.raises(RuntimeError, match="past the end"):
        await reader.take()
    await reader.aclose()
