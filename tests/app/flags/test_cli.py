"""``edgeroom flags`` against the local data directory and against a running server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from primitives.cli import main as edgeroom
from primitives.runtime import create_app, serve_in_thread

ROOT = Path(__file__).parents[3]
CONFIG = str(ROOT / "wrangler.toml")
TOKEN = "cli-operator-token-0123456789abcdef"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert edgeroom(["migrate", "--config", CONFIG, "--data-dir", str(tmp_path)]) == 0
    return tmp_path


def flags(data_dir: Path, *args: str) -> int:
    return edgeroom(["flags", "--config", CONFIG, "--data-dir", str(data_dir), *args])


def test_flags_commands_on_the_local_data_directory(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert flags(data_dir, "set", "new-composer", '{"enabled": false, "description": "x"}') == 0
    assert flags(data_dir, "enable", "new-composer") == 0
    assert flags(data_dir, "rollout", "new-composer", "25") == 0
    assert flags(data_dir, "rollout", "new-composer", "30") == 0
    capsys.readouterr()
    assert flags(data_dir, "get", "new-composer") == 0
    flag = json.loads(capsys.readouterr().out)
    assert (flag["enabled"], flag["version"], flag["rules"]) == (
        True,
        4,
        [{"variant": "on", "rollout": 30}],
    )
    assert flags(data_dir, "disable", "new-composer") == 0
    assert flags(data_dir, "list") == 0
    assert "new-composer" in capsys.readouterr().out
    assert flags(data_dir, "history", "new-composer") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and " operator update new-composer v5" in lines[0]
    assert " operator create new-composer v1" in lines[-1]


def test_flags_commands_refuse_bad_input_with_the_servers_message(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert flags(data_dir, "get", "missing") == 1
    assert "404 unknown_flag: no flag named 'missing'" in capsys.readouterr().err
    assert flags(data_dir, "set", "f", '{"enabled": true}') == 0
    assert flags(data_dir, "rollout", "f", "101") == 1
    assert "400 invalid_flag: rules[0].rollout: must be a number from 0 to 100" in (
        capsys.readouterr().err
    )
    assert flags(data_dir, "set", "f", "{not json") == 2
    assert flags(data_dir, "set", "f", '{"enabled": false}', "--if-match", "9") == 1
    assert "412 stale_version" in capsys.readouterr().err


@pytest.fixture
def server(data_dir: Path) -> Iterator[str]:
    app = create_app(CONFIG, data_dir=data_dir, vars={"OPERATOR_TOKEN": TOKEN})
    with serve_in_thread(app) as url:
        yield url


def test_flags_commands_against_a_running_server(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = ["flags", "--config", CONFIG, "--url", server]
    assert edgeroom([*remote, "--token", TOKEN, "set", "f", '{"enabled": true}']) == 0
    assert edgeroom([*remote, "--token", TOKEN, "disable", "f"]) == 0
    capsys.readouterr()
    assert edgeroom([*remote, "--token", TOKEN, "get", "f"]) == 0
    assert json.loads(capsys.readouterr().out)["enabled"] is False
    assert edgeroom([*remote, "--token", "wrong-token-0123456789abcdef", "list"]) == 1
    assert "401 bad_credentials" in capsys.readouterr().err
    assert edgeroom([*remote, "list"]) == 1
    assert "401 unauthenticated" in capsys.readouterr().err
