"""Binding details: the SDK's Python shapes, laziness, the sweeper, build_env integration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from primitives._dictlike import JsDict
from primitives.clock import FakeClock
from primitives.env import build_env
from primitives.kv import KVNamespace, open_kv_namespace
from primitives.streams import ReadableStream


async def test_binding_is_not_iterable_and_has_no_len(kv: KVNamespace) -> None:
    with pytest.raises(TypeError, match=r"KvNamespace.*is not iterable"):
        iter(kv)
    with pytest.raises(TypeError, match=r"KvNamespace.*is not iterable"):
        for _ in kv:
            pass
    with pytest.raises(TypeError, match=r"KvNamespace.*has no len"):
        len(kv)
    assert kv
    assert bool(kv) is True


async def test_get_options_accept_positional_type_dict_kwargs_or_none(kv: KVNamespace) -> None:
    await kv.put("k", '{"a": 1}')
    assert await kv.get("k", None) == '{"a": 1}'
    assert await kv.get("k", "json") == {"a": 1}
    assert await kv.get("k", {"type": "json", "cacheTtl": 60}) == {"a": 1}
    assert await kv.get("k", type="json", cacheTtl=60) == {"a": 1}
    assert await kv.get("k", {"type": "text"}, type="json") == {"a": 1}  # keywords win


async def test_list_result_is_jsdict(kv: KVNamespace) -> None:
    await kv.put("k", "v", metadata={"m": 1})
    result = await kv.list(prefix="k")
    assert isinstance(result, JsDict)
    assert result.list_complete is True
    assert result.cacheStatus is None
    assert isinstance(result["keys"][0], JsDict)
    assert result["keys"][0].name == "k"


async def test_get_stream_is_a_readable_stream(kv: KVNamespace) -> None:
    await kv.put("k", b"abc")
    stream = await kv.get("k", type="stream")
    assert isinstance(stream, ReadableStream)
    assert stream.length == 3
    assert await stream.read_all() == b"abc"


async def test_put_accepts_readable_stream(kv: KVNamespace) -> None:
    async def source() -> AsyncIterator[bytes | str]:
        yield b"ab"
        yield "c"

    await kv.put("k", ReadableStream(source()))
    assert await kv.get("k") == "abc"


async def test_put_coerces_numbers_like_javascript(kv: KVNamespace) -> None:
    for value, text in [
        (42, "42"),
        (1.0, "1"),
        (1.5, "1.5"),
        (True, "true"),
        (float("nan"), "NaN"),
    ]:
        await kv.put("n", value)
        assert await kv.get("n") == text


async def test_put_replaces_lone_surrogates_in_values(kv: KVNamespace) -> None:
    await kv.put("k", "a\ud800b")
    assert await kv.get("k") == "a\ufffdb"


async def test_get_text_replaces_invalid_utf8(kv: KVNamespace) -> None:
    await kv.put("k", b"ok\xff")
    assert await kv.get("k") == "ok\ufffd"


async def test_metadata_nan_becomes_null(kv: KVNamespace) -> None:
    await kv.put("k", "v", metadata={"x": float("nan"), 1: "int key"})
    assert (await kv.getWithMetadata("k")).metadata == {"x": None, "1": "int key"}


async def test_open_kv_namespace_does_no_io(tmp_path: Path, fake_clock: FakeClock) -> None:
    path = tmp_path / "deep" / "kv.sqlite3"
    kv = open_kv_namespace(f"sqlite:///{path}", clock=fake_clock, name="KV")
    assert not path.parent.exists()
    await kv.put("k", "v")
    assert path.exists()
    await kv.aclose()


async def test_binding_reopens_after_aclose(tmp_path: Path, fake_clock: FakeClock) -> None:
    kv = open_kv_namespace(f"sqlite:///{tmp_path / 'kv.sqlite3'}", clock=fake_clock, name="KV")
    await kv.put("k", "v")
    await kv.aclose()
    assert await kv.get("k") == "v"
    await kv.aclose()
    await kv.aclose()  # idempotent


async def test_sweeper_runs_on_the_injected_clock(kv: KVNamespace, fake_clock: FakeClock) -> None:
    await kv.put("k", "v", expirationTtl=60)
    fake_clock.advance(59)
    await fake_clock.settle()
    assert kv.sweeps == 0
    fake_clock.advance(1)
    await fake_clock.settle()
    assert kv.sweeps == 1
    assert (await kv.backend.list(prefix="", start_after=None, limit=10, now=0)).keys == []
    fake_clock.advance(60)
    await fake_clock.settle()
    assert kv.sweeps == 2


async def test_aclose_stops_the_sweeper(kv: KVNamespace, fake_clock: FakeClock) -> None:
    await kv.get("k")
    await fake_clock.settle()
    assert fake_clock.pending_sleepers == 1
    await kv.aclose()
    fake_clock.advance(600)
    await fake_clock.settle()
    assert kv.sweeps == 0


async def test_build_env_gives_kv_binding(tmp_path: Path, fake_clock: FakeClock) -> None:
    (tmp_path / "worker.py").write_text("")
    (tmp_path / "wrangler.toml").write_text(
        'name = "t"\nmain = "worker.py"\n[[kv_namespaces]]\nbinding = "FLAGS"\nid = "flags"\n'
    )
    env = build_env(
        tmp_path / "wrangler.toml", data_dir=tmp_path / "data", environ={}, clock=fake_clock
    )
    assert isinstance(env.FLAGS, KVNamespace)
    assert env.FLAGS.name == "FLAGS"
    async with env:
        await env.FLAGS.put("dark-mode", "on")
        assert await env.FLAGS.get("dark-mode") == "on"
    assert (tmp_path / "data" / "kv" / "FLAGS.sqlite3").exists()


async def test_concurrent_puts_to_one_key_last_write_wins(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    async with open_kv_namespace(
        f"sqlite:///{tmp_path / 'kv.sqlite3'}", clock=fake_clock, name="KV"
    ) as kv:
        await asyncio.gather(*(kv.put("k", str(i)) for i in range(50)))
        assert await kv.get("k") == "49"


async def test_sqlite_io_does_not_block_the_event_loop(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async with open_kv_namespace(
        f"sqlite:///{tmp_path / 'kv.sqlite3'}", clock=fake_clock, name="KV"
    ) as kv:
        await kv.get("warm-up")
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        await kv.put("big", b"x" * (20 * 1024 * 1024))  # the write runs on the connection thread
        during_put = ticks - before
        done.set()
        await task
    assert during_put > 1
