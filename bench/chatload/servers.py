"""Start each server under test as its own process on a free 127.0.0.1 port, pinned, and stop it.

* ``edgeroom``: ``edgeroom migrate`` then ``edgeroom serve`` on a fresh data directory (the
  embedded default storage), with the chat rate limits turned off by ``--var`` (every load client
  comes from 127.0.0.1; docs/protocol.md, "Limits").
* ``raw`` and ``socketio``: the peers in :mod:`bench.chatload.peers`.

A server that exits or does not listen in time is a :class:`ServerFailed` carrying the end of
its output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .system import Pinning, cpu_seconds, rss_kib

__all__ = [
    "EDGEROOM_VARS",
    "ROOT",
    "OPTIONAL_SERVERS",
    "SERVERS",
    "ServerFailed",
    "ServerProcess",
    "free_port",
    "running",
    "start_server",
]

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SERVERS = ("edgeroom", "raw", "socketio")
#: Run only when asked for (``--servers``): the bare ASGI app on uvicorn (uvicorn's own cost).
OPTIONAL_SERVERS = ("uvicorn",)
#: What the harness sets for edgeroom, and says so in its output.
EDGEROOM_VARS = {
    "RATE_LIMIT_CONNECTION": "off",
    "RATE_LIMIT_USER": "off",
    "RATE_LIMIT_IP": "off",
}


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


@dataclass
class ServerProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServerFailed(
                f"{self.name} exited with {self.process.returncode}:\n{_tail(self.log_path)}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _edgeroom_bin() -> str:
    candidate = Path(sys.executable).with_name("edgeroom")
    if candidate.exists():
        return str(candidate)
    raise ServerFailed(f"edgeroom is not installed beside {sys.executable} (run make dev)")


def _command(name: str, port: int, data_dir: Path) -> list[str]:
    if name == "edgeroom":
        config = str(ROOT / "wrangler.toml")
        limits = [
            arg for key, value in EDGEROOM_VARS.items() for arg in ("--var", f"{key}:{value}")
        ]
        return [
            _edgeroom_bin(),
            "serve",
            "--config",
            config,
            "--data-dir",
            str(data_dir),
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            *limits,
        ]
    if name == "raw":
        return [
            sys.executable,
            "-m",
            "bench.chatload.peers.raw",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
    if name == "uvicorn":
        return [
            sys.executable,
            "-m",
            "bench.chatload.peers.bare_asgi",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
    if name == "socketio":
        return [
            sys.executable,
            "-m",
            "bench.chatload.peers.sio",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
    known = ", ".join(SERVERS + OPTIONAL_SERVERS)
    raise ValueError(f"unknown server {name!r} (expected one of {known})")


def _migrate(data_dir: Path, log_path: Path) -> None:
    with log_path.open("ab") as log:
        done = subprocess.run(
            [
                _edgeroom_bin(),
                "migrate",
                "--config",
                str(ROOT / "wrangler.toml"),
                "--data-dir",
                str(data_dir),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        raise ServerFailed(f"edgeroom migrate failed ({done.returncode}):\n{_tail(log_path)}")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def start_server(name: str, pinning: Pinning, timeout: float = 30.0) -> ServerProcess:
    """Start ``name`` and wait until it accepts connections (or fail with its output)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"chatload-{name}-"))
    log_path = workdir / "server.log"
    data_dir = workdir / "data"
    if name == "edgeroom":
        _migrate(data_dir, log_path)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(key, None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*pinning.server_prefix(), *_command(name, port, data_dir)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the harness, which stops it
        )
    server = ServerProcess(name, port, process, workdir, log_path)
    if name == "edgeroom":
        server.notes.append(
            "chat rate limits off: " + ", ".join(f"{k}={v}" for k, v in EDGEROOM_VARS.items())
        )
    deadline = time.monotonic() + timeout
    while not _listening(port):
        server.check_alive()
        if time.monotonic() > deadline:
            server.stop()
            raise ServerFailed(
                f"{name} did not listen on {HOST}:{port} within {timeout:.0f} s:\n{_tail(log_path)}"
            )
        time.sleep(0.05)
    return server


def _profiler(server: ServerProcess, output: Path) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` attached to the server (when py-spy is installed), writing ``output``."""
    py_spy = Path(sys.executable).with_name("py-spy")
    command = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
    if command is None:
        server.notes.append("not profiled: py-spy is not installed (pip install py-spy)")
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    server.notes.append(f"profiled with py-spy (skews the figures): {output.name}")
    return subprocess.Popen(
        [command, "record", "--nonblocking", "--pid", str(server.pid), "-o", str(output)]
        + (["--format", "raw"] if output.suffix == ".txt" else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def running(name: str, pinning: Pinning, profile: Path | None = None) -> Iterator[ServerProcess]:
    """A started server, stopped (and its data directory removed) on the way out.

    With ``profile`` (an SVG path, or ``.txt`` for raw collapsed stacks), py-spy samples the
    server while it runs.
    """
    server = start_server(name, pinning)
    profiler = _profiler(server, profile) if profile is not None else None
    try:
        yield server
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its flame graph on SIGINT
            try:
                profiler.wait(30)
            except subprocess.TimeoutExpired:
                profiler.kill()
                profiler.wait(5)
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
