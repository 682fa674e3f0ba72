"""Differential conformance: every case of conformance/ on workerd (Miniflare) and on primitives.

One Miniflare runs all cases once per session (``conformance.compare.run_oracle``); each case is
then its own test, so a difference names the case and prints the op-by-op diff. Cases of
primitives not in this tree yet are not collected. Needs node and the oracle's npm packages
(``make conformance`` or ``npm ci`` in conformance/oracle); without them the tests skip
(fail in CI).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conformance.compare import (
    all_cases,
    compare_case,
    load_deliberate,
    oracle_ready,
    run_oracle,
)
from conformance.python_runner import available, run_cases
from tests.support import skip_or_fail

CASES = [case for case in all_cases() if available(case["primitive"])]


@pytest.fixture(scope="session")
def answers() -> dict[str, Any]:
    why = oracle_ready()
    if why:
        skip_or_fail(f"conformance oracle: {why}")
    oracle = run_oracle(CASES)
    python = asyncio.run(run_cases(CASES))
    return {"oracle": oracle, "python": python, "deliberate": load_deliberate()}


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case_matches_workerd(case: dict[str, Any], answers: dict[str, Any]) -> None:
    outcome = compare_case(
        case,
        answers["oracle"][case["name"]],
        answers["python"][case["name"]],
        answers["deliberate"],
    )
    if outcome.status == "skipped":
        return  # a deliberate difference, listed with its reason in conformance/deliberate.toml
    assert outcome.status == "pass", f"{case['name']} differs from workerd:\n" + "\n".join(
        outcome.diffs
    )
