"""Values an isolate keeps per binding object (so per env), and bounded sets of known facts.

An isolate (a Worker process) may remember what it has already written, to skip the write next
time; two envs in one process (tests, tools) must never share such memory.
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

__all__ = ["KnownFacts", "PerBinding"]

T = TypeVar("T")


class PerBinding(Generic[T]):
    """Values kept per binding object (per env), never shared between two envs.

    Weak keys where the binding allows it (a closed env's entries go with it); otherwise the
    JavaScript object's id of a Pyodide proxy (``js_id``), else ``id()``.
    """

    def __init__(self) -> None:
        self._weak: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()
        self._by_id: dict[int, T] = {}

    def get(self, binding: Any) -> T | None:
        try:
            return self._weak.get(binding)
        except TypeError:
            return self._by_id.get(_stable_id(binding))

    def set(self, binding: Any, value: T) -> None:
        try:
            self._weak[binding] = value
        except TypeError:
            self._by_id[_stable_id(binding)] = value


def _stable_id(binding: Any) -> int:
    """An id that stays the same for one binding: Pyodide may hand out a new proxy for each
    ``env.X`` access (so ``id()`` differs), but its ``js_id`` names the JavaScript object."""
    js_id = getattr(binding, "js_id", None)
    return js_id if isinstance(js_id, int) else id(binding)


class KnownFacts:
    """Per binding, a bounded set of facts this isolate has made true in storage.

    Only for facts nothing ever undoes (a row inserted with ``ON CONFLICT DO NOTHING`` that no
    code deletes): forgetting one costs a redundant write, never a wrong answer. Past
    ``max_facts`` the set starts over.
    """

    def __init__(self, max_facts: int = 100_000) -> None:
        self._sets: PerBinding[set[tuple[str, ...]]] = PerBinding()
        self._max = max_facts

    def __contains__(self, item: tuple[Any, tuple[str, ...]]) -> bool:
        binding, fact = item
        known = self._sets.get(binding)
        return known is not None and fact in known

    def add(self, binding: Any, fact: tuple[str, ...]) -> None:
        known = self._sets.get(binding)
        if known is None or len(known) >= self._max:
            known = set()
            self._sets.set(binding, known)
        known.add(fact)
