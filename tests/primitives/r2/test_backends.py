"""``open_r2_backend``: the one URL -> backend mapping."""

from __future__ import annotations

import pytest

from primitives.errors import ConfigError, UnsupportedBackend
from primitives.r2 import open_r2_backend
from primitives.r2.backends.file import FileR2Backend
from primitives.r2.backends.memory import MemoryR2Backend
from primitives.r2.backends.s3 import S3R2Backend


def test_open_r2_backend_maps_schemes(tmp_path) -> None:
    assert isinstance(open_r2_backend("memory:"), MemoryR2Backend)
    assert isinstance(open_r2_backend(f"file://{tmp_path}/r2"), FileR2Backend)
    assert isinstance(open_r2_backend("s3://bucket?endpoint_url=http://127.0.0.1:9"), S3R2Backend)
    assert not (tmp_path / "r2").exists()


def test_open_r2_backend_rejects_unknown_scheme() -> None:
    with pytest.raises(UnsupportedBackend) as info:
        open_r2_backend("gcs://bucket")
    assert str(info.value) == "unsupported backend 'gcs' for R2: gcs://bucket"


@pytest.mark.parametrize("url", ["file:///", "file://host/dir"])
def test_open_r2_backend_rejects_bad_file_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_r2_backend(url)


async def test_build_env_gives_a_file_bucket_under_the_data_dir(tmp_path, fake_clock) -> None:
    from primitives.env import build_env
    from primitives.r2 import R2Bucket

    (tmp_path / "wrangler.toml").write_text(
        'name = "t"\nmain = "worker.py"\n\n[[r2_buckets]]\nbinding = "UPLOADS"\nbucket_name = "up"\n'
    )
    (tmp_path / "worker.py").write_text("")
    env = build_env(
        tmp_path / "wrangler.toml", data_dir=tmp_path / "data", environ={}, clock=fake_clock
    )
    bucket = env.UPLOADS
    assert isinstance(bucket, R2Bucket) and isinstance(bucket.backend, FileR2Backend)
    assert not (tmp_path / "data").exists()  # no I/O until first use
    await bucket.put("k", "v")
    assert (tmp_path / "data" / "r2" / "up" / "index.sqlite3").exists()
    await env.aclose()
