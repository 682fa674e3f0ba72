"""``S3R2Backend``: URL parsing and the botocore -> R2/BackendError boundary."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from primitives.clock import FakeClock
from primitives.errors import BackendError, ConfigError
from primitives.r2 import EntityTooSmall, InvalidPart, NoSuchUpload, R2Bucket, R2Error
from primitives.r2.backends.s3 import S3R2Backend, _Missing
from tests.support import free_port


def client_error(code: str, status: int = 400, message: str = "boom") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "AnyOperation")


def test_from_url_reads_endpoint_credentials_and_prefix() -> None:
    backend = S3R2Backend.from_url(
        "s3://bkt?endpoint_url=http://127.0.0.1:9000&region=auto&access_key_id=AK&secret_access_key=SK&prefix=p/"
    )
    assert backend._bucket == "bkt" and backend._prefix == "p/"
    assert backend._client_kwargs == {
        "endpoint_url": "http://127.0.0.1:9000",
        "region_name": "auto",
        "aws_access_key_id": "AK",
        "aws_secret_access_key": "SK",
        "aws_session_token": None,
    }


def test_from_url_uses_environment_credentials_when_query_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    backend = S3R2Backend.from_url("s3://bkt")
    assert backend._client_kwargs == {"endpoint_url": None, "region_name": "eu-west-1"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "names no bucket"),
        ("s3://bkt?endpointurl=x", "unknown S3 URL option(s) endpointurl"),
    ],
)
def test_from_url_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        S3R2Backend.from_url(url)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("NoSuchKey", 404), _Missing),
        (client_error("404", 404), _Missing),
        (client_error("NoSuchUpload", 404), NoSuchUpload),
        (client_error("EntityTooSmall"), EntityTooSmall),
        (client_error("InvalidPart"), InvalidPart),
        (client_error("NoSuchBucket", 404), BackendError),
        (client_error("AccessDenied", 403), BackendError),
        (client_error("InternalError", 500), BackendError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), BackendError),
        (NoCredentialsError(), BackendError),
    ],
)
def test_botocore_errors_are_translated_at_the_boundary(
    exc: Exception, expected: type[Exception]
) -> None:
    backend = S3R2Backend.from_url("s3://bkt?endpoint_url=http://127.0.0.1:1")
    with pytest.raises(expected) as info, backend._mapped("get_object"):
        raise exc
    assert info.value.__cause__ is exc
    assert not isinstance(info.value, ClientError)
    if isinstance(info.value, R2Error):
        assert info.value.action is None  # the binding names the R2 method


async def test_endpoint_down_gives_a_clear_error(fake_clock: FakeClock) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    bucket = R2Bucket(
        S3R2Backend.from_url(
            f"s3://bkt?endpoint_url={endpoint}&access_key_id=a&secret_access_key=b"
        ),
        clock=fake_clock,
    )
    with pytest.raises(BackendError) as info:
        await bucket.put("key", "value")
    assert str(info.value).startswith(f"S3 endpoint {endpoint} is unreachable")
    await bucket.aclose()
