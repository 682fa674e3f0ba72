"""Flag definitions: parsing and validating the JSON operators write (sans-I/O).

A definition (docs/flags.md)::

    {"type": "boolean", "enabled": true, "description": "...",
     "variants": {"on": true, "off": false}, "default": "on", "off": "off", "salt": "<key>",
     "rules": [{"users": ["u_1"], "variant": "on"},
               {"if": [{"attr": "guest", "op": "eq", "value": false}], "rollout": 25, "variant": "on"},
               {"split": {"control": 50, "treatment": 50}}]}

``parse_flag`` returns a ``Flag`` or raises ``FlagError`` naming the exact field that is wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from app import _json
from app.flags.hashing import Bucketer

__all__ = [
    "FLAG_TYPES",
    "KEY_PATTERN",
    "MAX_RULES",
    "OPERATORS",
    "Condition",
    "Evaluation",
    "Flag",
    "FlagError",
    "Rule",
    "parse_flag",
    "validate_key",
]

FLAG_TYPES = ("boolean", "string", "number", "json")
OPERATORS = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
KEY_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
MAX_RULES = 50
MAX_USERS = 10_000
MAX_VARIANTS = 20
MAX_JSON_VARIANT_BYTES = 8 * 1024
_FIELDS = {"type", "enabled", "description", "variants", "default", "off", "salt", "rules"}
_RULE_FIELDS = {"users", "if", "variant", "rollout", "split"}
_SCALAR = (str, int, float, bool)


class FlagError(ValueError):
    """A definition (or key) that is refused; the message names the field."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A flag's answer. ``reason``: ``off``, ``target`` (users list), ``rule``, ``rollout``,
    ``split`` or ``default``; ``rule`` is the index of the rule that served it."""

    key: str
    value: Any
    variant: str
    reason: str
    rule: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "variant": self.variant, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Condition:
    attr: str
    op: str
    value: Any  # a tuple/frozenset for in/not_in


@dataclass(frozen=True, slots=True)
class Rule:
    """Who (users and/or conditions), then what: a variant, a rollout of it, or a weighted split."""

    users: frozenset[str] | None
    conditions: tuple[Condition, ...]
    variant: str | None
    rollout_bp: int | None  # basis points, 0..10000
    split: tuple[tuple[str, int], ...]  # (variant, cumulative upper bound in basis points)
    #: Precomputed answers (evaluation allocates nothing): the variant's, and one per split arm.
    result: Evaluation | None = None
    split_results: tuple[tuple[int, Evaluation], ...] = ()


@dataclass(frozen=True, slots=True)
class Flag:
    key: str
    type: str
    enabled: bool
    variants: dict[str, Any]
    default: str
    off: str
    salt: str
    rules: tuple[Rule, ...]
    description: str = ""
    version: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    off_result: Evaluation | None = field(default=None, compare=False)
    default_result: Evaluation | None = field(default=None, compare=False)
    rollout_bucket: Bucketer | None = field(default=None, compare=False)
    split_bucket: Bucketer | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The stored definition (what ``parse_flag`` accepted), with its key and version."""
        return {"key": self.key, **self.raw, "version": self.version}


def validate_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise FlagError(
            "flag key must be 1-64 characters of a-z, 0-9, '.', '_' or '-',"
            " starting and ending with a letter or digit"
        )
    return key


def _check_value(kind: str, value: Any, where: str) -> None:
    if kind == "boolean" and not isinstance(value, bool):
        raise FlagError(f"{where}: a boolean flag's variants must be true or false")
    if kind == "string" and not isinstance(value, str):
        raise FlagError(f"{where}: a string flag's variants must be strings")
    if kind == "number" and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise FlagError(f"{where}: a number flag's variants must be finite numbers")
    if kind == "json" and len(_json.dumps(value).encode()) > MAX_JSON_VARIANT_BYTES:
        raise FlagError(f"{where}: a JSON variant is at most {MAX_JSON_VARIANT_BYTES} bytes")


def _percent(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise FlagError(f"{where}: must be a number from 0 to 100")
    basis_points = round(value * 100)
    if abs(basis_points - value * 100) > 1e-6:
        raise FlagError(f"{where}: at most two decimal places (0.01 % steps)")
    return int(basis_points)


def _variant(name: Any, variants: dict[str, Any], where: str) -> str:
    if not isinstance(name, str) or name not in variants:
        raise FlagError(f"{where}: {name!r} is not one of the variants {sorted(variants)}")
    return name


def _condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict) or set(raw) - {"attr", "op", "value", "values"}:
        raise FlagError(f"{where}: a condition is {{'attr', 'op', 'value' or 'values'}}")
    attr, op = raw.get("attr"), raw.get("op")
    if not isinstance(attr, str) or not attr:
        raise FlagError(f"{where}.attr: must be a non-empty string")
    if op not in OPERATORS:
        raise FlagError(f"{where}.op: must be one of {', '.join(OPERATORS)}")
    if op in ("in", "not_in"):
        values = raw.get("values")
        if not isinstance(values, list) or not all(isinstance(v, _SCALAR) for v in values):
            raise FlagError(f"{where}.values: {op} needs a list of strings, numbers or booleans")
        return Condition(attr, op, frozenset(values))
    if "value" not in raw or not isinstance(raw["value"], _SCALAR):
        raise FlagError(f"{where}.value: {op} needs a string, number or boolean value")
    value = raw["value"]
    if op in ("lt", "lte", "gt", "gte") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise FlagError(f"{where}.value: {op} compares numbers")
    return Condition(attr, op, value)


