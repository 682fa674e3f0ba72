"""The edgeroom Worker, driven in-process."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.routing import Router
from app.worker import Default
from primitives import ExecutionContext, Request, Response, build_env
from primitives.runtime import create_app, serve_in_thread

ROOT = Path(__file__).parents[2]


async def test_healthz(tmp_path: Path) -> None:
    env = build_env(ROOT / "wrangler.toml", data_dir=tmp_path, environ={})
    response = await Default(ExecutionContext(), env).fetch(Request("http://x/healthz"))
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_unknown_path_and_wrong_method(tmp_path: Path) -> None:
    env = build_env(ROOT / "wrangler.toml", data_dir=tmp_path, environ={})
    worker = Default(ExecutionContext(), env)
    assert (await worker.fetch(Request("http://x/nope"))).status == 404
    response = await worker.fetch(Request("http://x/healthz", "POST", body=b""))
    assert response.status == 405 and response.headers.get("allow") == "GET"


def test_router_extracts_parameters() -> None:
    router = Router()

    async def handler(*args: object) -> Response:
        return Response("x")

    router.add("GET", "/rooms/{room}/messages", handler)
    assert router.match("GET", "/rooms/lobby/messages") == (handler, {"room": "lobby"})
    assert router.match("GET", "/rooms/a/b/messages") == (None, set())
    assert router.match("HEAD", "/rooms/x/messages")[0] is handler


def test_served_app_answers_healthz_and_the_page(tmp_path: Path) -> None:
    app = create_app(ROOT / "wrangler.toml", data_dir=tmp_path)
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/healthz").json()["service"] == "edgeroom"
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "<title>edgeroom</title>" in page.text
