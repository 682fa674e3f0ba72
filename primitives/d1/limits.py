"""D1's limits (https://developers.cloudflare.com/d1/platform/limits/), as constants with units.

The SQLite backend also installs them as SQLite's own run-time limits (``sqlite3_limit``), as
D1 does, so a query that breaks one fails inside SQLite with SQLite's own message.
"""

from __future__ import annotations

__all__ = [
    "MAX_BOUND_PARAMETERS",
    "MAX_COLUMNS_PER_TABLE",
    "MAX_FUNCTION_ARGS",
    "MAX_INTEGER",
    "MAX_COMPOUND_SELECT_TERMS",
    "MAX_LIKE_PATTERN_BYTES",
    "MAX_SQL_STATEMENT_BYTES",
    "MAX_VALUE_BYTES",
    "MIN_INTEGER",
]

#: Bound parameters per query.
MAX_BOUND_PARAMETERS = 100
#: Length of one SQL statement (the string given to ``prepare``).
MAX_SQL_STATEMENT_BYTES = 100_000
#: Largest string, BLOB or row.
MAX_VALUE_BYTES = 2_000_000
#: Columns per table.
MAX_COLUMNS_PER_TABLE = 100
#: Arguments per SQL function.
MAX_FUNCTION_ARGS = 32
#: Length of a LIKE or GLOB pattern.
MAX_LIKE_PATTERN_BYTES = 50
#: Terms of a compound SELECT (workerd's SQLite limit; D1 runs on it).
MAX_COMPOUND_SELECT_TERMS = 5
#: SQLite INTEGER is a signed 64-bit number.
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1
