"""Cron expressions as Cloudflare's Cron Triggers read them (sans-I/O: no clock, no sleeping).

Five fields, evaluated in UTC: minute (0-59), hour (0-23), day of month (1-31, with ``L``,
``W``, ``LW``), month (1-12 or ``JAN``-``DEC``), weekday (1-7 with 1 = Sunday, or ``SUN``-``SAT``,
with ``nL`` = last such weekday of the month and ``n#k`` = its k-th occurrence). Each field takes
``*``, lists ``a,b``, ranges ``a-b`` and steps ``*/n``, ``a-b/n``, ``a/n``. When both day fields are
restricted, a day matches if either matches (as classic cron does).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["CronError", "CronExpression"]

_MONTHS = {
    name: i
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}
_WEEKDAYS = {
    name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)
}
#: Searching further than this many days ahead means the expression never matches (e.g. Feb 30).
_MAX_SEARCH_DAYS = 366 * 5


class CronError(ValueError):
    """A cron expression that cannot be parsed."""


def _value(token: str, low: int, high: int, names: dict[str, int], expr: str) -> int:
    upper = token.upper()
    if upper in names:
        return names[upper]
    if not token.isdigit():
        raise CronError(f"invalid value {token!r} in cron expression {expr!r}")
    number = int(token)
    if not low <= number <= high:
        raise CronError(f"value {number} out of range {low}-{high} in cron expression {expr!r}")
    return number


def _field(text: str, low: int, high: int, names: dict[str, int], expr: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"empty list item in cron expression {expr!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in cron expression {expr!r}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, low, high, names, expr), _value(last, low, high, names, expr)
            if start > end:
                raise CronError(f"range {base!r} runs backwards in cron expression {expr!r}")
        else:
            start = _value(base, low, high, names, expr)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class _DaySpec:
    """The two day fields, with the special forms kept apart from plain value sets."""

    days: frozenset[int] | None  # None means '*'
    last_day: bool = False
    last_weekday_of_month: bool = False  # LW
    nearest_weekday: frozenset[int] = frozenset()  # 15W
    weekdays: frozenset[int] | None = None  # 1 = Sunday; None means '*'
    last_weekday: frozenset[int] = frozenset()  # 6L: last Friday
    nth_weekday: frozenset[tuple[int, int]] = frozenset()  # 6#3: third Friday

    @property
    def dom_restricted(self) -> bool:
        return (
            self.days is not None
            or self.last_day
            or self.last_weekday_of_month
            or bool(self.nearest_weekday)
        )

    @property
    def dow_restricted(self) -> bool:
        return self.weekdays is not None or bool(self.last_weekday) or bool(self.nth_weekday)

    def _dom_matches(self, day: datetime) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.days is not None and day.day in self.days:
            return True
        if self.last_day and day.day == last:
            return True
        if self.last_weekday_of_month and day.day == _nearest_weekday(day.year, day.month, last):
            return True
        return any(
            day.day == _nearest_weekday(day.year, day.month, n) for n in self.nearest_weekday
        )

    def _dow_matches(self, day: datetime) -> bool:
        weekday = (day.isoweekday() % 7) + 1  # Sunday -> 1 ... Saturday -> 7
        if self.weekdays is not None and weekday in self.weekdays:
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if weekday in self.last_weekday and day.day + 7 > last:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth_weekday

    def matches(self, day: datetime) -> bool:
        dom, dow = self.dom_restricted, self.dow_restricted
        if dom and dow:
            return self._dom_matches(day) or self._dow_matches(day)
        if dom:
            return self._dom_matches(day)
        if dow:
            return self._dow_matches(day)
        return True


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (Mon-Fri) nearest to ``day`` without leaving the month (Quartz's ``W``)."""
    last = calendar.monthrange(year, month)[1]
    day = min(day, last)
    weekday = calendar.weekday(year, month, day)  # Monday = 0
    if weekday == 5:  # Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday
        return day + 1 if day < last else day - 2
    return day


def _parse_dom(text: str, expr: str) -> _DaySpec:
    if text in ("*", "?"):
        return _DaySpec(days=None)
    days: set[int] = set()
    last_day = last_weekday = False
    nearest: set[int] = set()
    for part in text.upper().split(","):
        if part == "L":
            last_day = True
        elif part == "LW":
            last_weekday = True
        elif re.fullmatch(r"\d+W", part):
            nearest.add(_value(part[:-1], 1, 31, {}, expr))
        else:
            days |= _field(part, 1, 31, {}, expr)
    return _DaySpec(
        days=frozenset(days) if days else None,
        last_day=last_day,
        last_weekday_of_month=last_weekday,
        nearest_weekday=frozenset(nearest),
    )


def _parse_dow(
    text: str, expr: str
) -> tuple[frozenset[int] | None, frozenset[int], frozenset[tuple[int, int]]]:
    if text in ("*", "?"):
        return None, frozenset(), frozenset()
    plain: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for part in text.split(","):
        upper = part.upper()
        if upper.endswith("L") and len(upper) > 1:
            last.add(_value(upper[:-1], 1, 7, _WEEKDAYS, expr))
        elif "#" in upper:
            day, _, which = upper.partition("#")
            if not which.isdigit() or not 1 <= int(which) <= 5:
                raise CronError(f"invalid occurrence {part!r} in cron expression {expr!r}")
            nth.add((_value(day, 1, 7, _WEEKDAYS, expr), int(which)))
        else:
            plain |= _field(part, 1, 7, _WEEKDAYS, expr)
    return (frozenset(plain) if plain else None), frozenset(last), frozenset(nth)


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression; :meth:`next_after` finds the next firing time."""

    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    day_spec: _DaySpec

    @classmethod
    def parse(cls, expr: str) -> CronExpression:
        fields = expr.split()
        if len(fields) != 5:
            raise CronError(f"cron expression {expr!r} must have 5 fields, found {len(fields)}")
        minute, hour, dom, month, dow = fields
        weekdays, last_weekday, nth = _parse_dow(dow, expr)
        dom_spec = _parse_dom(dom, expr)
        day_spec = _DaySpec(
            days=dom_spec.days,
            last_day=dom_spec.last_day,
            last_weekday_of_month=dom_spec.last_weekday_of_month,
            nearest_weekday=dom_spec.nearest_weekday,
            weekdays=weekdays,
            last_weekday=last_weekday,
            nth_weekday=nth,
        )
        return cls(
            source=expr,
            minutes=_field(minute, 0, 59, {}, expr),
            hours=_field(hour, 0, 23, {}, expr),
            months=_field(month, 1, 12, _MONTHS, expr),
            day_spec=day_spec,
        )

    def matches(self, when: datetime) -> bool:
        when = when.astimezone(UTC)
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.month in self.months
            and self.day_spec.matches(when)
        )

    def next_after(self, when: datetime) -> datetime:
        """The first minute strictly after ``when`` (UTC) that the expression selects."""
        start = when.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_MAX_SEARCH_DAYS):
            if day.month in self.months and self.day_spec.matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise CronError(f"cron expression {self.source!r} never fires")
