"""Property: every value D1 accepts comes back as D1 returns it (BLOBs as byte lists)."""

from __future__ import annotations

import asyncio
import math

from hypothesis import given, settings, strategies as st

from primitives.clock import FakeClock
from primitives.d1 import open_d1_database

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.binary(max_size=64),
)


def expected(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes):
        return list(value)
    return value


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=8))
def test_bind_values_round_trip(row: list[object]) -> None:
    async def scenario() -> list[object]:
        db = open_d1_database("memory:", clock=FakeClock(), name="DB")
        try:
            columns = ", ".join(f"c{i}" for i in range(len(row)))
            await db.exec(f"CREATE TABLE t ({columns})")
            marks = ", ".join("?" for _ in row)
            await db.prepare(f"INSERT INTO t VALUES ({marks})").bind(*row).run()
            stored = await db.prepare("SELECT * FROM t").raw()
            return list(stored[0])
        finally:
            await db.aclose()

    got = asyncio.run(scenario())
    for value, back in zip(row, got, strict=True):
        want = expected(value)
        if isinstance(want, float) and math.isinf(want):
            assert back == want
        else:
            assert back == want, (value, back)
