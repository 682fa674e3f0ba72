from __future__ import annotations

import hashlib
import hmac

import pytest

from primitives.durable_objects import DurableObject, DurableObjectError
from primitives.durable_objects.validation import DurableObjectTypeError

from .conftest import MakeNamespace


class Thing(DurableObject):
    def who(self) -> str:
        return self.ctx.id.toString()


class Other(DurableObject):
    pass


def test_idFromName_is_workerds_derivation(make_ns: MakeNamespace) -> None:
    ns = make_ns(Thing)
    key = hashlib.sha256(b"edgeroom:Thing").digest()
    base = hmac.new(key, b"lobby", hashlib.sha256).digest()[:16]
    expected = (base + hmac.new(key, base, hashlib.sha256).digest()[:16]).hex()
    id = ns.idFromName("lobby")
    assert id.toString() == str(id) == expected
    assert id.name == "lobby"
    assert id == ns.idFromName("lobby") and id.equals(ns.idFromName("lobby"))


def test_idFromName_is_stable_across_namespaces_of_one_class(make_ns: MakeNamespace) -> None:
    assert make_ns(Thing).idFromName("a") == make_ns(Thing).idFromName("a")
    assert make_ns(Thing).idFromName("a") != make_ns(Other).idFromName("a")


def test_newUniqueId_is_random_unnamed_and_valid(make_ns: MakeNamespace) -> None:
    ns = make_ns(Thing)
    a, b = ns.newUniqueId(), ns.newUniqueId()
    assert a != b and len(a.toString()) == 64 and a.name is None
    assert ns.idFromString(a.toString()) == a


def test_newUniqueId_jurisdiction_is_rejected_as_in_workerd(make_ns: MakeNamespace) -> None:
    with pytest.raises(
        DurableObjectError, match=r"^Jurisdiction restrictions are not implemented in workerd.$"
    ):
        make_ns(Thing).newUniqueId(jurisdiction="eu")


def test_idFromString_round_trip_drops_the_name(make_ns: MakeNamespace) -> None:
    ns = make_ns(Thing)
    id = ns.idFromString(ns.idFromName("x").toString().upper().lower())
    assert id == ns.idFromName("x") and id.name is None


@pytest.mark.parametrize("bad", ["", "abc", "z" * 64, "0" * 63, "0" * 65, 42])
def test_idFromString_rejects_malformed(make_ns: MakeNamespace, bad: object) -> None:
    with pytest.raises(TypeError, match=r"^Invalid Durable Object ID: must be 64 hex digits$"):
        make_ns(Thing).idFromString(bad)  # type: ignore[arg-type]


def test_idFromString_rejects_an_id_of_another_namespace(make_ns: MakeNamespace) -> None:
    foreign = make_ns(Other).idFromName("x").toString()
    with pytest.raises(
        DurableObjectTypeError, match=r"^Durable Object ID is not valid for this namespace.$"
    ):
        make_ns(Thing).idFromString(foreign)


def test_get_rejects_an_id_of_another_namespace(make_ns: MakeNamespace) -> None:
    foreign = make_ns(Other).idFromName("x")
    with pytest.raises(TypeError, match=r"not valid for this namespace"):
        make_ns(Thing).get(foreign)


async def test_get_and_getByName_reach_the_same_object(make_ns: MakeNamespace) -> None:
    ns = make_ns(Thing)
    stub = ns.getByName("room")
    assert stub.name == "room" and stub.id == ns.idFromName("room")
    assert await stub.who() == await ns.get(ns.idFromName("room")).who() == stub.id.toString()


def test_remembered_names_give_the_same_ids_past_the_memo_size(
    make_ns: MakeNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from primitives.durable_objects.ids import IdFactory

    monkeypatch.setattr(IdFactory, "MEMO_SIZE", 4)
    ns, fresh = make_ns(Thing), make_ns(Thing)
    first = [ns.idFromName(f"room-{i}").toString() for i in range(10)]
    again = [ns.idFromName(f"room-{i}").toString() for i in range(10)]
    assert first == again == [fresh.idFromName(f"room-{i}").toString() for i in range(10)]
    assert len(ns._ids._by_name) <= 4  # type: ignore[attr-defined]
