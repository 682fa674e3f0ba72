"""``edgeroom flags``: the Worker's feature flags (docs/flags.md), from the command line.

    edgeroom flags list
    edgeroom flags get KEY
    edgeroom flags set KEY '{"enabled": true, ...}'   # or --file def.json; --if-match V
    edgeroom flags enable KEY | disable KEY
    edgeroom flags rollout KEY PERCENT [--variant on]
    edgeroom flags history [KEY] [--limit N]

With ``--url`` (or ``$EDGEROOM_URL``) the commands call a running server's ``/admin/flags`` API
with ``--token`` (or ``$EDGEROOM_OPERATOR_TOKEN``): the operator token or an admin's session.
Without it they run the Worker of ``wrangler.toml`` in-process on the local data directory
(``--data-dir``), through the same handlers, so validation, versions and the audit log are the
same; the audit log names the actor ``operator``. Run ``edgeroom migrate`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from ..cli import add_env_options, env_from_args, run_command
from ..entrypoint import ExecutionContext
from ..env import load_main_module
from ..errors import ConfigError
from ..http import Request

__all__ = ["register"]

_TIMEOUT_S = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "flags", help="feature flags: list, get, set, enable, disable, rollout, history"
    )
    add_env_options(parser)
    parser.add_argument("--url", default=os.environ.get("EDGEROOM_URL"), help="a running server")
    parser.add_argument(
        "--token", default=os.environ.get("EDGEROOM_OPERATOR_TOKEN"), help="operator token"
    )
    commands = parser.add_subparsers(dest="flags_command", metavar="ACTION", required=True)
    commands.add_parser("list", help="every flag, one per line")
    commands.add_parser("get", help="one flag's definition as JSON").add_argument("key")
    setter = commands.add_parser("set", help="create or replace a flag's definition")
    setter.add_argument("key")
    setter.add_argument("definition", nargs="?", help="the definition as JSON")
    setter.add_argument("--file", help="read the definition from this JSON file")
    setter.add_argument("--if-match", help="the version being replaced (default: the current one)")
    commands.add_parser("enable", help="turn the kill switch on").add_argument("key")
    commands.add_parser("disable", help="turn the kill switch off").add_argument("key")
    rollout = commands.add_parser("rollout", help="set the percentage of the flag's rollout rule")
    rollout.add_argument("key")
    rollout.add_argument("percent", type=float)
    rollout.add_argument("--variant", default=None, help="the variant rolled out (default: on)")
    history = commands.add_parser("history", help="the audit log, newest first")
    history.add_argument("key", nargs="?")
    history.add_argument("--limit", type=int, default=20)
    parser.set_defaults(handler=run_command(_run))


class _Remote:
    def __init__(self, url: str, token: str | None) -> None:
        self.base = url.rstrip("/")
        self.token = token

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        return await asyncio.to_thread(self._send, method, path, body, headers)

    def _send(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, {
                    "error": {"code": "http", "message": raw.decode(errors="replace")}
                }
        except urllib.error.URLError as exc:
            raise ConfigError(f"cannot reach {self.base}: {exc.reason}") from None

    async def aclose(self) -> None:
        return None


class _Local:
    """The Worker in-process on the local stores, with a one-off operator token."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.token = secrets.token_urlsafe(32)
        self.env = env_from_args(args, vars={"OPERATOR_TOKEN": self.token})
        entrypoint = getattr(load_main_module(self.env.config), "Default", None)
        if entrypoint is None:
            raise ConfigError(f"{self.env.config.main} defines no class Default")
        self.entrypoint = entrypoint

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        request = Request(
            f"http://localhost{path}",
            method,
            {"authorization": f"Bearer {self.token}", **(headers or {})},
            None if body is None else json.dumps(body),
        )
        response = await self.entrypoint(ExecutionContext(), self.env).fetch(request)
        text = await response.text()
        return response.status, json.loads(text) if text else None

    async def aclose(self) -> None:
        await self.env.aclose()


