"""Value conversion and D1's type errors (d1-api.ts bind())."""

from __future__ import annotations

import pytest

from primitives.d1.errors import D1CauseError, D1Error, D1TypeError
from primitives.d1.limits import MAX_SQL_STATEMENT_BYTES, MAX_VALUE_BYTES
from primitives.d1.validation import check_query, check_sql, convert_value, raw_column_names


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (None, None),
        (True, 1),
        (False, 0),
        (0, 0),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (1.5, 1.5),
        ("text", "text"),
        ("", ""),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"cd"), b"cd"),
        ([1, 2, 255], b"\x01\x02\xff"),
        ((0, 7), b"\x00\x07"),
        ([], b""),
    ],
)
def test_convert_value_maps_types_as_d1(value: object, stored: object) -> None:
    assert convert_value(value) == stored
    assert type(convert_value(value)) is type(stored)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, "D1_TYPE_ERROR: Type 'bigint' not supported for value '9223372036854775808'"),
        (
            -(2**63) - 1,
            "D1_TYPE_ERROR: Type 'bigint' not supported for value '-9223372036854775809'",
        ),
        ({"a": 1}, "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'"),
        ([1, 256], "D1_TYPE_ERROR: Type 'object' not supported for value '1,256'"),
        (["a", True], "D1_TYPE_ERROR: Type 'object' not supported for value 'a,true'"),
        ({1, 2}, "D1_TYPE_ERROR: Type 'object' not supported for value '{1, 2}'"),
        (
            print,
            "D1_TYPE_ERROR: Type 'function' not supported for value '<built-in function print>'",
        ),
    ],
)
def test_convert_value_rejects_unsupported_types(value: object, message: str) -> None:
    with pytest.raises(D1TypeError) as info:
        convert_value(value)
    assert str(info.value) == message
    assert isinstance(info.value.__cause__, D1CauseError)
    assert str(info.value.__cause__) == message.removeprefix("D1_TYPE_ERROR: ")


def test_check_query_enforces_value_and_statement_sizes_in_bytes() -> None:
    check_query("SELECT ?", ("x" * MAX_VALUE_BYTES,))
    check_query("SELECT ?", (b"x" * MAX_VALUE_BYTES,))
    check_query("SELECT '" + "x" * (MAX_SQL_STATEMENT_BYTES - 10) + "'", ())
    for value in (
        "x" * (MAX_VALUE_BYTES + 1),
        "é" * (MAX_VALUE_BYTES // 2 + 1),
        b"x" * (MAX_VALUE_BYTES + 1),
    ):
        with pytest.raises(D1Error) as info:
            check_query("SELECT ?", (value,))
        assert str(info.value) == "D1_ERROR: string or blob too big: SQLITE_TOOBIG"
    with pytest.raises(D1Error) as info:
        check_query("SELECT '" + "é" * (MAX_SQL_STATEMENT_BYTES // 2) + "'", ())
    assert str(info.value) == "D1_ERROR: statement too long: SQLITE_TOOBIG"


def test_check_sql_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="needs the SQL as a str, got int"):
        check_sql(1)


def test_raw_column_names_accepts_keyword_dict_or_none() -> None:
    assert raw_column_names(None, None) is False
    assert raw_column_names(None, True) is True
    assert raw_column_names({"columnNames": True}, None) is True
    assert raw_column_names({}, None) is False
    with pytest.raises(TypeError, match="must be a dict or None"):
        raw_column_names("yes", None)  # type: ignore[arg-type]
