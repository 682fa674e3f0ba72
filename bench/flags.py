"""Feature flags benchmark: evaluating every flag of a realistic set for one user.

Printed next to a baseline measured in the same run: looking the same number of precomputed
values up in a dictionary. Target: all flags for one user in under 50 µs.

    python bench/flags.py          # full
    python bench/flags.py --quick  # a few seconds (make bench)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.flags.evaluate import evaluate_all
from app.flags.model import Flag, parse_flag

TARGET_US = 50.0

#: Twelve flags shaped like edgeroom's: switches, rollouts, targeting, experiments, a killed one.
FLAG_SET: dict[str, dict[str, Any]] = {
    "message-edits": {"enabled": True},
    "typing-indicators": {"enabled": True},
    "search": {"enabled": True},
    "invites": {"enabled": True},
    "new-composer": {
        "enabled": True,
        "default": "off",
        "rules": [{"variant": "on", "rollout": 25}],
    },
    "reactions": {
        "enabled": True,
        "default": "off",
        "rules": [
            {"users": ["u_000001", "u_000002", "u_000003"], "variant": "on"},
            {"variant": "on", "rollout": 10},
        ],
    },
    "threads": {
        "enabled": True,
        "default": "off",
        "rules": [
            {"if": [{"attr": "guest", "op": "eq", "value": True}], "variant": "off"},
            {"variant": "on", "rollout": 50},
        ],
    },
    "beta-rooms": {
        "enabled": True,
        "default": "off",
        "rules": [
            {
                "if": [
                    {"attr": "room", "op": "in", "values": ["lobby", "dev", "beta"]},
                    {"attr": "account_age_days", "op": "gte", "value": 7},
                ],
                "variant": "on",
            }
        ],
    },
    "history-page-size": {
        "type": "number",
        "enabled": True,
        "variants": {"small": 50, "large": 100},
        "default": "small",
        "rules": [{"if": [{"attr": "guest", "op": "eq", "value": False}], "variant": "large"}],
    },
    "composer-experiment": {
        "type": "string",
        "enabled": True,
        "variants": {"control": "classic", "a": "compact", "b": "rich"},
        "default": "control",
        "rules": [{"split": {"control": 34, "a": 33, "b": 33}}],
    },
    "onboarding": {
        "type": "json",
        "enabled": True,
        "variants": {"none": {}, "tour": {"steps": 3, "skippable": True}},
        "default": "none",
        "rules": [
            {
                "if": [{"attr": "account_age_days", "op": "lt", "value": 1}],
                "split": {"none": 50, "tour": 50},
            }
        ],
    },
    "legacy-transport": {"enabled": False, "rules": [{"variant": "on", "rollout": 100}]},
}


def build() -> list[Flag]:
    return [parse_flag(key, raw) for key, raw in FLAG_SET.items()]


def contexts(n: int) -> list[dict[str, Any]]:
    return [
        {
            "user": f"u_{i * 2654435761 % 2**64:016x}",
            "guest": i % 5 == 0,
            "room": ("lobby", "dev", "x")[i % 3],
            "account_age_days": i % 40,
        }
        for i in range(n)
    ]


def per_user_us(fn: Any, users: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for context in users:
        fn(context)
    return (time.perf_counter() - start) / len(users) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few seconds")
    args = parser.parse_args(argv)
    flags = build()
    users = contexts(2_000 if args.quick else 20_000)
    rounds = 3 if args.quick else 7
    # Baseline: the same number of values looked up in a precomputed per-user dictionary.
    table = {c["user"]: {f.key: f.variants[f.default] for f in flags} for c in users}
    keys = [f.key for f in flags]

    def lookup(context: dict[str, Any]) -> dict[str, Any]:
        row = table[context["user"]]
        return {key: row[key] for key in keys}

    def evaluate(context: dict[str, Any]) -> Any:
        return evaluate_all(flags, context)

    evaluated = statistics.median(per_user_us(evaluate, users) for _ in range(rounds))
    baseline = statistics.median(per_user_us(lookup, users) for _ in range(rounds))
    per_flag = evaluated / len(flags)
    print(f"flags: {len(flags)} flags, {len(users):,} users, median of {rounds} rounds")
    print(
        f"evaluate all flags for one user: {evaluated:.1f} µs ({1e6 / evaluated:,.0f} users/s,"
        f" {1e6 / per_flag:,.0f} flag evaluations/s); dict lookup baseline {baseline:.2f} µs"
        f" ({1e6 / baseline:,.0f} users/s); ratio {evaluated / baseline:.1f}x"
    )
    ok = evaluated < TARGET_US
    print(f"target: all flags for one user < {TARGET_US:.0f} µs: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
