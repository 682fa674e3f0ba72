"""wrangler.toml parsing, backend URL selection, vars and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from primitives.config import load_config, parse_dev_vars, resolve_backend_urls, resolve_vars
from primitives.errors import ConfigError

FULL = """
name = "demo"
main = "src/worker.py"
compatibility_date = "2026-08-01"
compatibility_flags = ["python_workers"]

[vars]
APP_NAME = "demo"
LIMIT = 3

[[kv_namespaces]]
binding = "SESSIONS"
id = "abc"

[[d1_databases]]
binding = "DB"
database_name = "demo-db"
database_id = "00000000-0000-0000-0000-000000000000"

[[r2_buckets]]
binding = "UPLOADS"
bucket_name = "demo-uploads"

[[durable_objects.bindings]]
name = "ROOMS"
class_name = "ChatRoom"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["ChatRoom"]

[triggers]
crons = ["*/5 * * * *"]

[assets]
directory = "public"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wrangler.toml"
    path.write_text(text)
    return path


def test_load_config_reads_every_binding_kind(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.name == "demo"
    assert config.main_module == "src.worker"
    assert [(b.kind, b.name, b.resource) for b in config.bindings] == [
        ("kv", "SESSIONS", "abc"),
        ("d1", "DB", "demo-db"),
        ("r2", "UPLOADS", "demo-uploads"),
        ("durable_object", "ROOMS", "ChatRoom"),
    ]
    assert config.crons == ("*/5 * * * *",)
    assert config.assets_dir == (tmp_path / "public").resolve()
    assert config.vars == {"APP_NAME": "demo", "LIMIT": 3}
    assert config.binding("DB").options["database_id"].startswith("0000")


def test_default_backend_urls_live_under_the_data_dir(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    urls = resolve_backend_urls(config, tmp_path / "data", environ={})
    assert urls == {
        "SESSIONS": f"sqlite:///{tmp_path}/data/kv/SESSIONS.sqlite3",
        "DB": f"sqlite:///{tmp_path}/data/d1/demo-db.sqlite3",
        "UPLOADS": f"file:///{tmp_path}/data/r2/demo-uploads",
        "ROOMS": f"sqlite:///{tmp_path}/data/do/ChatRoom",
    }


def test_environment_and_explicit_urls_override_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    urls = resolve_backend_urls(
        config,
        tmp_path,
        urls={"DB": "memory:"},
        environ={"EDGEROOM_SESSIONS_URL": "redis://127.0.0.1:6379/2"},
    )
    assert urls["SESSIONS"] == "redis://127.0.0.1:6379/2"
    assert urls["DB"] == "memory:"


def test_url_for_an_unknown_binding_is_an_error_naming_it(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    with pytest.raises(ConfigError, match="EDGEROOM_SESION_URL names no binding"):
        resolve_backend_urls(config, tmp_path, environ={"EDGEROOM_SESION_URL": "memory:"})
    with pytest.raises(ConfigError, match="'NOPE', which is not a binding"):
        resolve_backend_urls(config, tmp_path, urls={"NOPE": "memory:"}, environ={})
    with pytest.raises(ConfigError, match="has no scheme"):
        resolve_backend_urls(config, tmp_path, urls={"DB": "just-a-path"}, environ={})


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('name = "x"', "'main' is required"),
        (
            'main = "w.py"\n[[kv_namespaces]]\nbinding = "bad name"\nid = "x"',
            "not a valid identifier",
        ),
        ('main = "w.py"\n[[kv_namespaces]]\nbinding = "KV"', "needs 'id'"),
        (
            'main = "w.py"\n[[kv_namespaces]]\nbinding = "A"\nid = "1"\n[[r2_buckets]]\nbinding = "A"\nbucket_name = "b"',
            "declared more than once",
        ),
        (
            'main = "w.py"\n[[durable_objects.bindings]]\nname = "R"\nclass_name = "Room"',
            "not created by any",
        ),
        ('main = "w.py"\n[triggers]\ncrons = [5]', "crons must be a list of strings"),
        (
            'main = "w.py"\n[vars]\nKV = 1\n[[kv_namespaces]]\nbinding = "KV"\nid = "1"',
            "same name as a binding",
        ),
        ("main = [", "is not valid TOML"),
    ],
)
def test_config_mistakes_are_reported_clearly(tmp_path: Path, snippet: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, snippet))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_renamed_durable_object_class_counts_as_created(tmp_path: Path) -> None:
    text = (
        'main = "w.py"\n[[durable_objects.bindings]]\nname = "R"\nclass_name = "New"\n'
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Old"]\n'
        '[[migrations]]\ntag = "v2"\nrenamed_classes = [{from = "Old", to = "New"}]\n'
    )
    assert load_config(write(tmp_path, text)).binding("R").resource == "New"


def test_parse_dev_vars_handles_quotes_comments_and_export() -> None:
    text = '# comment\nA=1\nexport B="two words"\nC=\'single # kept\'\nD=plain # dropped\nE="line\\nbreak"\n'
    assert parse_dev_vars(text) == {
        "A": "1",
        "B": "two words",
        "C": "single # kept",
        "D": "plain",
        "E": "line\nbreak",
    }
    with pytest.raises(ConfigError, match=r"\.dev\.vars:1: expected KEY=value"):
        parse_dev_vars("not a pair")


def test_dev_vars_override_vars_and_environment_overrides_dev_vars(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'main = "w.py"\n[vars]\nA = "toml"\nB = "toml"\n'))
    (tmp_path / ".dev.vars").write_text("B=dev\nSECRET=s1\n")
    assert resolve_vars(config, environ={}) == {"A": "toml", "B": "dev", "SECRET": "s1"}
    assert resolve_vars(config, environ={"SECRET": "env", "OTHER": "x"})["SECRET"] == "env"


def test_required_secrets_must_be_present(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, 'main = "w.py"\n[secrets]\nrequired = ["API_KEY", "TOKEN"]\n')
    )
    (tmp_path / ".dev.vars").write_text("API_KEY=k\nUNLISTED=x\n")
    with pytest.raises(ConfigError, match="missing required secret\\(s\\) TOKEN"):
        resolve_vars(config, environ={})
    values = resolve_vars(config, environ={"TOKEN": "t"})
    assert values == {
        "API_KEY": "k",
        "TOKEN": "t",
    }  # only the declared names are loaded, as wrangler does
