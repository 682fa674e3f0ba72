"""The in-process edgeroom of tests/app/chat with the UPLOADS bucket, plus raw-body calls."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from app.worker import Default
from primitives import ExecutionContext, Request
from primitives.env import Env
from tests.app.chat.conftest import Client, chat_env, sign_up

__all__ = ["Client", "chat_env", "png", "raw", "sign_up"]


def png(width: int = 600, height: int = 400, exif: bytes | None = None, fmt: str = "PNG") -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
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
async def env(chat_env: Env) -> AsyncIterator[Env]:
    yield chat_env
