"""Evaluating flags for one user: pure functions, no I/O (docs/flags.md, "Evaluation").

Order: the kill switch (``enabled: false`` serves ``off``), then each rule in order (its users
list and conditions must all match; then it serves its variant, a sticky rollout of it, or a
weighted split), then ``default``. A rollout the user is outside of falls through to the next rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.flags.model import Condition, Evaluation, Flag

__all__ = ["Evaluation", "evaluate", "evaluate_all", "matches"]


def _compare(condition: Condition, actual: Any) -> bool:
    op, expected = condition.op, condition.value
    if op == "eq":
        return _same(actual, expected)
    if op == "ne":
        return not _same(actual, expected)
    if op == "in":
        return actual is not None and _hashable(actual) and actual in expected
    if op == "not_in":
        return actual is None or not _hashable(actual) or actual not in expected
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    if op == "lt":
        return bool(actual < expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    return bool(actual >= expected)


def _same(actual: Any, expected: Any) -> bool:
    """Equality that never confuses ``true`` with ``1``."""
    return isinstance(actual, bool) is isinstance(expected, bool) and bool(actual == expected)


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def matches(condition: Condition, context: Mapping[str, Any]) -> bool:
    """One condition against the context (a missing attribute only matches ``ne``/``not_in``)."""
    return _compare(condition, context.get(condition.attr))


def evaluate(flag: Flag, context: Mapping[str, Any]) -> Evaluation:
    """The flag's value for ``context`` (``user`` is the targeting key; other keys are attributes).

    Allocation-free: every possible answer was built by ``parse_flag``.
    """
    if not flag.enabled:
        return flag.off_result  # type: ignore[return-value]
    user = context.get("user")
    user_key = user if isinstance(user, str) else ""
    for rule in flag.rules:
        if rule.users is not None and user_key not in rule.users:
            continue
        matched = True
        for condition in rule.conditions:
            if not _compare(condition, context.get(condition.attr)):
                matched = False
                break
        if not matched:
            continue
        if rule.split_results:
            if not user_key:
                continue
            point = flag.split_bucket(user_key)  # type: ignore[misc]
            for upper, result in rule.split_results:
                if point < upper:
                    return result
            continue  # unreachable: the weights add up to 100 %
        rollout = rule.rollout_bp
        if (
            rollout is not None
            and rollout < 10_000
            and (not user_key or flag.rollout_bucket(user_key) >= rollout)  # type: ignore[misc]
        ):
            continue
        return rule.result  # type: ignore[return-value]
    return flag.default_result  # type: ignore[return-value]


def evaluate_all(flags: Iterable[Flag], context: Mapping[str, Any]) -> dict[str, Evaluation]:
    return {flag.key: evaluate(flag, context) for flag in flags}
