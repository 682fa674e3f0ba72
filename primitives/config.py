"""Read ``wrangler.toml``: the one declaration of bindings, for Cloudflare and for local runs.

Only the local choices live outside it: each binding's backend URL comes from the environment
variable ``EDGEROOM_<BINDING>_URL`` (for example ``EDGEROOM_SESSIONS_URL=redis://127.0.0.1:6379/0``)
or from an explicit mapping, and defaults to an embedded store under the data directory.
Secrets come from ``.dev.vars`` beside ``wrangler.toml`` (wrangler's convention) or the process
environment. Every mistake is a :class:`~primitives.errors.ConfigError` naming what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

__all__ = [
    "BindingKind",
    "BindingSpec",
    "WorkerConfig",
    "default_backend_url",
    "load_config",
    "parse_dev_vars",
    "resolve_backend_urls",
    "resolve_vars",
]

BindingKind = Literal["kv", "d1", "r2", "durable_object"]
_BINDING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
URL_ENV_PREFIX = "EDGEROOM_"
URL_ENV_SUFFIX = "_URL"


@dataclass(frozen=True)
class BindingSpec:
    """One binding declared in wrangler.toml."""

    kind: BindingKind
    name: str
    #: the resource it points at: KV namespace id, D1 database name, R2 bucket name, DO class name
    resource: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerConfig:
    """What wrangler.toml declares, checked."""

    path: Path
    name: str
    main: str
    compatibility_date: str
    compatibility_flags: tuple[str, ...]
    vars: Mapping[str, Any]
    bindings: tuple[BindingSpec, ...]
    crons: tuple[str, ...]
    assets_dir: Path | None
    durable_object_migrations: tuple[Mapping[str, Any], ...]
    required_secrets: tuple[str, ...]

    @property
    def root(self) -> Path:
        """The folder holding wrangler.toml; relative paths in it are relative to this."""
        return self.path.parent

    def binding(self, name: str) -> BindingSpec:
        for spec in self.bindings:
            if spec.name == name:
                return spec
        raise ConfigError(f"no binding named {name!r} in {self.path}")

    def of_kind(self, kind: BindingKind) -> tuple[BindingSpec, ...]:
        return tuple(spec for spec in self.bindings if spec.kind == kind)

    @property
    def main_module(self) -> str:
        """``main`` as a dotted module name, relative to :attr:`root` (``app/worker.py`` -> ``app.worker``)."""
        main = self.main
        if main.endswith(".py"):
            main = main[:-3]
        return ".".join(part for part in Path(main).parts if part not in (".", ""))


def load_config(path: str | os.PathLike[str] = "wrangler.toml") -> WorkerConfig:
    """Parse and check a wrangler.toml file."""
    config_path = Path(path).resolve()
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {config_path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path} is not valid TOML: {exc}") from exc

    where = str(config_path)
    main = _string(raw, "main", where, required=True) or ""
    bindings: list[BindingSpec] = []
    for table in _tables(raw, "kv_namespaces", where):
        bindings.append(
            BindingSpec("kv", _name(table, "binding", where), _resource(table, "id", where), table)
        )
    for table in _tables(raw, "d1_databases", where):
        resource = table.get("database_name") or table.get("database_id")
        if not isinstance(resource, str) or not resource:
            raise ConfigError(
                f"{where}: d1_databases entry {table.get('binding')!r} needs database_name"
            )
        bindings.append(BindingSpec("d1", _name(table, "binding", where), resource, table))
    for table in _tables(raw, "r2_buckets", where):
        bindings.append(
            BindingSpec(
                "r2", _name(table, "binding", where), _resource(table, "bucket_name", where), table
            )
        )
    durable = raw.get("durable_objects", {})
    if not isinstance(durable, dict):
        raise ConfigError(f"{where}: [durable_objects] must be a table")
    for table in _tables(durable, "bindings", where, label="durable_objects.bindings"):
        if "script_name" in table:
            raise ConfigError(
                f"{where}: durable object binding {table.get('name')!r} uses script_name; "
                "bindings to another Worker's classes are not supported locally"
            )
        bindings.append(
            BindingSpec(
                "durable_object",
                _name(table, "name", where),
                _resource(table, "class_name", where),
                table,
            )
        )

    seen: set[str] = set()
    for spec in bindings:
        if spec.name in seen:
            raise ConfigError(f"{where}: binding name {spec.name!r} is declared more than once")
        seen.add(spec.name)

    vars_table = raw.get("vars", {})
    if not isinstance(vars_table, dict):
        raise ConfigError(f"{where}: [vars] must be a table")
    for name in vars_table:
        if name in seen:
            raise ConfigError(f"{where}: var {name!r} has the same name as a binding")

    triggers = raw.get("triggers", {})
    crons = triggers.get("crons", []) if isinstance(triggers, dict) else None
    if not isinstance(crons, list) or not all(isinstance(c, str) for c in crons):
        raise ConfigError(f"{where}: [triggers] crons must be a list of strings")

    assets_dir: Path | None = None
    assets = raw.get("assets")
    if assets is not None:
        if not isinstance(assets, dict) or not isinstance(assets.get("directory"), str):
            raise ConfigError(f"{where}: [assets] needs a directory")
        assets_dir = (config_path.parent / assets["directory"]).resolve()

    secrets = raw.get("secrets", {})
    required = secrets.get("required", []) if isinstance(secrets, dict) else None
    if not isinstance(required, list) or not all(isinstance(s, str) for s in required):
        raise ConfigError(f"{where}: [secrets] required must be a list of names")

    migrations = raw.get("migrations", [])
    if not isinstance(migrations, list) or not all(isinstance(m, dict) for m in migrations):
        raise ConfigError(f"{where}: [[migrations]] must be an array of tables")
    _check_durable_object_migrations(bindings, migrations, where)

    flags = raw.get("compatibility_flags", [])
    return WorkerConfig(
        path=config_path,
        name=_string(raw, "name", where) or config_path.parent.name,
        main=main,
        compatibility_date=_string(raw, "compatibility_date", where) or "",
        compatibility_flags=tuple(flags) if isinstance(flags, list) else (),
        vars=dict(vars_table),
        bindings=tuple(bindings),
        crons=tuple(crons),
        assets_dir=assets_dir,
        durable_object_migrations=tuple(migrations),
        required_secrets=tuple(required),
    )


def _check_durable_object_migrations(
    bindings: list[BindingSpec], migrations: list[dict[str, Any]], where: str
) -> None:
    """Every bound Durable Object class must be created by a migration, as wrangler insists."""
    created: set[str] = set()
    for migration in migrations:
        for key in ("new_classes", "new_sqlite_classes"):
            created.update(migration.get(key, []))
        for rename in migration.get("renamed_classes", []):
            created.discard(rename.get("from"))
            created.add(rename.get("to"))
        created.difference_update(migration.get("deleted_classes", []))
    for spec in bindings:
        if spec.kind == "durable_object" and spec.resource not in created:
            raise ConfigError(
                f"{where}: durable object class {spec.resource!r} (binding {spec.name!r}) is not "
                "created by any [[migrations]] entry (add it to new_sqlite_classes)"
            )


def _tables(
    raw: Mapping[str, Any], key: str, where: str, label: str | None = None
) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(
            f"{where}: {label or key} must be an array of tables ([[{label or key}]])"
        )
    return value


def _name(table: Mapping[str, Any], key: str, where: str) -> str:
    name = table.get(key)
    if not isinstance(name, str) or not _BINDING_NAME.match(name):
        raise ConfigError(
            f"{where}: binding name {name!r} is not a valid identifier (field {key!r})"
        )
    return name


def _resource(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"{where}: binding {table.get('binding') or table.get('name')!r} needs {key!r}"
        )
    return value


def _string(raw: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}: {key!r} is required")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r} must be a string")
    return value


# ---------------------------------------------------------------------------------------------
# Backend URLs


def default_backend_url(spec: BindingSpec, data_dir: Path) -> str:
    """The embedded default store for a binding, under ``data_dir``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.resource)
    if spec.kind == "kv":
        return f"sqlite:///{data_dir / 'kv' / spec.name}.sqlite3"
    if spec.kind == "d1":
        return f"sqlite:///{data_dir / 'd1' / safe}.sqlite3"
    if spec.kind == "r2":
        return f"file:///{data_dir / 'r2' / safe}"
    return f"sqlite:///{data_dir / 'do' / safe}"


