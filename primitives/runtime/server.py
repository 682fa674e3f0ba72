"""Serve a Worker with uvicorn: ``create_app`` builds it from wrangler.toml, ``serve`` runs it.

Shutdown is graceful and bounded: the listening socket closes first, open WebSockets get close
code 1001 ("going away"), in-flight requests finish (up to ``timeout_graceful_shutdown``), then
``waitUntil`` work is given ``shutdown_timeout`` and storage is flushed and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import uvicorn

from ..clock import Clock
from ..config import load_config
from ..env import build_env, load_main_module
from ..errors import ConfigError
from .asgi import DEFAULT_MAX_BODY_BYTES, EdgeroomApp
from .logs import configure_logging
from .websocket_protocol import WorkerWebSocketProtocol

__all__ = [
    "DEFAULT_WS_MAX_SIZE",
    "EdgeroomServer",
    "create_app",
    "serve",
    "serve_in_thread",
    "uvicorn_config",
]

#: Largest WebSocket message accepted from a client (workerd's default, 1 MiB); bigger ones close with 1009.
DEFAULT_WS_MAX_SIZE = 1024 * 1024
#: permessage-deflate is off unless asked for: it keeps a zlib context per connection (about
#: 47 KB of server memory each, against 15 KB without, measured with websockets 17) and
#: compresses every frame once per receiving socket, which makes a room's fan-out several times
#: dearer; chat frames are small. ``--ws-per-message-deflate`` turns it on (uvicorn's default).
DEFAULT_WS_PER_MESSAGE_DEFLATE = False


def create_app(
    config: str | os.PathLike[str] = "wrangler.toml",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    urls: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    entrypoint: type[Any] | None = None,
    vars: Mapping[str, Any] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    test_scheduled: bool = False,
    **options: Any,
) -> EdgeroomApp:
    """Build the ASGI app for the Worker that wrangler.toml describes (class ``Default`` in ``main``)."""
    cfg = load_config(config)
    env = build_env(cfg, data_dir=data_dir, urls=urls, environ=environ, clock=clock, vars=vars)
    if entrypoint is None:
        module = load_main_module(cfg)
        entrypoint = getattr(module, "Default", None)
        if entrypoint is None:
            raise ConfigError(f"{cfg.main} defines no class Default(WorkerEntrypoint)")
    return EdgeroomApp(
        entrypoint,
        env,
        assets_dir=cfg.assets_dir,
        max_body_bytes=max_body_bytes,
        test_scheduled=test_scheduled,
        crons=cfg.crons,
        **options,
    )


class EdgeroomServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 before uvicorn's own shutdown (which says 1012)."""

    def __init__(self, config: uvicorn.Config, app: EdgeroomApp) -> None:
        super().__init__(config)
        self.edgeroom_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):
            server.close()
        await self.edgeroom_app.close_websockets()
        await super().shutdown(sockets)


def uvicorn_config(
    app: EdgeroomApp,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    ws_max_size: int = DEFAULT_WS_MAX_SIZE,
    ws_per_message_deflate: bool = DEFAULT_WS_PER_MESSAGE_DEFLATE,
    timeout_graceful_shutdown: float = 10.0,
    log_level: str = "info",
    direct_websockets: bool = True,
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's settings for ``app``; WebSockets go straight to the Worker unless
    ``direct_websockets`` is False (then through ASGI and :class:`~.bridge.SocketBridge`)."""
    if direct_websockets:
        options.setdefault("ws", WorkerWebSocketProtocol.factory(app))
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        ws_max_size=ws_max_size,
        ws_per_message_deflate=ws_per_message_deflate,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=int(timeout_graceful_shutdown),
        log_config=None,
        log_level=log_level,
        access_log=False,
        server_header=False,
        **options,
    )


def serve(
    app: EdgeroomApp,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    log_level: str = "info",
    **options: Any,
) -> None:
    """Run until SIGINT/SIGTERM, logging JSON lines to stderr."""
    configure_logging(log_level)
    config = uvicorn_config(app, host, port, log_level=log_level, **options)
    tune_gc()
    EdgeroomServer(config, app).run()


#: Allocations between young-generation collections (CPython's default is 700).
GC_GEN0_THRESHOLD = 100_000


def tune_gc() -> None:
    """Keep the cycle collector from pausing a busy server for tens of milliseconds.

    With CPython's defaults a server holding a thousand sockets ran full collections often
    enough to put 100-140 ms pauses into a room's delivery p99 at 13% CPU (bench/chatload
    fanout; with the collector off, p99 stayed under 50 ms). Start-up objects (modules, the
    app, the bindings) are moved out of the collector's sight once (``gc.freeze``), and young
    collections run every ``GC_GEN0_THRESHOLD`` allocations instead of 700, so older
    generations are scanned far less often. Reference counting still frees almost everything
    at once; only cyclic garbage waits a little longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 100)


class _ThreadedServer(EdgeroomServer):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # signals belong to the main thread
        yield


@contextlib.contextmanager
def serve_in_thread(
    app: EdgeroomApp, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[str]:
    """Serve ``app`` on a background thread (for tests); yields the base URL, stops on exit."""
    sock = socket.create_server((host, port))
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn_config(
        app, bound_host, bound_port, log_level=options.pop("log_level", "warning"), **options
    )
    server = _ThreadedServer(config, app)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="edgeroom-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(
                f"server failed to start: {errors[0] if errors else 'thread exited'}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start within 15 s")
        time.sleep(0.005)
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
