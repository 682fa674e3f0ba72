"""A small method + path router for the Worker (sans-I/O: it only matches)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app._runtime import Response

__all__ = ["Route", "Router"]

Handler = Callable[..., Awaitable["Response"]]
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    #: the path's text before its first ``{param}``: a cheap test before the regex
    prefix: str = ""


def _compile(path: str) -> re.Pattern[str]:
    """``/rooms/{room}`` -> a regex with a named group per ``{param}`` (one path segment each)."""
    parts: list[str] = []
    position = 0
    for found in _PARAM.finditer(path):
        parts.append(re.escape(path[position : found.start()]))
        parts.append(f"(?P<{found.group(1)}>[^/]+)")
        position = found.end()
    parts.append(re.escape(path[position:]))
    return re.compile("^" + "".join(parts) + "$")


class Router:
    """``router.add("GET", "/rooms/{room}", handler)``; ``router.match(method, path)``."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        prefix = path.split("{", 1)[0]
        self._routes.append(Route(method.upper(), _compile(path), handler, prefix))

    def match(
        self, method: str, path: str
    ) -> tuple[Handler, dict[str, str]] | tuple[None, set[str]]:
        """The handler and path parameters, or ``(None, allowed_methods)`` (empty if no path matched)."""
        allowed: set[str] = set()
        for route in self._routes:
            if not path.startswith(route.prefix):
                continue
            found = route.pattern.match(path)
            if not found:
                continue
            if route.method == method.upper() or (
                route.method == "GET" and method.upper() == "HEAD"
            ):
                return route.handler, found.groupdict()
            allowed.add(route.method)
        return None, allowed
