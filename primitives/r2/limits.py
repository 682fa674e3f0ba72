"""R2's limits (docs ``r2/platform/limits`` and Miniflare ``src/workers/r2/constants.ts``)."""

from __future__ import annotations

__all__ = [
    "MAX_DELETE_KEYS",
    "MAX_KEY_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_LIST_LIMIT_WITH_INCLUDE",
    "MAX_METADATA_BYTES",
    "MAX_PART_NUMBER",
    "MAX_VALUE_BYTES",
    "MIN_PART_BYTES",
]

#: UTF-8 bytes in a key; the empty key is allowed.
MAX_KEY_BYTES = 1024
#: One put or one part: 5 GiB - 5 MiB.
MAX_VALUE_BYTES = 5_368_709_120 - 5_242_880
#: customMetadata, weighted as the R2 gateway does (see ``validation.metadata_size``).
MAX_METADATA_BYTES = 2048
MAX_LIST_LIMIT = 1000
#: With ``include``, R2 may return fewer objects; Miniflare caps a page at 100.
MAX_LIST_LIMIT_WITH_INCLUDE = 100
MAX_DELETE_KEYS = 1000
#: Every part but the last must be at least this big (and all of them the same size).
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
