"""Differential conformance: run every case on workerd (Miniflare) and on ``primitives``, compare.

    python -m conformance.compare [--only kv,d1] [--case GLOB] [--report docs/conformance.md]
                                  [--no-generated] [--json out.json]

Cases are the hand-written ``conformance/cases/*.json`` plus the Hypothesis sequences of
:mod:`conformance.generated`. Both sides are normalised (:mod:`conformance.normalize`), the
deliberate differences of ``conformance/deliberate.toml`` are masked on both sides, and every
remaining difference is printed op by op. Exit status 1 if any case differs.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .normalize import canonical
from .python_runner import PACKAGES, available, run_cases

__all__ = [
    "CASES_DIR",
    "ORACLE_DIR",
    "CaseOutcome",
    "Deliberate",
    "compare_case",
    "load_cases",
    "load_deliberate",
    "main",
    "oracle_ready",
    "run_oracle",
]

ROOT = Path(__file__).resolve().parent
CASES_DIR = ROOT / "cases"
ORACLE_DIR = ROOT / "oracle"
DELIBERATE_FILE = ROOT / "deliberate.toml"
REPORT_FILE = ROOT.parent / "docs" / "conformance.md"
ORACLE_TIMEOUT_SECONDS = 600
PRIMITIVE_TITLES = {
    "kv": "KV",
    "d1": "D1",
    "r2": "R2",
    "do": "Durable Object storage",
    "do_ns": "Durable Object namespace",
}


def load_cases(directory: Path = CASES_DIR) -> list[dict[str, Any]]:
    """All hand-written cases; a file is ``{"primitive": p, "cases": [...]}``."""
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text())
        for case in doc["cases"]:
            case = {"primitive": doc["primitive"], **case, "file": path.name}
            if case["name"] in seen:
                raise ValueError(f"{path.name}: duplicate case name {case['name']!r}")
            seen.add(case["name"])
            cases.append(case)
    return cases


@dataclass(frozen=True)
class Deliberate:
    """One deliberate difference: what is masked (on both sides) and why."""

    id: str
    primitive: str
    reason: str
    cases: str | tuple[str, ...] = "*"
    key: str | None = None
    rule: str | None = None
    message_pattern: str | None = None
    message_replace: str = "<masked>"
    error_type: str | None = None
    skip: bool = False


def load_deliberate(path: Path = DELIBERATE_FILE) -> list[Deliberate]:
    """The deliberate differences, each with its reason."""
    doc = tomllib.loads(path.read_text())
    out = []
    for entry in doc.get("difference", []):
        if isinstance(entry.get("cases"), list):
            entry["cases"] = tuple(entry["cases"])
        out.append(Deliberate(**entry))
    return out


def _matches(name: str, patterns: str | tuple[str, ...]) -> bool:
    if isinstance(patterns, str):
        patterns = (patterns,)
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _rule_holds(rule: str | None, value: Any) -> bool:
    if rule is None:
        return True
    if rule == "non-negative-number":
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if rule == "positive-int":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if rule == "string":
        return isinstance(value, str)
    if rule == "any":
        return True
    if rule.startswith("in:"):
        return value in rule[3:].split(",")
    raise ValueError(f"unknown rule {rule!r} in deliberate.toml")


def _mask(value: Any, entry: Deliberate, hits: Counter[str]) -> Any:
    if isinstance(value, dict):
        if "error" in value and entry.message_pattern and isinstance(value["error"], dict):
            err = dict(value["error"])
            if entry.error_type is not None and err.get("type") != entry.error_type:
                return value
            for part in ("message", "cause"):
                if isinstance(err.get(part), str):
                    new = re.sub(entry.message_pattern, entry.message_replace, err[part])
                    if new != err[part]:
                        hits[entry.id] += 1
                    err[part] = new
            return {"error": err}
        out = {}
        for k, v in value.items():
            if entry.key is not None and k == entry.key and _rule_holds(entry.rule, v):
                hits[entry.id] += 1
                out[k] = f"<deliberate:{entry.id}>"
            else:
                out[k] = _mask(v, entry, hits)
        return out
    if isinstance(value, list):
        return [_mask(v, entry, hits) for v in value]
    return value


@dataclass
class CaseOutcome:
    """What happened to one case."""

    name: str
    primitive: str
    status: str  # "pass" | "fail" | "unavailable" | "skipped"
    diffs: list[str] = field(default_factory=list)
    masked: Counter[str] = field(default_factory=Counter)


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _side(answer: dict[str, Any]) -> tuple[list[Any] | None, str | None]:
    if "fatal" in answer:
        return None, f"fatal: {answer['fatal']}"
    results = answer.get("results")
    if not isinstance(results, list):
        return None, f"bad answer: {_short(answer)}"
    return [canonical(r, int(answer["now_ms"])) for r in results], None


def compare_case(
    case: dict[str, Any],
    oracle: dict[str, Any],
    python: dict[str, Any],
    deliberate: list[Deliberate],
) -> CaseOutcome:
    """Compare one case's answers op by op, after normalising and masking both."""
    outcome = CaseOutcome(case["name"], case["primitive"], "pass")
    if "unavailable" in python:
        outcome.status = "unavailable"
        return outcome
    entries = [
        d
        for d in deliberate
        if d.primitive == case["primitive"] and _matches(case["name"], d.cases)
    ]
    if any(d.skip for d in entries):
        outcome.status = "skipped"
        outcome.masked.update(d.id for d in entries if d.skip)
        return outcome
    left, left_err = _side(oracle)
    right, right_err = _side(python)
    if left_err or right_err or left is None or right is None:
        outcome.status = "fail"
        outcome.diffs.append(f"  workerd:    {left_err or 'ok'}\n  primitives: {right_err or 'ok'}")
        return outcome
    for entry in entries:
        left_hits: Counter[str] = Counter()
        right_hits: Counter[str] = Counter()
        left = _mask(left, entry, left_hits)
        right = _mask(right, entry, right_hits)
        hits = max(left_hits[entry.id], right_hits[entry.id])
        if hits:
            outcome.masked[entry.id] += hits
    ops = case["ops"]
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else "<missing>"
        b = right[index] if index < len(right) else "<missing>"
        if a != b:
            op = ops[index] if index < len(ops) else {}
            outcome.diffs.append(
                f"  op {index}: {_short(op, 300)}\n"
                f"    workerd:    {_short(a)}\n"
                f"    primitives: {_short(b)}"
            )
    if outcome.diffs:
        outcome.status = "fail"
    return outcome