def _fail(status: int, body: Any) -> int:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        print(
            f"edgeroom flags: {status} {error.get('code')}: {error.get('message')}", file=sys.stderr
        )
    else:
        print(f"edgeroom flags: HTTP {status}", file=sys.stderr)
    return 1


def _summary(flag: dict[str, Any]) -> str:
    rules = flag.get("rules") or []
    rollouts = [f"{r['rollout']:g}%" for r in rules if "rollout" in r]
    splits = [
        "split " + "/".join(f"{v}:{w:g}" for v, w in r["split"].items())
        for r in rules
        if "split" in r
    ]
    extra = ", ".join(rollouts + splits)
    state = "on " if flag.get("enabled") else "off"
    return f"{flag['key']:<32} {state} {flag.get('type', 'boolean'):<8} v{flag['version']:<6} {len(rules)} rules {extra}".rstrip()


def _definition(args: argparse.Namespace) -> Any:
    if args.file:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    elif args.definition is not None:
        text = args.definition
    else:
        raise ConfigError("give the definition as JSON or with --file")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"the definition is not valid JSON: {exc}") from None


def _with_rollout(flag: dict[str, Any], percent: float, variant: str | None) -> dict[str, Any]:
    """The definition with its first rollout rule at ``percent`` (one is added if there is none)."""
    rules = [dict(rule) for rule in flag.get("rules") or []]
    for rule in rules:
        if "rollout" in rule and (variant is None or rule.get("variant") == variant):
            rule["rollout"] = percent
            break
    else:
        rules.append({"variant": variant or "on", "rollout": percent})
    definition = {k: v for k, v in flag.items() if k not in ("key", "version")}
    definition["rules"] = rules
    return definition


async def _run(args: argparse.Namespace) -> int:
    client: _Remote | _Local = _Remote(args.url, args.token) if args.url else _Local(args)
    try:
        return await _command(client, args)
    finally:
        await client.aclose()


async def _command(client: _Remote | _Local, args: argparse.Namespace) -> int:
    action = args.flags_command
    if action == "list":
        status, body = await client.call("GET", "/admin/flags")
        if status != 200:
            return _fail(status, body)
        for flag in body["flags"].values():
            print(_summary(flag))
        print(f"({len(body['flags'])} flags, version {body['version']})")
        return 0
    if action == "history":
        path = f"/admin/flags/{args.key}/history" if args.key else "/admin/audit"
        status, body = await client.call("GET", f"{path}?limit={args.limit}")
        if status != 200:
            return _fail(status, body)
        for entry in body["entries"]:
            when = datetime.fromtimestamp(entry["at"] / 1000, UTC).isoformat(timespec="seconds")
            print(
                f"#{entry['id']} {when} {entry['actor']} {entry['action']} {entry['flag']} v{entry['version']}"
            )
        return 0
    key = args.key
    if action == "get":
        status, body = await client.call("GET", f"/admin/flags/{key}")
        if status != 200:
            return _fail(status, body)
        print(json.dumps(body["flag"], indent=2, sort_keys=True))
        return 0
    if action in ("enable", "disable"):
        status, body = await client.call(
            "PATCH", f"/admin/flags/{key}", {"enabled": action == "enable"}
        )
    elif action == "set":
        definition = _definition(args)
        headers: dict[str, str] = {}
        if args.if_match:
            headers["if-match"] = args.if_match
        else:
            found, current = await client.call("GET", f"/admin/flags/{key}")
            headers = (
                {"if-match": str(current["flag"]["version"])}
                if found == 200
                else {"if-none-match": "*"}
            )
        status, body = await client.call("PUT", f"/admin/flags/{key}", definition, headers)
    else:  # rollout: read, change, write back with If-Match (a concurrent change is refused)
        found, current = await client.call("GET", f"/admin/flags/{key}")
        if found != 200:
            return _fail(found, current)
        definition = _with_rollout(current["flag"], args.percent, args.variant)
        status, body = await client.call(
            "PUT", f"/admin/flags/{key}", definition, {"if-match": str(current["flag"]["version"])}
        )
    if status not in (200, 201):
        return _fail(status, body)
    print(_summary(body["flag"]))
    return 0
