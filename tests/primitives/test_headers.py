"""Headers: case-insensitive, multi-valued, validated."""

from __future__ import annotations

import pytest

from primitives import Headers


def test_get_is_case_insensitive_and_joins_repeated_values() -> None:
    headers = Headers([("Accept", "a"), ("accept", "b")])
    assert headers.get("ACCEPT") == "a, b"
    assert headers.getAll("accept") == ["a", "b"]
    assert headers["Accept"] == "a, b"
    assert "aCcEpT" in headers


def test_set_replaces_and_append_adds() -> None:
    headers = Headers({"X-One": "1"})
    headers.append("x-one", "2")
    headers.set("X-ONE", "3")
    assert headers.getAll("x-one") == ["3"]


def test_entries_are_sorted_lowercase_and_keep_set_cookie_apart() -> None:
    headers = Headers([("B", "2"), ("set-cookie", "a=1"), ("A", "1"), ("Set-Cookie", "b=2")])
    assert headers.items() == [("a", "1"), ("b", "2"), ("set-cookie", "a=1"), ("set-cookie", "b=2")]
    assert headers.getSetCookie() == ["a=1", "b=2"]
    assert list(headers) == ["a", "b", "set-cookie"]


def test_delete_and_missing_lookups() -> None:
    headers = Headers({"a": "1"})
    headers.delete("A")
    assert headers.get("a") is None
    with pytest.raises(KeyError):
        headers["a"]
    with pytest.raises(KeyError):
        del headers["a"]


@pytest.mark.parametrize("name", ["", "bad name", "x\r\ny", "é"])
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(TypeError, match="Invalid header name"):
        Headers({name: "v"})


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "nul\x00"])
def test_values_with_line_breaks_or_nul_are_rejected(value: str) -> None:
    with pytest.raises(TypeError, match="Invalid header value"):
        Headers().set("x", value)


def test_numbers_become_strings_and_other_types_are_refused() -> None:
    headers = Headers()
    headers.set("content-length", 12)
    assert headers.get("content-length") == "12"
    with pytest.raises(TypeError, match="expected str"):
        headers.set("x", None)  # type: ignore[arg-type]


def test_values_are_trimmed_and_copies_are_independent() -> None:
    headers = Headers({"a": "  v \t"})
    copy = headers.copy()
    copy.set("a", "w")
    assert headers.get("a") == "v"
    assert headers == {"A": "v"}


def test_checked_names_are_remembered_up_to_a_bound() -> None:
    from primitives import headers as module

    for i in range(module._CHECKED_NAMES_MAX + 100):  # names can come from clients
        Headers({f"x-name-{i}": "v"})
    assert len(module._CHECKED_NAMES) <= module._CHECKED_NAMES_MAX
    assert Headers({"X-Name-1": "v"}).get("x-name-1") == "v"
    with pytest.raises(TypeError, match="Invalid header name"):
        Headers({"bad name": "v"})
