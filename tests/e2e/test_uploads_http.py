"""Uploads end to end: real uvicorn, real HTTP clients (httpx and a raw socket), R2 on files and on S3 (moto_server)."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from primitives.cli import main as edgeroom
from primitives.runtime import create_app, serve_in_thread
from tests.support.moto_server import moto_endpoint, s3_client, s3_url

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "wrangler.toml"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    yield from moto_endpoint()


@pytest.fixture(params=["file", "s3"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    urls: dict[str, str] = {}
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto")
        bucket = f"uploads-{abs(hash(str(tmp_path))) % 10**8}"
        s3_client(endpoint).create_bucket(Bucket=bucket)
        urls["UPLOADS"] = s3_url(endpoint, bucket)
    assert edgeroom(["migrate", "--config", str(CONFIG), "--data-dir", str(tmp_path)]) == 0
    app = create_app(CONFIG, data_dir=tmp_path, urls=urls, vars={"PASSWORD_ITERATIONS": "1000"})
    with serve_in_thread(app) as url:
        yield url


def client(url: str, username: str = "alice") -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    response = http.post("/api/auth/signup", json={"username": username, "password": "hunter22!"})
    assert response.status_code == 201, response.text
    http.headers["authorization"] = f"Bearer {response.json()['token']}"
    http.cookies.clear()
    return http


def jpeg(width: int, height: int) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 0.0)})
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_raw_upload_download_and_delete(server: str) -> None:
    http = client(server)
    data = jpeg(1500, 1000)

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length
        for at in range(0, len(data), 4096):
            yield data[at : at + 4096]

    response = http.post(
        "/api/uploads?name=..%2F..%2Fphoto.jpg",
        content=stream(),
        headers={"content-type": "image/jpeg"},
    )
    assert response.status_code == 201, response.text
    upload = response.json()["upload"]
    assert (upload["name"], upload["sha256"], upload["width"]) == (
        "photo.jpg",
        hashlib.sha256(data).hexdigest(),
        1500,
    )
    original = http.get(upload["links"]["file"])
    assert original.content == data and original.headers["content-type"] == "image/jpeg"
    assert original.headers["x-content-type-options"] == "nosniff"
    small = http.get(upload["links"]["variants"]["256"])
    assert Image.open(io.BytesIO(small.content)).size == (256, 171)
    assert b"Exif" not in small.content[:200]
    part = http.get(upload["links"]["file"], headers={"range": "bytes=100-199"})
    assert (part.status_code, part.content) == (206, data[100:200])
    cached = http.get(upload["links"]["file"], headers={"if-none-match": original.headers["etag"]})
    assert cached.status_code == 304
    other = client(server, "bob")
    assert other.delete(upload["links"]["self"]).json()["error"]["code"] == "forbidden"
    assert http.delete(upload["links"]["self"]).status_code == 204
    assert http.get(upload["links"]["file"]).status_code == 404


def test_form_upload_and_bad_input(server: str) -> None:
    http = client(server)
    response = http.post(
        "/api/uploads", files={"file": ("notes.txt", b"hello\nworld\n", "text/plain")}
    )
    assert response.status_code == 201, response.text
    assert response.json()["upload"]["kind"] == "text"
    spoofed = http.post("/api/uploads", files={"file": ("x.png", b"%PDF-1.4 ...", "image/png")})
    assert (spoofed.status_code, spoofed.json()["error"]["code"]) == (415, "type_mismatch")
    svg = http.post(
        "/api/uploads", content=b"<svg onload=alert(1)>", headers={"content-type": "image/svg+xml"}
    )
    assert (svg.status_code, svg.json()["error"]["code"]) == (415, "unsupported_type")
    big = http.post("/api/uploads", content=b"a" * (25 * MiB + 1))
    assert (big.status_code, big.json()["error"]["code"]) == (413, "too_large")
    anonymous = httpx.post(server + "/api/uploads", content=b"hi")
    assert anonymous.status_code == 401
    assert [u["name"] for u in http.get("/api/uploads").json()["uploads"]] == ["notes.txt"]


def send_truncated(
    url: str, path: str, token: str, declared: int, sent: bytes, method: str = "POST"
) -> None:
    """A raw HTTP request whose body stops short of its Content-Length before the socket closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode()
            + sent
        )
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


def test_resumed_multipart_upload(server: str) -> None:
    http = client(server)
    token = http.headers["authorization"].removeprefix("Bearer ")
    part_size = 5 * MiB
    data = (b"0123456789abcdef\n" * (part_size // 17 + 1))[:part_size] * 2 + b"tail\n" * 1000
    created = http.post("/api/uploads/multipart", json={"name": "big.log", "part_size": part_size})
    assert created.status_code == 201, created.text
    file_id = created.json()["upload"]["id"]
    base = f"/api/uploads/multipart/{file_id}"
    assert http.put(f"{base}/parts/1", content=data[:part_size]).status_code == 200
    # The connection drops halfway through part 2: nothing of it is recorded.
    send_truncated(
        server, f"{base}/parts/2", token, part_size, data[part_size : part_size + MiB], "PUT"
    )
    status = http.get(base).json()
    assert [p["part"] for p in status["parts"]] == [1]
    # The client resumes with what is missing.
    assert http.put(f"{base}/parts/2", content=data[part_size : 2 * part_size]).status_code == 200
    assert http.put(f"{base}/parts/3", content=data[2 * part_size :]).status_code == 200
    done = http.post(f"{base}/complete")
    assert done.status_code == 200, done.text
    assert done.json()["upload"]["size"] == len(data)
    with http.stream("GET", f"/files/{file_id}") as response:
        digest = hashlib.sha256()
        for chunk in response.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_truncated_raw_upload_leaves_nothing(server: str) -> None:
    http = client(server)
    token = http.headers["authorization"].removeprefix("Bearer ")
    send_truncated(server, "/api/uploads?name=cut.txt", token, 100_000, b"hello " * 1000)
    listing = http.get("/api/uploads").json()
    assert (listing["uploads"], listing["used_bytes"]) == ([], 0)


def test_raw_upload_over_one_part_streams_through_r2_multipart(server: str) -> None:
    http = client(server)
    data = b"0123456789abcdef" * (9 * MiB // 16)  # 9 MiB of text: two 8 MiB-part R2 upload
    response = http.post("/api/uploads?name=big.txt", content=data)
    assert response.status_code == 201, response.text
    upload = response.json()["upload"]
    assert (upload["size"], upload["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    with http.stream("GET", upload["links"]["file"]) as download:
        assert download.headers["etag"].endswith('-2"')
        assert hashlib.sha256(download.read()).hexdigest() == upload["sha256"]
