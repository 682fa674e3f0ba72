"""The normal form both sides of the conformance comparison are put into."""

from __future__ import annotations

import datetime as dt

import pytest

from conformance.compare import Deliberate, compare_case
from conformance.normalize import canonical, error_form, js_error_type, to_json
from primitives.d1.errors import D1Error, d1_cause
from primitives.durable_objects import RangeError
from primitives.kv.errors import KVTypeError, KVValueError


def test_js_error_type_maps_primitives_errors_to_javascript_types() -> None:
    assert js_error_type(KVTypeError("x")) == "TypeError"
    assert js_error_type(KVValueError("x")) == "SyntaxError"
    assert js_error_type(RangeError("x")) == "RangeError"
    assert js_error_type(D1Error("x")) == "Error"
    assert js_error_type(ValueError("x")) == "Error"


def test_error_form_keeps_d1_cause() -> None:
    try:
        raise D1Error("boom") from d1_cause("boom")
    except D1Error as exc:
        form = error_form(exc)
    assert form == {"error": {"type": "Error", "message": "D1_ERROR: boom", "cause": "boom"}}


def test_to_json_normalises_python_values() -> None:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert to_json(b"\x00\xff") == {"$bytes": "AP8="}
    assert to_json(memoryview(b"a")) == {"$bytes": "YQ=="}
    assert to_json(when) == {"$date": 1767225600000}
    assert to_json(2.0) == 2
    assert to_json(float("nan")) == {"$num": "NaN"}
    assert to_json({"a": (1, None)}) == {"a": [1, None]}


def test_canonical_makes_times_relative_and_hides_opaque_values() -> None:
    now_ms = 1_795_000_000_000
    value = {
        "keys": [{"name": "k", "expiration": 1_795_000_120}],
        "cursor": "abc",
        "version": "v1",
        "alarm": now_ms + 60_000,
        "error": None,
    }
    assert canonical(value, now_ms) == {
        "keys": [{"name": "k", "expiration": {"$rel_s": 120}}],
        "cursor": "<cursor>",
        "version": "<version>",
        "alarm": {"$rel_ms": 60_000},
        "error": None,
    }
    message = {"error": {"type": "Error", "message": "Invalid expiration of 1795000030."}}
    assert canonical(message, now_ms)["error"]["message"] == "Invalid expiration of <now+30>."


@pytest.mark.parametrize("python_value", ["same", "different"])
def test_compare_case_reports_each_differing_op(python_value: str) -> None:
    case = {"name": "kv.x", "primitive": "kv", "ops": [{"op": "get", "args": ["k"]}]}
    oracle = {"now_ms": 0, "results": ["same"]}
    python = {"now_ms": 0, "results": [python_value]}
    outcome = compare_case(case, oracle, python, [])
    assert outcome.status == ("pass" if python_value == "same" else "fail")
    if python_value == "different":
        assert "workerd:" in outcome.diffs[0]
        assert '"different"' in outcome.diffs[0]


def test_deliberate_mask_applies_only_where_the_rule_holds() -> None:
    rule = Deliberate(id="n", primitive="d1", reason="r", key="n", rule="positive-int")
    case = {"name": "d1.x", "primitive": "d1", "ops": [{"op": "x"}]}
    masked = compare_case(
        case, {"now_ms": 0, "results": [{"n": 1}]}, {"now_ms": 0, "results": [{"n": 2}]}, [rule]
    )
    assert masked.status == "pass"
    kept = compare_case(
        case, {"now_ms": 0, "results": [{"n": 1}]}, {"now_ms": 0, "results": [{"n": -2}]}, [rule]
    )
    assert kept.status == "fail"
