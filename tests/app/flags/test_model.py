"""Parsing flag definitions: defaults, and a precise message for every malformed field."""

from __future__ import annotations

from typing import Any

import pytest

from app.flags.model import FlagError, parse_flag, validate_key


def test_parse_flag_boolean_defaults() -> None:
    flag = parse_flag("typing", {"enabled": True})
    assert (flag.type, flag.variants, flag.default, flag.off, flag.salt) == (
        "boolean",
        {"on": True, "off": False},
        "on",
        "off",
        "typing",
    )
    assert flag.to_json()["key"] == "typing"
    assert flag.to_json()["version"] == 0


def test_parse_flag_multivariate_and_json_variants() -> None:
    flag = parse_flag(
        "composer",
        {
            "type": "json",
            "variants": {"old": {"rows": 1}, "new": {"rows": 3, "markdown": True}},
            "default": "old",
            "rules": [{"split": {"old": 50, "new": 50}}],
        },
    )
    assert flag.rules[0].split == (("old", 5000), ("new", 10_000))
    assert flag.off == "old"


def test_parse_flag_rollout_in_basis_points() -> None:
    flag = parse_flag("f", {"rules": [{"variant": "on", "rollout": 12.5}]})
    assert flag.rules[0].rollout_bp == 1250


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "a flag definition is a JSON object"),
        ({"colour": 1}, "unknown field 'colour'"),
        ({"type": "date"}, "type: must be one of boolean, string, number, json"),
        ({"enabled": "yes"}, "enabled: must be true or false"),
        ({"type": "string"}, "variants: a string flag needs variants"),
        (
            {"variants": {"on": 1, "off": 0}},
            "variants.on: a boolean flag's variants must be true or false",
        ),
        (
            {"type": "number", "variants": {"a": "1"}},
            "variants.a: a number flag's variants must be finite numbers",
        ),
        ({"default": "maybe"}, "default: 'maybe' is not one of the variants ['off', 'on']"),
        ({"rules": {}}, "rules: must be a list"),
        (
            {"rules": [{"variant": "on", "rollout": 101}]},
            "rules[0].rollout: must be a number from 0 to 100",
        ),
        (
            {"rules": [{"variant": "on", "rollout": -1}]},
            "rules[0].rollout: must be a number from 0 to 100",
        ),
        (
            {"rules": [{"variant": "on", "rollout": True}]},
            "rules[0].rollout: must be a number from 0 to 100",
        ),
        (
            {"rules": [{"variant": "on", "rollout": 0.001}]},
            "rules[0].rollout: at most two decimal places (0.01 % steps)",
        ),
        ({"rules": [{"rollout": 5}]}, "rules[0]: a rule needs 'variant' or 'split'"),
        ({"rules": [{"variant": "on", "when": 1}]}, "rules[0]: unknown field 'when'"),
        (
            {"rules": [{"split": {"on": 60, "off": 30}}]},
            "rules[0].split: the percentages must add up to 100 (got 90)",
        ),
        (
            {"rules": [{"variant": "on", "if": [{"attr": "age", "op": "like", "value": 1}]}]},
            "rules[0].if[0].op: must be one of eq, ne, in, not_in, lt, lte, gt, gte",
        ),
        (
            {"rules": [{"variant": "on", "if": [{"attr": "age", "op": "gt", "value": "7"}]}]},
            "rules[0].if[0].value: gt compares numbers",
        ),
        (
            {"rules": [{"variant": "on", "if": [{"attr": "room", "op": "in", "value": "a"}]}]},
            "rules[0].if[0].values: in needs a list of strings, numbers or booleans",
        ),
        (
            {"rules": [{"users": "u_1", "variant": "on"}]},
            "rules[0].users: must be a list of user ids",
        ),
    ],
)
def test_parse_flag_refuses_malformed_definitions(raw: Any, message: str) -> None:
    with pytest.raises(FlagError) as caught:
        parse_flag("f", raw)
    assert str(caught.value) == message


@pytest.mark.parametrize("key", ["", "-a", "A", "a b", "a" * 65, "ü"])
def test_validate_key_refuses_bad_keys(key: str) -> None:
    with pytest.raises(FlagError, match="flag key must be 1-64 characters"):
        validate_key(key)