def url_env_name(binding: str) -> str:
    return f"{URL_ENV_PREFIX}{binding.upper()}{URL_ENV_SUFFIX}"


def resolve_backend_urls(
    config: WorkerConfig,
    data_dir: Path,
    urls: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Pick each binding's backend URL: explicit ``urls``, then ``EDGEROOM_<BINDING>_URL``, then the default.

    An explicit URL or environment variable that names no declared binding is an error, so a
    typo never silently falls back to the default store.
    """
    environ = os.environ if environ is None else environ
    urls = dict(urls or {})
    names = {spec.name for spec in config.bindings}
    unknown = sorted(set(urls) - names)
    if unknown:
        raise ConfigError(
            f"backend URL given for {', '.join(map(repr, unknown))}, which is not a binding in "
            f"{config.path} (bindings: {', '.join(sorted(names)) or 'none'})"
        )
    by_env = {url_env_name(name): name for name in names}
    reserved = {"EDGEROOM_DATA_DIR_URL"}
    for key in environ:
        if (
            key.startswith(URL_ENV_PREFIX)
            and key.endswith(URL_ENV_SUFFIX)
            and key not in by_env
            and key not in reserved
        ):
            raise ConfigError(
                f"environment variable {key} names no binding in {config.path} "
                f"(expected one of: {', '.join(sorted(by_env)) or 'none'})"
            )
    resolved: dict[str, str] = {}
    for spec in config.bindings:
        url = (
            urls.get(spec.name)
            or environ.get(url_env_name(spec.name))
            or default_backend_url(spec, data_dir)
        )
        if ":" not in url:
            raise ConfigError(f"backend URL {url!r} for binding {spec.name!r} has no scheme")
        resolved[spec.name] = url
    return resolved


# ---------------------------------------------------------------------------------------------
# Vars and secrets

_DEV_VAR_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_dev_vars(text: str, where: str = ".dev.vars") -> dict[str, str]:
    """Parse a dotenv-style file (``KEY=value``, quotes, ``#`` comments), as wrangler reads ``.dev.vars``."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DEV_VAR_LINE.match(line)
        if not match:
            raise ConfigError(f"{where}:{number}: expected KEY=value")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def resolve_vars(config: WorkerConfig, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``[vars]`` plus secrets.

    With ``[secrets] required`` declared (wrangler 2026), only those names are read from
    ``.dev.vars`` or the environment, and a missing one is an error. Without it, every key of
    ``.dev.vars`` is added, as wrangler does. ``.dev.vars`` overrides ``[vars]``; the process
    environment overrides ``.dev.vars`` for the names it declares.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = dict(config.vars)
    dev_vars_path = config.root / ".dev.vars"
    dev_vars = (
        parse_dev_vars(dev_vars_path.read_text(encoding="utf-8"), str(dev_vars_path))
        if dev_vars_path.exists()
        else {}
    )
    if config.required_secrets:
        missing = []
        for name in config.required_secrets:
            value = environ.get(name, dev_vars.get(name))
            if value is None:
                missing.append(name)
            else:
                values[name] = value
        if missing:
            raise ConfigError(
                f"missing required secret(s) {', '.join(missing)}: set them in the environment "
                f"or in {dev_vars_path}"
            )
    else:
        values.update(dev_vars)
        for name in list(values):
            if name in environ and name in dev_vars:
                values[name] = environ[name]
    return values
