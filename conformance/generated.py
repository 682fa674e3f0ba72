"""Property-based op sequences: Hypothesis generates them from fixed seeds, once per run.

Each sequence becomes an ordinary conformance case (``<primitive>.gen.<n>``), run on workerd
and on ``primitives`` and compared op by op like the hand-written ones. Generation is
deterministic (``derandomize`` plus a fixed ``@seed``), so the same cases run every time and a
difference can be re-run by name (``python -m conformance.compare --case 'kv.gen.7'``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings, strategies as st

__all__ = ["SEQUENCES_PER_PRIMITIVE", "generated_cases"]

SEQUENCES_PER_PRIMITIVE = 30
_KEYS = ["a", "b", "ab", "b/c", "b/d", "p:1", "p:2", "p:10", "é", "😀", "\uffff", "z"]
_PREFIXES = ["", "a", "b/", "p:", "p:1", "é", "q"]

Op = dict[str, Any]
keys = st.sampled_from(_KEYS)
texts = st.text(alphabet="xyz é😀", max_size=6)


@functools.lru_cache(maxsize=64)
def _kv_op(n: int) -> st.SearchStrategy[Op]:
    ref = {"$ref": f"l{n - 1}.cursor"} if n else None
    list_kw = st.fixed_dictionaries(
        {},
        optional={
            "prefix": st.sampled_from(_PREFIXES),
            "limit": st.integers(1, 4),
            **({"cursor": st.just(ref)} if ref else {}),
        },
    )
    return st.one_of(
        st.builds(lambda k, v: {"op": "put", "args": [k, v]}, keys, texts),
        st.builds(
            lambda k, v, m: {"op": "put", "args": [k, v], "kw": {"metadata": m}},
            keys,
            texts,
            st.one_of(st.integers(-5, 5), texts, st.dictionaries(texts, st.booleans(), max_size=2)),
        ),
        st.builds(lambda k: {"op": "get", "args": [k]}, keys),
        st.builds(lambda k: {"op": "getWithMetadata", "args": [k]}, keys),
        st.builds(lambda ks: {"op": "get", "args": [ks]}, st.lists(keys, min_size=1, max_size=4)),
        st.builds(lambda k: {"op": "delete", "args": [k]}, keys),
        st.builds(lambda kw: {"op": "list", "kw": kw, "as": f"l{n}"}, list_kw),
    )


@functools.lru_cache(maxsize=64)
def _do_op(n: int) -> st.SearchStrategy[Op]:
    list_kw = st.fixed_dictionaries(
        {},
        optional={
            "prefix": st.sampled_from(_PREFIXES),
            "start": keys,
            "end": keys,
            "reverse": st.booleans(),
            "limit": st.integers(1, 4),
        },
    )
    values = st.one_of(st.integers(-10, 10), texts, st.booleans(), st.lists(st.integers(0, 3)))
    simple = st.one_of(
        st.builds(lambda k, v: {"op": "put", "args": [k, v]}, keys, values),
        st.builds(lambda d: {"op": "put", "args": [d]}, st.dictionaries(keys, values, max_size=3)),
        st.builds(lambda k: {"op": "get", "args": [k]}, keys),
        st.builds(lambda ks: {"op": "get", "args": [ks]}, st.lists(keys, max_size=4)),
        st.builds(lambda k: {"op": "delete", "args": [k]}, keys),
        st.builds(lambda ks: {"op": "delete", "args": [ks]}, st.lists(keys, max_size=4)),
        st.builds(lambda kw: {"op": "list", "kw": kw}, list_kw),
    )

    def in_txn(op: Op) -> Op:
        return {**op, "on": "txn"}

    txn = st.builds(
        lambda ops, end: {"op": "transaction", "ops": [in_txn(o) for o in ops] + end},
        st.lists(simple, min_size=1, max_size=4),
        st.sampled_from([[], [{"op": "rollback", "on": "txn"}], [{"op": "throw"}]]),
    )
    return st.one_of(simple, simple, simple, txn, st.just({"op": "deleteAll"}))


_D1_TABLE = "CREATE TABLE g(k TEXT PRIMARY KEY, n INTEGER NOT NULL, b BLOB)"


@functools.lru_cache(maxsize=64)
def _d1_op(n: int) -> st.SearchStrategy[Op]:
    ints = st.integers(-100, 100)
    stmt = st.one_of(
        st.builds(
            lambda k, v: {"sql": "INSERT INTO g(k, n) VALUES (?, ?)", "bind": [k, v]}, keys, ints
        ),
        st.builds(
            lambda k, v: {
                "sql": "INSERT INTO g(k, n) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET n = n + ?",
                "bind": [k, v, v],
            },
            keys,
            ints,
        ),
        st.builds(lambda k: {"sql": "DELETE FROM g WHERE k = ?", "bind": [k]}, keys),
        st.builds(lambda v: {"sql": "UPDATE g SET n = n * 2 WHERE n > ?", "bind": [v]}, ints),
        st.just({"sql": "SELECT k, n FROM g ORDER BY k"}),
        st.builds(
            lambda p: {"sql": "SELECT count(*) AS c, sum(n) AS s FROM g WHERE k >= ?", "bind": [p]},
            st.sampled_from(_PREFIXES),
        ),
    )
    calls = st.sampled_from(["run", "all", "raw", "first"])
    return st.one_of(
        st.builds(lambda s, c: {"op": "stmt", **s, "call": c}, stmt, calls),
        st.builds(lambda ss: {"op": "batch", "stmts": ss}, st.lists(stmt, min_size=1, max_size=3)),
    )


@functools.lru_cache(maxsize=64)
def _r2_op(n: int) -> st.SearchStrategy[Op]:
    list_kw = st.fixed_dictionaries(
        {},
        optional={
            "prefix": st.sampled_from(_PREFIXES),
            "delimiter": st.just("/"),
            "limit": st.integers(1, 4),
            "startAfter": keys,
        },
    )
    return st.one_of(
        st.builds(lambda k, v: {"op": "put", "args": [k, v]}, keys, texts),
        st.builds(lambda k: {"op": "head", "args": [k]}, keys),
        st.builds(lambda k: {"op": "delete", "args": [k]}, keys),
        st.builds(lambda ks: {"op": "delete", "args": [ks]}, st.lists(keys, max_size=3)),
        st.builds(lambda kw: {"op": "list", "kw": kw}, list_kw),
    )


_BUILDERS = {"kv": _kv_op, "do": _do_op, "d1": _d1_op, "r2": _r2_op}


def _sequence(primitive: str, draw: Callable[[st.SearchStrategy[Any]], Any]) -> list[Op]:
    length = draw(st.integers(10, 30))
    ops = [draw(_BUILDERS[primitive](i)) for i in range(length)]
    if primitive == "d1":
        ops.insert(0, {"op": "exec", "args": [_D1_TABLE]})
    return ops


def _collect(primitive: str, count: int, fixed_seed: int) -> list[list[Op]]:
    found: list[list[Op]] = []

    @seed(fixed_seed)
    @settings(
        max_examples=count,
        derandomize=False,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(st.data())
    def gather(data: st.DataObject) -> None:
        found.append(_sequence(primitive, data.draw))

    gather()
    return found[:count]


@functools.lru_cache(maxsize=4)
def _all_cases(count: int) -> tuple[dict[str, Any], ...]:
    cases: list[dict[str, Any]] = []
    for number, primitive in enumerate(_BUILDERS, start=1):
        for index, ops in enumerate(_collect(primitive, count, 20261126 + number)):
            cases.append({"name": f"{primitive}.gen.{index}", "primitive": primitive, "ops": ops})
    return tuple(cases)


def generated_cases(count: int = SEQUENCES_PER_PRIMITIVE) -> list[dict[str, Any]]:
    """Every generated case (the same list on every run; a fresh copy each call)."""
    return copy.deepcopy(list(_all_cases(count)))
