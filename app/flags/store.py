"""The flag set as stored: one KV document, a per-isolate cache, and patches (sans-I/O except ``load``).

KV ``FLAGS`` key ``flags`` holds ``{"version": N, "flags": {key: definition + version}}``: one
document, so a reader sees a whole flag set or the previous one, never half an update. The
``FlagsHub`` Durable Object is its only writer (docs/flags.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app import _json
from app.clock import now_ms
from app.flags.evaluate import evaluate
from app.flags.model import Flag, FlagError, parse_flag
from app.per_binding import PerBinding

__all__ = [
    "CACHE_MS",
    "KV_KEY",
    "Snapshot",
    "context_for",
    "evaluated",
    "install",
    "load",
    "merge_patch",
]

KV_KEY = "flags"
#: How long an isolate trusts its copy before reading KV again; pushes bypass it.
CACHE_MS = 1000


@dataclass(frozen=True)
class Snapshot:
    version: int = 0
    flags: dict[str, Flag] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        if not isinstance(data, dict):
            return cls()
        flags: dict[str, Flag] = {}
        for key, raw in (data.get("flags") or {}).items():
            try:
                flags[key] = parse_flag(key, raw, int(raw.get("version", 0)))
            except (FlagError, AttributeError, TypeError, ValueError):
                continue  # a hand-edited bad entry is skipped, not fatal for every other flag
        return cls(int(data.get("version", 0)), flags)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "flags": {key: flag.to_json() for key, flag in sorted(self.flags.items())},
        }


_cache: PerBinding[tuple[Snapshot, int]] = PerBinding()


def install(env: Any, snapshot: Snapshot) -> None:
    """Use ``snapshot`` in this isolate now (after a write or a push), unless a newer one is held."""
    held = _cache.get(env.FLAGS)
    if held is None or held[0].version <= snapshot.version:
        _cache.set(env.FLAGS, (snapshot, now_ms(env)))


async def load(env: Any) -> Snapshot:
    """The flag set: this isolate's copy if younger than ``CACHE_MS``, else read from KV."""
    held = _cache.get(env.FLAGS)
    now = now_ms(env)
    if held is not None and now - held[1] < CACHE_MS:
        return held[0]
    text = await env.FLAGS.get(KV_KEY)
    snapshot = Snapshot.from_json(_json.loads(text)) if text else Snapshot()
    if held is not None and held[0].version > snapshot.version:
        snapshot = held[0]  # KV may lag behind a push this isolate already applied
    _cache.set(env.FLAGS, (snapshot, now))
    return snapshot


def context_for(user: str | None, guest: bool | None, room: str | None = None) -> dict[str, Any]:
    """The evaluation context the server uses: ``user``, ``guest``, ``member``, ``room``."""
    context: dict[str, Any] = {"user": user or ""}
    if guest is not None:
        context["guest"] = guest
        context["member"] = not guest
    if room:
        context["room"] = room
    return context


def evaluated(snapshot: Snapshot, context: dict[str, Any]) -> dict[str, Any]:
    """``{key: value}`` of every flag for ``context``."""
    return {key: evaluate(flag, context).value for key, flag in snapshot.flags.items()}


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch of a definition (``null`` removes a field)."""
    merged = dict(current)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, dict) and isinstance(merged.get(name), dict) and name != "variants":
            merged[name] = merge_patch(merged[name], value)
        else:
            merged[name] = value
    return merged
