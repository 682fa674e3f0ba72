"""The import rules that keep app/ deployable to Cloudflare, checked with ast."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
FORBIDDEN_IN_APP = ("starlette", "uvicorn", "aiosqlite", "boto3", "botocore", "redis", "sqlite3")


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_app_imports_no_server_storage_or_backend_module() -> None:
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if (
                top in FORBIDDEN_IN_APP
                or ".backends" in name
                or name.startswith("primitives.runtime")
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
            if name.startswith("primitives") and path.name != "_runtime.py":
                offenders.append(f"{path.relative_to(ROOT)}: {name} (use app._runtime)")
    assert offenders == []


def test_only_the_runtime_package_imports_starlette_and_uvicorn() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "primitives").rglob("*.py"))
        if "runtime" not in path.relative_to(ROOT / "primitives").parts
        for name in imports_of(path)
        if name.split(".")[0] in ("starlette", "uvicorn")
    ]
    assert offenders == []


def test_bindings_never_import_concrete_backends() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "primitives").rglob("binding.py"))
        for name in imports_of(path)
        if ".backends." in name
    ]
    assert offenders == []


def test_layering_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import starlette.applications\nfrom primitives.kv.backends import sqlite\n")
    assert imports_of(bad) == ["starlette.applications", "primitives.kv.backends"]
