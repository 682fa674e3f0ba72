"""Evaluation: kill switch, rule order, targeting, sticky rollouts and weighted splits."""

from __future__ import annotations

from typing import Any

from app.flags.evaluate import evaluate, evaluate_all
from app.flags.model import parse_flag

USERS = [f"u_{i:06x}" for i in range(100_000)]


def served(raw: dict[str, Any], **context: Any) -> tuple[Any, str, str]:
    result = evaluate(parse_flag("f", raw), context)
    return result.value, result.variant, result.reason


def test_evaluate_kill_switch_wins_over_every_rule() -> None:
    raw = {"enabled": False, "rules": [{"users": ["u_1"], "variant": "on"}]}
    assert served(raw, user="u_1") == (False, "off", "off")


def test_evaluate_default_when_no_rule_matches() -> None:
    assert served({"enabled": True, "default": "off"}, user="u_1") == (False, "off", "default")


def test_evaluate_user_list_then_conditions_in_order() -> None:
    raw = {
        "enabled": True,
        "type": "string",
        "variants": {"a": "A", "b": "B", "c": "C"},
        "default": "c",
        "rules": [
            {"users": ["u_vip"], "variant": "a"},
            {"if": [{"attr": "guest", "op": "eq", "value": True}], "variant": "b"},
            {
                "if": [
                    {"attr": "room", "op": "in", "values": ["lobby", "dev"]},
                    {"attr": "account_age_days", "op": "gte", "value": 7},
                ],
                "variant": "a",
            },
        ],
    }
    assert served(raw, user="u_vip", guest=True) == ("A", "a", "target")
    assert served(raw, user="g_1", guest=True) == ("B", "b", "rule")
    assert served(raw, user="u_2", guest=False, room="dev", account_age_days=30) == (
        "A",
        "a",
        "rule",
    )
    assert served(raw, user="u_2", guest=False, room="dev", account_age_days=3) == (
        "C",
        "c",
        "default",
    )
    assert served(raw, user="u_2", guest=1, room="x") == ("C", "c", "default")  # 1 is not true
    assert served(raw, user="u_2") == ("C", "c", "default")  # missing attributes do not match


def test_evaluate_ne_and_not_in_match_missing_attributes() -> None:
    raw = {
        "enabled": True,
        "default": "off",
        "rules": [{"if": [{"attr": "room", "op": "not_in", "values": ["x"]}], "variant": "on"}],
    }
    assert served(raw, user="u")[1] == "on"
    assert served(raw, user="u", room="x")[1] == "off"


def rollout(percent: float) -> dict[str, Any]:
    return {"enabled": True, "default": "off", "rules": [{"variant": "on", "rollout": percent}]}


def test_evaluate_rollout_distribution_within_one_percent_over_100000_ids() -> None:
    for percent in (1, 10, 25, 50, 90):
        flag = parse_flag("new-composer", rollout(percent))
        share = sum(evaluate(flag, {"user": u}).value for u in USERS) / len(USERS)
        assert abs(share - percent / 100) < 0.01, (percent, share)


def test_evaluate_raising_rollout_only_adds_users() -> None:
    previous: set[str] = set()
    for percent in (0, 5, 20, 50, 80, 100):
        flag = parse_flag("f", rollout(percent))
        now = {u for u in USERS[:20_000] if evaluate(flag, {"user": u}).value}
        assert previous <= now
        previous = now
    assert len(previous) == 20_000


def test_evaluate_rollout_is_sticky_per_user_and_independent_per_salt() -> None:
    a = parse_flag("a", rollout(50))
    b = parse_flag("b", rollout(50))
    in_a = {u for u in USERS[:10_000] if evaluate(a, {"user": u}).value}
    in_b = {u for u in USERS[:10_000] if evaluate(b, {"user": u}).value}
    assert in_a == {u for u in USERS[:10_000] if evaluate(a, {"user": u}).value}
    overlap = len(in_a & in_b) / 10_000
    assert 0.23 < overlap < 0.27  # independent halves overlap by about a quarter


def test_evaluate_rollout_outside_falls_through_and_needs_a_user() -> None:
    raw = {
        "enabled": True,
        "default": "off",
        "rules": [{"variant": "on", "rollout": 0}, {"users": ["u_1"], "variant": "on"}],
    }
    assert served(raw, user="u_1") == (True, "on", "target")
    assert served(rollout(50))[1] == "off"
    assert served(rollout(100))[1:] == ("on", "rollout")


def test_evaluate_split_distribution_within_one_percent() -> None:
    flag = parse_flag(
        "exp",
        {
            "enabled": True,
            "type": "string",
            "variants": {"control": "c", "a": "a", "b": "b"},
            "default": "control",
            "rules": [{"split": {"control": 50, "a": 30, "b": 20}}],
        },
    )
    counts: dict[str, int] = {}
    for user in USERS:
        result = evaluate(flag, {"user": user})
        assert result.reason == "split"
        counts[result.variant] = counts.get(result.variant, 0) + 1
    assert abs(counts["control"] / 1e5 - 0.5) < 0.01
    assert abs(counts["a"] / 1e5 - 0.3) < 0.01
    assert abs(counts["b"] / 1e5 - 0.2) < 0.01


def test_evaluate_split_is_independent_of_the_rollout_bucket() -> None:
    flag = parse_flag("exp", {"enabled": True, "rules": [{"split": {"on": 50, "off": 50}}]})
    rolled = parse_flag("exp", rollout(50))
    same = sum(
        evaluate(flag, {"user": u}).value == evaluate(rolled, {"user": u}).value
        for u in USERS[:10_000]
    )
    assert 4_700 < same < 5_300


def test_evaluate_all_returns_every_flag() -> None:
    flags = [parse_flag("a", {"enabled": True}), parse_flag("b", {"enabled": False})]
    result = evaluate_all(flags, {"user": "u"})
    assert {k: v.to_json() for k, v in result.items()} == {
        "a": {"value": True, "variant": "on", "reason": "default"},
        "b": {"value": False, "variant": "off", "reason": "off"},
    }
