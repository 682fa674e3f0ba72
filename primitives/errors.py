"""Exceptions raised by primitives.

* PrimitiveError
  * ConfigError              -- wrangler.toml, a backend URL, a secret or a binding is wrong
    * UnsupportedBackend     -- an unknown URL scheme for a binding
  * BackendError             -- storage unreachable or failed (the library error is ``__cause__``)
  * BodyError                -- a request or response body was misused
    * BodyTooLarge           -- a request body passed the configured size limit (413)

Errors that Cloudflare raises with a particular type and text (``TypeError("Key name cannot be
empty.")``, ``Error("KV PUT failed: ...")``, ``D1_ERROR: ...``) are defined by each primitive
package and keep Cloudflare's type and text exactly; where Cloudflare raises ``TypeError`` the
class inherits from ``TypeError`` too.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BodyError",
    "BodyTooLarge",
    "ConfigError",
    "PrimitiveError",
    "UnsupportedBackend",
]


class PrimitiveError(Exception):
    """Root of every error raised by ``primitives``."""


class ConfigError(PrimitiveError):
    """The configuration (wrangler.toml, environment, .dev.vars) is wrong."""


class UnsupportedBackend(ConfigError):
    """A backend URL uses a scheme the primitive does not support."""


class BackendError(PrimitiveError):
    """A backend could not do what was asked (unreachable, failed); see ``__cause__``."""


class BodyError(PrimitiveError, TypeError):
    """A body was read twice, or read after being handed on."""


class BodyTooLarge(PrimitiveError):
    """A request body is larger than the server accepts."""

    def __init__(self, limit: int, received: int | None = None) -> None:
        self.limit = limit
        self.received = received
        detail = f" (received at least {received} bytes)" if received is not None else ""
        super().__init__(f"request body is larger than the limit of {limit} bytes{detail}")
