"""Evaluating flags for one user: pure functions, no I/O (docs/flags.md, "Evaluation").

Order: the kill switch (``enabled: false`` serves ``off``), then each rule in order (its users
list and conditions must all match; then it serves its variant, a sticky rollout of it, or a
weighted split), then ``default``. A rollout the user is outside of falls through to the next rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.flags.hashing import bucket
from app.flags.model import Condition, Flag

__all__ = ["Evaluation", "evaluate", "evaluate_all", "matches"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """``reason``: ``off``, ``target`` (users list), ``rule``, ``rollout``, ``split``, ``default``."""

    key: str
    value: Any
    variant: str
    reason: str
    rule: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "variant": self.variant, "reason": self.reason}


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
    """The flag's value for ``context`` (``user`` is the targeting key; other keys are attributes)."""
    if not flag.enabled:
        return Evaluation(flag.key, flag.variants[flag.off], flag.off, "off")
    user = context.get("user")
    user_key = user if isinstance(user, str) else ""
    for index, rule in enumerate(flag.rules):
        if rule.users is not None and user_key not in rule.users:
            continue
        if rule.conditions and not all(_compare(c, context.get(c.attr)) for c in rule.conditions):
            continue
        if rule.split:
            if not user_key:
                continue
            point = bucket(flag.salt + ":split", user_key)
            for name, upper in rule.split:
                if point < upper:
                    return Evaluation(flag.key, flag.variants[name], name, "split", index)
            continue  # unreachable: the weights add up to 100 %
        assert rule.variant is not None
        if rule.rollout_bp is not None:
            if rule.rollout_bp >= 10_000:
                return Evaluation(
                    flag.key, flag.variants[rule.variant], rule.variant, "rollout", index
                )
            if not user_key or bucket(flag.salt, user_key) >= rule.rollout_bp:
                continue
            return Evaluation(flag.key, flag.variants[rule.variant], rule.variant, "rollout", index)
        reason = "target" if rule.users is not None else "rule"
        return Evaluation(flag.key, flag.variants[rule.variant], rule.variant, reason, index)
    return Evaluation(flag.key, flag.variants[flag.default], flag.default, "default")


def evaluate_all(flags: Iterable[Flag], context: Mapping[str, Any]) -> dict[str, Evaluation]:
    return {flag.key: evaluate(flag, context) for flag in flags}
