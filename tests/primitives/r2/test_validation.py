"""R2's rules in isolation: conditionals, etag headers, Range headers, metadata weights."""

from __future__ import annotations

import datetime as dt

import pytest

from primitives.headers import Headers
from primitives.r2 import R2HeaderError
from primitives.r2.backend import ObjectRecord
from primitives.r2.conditionals import Etag, check_conditional, parse_conditional
from primitives.r2.validation import RangeSpec, metadata_size, resolve_range, validate_key

RECORD = ObjectRecord("k", "v", 5, "abc", uploaded_ms=1_700_000_000_500)
SECOND = dt.datetime.fromtimestamp(1_700_000_000, tz=dt.UTC)


def passes(cond: object, record: ObjectRecord | None = RECORD) -> bool:
    parsed = parse_conditional(cond)
    assert parsed is not None
    return check_conditional(parsed, record)


def test_conditional_on_missing_object() -> None:
    assert passes({"etagDoesNotMatch": "abc"}, None)
    assert passes({"uploadedBefore": SECOND}, None)
    assert not passes({"etagMatches": "abc"}, None)
    assert not passes({"uploadedAfter": SECOND}, None)


def test_conditional_seconds_granularity_truncates_both_times() -> None:
    assert passes({"uploadedAfter": SECOND})  # 1_700_000_000_000 < ..._500
    assert not passes({"uploadedAfter": SECOND, "secondsGranularity": True})
    assert not passes({"uploadedBefore": SECOND + dt.timedelta(milliseconds=400)})
    assert passes({"uploadedBefore": SECOND + dt.timedelta(milliseconds=600)})


def test_conditional_etag_match_overrides_date() -> None:
    """RFC 7232 section 6: a matching If-Match makes If-Unmodified-Since irrelevant."""
    assert passes({"etagMatches": "abc", "uploadedBefore": SECOND})
    assert passes({"etagDoesNotMatch": "zzz", "uploadedAfter": SECOND + dt.timedelta(days=1)})


def test_conditional_weak_etags_match_only_if_none_match() -> None:
    assert not passes(Headers({"If-Match": 'W/"abc"'}))
    assert not passes(Headers({"If-None-Match": 'W/"abc"'}))
    assert passes(Headers({"If-Match": '"x", "abc"'}))
    assert passes(Headers({"If-Match": "*"}))


def test_etag_header_parsing_matches_workerd() -> None:
    cond = parse_conditional(Headers({"If-None-Match": '"a", , W/"b"'}))
    assert cond is not None and cond.etag_does_not_match == (Etag("strong", "a"), Etag("weak", "b"))
    cases = [
        ('"a', "Unclosed double quote for Etag"),
        ('"a" "b"', "Comma was expected to separate etags. Encountered a double quote character"),
        ('Wx"a"', "Weak etags must start with W/ and their value must be quoted"),
    ]
    for header, message in cases:
        with pytest.raises(R2HeaderError, match=message):
            parse_conditional(Headers({"If-Match": header}))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 1)),
        ("bytes=-100", (0, 10)),
        ("bytes=9-", (9, 1)),
        ("bytes=10-", (0, 10)),
        ("bytes=5-2", (0, 10)),
        ("items=0-1", (0, 10)),
        ("bytes=-0", (0, 10)),
    ],
)
def test_range_header_single_range_or_whole_object(header: str, expected: tuple[int, int]) -> None:
    assert resolve_range(RangeSpec(header=header), 10) == expected


def test_metadata_size_weights_match_the_gateway() -> None:
    assert metadata_size({"key": "x" * 2045}) == 2048
    assert metadata_size({"key": "🙂" * 511}) == 3 + 4 * 511
    assert metadata_size({"k": "é"}) == 2  # below U+0100: one unit each


def test_validate_key_replaces_lone_surrogates() -> None:
    assert validate_key("a\ud800b") == "a\ufffdb"
    assert validate_key(12) == "12"
