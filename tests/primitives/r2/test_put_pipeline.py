"""A put hashes and writes at once: digests stay exact, failures clean up, memory stays bounded.

``Digesting`` hands a big chunk on before hashing it (on a pool thread) and the file backend's
``StagingWriter`` writes on a thread of its own, up to a bounded number of bytes behind. These
tests shrink the thresholds so that small values cross every boundary: chunks hashed on the loop
and off it, chunks gathered into writes and written as they are, inline values and files.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from primitives.clock import FakeClock
from primitives.errors import BackendError
from primitives.r2 import R2Bucket, R2ObjectBody, _values
from primitives.r2.backends import _staging, file as file_backend
from primitives.r2.backends._staging import StagingWriter
from primitives.r2.backends.file import FileR2Backend

KINDS = ("bytes", "bytearray", "view", "writable view", "u16 view")


@contextmanager
def small_thresholds() -> Iterator[None]:
    """Thresholds small enough for a few KiB to cross each of them several times."""
    with (
        mock.patch.object(_values, "_THREAD_HASH_BYTES", 64),
        mock.patch.object(_values, "_PIECE_BYTES", 300),
        mock.patch.object(file_backend, "_WRITE_BYTES", 256),
        mock.patch.object(file_backend, "_INLINE_BYTES", 100),
        mock.patch.object(file_backend, "_SYNC_BYTES", 700),
        mock.patch.object(file_backend, "_AHEAD_BYTES", 512),
    ):
        yield


def as_kind(data: bytes, kind: str) -> Any:
    if kind == "bytearray":
        return bytearray(data)
    if kind == "view":
        return memoryview(data)
    if kind == "writable view":
        return memoryview(bytearray(data))
    if kind == "u16 view" and len(data) % 2 == 0:
        return memoryview(data).cast("H")  # len() counts items: the put must count bytes
    return data


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, position = [], 0
    for size in sizes:
        pieces.append(data[position : position + size])
        position += size
    pieces.append(data[position:])
    return pieces


async def from_list(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def put_and_read(root: Path, value: Any, **options: Any) -> tuple[Any, bytes]:
    bucket = R2Bucket(FileR2Backend(root), clock=FakeClock())
    try:
        stored = await bucket.put("key", value, **options)
        got = await bucket.get("key")
        assert isinstance(got, R2ObjectBody)
        return stored, await got.bytes()
    finally:
        await bucket.aclose()


def entries(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def staging_and_blobs(root: Path) -> tuple[list[Path], list[Path]]:
    return list((root / "staging").iterdir()), [
        p for p in (root / "blobs").rglob("*") if p.is_file()
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=3000),
    st.lists(st.integers(0, 700), max_size=12),
    st.lists(st.sampled_from(KINDS), min_size=13, max_size=13),
)
def test_digests_and_content_match_for_any_chunking(
    data: bytes, sizes: list[int], kinds: list[str]
) -> None:
    chunks = [as_kind(piece, kind) for piece, kind in zip(cut(data, sizes), kinds, strict=False)]
    with small_thresholds(), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bucket"
        stored, content = asyncio.run(
            put_and_read(root, from_list(chunks), sha256=hashlib.sha256(data).digest())
        )
        assert content == data
        assert stored.size == len(data)
        assert stored.etag == hashlib.md5(data).hexdigest()
        assert stored.checksums.toJSON() == {
            "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        staging, blobs = staging_and_blobs(root)
        assert staging == [] and len(blobs) == (1 if len(data) > 100 else 0)


@pytest.mark.parametrize("size", [0, 1, 63, 64, 255, 256, 257, 300, 301, 700, 1024, 5000])
async def test_bytes_values_of_every_size_keep_their_digest(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    with small_thresholds():
        stored, content = await put_and_read(tmp_path / "b", data, sha1=hashlib.sha1(data).digest())
    assert content == data and stored.etag == hashlib.md5(data).hexdigest()
    assert stored.checksums.toJSON()["sha1"] == hashlib.sha1(data).hexdigest()


async def test_only_md5_and_the_asked_checksum_are_computed(tmp_path: Path) -> None:
    made: list[str] = []
    real = hashlib.new

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(name)
        return real(name, *args, **kwargs)

    with mock.patch.object(hashlib, "new", counting):
        await put_and_read(tmp_path / "b", b"x" * 200_000)
        assert made == ["md5"]
        await put_and_read(tmp_path / "c", b"x" * 10, sha512=hashlib.sha512(b"x" * 10).digest())
        assert made == ["md5", "md5", "sha512"]


async def test_a_source_reusing_its_buffer_is_snapshotted(tmp_path: Path) -> None:
    buffer = bytearray(4096)
    expected = bytearray()

    async def reusing() -> AsyncIterator[Any]:
        for i in range(8):
            buffer[:] = bytes([i]) * len(buffer)
            expected.extend(buffer)
            yield memoryview(buffer) if i % 2 else buffer
            await asyncio.sleep(0)

    with small_thresholds():
        stored, content = await put_and_read(tmp_path / "b", reusing())
    assert content == bytes(expected) and stored.etag == hashlib.md5(expected).hexdigest()


async def test_hashing_a_chunk_overlaps_writing_it(tmp_path: Path) -> None:
    """The hash of a chunk waits for its write to start: a put that hashed first would hang."""
    writing = threading.Event()
    waited: list[bool] = []
    real_update, real_write = _values._update, _staging.write_all

    def update(hashers: list[Any], chunk: Any) -> None:
        if len(chunk) >= 1 << 20:
            waited.append(writing.wait(timeout=10))
            writing.clear()
        real_update(hashers, chunk)

    def write_all(handle: Any, data: Any) -> None:
        writing.set()
        real_write(handle, data)

    data = bytes(range(256)) * (12 << 12)  # 12 MiB: two pieces of 8 and 4 MiB
    with (
        mock.patch.object(_values, "_update", update),
        mock.patch.object(_staging, "write_all", write_all),
    ):
        stored, content = await put_and_read(tmp_path / "b", data)
    assert waited == [True, True]
    assert content == data and stored.etag == hashlib.md5(data).hexdigest()


async def test_a_failing_write_stops_the_put_and_leaves_no_file(tmp_path: Path) -> None:
    calls: list[int] = []
    real = _staging.write_all

    def failing(handle: Any, data: Any) -> None:
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(handle, data)

    root = tmp_path / "b"
    bucket = R2Bucket(FileR2Backend(root), clock=FakeClock())
    with (
        small_thresholds(),
        mock.patch.object(_staging, "write_all", failing),
        pytest.raises(BackendError, match="No space left on device"),
    ):
        await bucket.put("key", b"v" * 5000)
    assert len(calls) == 3  # the writes queued after the failed one never ran
    assert await bucket.head("key") is None
    assert staging_and_blobs(root) == ([], [])
    await bucket.aclose()


async def test_a_failing_hash_stops_the_put_and_leaves_no_file(tmp_path: Path) -> None:
    real = _values._update
    calls: list[int] = []

    def failing(hashers: list[Any], chunk: Any) -> None:
        calls.append(len(chunk))
        if len(calls) == 4:
            raise MemoryError("hasher failed")
        real(hashers, chunk)

    root = tmp_path / "b"
    bucket = R2Bucket(FileR2Backend(root), clock=FakeClock())
    with small_thresholds(), mock.patch.object(_values, "_update", failing):
        with pytest.raises(MemoryError, match="hasher failed"):
            await bucket.put("key", b"v" * 5000)
        with pytest.raises(MemoryError, match="hasher failed"):  # the last chunk's hash
            calls.clear()
            await bucket.put("key", from_list([b"a" * 300, b"b" * 300, b"c" * 300, b"d" * 300]))
    assert await bucket.head("key") is None
    assert staging_and_blobs(root) == ([], [])
    await bucket.aclose()


async def test_a_failing_source_leaves_no_file(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"z" * 300
        raise ConnectionResetError("client went away")

    root = tmp_path / "b"
    bucket = R2Bucket(FileR2Backend(root), clock=FakeClock())
    with small_thresholds(), pytest.raises(ConnectionResetError):  # not a BackendError
        await bucket.put("key", broken())
    assert staging_and_blobs(root) == ([], [])
    await bucket.aclose()


async def test_the_writer_stays_within_its_ahead_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = 0
    real = _staging.write_all

    def slow(handle: Any, data: Any) -> None:
        nonlocal written
        threading.Event().wait(0.002)
        real(handle, data)
        written += len(data)

    monkeypatch.setattr(_staging, "write_all", slow)
    writer = StagingWriter(tmp_path / "f", ahead_bytes=1000, sync_bytes=1500)
    submitted = 0
    for i in range(40):
        await writer.write(bytes([i]) * 300)
        submitted += 300
        assert submitted - written <= 1000
    await writer.finish()
    assert (tmp_path / "f").read_bytes() == b"".join(bytes([i]) * 300 for i in range(40))


async def test_an_aborted_writer_removes_its_file(tmp_path: Path) -> None:
    writer = StagingWriter(tmp_path / "f", ahead_bytes=1 << 20, sync_bytes=1 << 20)
    for _ in range(5):
        await writer.write(b"q" * 1000)
    await writer.abort()
    assert entries(tmp_path) == []


async def test_an_empty_writer_finishes_with_an_empty_file(tmp_path: Path) -> None:
    writer = StagingWriter(tmp_path / "f", ahead_bytes=10, sync_bytes=10)
    await writer.finish()
    assert (tmp_path / "f").read_bytes() == b""
