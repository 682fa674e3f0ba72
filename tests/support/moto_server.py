"""Start a real ``moto_server`` (an S3 imitation) on a free 127.0.0.1 port, for tests and benches.

``with moto_server() as endpoint:`` yields ``http://127.0.0.1:<port>``; the server is stopped
on exit. :func:`moto_endpoint` is the same as a session-scoped pytest fixture body: it calls
``skip_or_fail`` when the binary is missing (CI installs ``moto[server]``, so there it fails).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import Any

from . import free_port, skip_or_fail

__all__ = ["MOTO_MIN_PART_BYTES", "moto_available", "moto_endpoint", "moto_server", "s3_client"]

#: the multipart minimum part size moto_server is started with (R2's 5 MiB is configurable in tests)
MOTO_MIN_PART_BYTES = 50


def moto_available() -> bool:
    return shutil.which("moto_server") is not None


@contextlib.contextmanager
def moto_server(
    *,
    min_part_bytes: int = MOTO_MIN_PART_BYTES,
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> Iterator[str]:
    binary = shutil.which("moto_server")
    if binary is None:
        raise FileNotFoundError("moto_server is not on PATH (pip install 'moto[server]')")
    port = free_port()
    child_env = {
        **os.environ,
        "S3_UPLOAD_PART_MIN_SIZE": str(min_part_bytes),
        "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(16 << 20),
        **(env or {}),
    }
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=child_env,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"moto_server exited with {proc.returncode}: {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not listen on port {port} within {timeout}s"
                    ) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def moto_endpoint() -> Iterator[str]:
    """Body for a session fixture: skip (locally) or fail (CI) without the binary."""
    if not moto_available():
        skip_or_fail("moto_server is not installed (pip install 'moto[server]')")
    with moto_server() as endpoint:
        yield endpoint


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for ``endpoint`` with moto's dummy credentials."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def s3_url(endpoint: str, bucket: str) -> str:
    """The ``s3://`` backend URL for ``bucket`` at ``endpoint`` with moto's dummy credentials."""
    return (
        f"s3://{bucket}?endpoint_url={endpoint}&region=us-east-1"
        "&access_key_id=testing&secret_access_key=testing"
    )


__all__ += ["s3_url"]