def _rule(key: str, index: int, raw: Any, variants: dict[str, Any]) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise FlagError(f"{where}: a rule is a JSON object")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise FlagError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    users: frozenset[str] | None = None
    if "users" in raw:
        listed = raw["users"]
        if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
            raise FlagError(f"{where}.users: must be a list of user ids")
        if len(listed) > MAX_USERS:
            raise FlagError(f"{where}.users: at most {MAX_USERS} users")
        users = frozenset(listed)
    conditions_raw = raw.get("if", [])
    if not isinstance(conditions_raw, list):
        raise FlagError(f"{where}.if: must be a list of conditions")
    conditions = tuple(_condition(c, f"{where}.if[{i}]") for i, c in enumerate(conditions_raw))
    split: tuple[tuple[str, int], ...] = ()
    rollout: int | None = None
    variant: str | None = None
    if "split" in raw:
        if "variant" in raw or "rollout" in raw:
            raise FlagError(f"{where}: a rule has either 'split' or 'variant' (with 'rollout')")
        weights = raw["split"]
        if not isinstance(weights, dict) or not weights:
            raise FlagError(f"{where}.split: must map variants to percentages")
        upper, bounds = 0, []
        for name, weight in weights.items():
            _variant(name, variants, f"{where}.split")
            upper += _percent(weight, f"{where}.split.{name}")
            bounds.append((name, upper))
        if upper != 10_000:
            raise FlagError(
                f"{where}.split: the percentages must add up to 100 (got {upper / 100:g})"
            )
        split = tuple(bounds)
    else:
        if "variant" not in raw:
            raise FlagError(f"{where}: a rule needs 'variant' or 'split'")
        variant = _variant(raw["variant"], variants, f"{where}.variant")
        if "rollout" in raw:
            rollout = _percent(raw["rollout"], f"{where}.rollout")
    if split:
        results = tuple(
            (upper, Evaluation(key, variants[name], name, "split", index)) for name, upper in split
        )
        return Rule(users, conditions, None, None, split, None, results)
    assert variant is not None
    reason = "rollout" if rollout is not None else "target" if users is not None else "rule"
    result = Evaluation(key, variants[variant], variant, reason, index)
    return Rule(users, conditions, variant, rollout, (), result)


def parse_flag(key: str, raw: Any, version: int = 0) -> Flag:
    """Validate ``raw`` (a JSON object) as the definition of flag ``key``."""
    validate_key(key)
    if not isinstance(raw, dict):
        raise FlagError("a flag definition is a JSON object")
    raw = {k: v for k, v in raw.items() if k not in ("key", "version")}
    unknown = set(raw) - _FIELDS
    if unknown:
        raise FlagError(f"unknown field {sorted(unknown)[0]!r}")
    kind = raw.get("type", "boolean")
    if kind not in FLAG_TYPES:
        raise FlagError(f"type: must be one of {', '.join(FLAG_TYPES)}")
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        raise FlagError("enabled: must be true or false")
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        raise FlagError("description: must be a string of at most 500 characters")
    if "variants" in raw:
        variants = raw["variants"]
        if not isinstance(variants, dict) or not variants:
            raise FlagError("variants: must be a non-empty object of name -> value")
    elif kind == "boolean":
        variants = {"on": True, "off": False}
    else:
        raise FlagError(f"variants: a {kind} flag needs variants")
    if len(variants) > MAX_VARIANTS:
        raise FlagError(f"variants: at most {MAX_VARIANTS}")
    for name, value in variants.items():
        if not name or len(name) > 64:
            raise FlagError("variants: names are 1-64 characters")
        _check_value(kind, value, f"variants.{name}")
    names = list(variants)
    default = _variant(
        raw.get("default", "on" if "on" in variants else names[0]), variants, "default"
    )
    off = _variant(raw.get("off", "off" if "off" in variants else default), variants, "off")
    salt = raw.get("salt", key)
    if not isinstance(salt, str) or not 1 <= len(salt) <= 64:
        raise FlagError("salt: must be a string of 1-64 characters")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise FlagError("rules: must be a list")
    if len(rules_raw) > MAX_RULES:
        raise FlagError(f"rules: at most {MAX_RULES}")
    rules = tuple(_rule(key, i, r, variants) for i, r in enumerate(rules_raw))
    stored = {**raw, "type": kind, "enabled": enabled, "variants": variants}
    stored.update(default=default, off=off, salt=salt, rules=rules_raw, description=description)
    return Flag(
        key,
        kind,
        enabled,
        dict(variants),
        default,
        off,
        salt,
        rules,
        description,
        version,
        stored,
        Evaluation(key, variants[off], off, "off"),
        Evaluation(key, variants[default], default, "default"),
        Bucketer(salt),
        Bucketer(salt + ":split"),
    )
