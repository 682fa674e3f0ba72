"""The edgeroom command: version, help, serve's options and configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from primitives import __version__
from primitives.cli import build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"edgeroom {__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


def test_serve_options() -> None:
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "9000", "--data-dir", "/data"]
    )
    assert (args.host, args.port, args.data_dir, args.config) == (
        "0.0.0.0",
        9000,
        "/data",
        "wrangler.toml",
    )


def test_serve_with_a_broken_config_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wrangler.toml").write_text('name = "x"\n')
    assert main(["serve", "--config", str(tmp_path / "wrangler.toml")]) == 2
    assert "configuration error" in capsys.readouterr().err


def test_serve_var_sets_vars_as_wrangler_dev_does(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["serve", "--var", "RATE_LIMIT_IP:off", "--var", "URL:http://x:1"]
    )
    assert dict(args.var) == {"RATE_LIMIT_IP": "off", "URL": "http://x:1"}
    assert build_parser().parse_args(["serve"]).var == []
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--var", "NOVALUE"])
    assert "expected KEY:VALUE" in capsys.readouterr().err
