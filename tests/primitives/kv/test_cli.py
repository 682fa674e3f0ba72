"""``edgeroom kv ...`` through ``primitives.cli.main``, on a temporary wrangler.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from primitives.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A wrangler.toml declaring a KV binding; returns the ``--config/--data-dir`` arguments."""
    (tmp_path / "worker.py").write_text("")
    (tmp_path / "wrangler.toml").write_text(
        'name = "cli-test"\nmain = "worker.py"\n\n'
        '[[kv_namespaces]]\nbinding = "SESSIONS"\nid = "sessions-id"\n'
    )
    for name in ("EDGEROOM_SESSIONS_URL", "EDGEROOM_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return ["--config", str(tmp_path / "wrangler.toml"), "--data-dir", str(tmp_path / "data")]


def test_key_put_then_get_text(project: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kv", "key", "put", "SESSIONS", "greeting", "héllo", *project]) == 0
    assert (
        'Writing the value "héllo" to key "greeting" on binding SESSIONS.'
        in capsys.readouterr().out
    )
    assert main(["kv", "key", "get", "SESSIONS", "greeting", "--text", *project]) == 0
    assert capsys.readouterr().out == "héllo\n"


def test_key_put_stores_in_data_dir(project: list[str], tmp_path: Path) -> None:
    assert main(["kv", "key", "put", "SESSIONS", "k", "v", *project]) == 0
    assert (tmp_path / "data" / "kv" / "SESSIONS.sqlite3").exists()


def test_key_get_raw_bytes_from_path(
    project: list[str], tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01\xff")
    assert main(["kv", "key", "put", "SESSIONS", "blob", "--path", str(blob), *project]) == 0
    capsysbinary.readouterr()
    assert main(["kv", "key", "get", "SESSIONS", "blob", *project]) == 0
    assert capsysbinary.readouterr().out == b"\x00\x01\xff"


def test_key_get_missing_says_value_not_found(
    project: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kv", "key", "get", "SESSIONS", "missing", "--text", *project]) == 0
    assert capsys.readouterr().out == "Value not found\n"


def test_key_put_with_metadata_and_ttl_then_list(
    project: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--metadata", '{"user": 7}', "--ttl", "120"]
    assert main(["kv", "key", "put", "SESSIONS", "user:1", "a", *args, *project]) == 0
    assert main(["kv", "key", "put", "SESSIONS", "other", "b", *project]) == 0
    capsys.readouterr()
    assert main(["kv", "key", "list", "SESSIONS", "--prefix", "user:", *project]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["name"] for k in listed] == ["user:1"]
    assert listed[0]["metadata"] == {"user": 7}
    assert isinstance(listed[0]["expiration"], int)
    assert main(["kv", "key", "get", "SESSIONS", "user:1", "--with-metadata", *project]) == 0
    assert json.loads(capsys.readouterr().out) == {"value": "a", "metadata": {"user": 7}}


def test_key_delete_removes_key(project: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    main(["kv", "key", "put", "SESSIONS", "k", "v", *project])
    assert main(["kv", "key", "delete", "SESSIONS", "k", *project]) == 0
    capsys.readouterr()
    main(["kv", "key", "list", "SESSIONS", *project])
    assert json.loads(capsys.readouterr().out) == []


def test_key_put_invalid_ttl_prints_cloudflare_error(
    project: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kv", "key", "put", "SESSIONS", "k", "v", "--ttl", "30", *project]) == 1
    assert capsys.readouterr().err == (
        "edgeroom: KV PUT failed: 400 Invalid expiration_ttl of 30. "
        "Expiration TTL must be at least 60.\n"
    )


def test_key_put_needs_value_or_path(
    project: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kv", "key", "put", "SESSIONS", "k", *project]) == 1
    assert "give exactly one of VALUE or --path" in capsys.readouterr().err


def test_key_put_bad_metadata_json(project: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kv", "key", "put", "SESSIONS", "k", "v", "--metadata", "{", *project]) == 1
    assert "--metadata is not valid JSON" in capsys.readouterr().err


def test_key_get_unknown_binding_is_config_error(
    project: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kv", "key", "get", "NOPE", "k", *project]) == 2
    assert "no binding named 'NOPE'" in capsys.readouterr().err


def test_bulk_put_writes_pairs(
    project: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "AAH/", "base64": True},
        {"key": "c", "value": "3", "metadata": {"m": 1}, "expiration_ttl": 300},
    ]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(pairs))
    assert main(["kv", "bulk", "put", "SESSIONS", str(path), *project]) == 0
    assert "Success! Wrote 3 key-value pairs" in capsys.readouterr().out
    main(["kv", "key", "list", "SESSIONS", *project])
    listed = json.loads(capsys.readouterr().out)
    assert [k["name"] for k in listed] == ["a", "b", "c"]
    assert listed[2]["metadata"] == {"m": 1}


def test_bulk_put_rejects_malformed_file(
    project: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([{"key": "a"}]))
    assert main(["kv", "bulk", "put", "SESSIONS", str(path), *project]) == 1
    assert 'entry 0 needs string "key" and "value"' in capsys.readouterr().err
    path.write_text("{not json")
    assert main(["kv", "bulk", "put", "SESSIONS", str(path), *project]) == 1
    assert "is not valid JSON" in capsys.readouterr().err


def test_key_commands_use_backend_from_environment(
    project: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere.sqlite3"
    monkeypatch.setenv("EDGEROOM_SESSIONS_URL", f"sqlite:///{other}")
    assert main(["kv", "key", "put", "SESSIONS", "k", "v", *project]) == 0
    assert other.exists()
    assert not (tmp_path / "data" / "kv" / "SESSIONS.sqlite3").exists()
