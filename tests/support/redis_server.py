"""A throwaway ``redis-server`` on a free 127.0.0.1 port, for any suite that needs Redis.

Use the ``redis_server`` fixture (session-scoped; skipped via ``skip_or_fail`` when the binary is
missing, so CI fails instead) or the :class:`RedisServer` launcher directly (it can be stopped and
restarted on the same port, to test a Redis that goes away mid-run)::

    # conftest.py
    from tests.support.redis_server import redis_server  # noqa: F401  (re-export the fixture)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import free_port, skip_or_fail

__all__ = ["RedisServer", "redis_server", "redis_server_binary"]

_START_TIMEOUT_S = 10.0


def redis_server_binary() -> str | None:
    """``$EDGEROOM_REDIS_SERVER`` or ``redis-server`` on PATH (or /usr/bin), else None."""
    explicit = os.environ.get("EDGEROOM_REDIS_SERVER")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


class RedisServer:
    """One redis-server process: no persistence, bound to 127.0.0.1 only."""

    def __init__(self, binary: str, directory: Path, port: int | None = None) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.directory / f"redis-{self.port}.log").open("ab")
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--daemonize", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.ping():
                return
            time.sleep(0.02)
        output = (self.directory / f"redis-{self.port}.log").read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{output}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server for the whole session (tests isolate themselves by key prefix)."""
    binary = redis_server_binary()
    if binary is None:
        skip_or_fail("redis-server is not installed (apt-get install redis-server)")
        raise AssertionError("unreachable")
    with tempfile.TemporaryDirectory(prefix="edgeroom-redis-") as directory:
        server = RedisServer(binary, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()
