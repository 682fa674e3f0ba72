"""The in-process edgeroom of tests/app/chat with the UPLOADS bucket, plus raw-body calls."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.worker import Default
from primitives import ExecutionContext, FakeClock, Request, build_env
from primitives.d1.migrations import apply_migrations
from primitives.env import Env
from tests.app.chat.conftest import MEMORY, ROOT, Client, sign_up

__all__ = ["Client", "image_bytes", "r2_keys", "raw", "rows", "sign_up"]


def image_bytes(
    width: int = 600, height: int = 400, fmt: str = "PNG", exif: Image.Exif | None = None
) -> bytes:
    """A solid red image (a white left half, so orientation can be checked)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((255, 255, 255), (0, 0, width // 2, height))
    out = io.BytesIO()
    if exif is not None:
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


async def raw(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """A request with a raw body (bytes or an async iterator of chunks); JSON answers are decoded."""
    request = Request(f"http://edgeroom.test{path}", method, client.headers(headers), body)
    response = await Default(ExecutionContext(), client.env).fetch(request)
    data = await response.bytes()
    decoded = (
        json.loads(data) if response.headers.get("content-type") == "application/json" else data
    )
    return response.status, decoded, response


@pytest.fixture
def upload_vars() -> dict[str, str]:
    """Vars for the ``env`` fixture; a test module overrides it to change limits."""
    return {}


@pytest.fixture
async def env(tmp_path: Path, upload_vars: dict[str, str]) -> AsyncIterator[Env]:
    clock = FakeClock(1_800_000_000.0)
    env = build_env(
        ROOT / "wrangler.toml",
        data_dir=tmp_path,
        urls=MEMORY,
        environ={},
        clock=clock,
        vars={"PASSWORD_ITERATIONS": "1000", **upload_vars},
    )
    await apply_migrations(env.DB, ROOT / "migrations")
    yield env
    await env.aclose()


async def r2_keys(env: Env) -> list[str]:
    page = await env.UPLOADS.list()
    return [obj.key for obj in page.objects]


async def rows(env: Env) -> list[dict[str, Any]]:
    return list((await env.DB.prepare("SELECT id, state FROM uploads").all())["results"])
