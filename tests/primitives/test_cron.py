"""Cron expressions as Cloudflare reads them (examples from the Cron Triggers docs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from primitives.cron import CronError, CronExpression

THU = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("* * * * *", datetime(2026, 11, 26, 22, 31, tzinfo=UTC)),
        ("*/30 * * * *", datetime(2026, 11, 26, 23, 0, tzinfo=UTC)),
        ("45 * * * *", datetime(2026, 11, 26, 22, 45, tzinfo=UTC)),
        ("0 17 * * sun", datetime(2026, 11, 29, 17, 0, tzinfo=UTC)),
        ("0 17 * * 1", datetime(2026, 11, 29, 17, 0, tzinfo=UTC)),  # 1 = Sunday
        ("10 7 * * mon-fri", datetime(2026, 11, 27, 7, 10, tzinfo=UTC)),
        ("10 7 * * 2-6", datetime(2026, 11, 27, 7, 10, tzinfo=UTC)),
        ("0 15 1 * *", datetime(2026, 12, 1, 15, 0, tzinfo=UTC)),
        ("0 18 * * 6L", datetime(2026, 11, 27, 18, 0, tzinfo=UTC)),  # last Friday of November
        ("0 18 * * friL", datetime(2026, 11, 27, 18, 0, tzinfo=UTC)),
        ("59 23 LW * *", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)),  # last weekday of the month
        ("0 0 L * *", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("0 0 * * 6#3", datetime(2026, 12, 18, 0, 0, tzinfo=UTC)),  # third Friday
        ("0 0 15W * *", datetime(2026, 12, 15, 0, 0, tzinfo=UTC)),  # Tuesday 15 December
        ("0 0 1 JAN *", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("5-10/5 0 * * *", datetime(2026, 11, 27, 0, 5, tzinfo=UTC)),
    ],
)
def test_next_after(expr: str, expected: datetime) -> None:
    assert CronExpression.parse(expr).next_after(THU) == expected


def test_nearest_weekday_moves_off_weekends_without_leaving_the_month() -> None:
    # 1 November 2026 is a Sunday: 1W is Monday the 2nd.
    assert (
        CronExpression.parse("0 0 1W * *").next_after(datetime(2026, 10, 31, tzinfo=UTC)).day == 2
    )


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "must have 5 fields"),
        ("60 * * * *", "out of range 0-59"),
        ("* * * * 8", "out of range 1-7"),
        ("*/0 * * * *", "invalid step"),
        ("5-1 * * * *", "runs backwards"),
        ("* * * FOO *", "invalid value 'FOO'"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 * * 6#9", "invalid occurrence"),
    ],
)
def test_bad_expressions_are_reported(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        CronExpression.parse(expr).next_after(THU)


def test_matches() -> None:
    assert CronExpression.parse("30 22 * * thu").matches(THU)
    assert not CronExpression.parse("31 22 * * *").matches(THU)
