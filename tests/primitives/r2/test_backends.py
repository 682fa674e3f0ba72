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
