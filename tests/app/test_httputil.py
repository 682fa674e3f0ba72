"""``query_param`` reads one parameter exactly as ``query_params`` would."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, strategies as st

from app._runtime import Request
from app.httputil import query_param, query_params


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?hello=" + quote('{"batch":true}'),
        "?a=1&hello=x&hello=y",
        "?hello",
        "?hello=&a=1",
        "?hel%6Co=encoded+key",
        "?a=b+c&hello=one+two%2B",
        "?x=1#hello=fragment",
    ],
)
def test_one_parameter_reads_as_the_whole_query_does(query: str) -> None:
    request = Request(f"https://edgeroom.test/api/rooms/lobby/ws{query}")
    assert query_param(request, "hello") == query_params(request).get("hello")


@given(st.dictionaries(st.sampled_from(["hello", "a", "h e"]), st.text(max_size=20), max_size=3))
def test_any_encoded_query(params: dict[str, str]) -> None:
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items())
    request = Request(f"https://edgeroom.test/ws?{query}")
    for name in ("hello", "a", "h e"):
        assert query_param(request, name) == query_params(request).get(name)
