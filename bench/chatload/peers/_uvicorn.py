"""The command line both uvicorn peers share: ``--host``, ``--port``, then ``uvicorn.run``."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

__all__ = ["run_asgi_peer"]


def run_asgi_peer(app: Any, argv: list[str] | None, description: str, **options: Any) -> int:
    """Serve ``app`` on uvicorn (quiet logs, no permessage-deflate) until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        **options,
    )
    return 0
