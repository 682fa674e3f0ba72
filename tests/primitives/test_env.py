"""build_env: the one public way to get an env from wrangler.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from primitives import ConfigError, build_env


def test_env_exposes_vars_and_refuses_writes(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text('main = "w.py"\n[vars]\nAPP = "demo"\n')
    env = build_env(tmp_path / "wrangler.toml", environ={})
    assert env.APP == "demo" and env["APP"] == "demo" and "APP" in env
    assert env.data_dir == (tmp_path / ".edgeroom").resolve()
    with pytest.raises(AttributeError, match="env has no binding or var 'NOPE'"):
        _ = env.NOPE
    with pytest.raises(AttributeError, match="read-only"):
        env.APP = "x"


def test_vars_can_be_added_or_replaced_for_tests(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text(
        'main = "w.py"\n[vars]\nAPP = "demo"\n[[kv_namespaces]]\nbinding = "KV"\nid = "k"\n'
    )
    env = build_env(tmp_path / "wrangler.toml", environ={}, vars={"APP": "test", "EXTRA": 3})
    assert (env.APP, env.EXTRA) == ("test", 3)
    with pytest.raises(ConfigError, match="var 'KV' has the same name as a binding"):
        build_env(tmp_path / "wrangler.toml", environ={}, vars={"KV": 1})


def test_data_dir_from_argument_or_environment(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text('main = "w.py"\n')
    assert build_env(
        tmp_path / "wrangler.toml", environ={"EDGEROOM_DATA_DIR": str(tmp_path / "d")}
    ).data_dir == (tmp_path / "d")
    assert (
        build_env(tmp_path / "wrangler.toml", data_dir=tmp_path / "e", environ={}).data_dir
        == tmp_path / "e"
    )


def test_durable_object_class_missing_from_main_is_reported(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text(
        'main = "edgeroom_test_main_missing.py"\n[[durable_objects.bindings]]\nname = "R"\nclass_name = "Room"\n'
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Room"]\n'
    )
    (tmp_path / "edgeroom_test_main_missing.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match="class 'Room' is not defined in"):
        build_env(tmp_path / "wrangler.toml", environ={})


def test_missing_main_module_is_reported(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text(
        'main = "nowhere.py"\n[[durable_objects.bindings]]\nname = "R"\nclass_name = "Room"\n'
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Room"]\n'
    )
    with pytest.raises(ConfigError, match=r"main module 'nowhere\.py' does not exist"):
        build_env(tmp_path / "wrangler.toml", environ={})
