"""``edgeroom serve``: run the Worker from wrangler.toml on uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import add_env_options
from .asgi import DEFAULT_MAX_BODY_BYTES
from .server import DEFAULT_WS_MAX_SIZE, create_app, serve

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="serve the Worker (HTTP + WebSockets) on a local port"
    )
    add_env_options(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8787, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="(default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest request body (default: 100 MiB)",
    )
    parser.add_argument(
        "--ws-max-size",
        type=int,
        default=DEFAULT_WS_MAX_SIZE,
        help="largest WebSocket message (default: 1 MiB)",
    )
    parser.add_argument(
        "--ws-per-message-deflate",
        action="store_true",
        help="compress WebSocket frames (permessage-deflate); off by default: see docs/runtime.md",
    )
    parser.add_argument(
        "--test-scheduled",
        action="store_true",
        help="expose /__scheduled?cron=... to run scheduled() by hand",
    )
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/Proto from --forwarded-allow-ips",
    )
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1", help="(default: %(default)s)")
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        type=_var,
        metavar="KEY:VALUE",
        help="set a var, over [vars] and .dev.vars (repeatable; as wrangler dev --var)",
    )
    parser.set_defaults(handler=_serve)


def _var(text: str) -> tuple[str, str]:
    key, colon, value = text.partition(":")
    if not colon or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY:VALUE, got {text!r}")
    return key.strip(), value


def _serve(args: argparse.Namespace) -> int:
    app = create_app(
        args.config,
        data_dir=args.data_dir,
        max_body_bytes=args.max_body_bytes,
        test_scheduled=args.test_scheduled,
        vars=dict(args.var) or None,
    )
    serve(
        app,
        args.host,
        args.port,
        log_level=args.log_level,
        ws_max_size=args.ws_max_size,
        ws_per_message_deflate=args.ws_per_message_deflate,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0
