"""Feature flags over HTTP: the admin API (``/admin/flags``) and the client's ``GET /api/flags``.

Writes go through the ``FlagsHub`` Durable Object (the one writer: version check, audit row, KV,
push). Reads of definitions come from KV through the isolate's short cache. docs/flags.md.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from app import _json
from app._runtime import Request, Response
from app.clock import now_ms
from app.flags.evaluate import evaluate
from app.flags.model import FlagError, validate_key
from app.flags.store import Snapshot, context_for, install, load
from app.httputil import HttpError, is_same_origin, query_params, read_json
from app.per_binding import PerBinding
from app.rooms.flags_hub import HUB_NAME
from app.sessions import session_from_request

__all__ = [
    "admin_audit",
    "admin_delete",
    "admin_get",
    "admin_history",
    "admin_list",
    "admin_patch",
    "admin_put",
    "admin_results",
    "client_flags",
    "require_operator",
]

_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,15})"?$')
MAX_AUDIT_PAGE = 200
#: A definition with a long users list is larger than the API's usual 64 KiB.
MAX_DEFINITION_BYTES = 512 * 1024
#: Exposures this isolate already wrote, so a page that polls does not write D1 each time.
_exposed: PerBinding[set[tuple[str, str, str]]] = PerBinding()
MAX_REMEMBERED_EXPOSURES = 100_000


async def require_operator(env: Any, request: Request) -> str:
    """The actor for the audit log: ``operator`` (the ``OPERATOR_TOKEN`` secret) or an admin user."""
    auth = request.headers.get("authorization") or ""
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    secret = getattr(env, "OPERATOR_TOKEN", None) or ""
    if secret and bearer and hmac.compare_digest(bearer.encode(), str(secret).encode()):
        return "operator"
    session = await session_from_request(env, request)
    if session is None:
        if bearer:
            raise HttpError(401, "bad_credentials", "the operator token or session is not valid")
        raise HttpError(
            401,
            "unauthenticated",
            "send the operator token or sign in as an admin (Authorization: Bearer ...)",
        )
    row = await env.DB.prepare("SELECT role FROM users WHERE id = ?").bind(session.user_id).first()
    if row is None or row["role"] != "admin":
        raise HttpError(403, "forbidden", "only admins may administer feature flags")
    if request.method != "GET" and not is_same_origin(
        request, getattr(env, "ALLOWED_ORIGINS", "") or ""
    ):
        raise HttpError(403, "bad_origin", "cross-site requests are not allowed")
    return f"user:{session.user_id}:{session.name}"


def _key(raw: str) -> str:
    try:
        return validate_key(raw)
    except FlagError as exc:
        raise HttpError(400, "bad_key", str(exc)) from None


def _version_header(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    found = _ETAG.match(raw.strip())
    if found is None:
        raise HttpError(400, "bad_precondition", f'{name} must be a flag version, e.g. "3"')
    return int(found.group(1))


def _flag_response(flag: dict[str, Any], status: int = 200) -> Response:
    return Response.json({"flag": flag}, status=status, headers={"etag": f'"{flag["version"]}"'})


def _hub(env: Any) -> Any:
    return env.FLAGS_HUB.getByName(HUB_NAME)


async def _fresh(env: Any) -> Snapshot:
    """Admins read the hub's copy: never stale, whatever KV's caches hold."""
    snapshot = Snapshot.from_json(await _hub(env).snapshot())
    install(env, snapshot)
    return snapshot


# -- admin: reading -----------------------------------------------------------------------------
async def admin_list(request: Request, env: Any, ctx: Any) -> Response:
    await require_operator(env, request)
    snapshot = await _fresh(env)
    return Response.json(snapshot.to_json())


async def admin_get(request: Request, env: Any, ctx: Any, key: str) -> Response:
    await require_operator(env, request)
    key = _key(key)
    flag = (await _fresh(env)).flags.get(key)
    if flag is None:
        raise HttpError(404, "unknown_flag", f"no flag named {key!r}")
    return _flag_response(flag.to_json())


# -- admin: writing -------------------------------------------------------------------------------
async def _apply(request: Request, env: Any, op: str, key: str) -> Response:
    actor = await require_operator(env, request)
    key = _key(key)
    body = await read_json(request, MAX_DEFINITION_BYTES) if op != "delete" else None
    if_match = _version_header(request, "if-match")
    create_only = (request.headers.get("if-none-match") or "").strip() == "*"
    answer = await _hub(env).apply(op, key, body, if_match, create_only, actor)
    status = int(answer["status"])
    if status >= 400:
        error = answer["error"]
        body_out: dict[str, Any] = {"error": error}
        if answer.get("current") is not None:
            body_out["current_version"] = answer["current"]
        return Response.json(body_out, status=status)
    install(env, Snapshot.from_json(answer["snapshot"]))  # this isolate serves it at once
    if answer["flag"] is None:
        return Response.json({"deleted": key, "version": answer["version"]})
    return _flag_response(answer["flag"], status)


async def admin_put(request: Request, env: Any, ctx: Any, key: str) -> Response:
    return await _apply(request, env, "put", key)


async def admin_patch(request: Request, env: Any, ctx: Any, key: str) -> Response:
    return await _apply(request, env, "patch", key)


async def admin_delete(request: Request, env: Any, ctx: Any, key: str) -> Response:
    return await _apply(request, env, "delete", key)


# -- admin: the audit log and experiment results -----------------------------------------------
def _audit_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "flag": row["flag"],
        "action": row["action"],
        "actor": row["actor"],
        "at": row["at"],
        "version": row["version"],
        "before": _json.loads(row["before"]) if row["before"] else None,
        "after": _json.loads(row["after"]) if row["after"] else None,
    }


async def _audit(env: Any, request: Request, key: str | None) -> Response:
    params = query_params(request)
    raw_limit, raw_before = params.get("limit", "50"), params.get("before", "")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_AUDIT_PAGE:
        raise HttpError(400, "bad_request", f"limit must be an integer from 1 to {MAX_AUDIT_PAGE}")
    if raw_before and not raw_before.isdigit():
        raise HttpError(400, "bad_request", "before must be an audit entry id")
    before = int(raw_before) if raw_before else 2**62
    where = "id < ?" + (" AND flag = ?" if key else "")
    binds: list[Any] = [before] + ([key] if key else [])
    rows = await (
        env.DB.prepare(f"SELECT * FROM flag_audit WHERE {where} ORDER BY id DESC LIMIT ?")
        .bind(*binds, int(raw_limit))
        .all()
    )
    return Response.json({"entries": [_audit_row(dict(r)) for r in rows["results"]]})


async def admin_audit(request: Request, env: Any, ctx: Any) -> Response:
    await require_operator(env, request)
    return await _audit(env, request, None)


async def admin_history(request: Request, env: Any, ctx: Any, key: str) -> Response:
    await require_operator(env, request)
    return await _audit(env, request, _key(key))


async def admin_results(request: Request, env: Any, ctx: Any, key: str) -> Response:
    """Exposures per variant (distinct users first served each variant)."""
    await require_operator(env, request)
    key = _key(key)
    rows = await (
        env.DB.prepare(
            "SELECT variant, COUNT(*) AS users FROM flag_exposures WHERE flag = ? GROUP BY variant"
            " ORDER BY variant"
        )
        .bind(key)
        .all()
    )
    variants = {row["variant"]: row["users"] for row in rows["results"]}
    flag = (await _fresh(env)).flags.get(key)
    if flag is None and not variants:
        raise HttpError(404, "unknown_flag", f"no flag named {key!r}")
    if flag is not None:
        variants = {name: variants.get(name, 0) for name in flag.variants} | variants
    return Response.json({"flag": key, "variants": variants, "total": sum(variants.values())})


# -- the client -------------------------------------------------------------------------------------
async def client_flags(request: Request, env: Any, ctx: Any) -> Response:
    """Every flag evaluated for the caller (anonymous callers get the no-user answers).

    Experiment (split) answers are recorded in ``flag_exposures``, once per user and variant.
    """
    session = await session_from_request(env, request)
    room = query_params(request).get("room") or None
    context = context_for(
        session.user_id if session else None, session.guest if session else None, room
    )
    snapshot = await load(env)
    values: dict[str, Any] = {}
    exposures = []
    for key, flag in snapshot.flags.items():
        result = evaluate(flag, context)
        values[key] = result.value
        if result.reason == "split" and session is not None:
            exposures.append((key, result.variant))
    seen = _exposed.get(env.DB)
    if seen is None or len(seen) > MAX_REMEMBERED_EXPOSURES:
        seen = set()
        _exposed.set(env.DB, seen)
    if session is not None:
        exposures = [(k, v) for k, v in exposures if (k, v, session.user_id) not in seen]
    if exposures:
        statement = env.DB.prepare(
            "INSERT INTO flag_exposures (flag, variant, user_id, first_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING"
        )
        now = now_ms(env)
        assert session is not None
        await env.DB.batch([statement.bind(k, v, session.user_id, now) for k, v in exposures])
        seen.update((k, v, session.user_id) for k, v in exposures)
    return Response.json(
        {"version": snapshot.version, "values": values}, headers={"cache-control": "no-store"}
    )
