"""Per-binding isolate memory: never shared between envs, bounded."""

from __future__ import annotations

from app.per_binding import KnownFacts, PerBinding


class Binding:
    """Stands for a binding object (weak-referenceable, like the local ones)."""


def test_per_binding_keeps_values_apart() -> None:
    cache: PerBinding[int] = PerBinding()
    first, second = Binding(), Binding()
    cache.set(first, 1)
    assert cache.get(first) == 1 and cache.get(second) is None
    unhashable_proxy: list[int] = []  # like a Pyodide proxy: no weak reference possible
    cache.set(unhashable_proxy, 2)
    assert cache.get(unhashable_proxy) == 2


class JsProxy:
    """Like Pyodide's proxy of a JavaScript object: no weak reference, and each ``env.X``
    access may make a new one; ``js_id`` names the JavaScript object behind it."""

    __slots__ = ("js_id",)

    def __init__(self, js_id: int) -> None:
        self.js_id = js_id


def test_proxies_of_one_javascript_object_share_their_values() -> None:
    cache: PerBinding[str] = PerBinding()
    cache.set(JsProxy(7), "sessions")
    assert cache.get(JsProxy(7)) == "sessions"  # a new proxy of the same object
    assert cache.get(JsProxy(8)) is None


def test_known_facts_are_per_binding_and_bounded() -> None:
    known = KnownFacts(max_facts=3)
    db, other_db = Binding(), Binding()
    known.add(db, ("room", "lobby"))
    assert (db, ("room", "lobby")) in known
    assert (other_db, ("room", "lobby")) not in known
    for room in ("a", "b"):
        known.add(db, ("room", room))
    known.add(db, ("room", "c"))  # the fourth fact: the set starts over
    assert (db, ("room", "c")) in known and (db, ("room", "lobby")) not in known
