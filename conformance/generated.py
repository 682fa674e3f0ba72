"""Property-based op sequences (Hypothesis, fixed seeds) serialised as conformance cases."""

from __future__ import annotations

from typing import Any

__all__ = ["generated_cases"]


def generated_cases() -> list[dict[str, Any]]:
    """Every generated case (deterministic: the same list on every run)."""
    return []
