"""R2's conditional requests: ``onlyIf`` as an R2Conditional dict or a ``Headers``.

Parsing copies workerd (``api/r2-bucket.c++``: ``parseConditionalEtagHeader`` and the quoted-etag
``TypeError``); evaluation copies the R2 gateway as Miniflare has it (``_testR2Conditional`` in
``src/workers/r2/validator.worker.ts``, RFC 7232 section 6).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..headers import Headers
from .backend import ObjectRecord
from .errors import R2HeaderError, R2TypeError

__all__ = [
    "Conditional",
    "Etag",
    "check_conditional",
    "parse_conditional",
    "parse_http_date",
    "to_ms",
]


def to_ms(value: Any, what: str) -> int:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise R2TypeError(f"{what} must be a Date (datetime), got {type(value).__name__}")


def parse_http_date(value: str) -> int:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0  # JavaScript's Invalid Date compares false with everything; treat as epoch
    return to_ms(parsed, "date")


@dataclass(frozen=True, slots=True)
class Etag:
    kind: Literal["strong", "weak", "wildcard"]
    value: str = ""


@dataclass(frozen=True, slots=True)
class Conditional:
    etag_matches: tuple[Etag, ...] | None = None
    etag_does_not_match: tuple[Etag, ...] | None = None
    uploaded_before_ms: int | None = None
    uploaded_after_ms: int | None = None
    seconds_granularity: bool = False


def _parse_etag_header(header: str) -> tuple[Etag, ...]:
    """workerd's ``parseConditionalEtagHeader``: ``*``, ``"x"``, ``W/"x"``, comma separated."""
    etags: list[Etag] = []
    rest = header
    need_comma = False
    while True:
        positions = {ch: rest.find(ch) for ch in '*"W,'}
        pos = {ch: (p if p >= 0 else len(rest) + 1) for ch, p in positions.items()}
        if positions["*"] < 0 and positions['"'] < 0:
            return tuple(etags)
        if pos[","] < min(pos["*"], pos['"'], pos["W"]):
            rest, need_comma = rest[pos[","] + 1 :], False
            continue
        if need_comma:
            first = min(pos["*"], pos['"'], pos["W"])
            if first == pos["*"]:
                reason = "Encountered a wildcard character '*' instead."
            elif first == pos['"']:
                reason = (
                    "Encountered a double quote character '\"' instead. "
                    "This would otherwise indicate the start of a new strong etag."
                )
            else:
                reason = (
                    "Encountered a weak quotation character 'W' instead. "
                    "This would otherwise indicate the start of a new weak etag."
                )
            raise R2HeaderError(f"Comma was expected to separate etags. {reason}")
        if pos["*"] < pos['"']:
            return (Etag("wildcard"),)
        start = pos['"'] + 1
        end = rest.find('"', start)
        if end < 0:
            raise R2HeaderError("Unclosed double quote for Etag")
        value = rest[start:end]
        if pos["W"] < pos['"']:
            if not (rest[pos["W"] + 1 : pos["W"] + 2] == "/" and pos["W"] + 2 == pos['"']):
                raise R2HeaderError("Weak etags must start with W/ and their value must be quoted")
            etags.append(Etag("weak", value))
        else:
            etags.append(Etag("strong", value))
        rest, need_comma = rest[end + 1 :], True


def _single_etag(value: Any) -> tuple[Etag, ...]:
    if not isinstance(value, str):
        raise R2TypeError(f"Conditional ETag must be a string, got {type(value).__name__}")
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        raise R2TypeError(f"Conditional ETag should not be wrapped in quotes ({value}).")
    return (Etag("wildcard"),) if value == "*" else (Etag("strong", value),)


def parse_conditional(value: Any) -> Conditional | None:
    """``onlyIf`` (an R2Conditional dict or a Headers) -> :class:`Conditional`."""
    if value is None:
        return None
    if isinstance(value, Headers):
        matches = value.get("if-match")
        none_match = value.get("if-none-match")
        modified = value.get("if-modified-since")
        unmodified = value.get("if-unmodified-since")
        return Conditional(
            etag_matches=_parse_etag_header(matches) if matches is not None else None,
            etag_does_not_match=_parse_etag_header(none_match) if none_match is not None else None,
            uploaded_after_ms=parse_http_date(modified) if modified is not None else None,
            uploaded_before_ms=parse_http_date(unmodified) if unmodified is not None else None,
            seconds_granularity=True,
        )
    if not isinstance(value, Mapping):
        raise R2TypeError("onlyIf must be an R2Conditional object or a Headers")
    get = value.get
    return Conditional(
        etag_matches=_single_etag(get("etagMatches")) if get("etagMatches") is not None else None,
        etag_does_not_match=(
            _single_etag(get("etagDoesNotMatch")) if get("etagDoesNotMatch") is not None else None
        ),
        uploaded_before_ms=(
            to_ms(get("uploadedBefore"), "uploadedBefore")
            if get("uploadedBefore") is not None
            else None
        ),
        uploaded_after_ms=(
            to_ms(get("uploadedAfter"), "uploadedAfter")
            if get("uploadedAfter") is not None
            else None
        ),
        seconds_granularity=bool(get("secondsGranularity") or False),
    )


def _includes(etags: tuple[Etag, ...], etag: str, weak_comparison: bool) -> bool:
    for cond in etags:
        if cond.kind == "wildcard":
            return True
        if cond.value == etag and (cond.kind == "strong" or weak_comparison):
            return True
    return False


def check_conditional(cond: Conditional, record: ObjectRecord | None) -> bool:
    """True iff ``cond`` holds for ``record`` (R2 gateway rules, RFC 7232 section 6)."""
    if record is None:
        return cond.etag_matches is None and cond.uploaded_after_ms is None

    def trunc(ms: int) -> int:
        return (ms // 1000) * 1000 if cond.seconds_granularity else ms

    uploaded = trunc(record.uploaded_ms)
    if_match = cond.etag_matches is None or _includes(cond.etag_matches, record.etag, False)
    if_none_match = cond.etag_does_not_match is None or not _includes(
        cond.etag_does_not_match, record.etag, True
    )
    if_modified_since = (
        cond.uploaded_after_ms is None
        or trunc(cond.uploaded_after_ms) < uploaded
        or (cond.etag_does_not_match is not None and if_none_match)
    )
    if_unmodified_since = (
        cond.uploaded_before_ms is None
        or uploaded < trunc(cond.uploaded_before_ms)
        or (cond.etag_matches is not None and if_match)
    )
    return if_match and if_none_match and if_modified_since and if_unmodified_since
