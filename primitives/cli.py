"""The ``edgeroom`` command: ``serve``, ``migrate``, and wrangler-like ``kv``, ``d1`` and ``r2`` commands.

Each command family lives beside the primitive it drives and exposes
``register(subparsers)``; this module only assembles them. Commands that touch storage build
``env`` with :func:`primitives.env.build_env`, so they see exactly what the server sees: the
local data directory, or the backend that ``EDGEROOM_<BINDING>_URL`` names.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from . import __version__
from .env import Env, build_env
from .errors import ConfigError, PrimitiveError

__all__ = ["add_env_options", "env_from_args", "main", "run_command"]

#: Modules with a ``register(subparsers)`` function, one line each.
COMMAND_MODULES: tuple[str, ...] = (
    "primitives.runtime.cli",
    "primitives.d1.cli",
    "primitives.kv.cli",
    "primitives.r2.cli",
    "primitives.runtime.flags_cli",
)


def add_env_options(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--data-dir``, shared by every command that opens bindings."""
    parser.add_argument(
        "--config",
        "-c",
        default="wrangler.toml",
        help="path to wrangler.toml (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where embedded stores live (default: $EDGEROOM_DATA_DIR or .edgeroom beside wrangler.toml)",
    )


def env_from_args(args: argparse.Namespace, **kwargs: Any) -> Env:
    return build_env(args.config, data_dir=args.data_dir, **kwargs)


def run_command(
    handler: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """Wrap an async command handler so ``main`` can call it."""

    def run(args: argparse.Namespace) -> int:
        return asyncio.run(handler(args))

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeroom", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"edgeroom {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except ConfigError as exc:
        print(f"edgeroom: configuration error: {exc}", file=sys.stderr)
        return 2
    except PrimitiveError as exc:
        print(f"edgeroom: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
