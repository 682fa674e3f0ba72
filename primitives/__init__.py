"""primitives: a local, faithful Python implementation of the Cloudflare Workers runtime surface.

The names here are the ones the Python Workers SDK (``workers``) exports, so an app written
against ``workers`` runs unchanged on top of ``primitives``.
"""

from __future__ import annotations

from .clock import Clock, FakeClock, SystemClock
from .config import WorkerConfig, load_config
from .durable_objects import DurableObject, WebSocketRequestResponsePair
from .entrypoint import ExecutionContext, ScheduledController, WorkerEntrypoint
from .env import Env, build_env
from .errors import BackendError, ConfigError, PrimitiveError, UnsupportedBackend
from .headers import Headers
from .http import File, FormData, Request, Response
from .streams import ReadableStream
from .websocket import WebSocket, WebSocketPair

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Clock",
    "ConfigError",
    "DurableObject",
    "Env",
    "ExecutionContext",
    "FakeClock",
    "File",
    "FormData",
    "Headers",
    "PrimitiveError",
    "ReadableStream",
    "Request",
    "Response",
    "ScheduledController",
    "SystemClock",
    "UnsupportedBackend",
    "WebSocket",
    "WebSocketPair",
    "WebSocketRequestResponsePair",
    "WorkerConfig",
    "WorkerEntrypoint",
    "__version__",
    "build_env",
    "load_config",
]
