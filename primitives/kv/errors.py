"""Errors raised by the KV binding, with Cloudflare's types and texts.

* ``PrimitiveError``
  * ``KVError``          -- ``Error("KV <METHOD> failed: <status> <text>")``, as workerd builds it
    * ``KVBackendError`` -- storage failed or is unreachable (also a ``BackendError``)
  * ``KVTypeError``      -- Cloudflare's client-side ``TypeError`` s (also a ``TypeError``)
  * ``KVValueError``     -- ``type="json"`` on a value that is not JSON (also a ``ValueError``)
* ``BackendError``
  * ``KVStorageError``   -- raised by ``backends/`` only; the binding wraps it in ``KVBackendError``
"""

from __future__ import annotations

from ..errors import BackendError, PrimitiveError

__all__ = ["KVBackendError", "KVError", "KVStorageError", "KVTypeError", "KVValueError"]


class KVError(PrimitiveError):
    """Cloudflare's ``Error("KV <METHOD> failed: <status> <text>")``.

    ``method`` is ``GET``, ``PUT``, ``DELETE`` or ``GET_BULK``; ``list`` reports ``GET``, as
    workerd does.
    """

    def __init__(self, method: str, status: int, text: str) -> None:
        self.method = method
        self.status = status
        self.text = text
        super().__init__(f"KV {method} failed: {status} {text}")


class KVBackendError(KVError, BackendError):
    """The backend failed (500) or is unreachable (503); the library error is ``__cause__``."""


class KVTypeError(PrimitiveError, TypeError):
    """A ``TypeError`` the runtime throws before any request (bad key, value type or option)."""


class KVValueError(PrimitiveError, ValueError):
    """``get(key, type="json")`` on a value that is not JSON (a ``SyntaxError`` on Workers)."""


class KVStorageError(BackendError):
    """A backend could not serve a request; ``status`` is 503 when unreachable, else 500."""

    def __init__(self, message: str, *, status: int = 500) -> None:
        self.status = status
        super().__init__(message)
