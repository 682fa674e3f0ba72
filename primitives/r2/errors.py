"""Errors the R2 binding raises, with R2's texts and codes.

* PrimitiveError
  * R2Error                    -- ``<action>: <message> (<v4code>)``; ``.status``, ``.v4code``
    * InternalError            -- 10001
    * NoSuchKey                -- 10007
    * EntityTooLarge           -- 100100
    * EntityTooSmall           -- 10011
    * MetadataTooLarge         -- 10012
    * InvalidObjectName        -- 10020
    * InvalidMaxKeys           -- 10022
    * NoSuchUpload             -- 10024
    * InvalidPart              -- 10025
    * InvalidArgument          -- 10029
    * PreconditionFailed       -- 10031
    * BadDigest                -- 10037
    * InvalidRange             -- 10039
    * BadUpload                -- 10048
  * R2TypeError (also TypeError)    -- checks the runtime makes before calling R2
  * R2RangeError (also ValueError)  -- JavaScript ``RangeError`` from the runtime
  * R2HeaderError (also ValueError) -- a malformed If-Match / If-None-Match header

Texts and codes are Miniflare's copy of the R2 gateway (``src/workers/r2/errors.worker.ts``);
the client-side ``TypeError``/``RangeError`` texts are workerd's (``api/r2-bucket.c++``).
"""

from __future__ import annotations

from ..errors import PrimitiveError

__all__ = [
    "BadDigest",
    "BadUpload",
    "EntityTooLarge",
    "EntityTooSmall",
    "InternalError",
    "InvalidArgument",
    "InvalidMaxKeys",
    "InvalidObjectName",
    "InvalidPart",
    "InvalidRange",
    "MetadataTooLarge",
    "NoSuchKey",
    "NoSuchUpload",
    "PreconditionFailed",
    "R2Error",
    "R2HeaderError",
    "R2RangeError",
    "R2TypeError",
]


class R2Error(PrimitiveError):
    """An error R2 returned: ``str(exc) == "<action>: <message> (<v4code>)"``.

    Backends raise these without an action; the binding fills in the method name
    (``get``, ``put``, ``completeMultipartUpload`` ...) on the way out.
    """

    status: int = 500
    v4code: int = 10001
    message: str = "We encountered an internal error. Please try again."

    def __init__(self, action: str | None = None, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        self.action = action
        super().__init__(self.message)

    def __str__(self) -> str:
        prefix = f"{self.action}: " if self.action else ""
        return f"{prefix}{self.message} ({self.v4code})"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(action={self.action!r}, v4code={self.v4code}, status={self.status})"


class InternalError(R2Error):
    status, v4code = 500, 10001
    message = "We encountered an internal error. Please try again."


class NoSuchKey(R2Error):
    status, v4code = 404, 10007
    message = "The specified key does not exist."


class EntityTooLarge(R2Error):
    status, v4code = 400, 100100
    message = "Your proposed upload exceeds the maximum allowed object size."


class EntityTooSmall(R2Error):
    status, v4code = 400, 10011
    message = "Your proposed upload is smaller than the minimum allowed object size."


class MetadataTooLarge(R2Error):
    status, v4code = 400, 10012
    message = "Your metadata headers exceed the maximum allowed metadata size."


class InvalidObjectName(R2Error):
    status, v4code = 400, 10020
    message = "The specified object name is not valid."


class InvalidMaxKeys(R2Error):
    status, v4code = 400, 10022
    message = "MaxKeys params must be positive integer <= 1000."


class NoSuchUpload(R2Error):
    status, v4code = 400, 10024
    message = "The specified multipart upload does not exist."


class InvalidPart(R2Error):
    status, v4code = 400, 10025
    message = "One or more of the specified parts could not be found."


class InvalidArgument(R2Error):
    status, v4code = 400, 10029
    message = "Metadata missing or invalid"


class PreconditionFailed(R2Error):
    status, v4code = 412, 10031
    message = "At least one of the pre-conditions you specified did not hold."


class BadDigest(R2Error):
    status, v4code = 400, 10037

    def __init__(
        self, algorithm: str, provided_hex: str, actual_hex: str, action: str | None = None
    ) -> None:
        self.algorithm = algorithm
        super().__init__(
            action,
            f"The {algorithm} checksum you specified did not match what we received.\n"
            f"You provided a {algorithm} checksum with value: {provided_hex}\n"
            f"Actual {algorithm} was: {actual_hex}",
        )


class InvalidRange(R2Error):
    status, v4code = 416, 10039
    message = "The requested range is not satisfiable"


class BadUpload(R2Error):
    status, v4code = 500, 10048
    message = "There was a problem with the multipart upload."


class R2TypeError(PrimitiveError, TypeError):
    """A ``TypeError`` the Workers runtime throws before R2 is called (text is workerd's)."""


class R2RangeError(PrimitiveError, ValueError):
    """A JavaScript ``RangeError`` from the runtime (Python has none; this is a ``ValueError``)."""


class R2HeaderError(PrimitiveError, ValueError):
    """A malformed ``If-Match``/``If-None-Match`` header (workerd throws a plain ``Error``)."""