def oracle_ready() -> str | None:
    """``None`` if node and the oracle's node_modules are there, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ORACLE_DIR / "node_modules" / "miniflare").is_dir():
        return f"the oracle's npm packages are not installed (run: npm ci --prefix {ORACLE_DIR})"
    return None


def run_oracle(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run ``cases`` on workerd through ``run-oracle.mjs``; answers by case name."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(cases, handle)
        path = handle.name
    try:
        proc = subprocess.run(
            ["node", str(ORACLE_DIR / "run-oracle.mjs"), path],
            cwd=ORACLE_DIR,
            capture_output=True,
            text=True,
            timeout=ORACLE_TIMEOUT_SECONDS,
            check=False,
        )
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RuntimeError(f"oracle failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    answers: dict[str, dict[str, Any]] = json.loads(proc.stdout)["results"]
    return answers


def all_cases(*, generated: bool = True) -> list[dict[str, Any]]:
    """Hand-written cases plus (unless ``generated`` is false) the Hypothesis sequences."""
    cases = load_cases()
    if generated:
        from .generated import generated_cases

        cases.extend(generated_cases())
    return cases


def run_all(cases: list[dict[str, Any]]) -> list[CaseOutcome]:
    """Run ``cases`` on both sides and compare them."""
    deliberate = load_deliberate()
    oracle = run_oracle(cases)
    python = asyncio.run(run_cases(copy.deepcopy(cases)))
    return [compare_case(c, oracle[c["name"]], python[c["name"]], deliberate) for c in cases]


def write_report(outcomes: list[CaseOutcome], path: Path = REPORT_FILE) -> None:
    """docs/conformance.md: pass counts per primitive and the deliberate differences."""
    deliberate = load_deliberate()
    masked: Counter[str] = Counter()
    for o in outcomes:
        masked.update(o.masked)
    lines = [
        "# Conformance: primitives/ against workerd",
        "",
        "Generated by `make conformance` (`python -m conformance.compare`). Every case runs the same",
        "script of binding operations on Cloudflare's runtime (workerd, through Miniflare, pinned in",
        "`conformance/oracle/package-lock.json`) and on `primitives/` through `build_env`; results",
        "and errors are normalised (`conformance/normalize.py`) and compared operation by operation.",
        "",
        "| Primitive | Cases | Pass | Fail | Skipped (deliberate) | Not yet in primitives/ |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for primitive, title in PRIMITIVE_TITLES.items():
        mine = [o for o in outcomes if o.primitive == primitive]
        counts = Counter(o.status for o in mine)
        lines.append(
            f"| {title} | {len(mine)} | {counts['pass']} | {counts['fail']} | "
            f"{counts['skipped']} | {counts['unavailable']} |"
        )
    generated = sum(1 for o in outcomes if ".gen." in o.name)
    total = Counter(o.status for o in outcomes)
    lines.append(
        f"| **All** | {len(outcomes)} | {total['pass']} | {total['fail']} | "
        f"{total['skipped']} | {total['unavailable']} |"
    )
    lines += [
        "",
        f"{len(outcomes) - generated} hand-written cases (`conformance/cases/*.json`) and "
        f"{generated} Hypothesis sequences from fixed seeds (`conformance/generated.py`, "
        'named `<primitive>.gen.<n>`). "Skipped" cases are whole cases listed as deliberate;',
        "other deliberate differences mask one field or one part of a message on both sides,",
        "and the table below says how many times each was applied in this run.",
        "",
        "Run one case: `python -m conformance.compare --case 'kv.list-pages'`; one primitive:",
        "`--only d1`. Expiry-dependent values are compared relative to each case's start",
        '(`{"$rel_s": 120}`); opaque values (cursors, versions, upload ids, bookmarks) by presence.',
    ]
    lines += ["", "## Deliberate differences (`conformance/deliberate.toml`)", ""]
    lines += ["| Id | Primitive | Masked | Reason |", "|---|---|---:|---|"]
    for d in deliberate:
        lines.append(f"| `{d.id}` | {d.primitive} | {masked[d.id]} | {d.reason} |")
    failing = [o for o in outcomes if o.status == "fail"]
    if failing:
        lines += ["", "## Failing cases", ""]
        lines += [f"- `{o.name}` ({o.primitive})" for o in failing]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.compare", description=__doc__)
    parser.add_argument("--only", help="comma-separated primitives (kv,d1,r2,do,do_ns)")
    parser.add_argument("--case", help="glob on case names")
    parser.add_argument("--no-generated", action="store_true", help="hand-written cases only")
    parser.add_argument("--report", type=Path, default=REPORT_FILE, help="markdown report path")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every outcome as JSON here")
    args = parser.parse_args(argv)
    why = oracle_ready()
    if why:
        print(f"conformance: cannot run the oracle: {why}", file=sys.stderr)
        return 2
    cases = all_cases(generated=not args.no_generated)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c["primitive"] in wanted]
    if args.case:
        cases = [c for c in cases if fnmatch.fnmatchcase(c["name"], args.case)]
    outcomes = run_all(cases)
    for o in outcomes:
        if o.status == "fail":
            print(f"DIFF {o.name} ({o.primitive})")
            print("\n".join(o.diffs))
    counts = Counter((o.primitive, o.status) for o in outcomes)
    for primitive in PRIMITIVE_TITLES:
        row = {s: counts[(primitive, s)] for s in ("pass", "fail", "skipped", "unavailable")}
        if any(row.values()):
            note = "" if available(primitive) else f" ({PACKAGES[primitive]} not in this tree)"
            print(f"{primitive}: " + ", ".join(f"{v} {k}" for k, v in row.items()) + note)
    if args.json:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], default=list, indent=1))
    if not args.no_report and not args.case and not args.only:
        write_report(outcomes, args.report)
    return 1 if any(o.status == "fail" for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
