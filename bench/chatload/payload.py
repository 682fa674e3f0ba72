"""What every load message carries: the traffic step, the sender, its counter, the send time.

A payload is short ASCII text, ``"<step>|<sender>|<counter>|<sent_ns>"``, needing no escaping in
JSON or Socket.IO frames. ``sent_ns`` is ``time.time_ns()`` (the wall clock, shared by every
process on the machine), so a receiver in another process computes the delivery latency.
Nonces (edgeroom's ``chat.send``) carry the same facts with ``_`` (the nonce alphabet is
``[A-Za-z0-9_-]``), so an ack alone gives the ack latency.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Payload", "decode", "decode_nonce", "encode", "encode_nonce"]


class Payload(NamedTuple):
    step: int
    sender: int
    counter: int
    sent_ns: int


def encode(step: int, sender: int, counter: int, sent_ns: int) -> str:
    return f"{step}|{sender}|{counter}|{sent_ns}"


def decode(text: str) -> Payload | None:
    """The payload in ``text``, or None when it is not one of ours."""
    parts = text.split("|")
    if len(parts) != 4:
        return None
    try:
        return Payload(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))
    except ValueError:
        return None


def encode_nonce(step: int, sender: int, counter: int, sent_ns: int) -> str:
    return f"{step}_{sender}_{counter}_{sent_ns}"


def decode_nonce(nonce: str) -> Payload | None:
    return decode(nonce.replace("_", "|"))
