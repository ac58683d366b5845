"""The aws_s3 backend's details parsing, URL forms and error translation.

Error translation runs over real HTTP: a local aiohttp server on 127.0.0.1 answers the
provider errors S3 documents (the emulators cannot be made to throttle or fail on cue).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from datanode.backends.aws_s3 import AwsS3Backend, part_size_for, write_headers
from datanode.backends.aws_s3_config import parse_settings
from datanode.backends.remote import ObjectMeta, RemoteObject, RemoteTimeouts, create_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

INLINE = {"accessKey": "AKIDEXAMPLE", "secretKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}


def config(**details: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"awsEndpoint": "s3.example.com", "bucketName": "target", "credentials": INLINE}
    base.update(details)
    return {"type": "aws_s3", "legacyAwsBehavior": True, "details": base}


def refused(details: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(StrataError) as error:
        parse_settings("loc", {"type": "aws_s3", "details": details}, env or {})
    assert error.value.reason == ErrorReason.INVALID_ARGUMENT
    return str(error.value)


def test_defaults_follow_the_reference() -> None:
    settings = parse_settings("loc", config())
    assert settings.https and not settings.path_style and not settings.bucket_match
    assert not settings.server_side_encryption and not settings.supports_versioning
    assert settings.region == "us-east-1"
    assert settings.credentials.access_key == "AKIDEXAMPLE"
    assert settings.bucket_url() == "https://target.s3.example.com/"
    assert "wJalr" not in repr(settings)


def test_every_documented_field_is_read() -> None:
    settings = parse_settings(
        "loc",
        config(
            awsEndpoint="127.0.0.1:9000",
            bucketMatch=True,
            https=False,
            pathStyle=True,
            serverSideEncryption=True,
            supportsVersioning=True,
            region="eu-west-3",
        ),
    )
    assert (settings.endpoint, settings.bucket_match, settings.https, settings.path_style) == (
        "127.0.0.1:9000",
        True,
        False,
        True,
    )
    assert settings.server_side_encryption and settings.supports_versioning and settings.region == "eu-west-3"
    assert settings.object_url("dir/a b+c%.txt") == "http://127.0.0.1:9000/target/dir/a%20b%2Bc%25.txt"


def test_a_dotted_bucket_over_https_uses_the_path_form() -> None:
    assert parse_settings("loc", config(bucketName="my.bucket")).path_style
    assert not parse_settings("loc", config(bucketName="my.bucket", https=False)).path_style


def test_bad_details_are_refused_naming_the_field_but_no_secret() -> None:
    good = config()["details"]
    assert "awsEndpoint" in refused({**good, "awsEndpoint": "https://s3.example.com"})
    assert "awsEndpoint" in refused({k: v for k, v in good.items() if k != "awsEndpoint"})
    assert "bucketName" in refused({**good, "bucketName": ""})
    assert "https" in refused({**good, "https": "yes"})
    assert "region" in refused({**good, "region": 3})
    message = refused({**good, "credentials": {"accessKey": "AK"}})
    assert "secretKey" in message
    assert "not both" in refused({**good, "credentialsProfile": "p"})
    no_credentials = {k: v for k, v in good.items() if k != "credentials"}
    assert "credentialsProfile or details.credentials" in refused(no_credentials)


def test_profiles_are_read_from_the_shared_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[zenko]\naws_access_key_id = AKZ\naws_secret_access_key = SECRETZ\naws_session_token = TOKEN\n"
        "[half]\naws_access_key_id = AKH\n"
    )
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(path)}
    details = {k: v for k, v in config()["details"].items() if k != "credentials"}
    settings = parse_settings("loc", {"details": {**details, "credentialsProfile": "zenko"}}, env)
    assert settings.credentials.access_key == "AKZ"
    assert settings.credentials.secret_key == "SECRETZ" and settings.credentials.session_token == "TOKEN"
    assert "not in" in refused({**details, "credentialsProfile": "other"}, env)
    assert "lacks" in refused({**details, "credentialsProfile": "half"}, env)
    missing = refused(
        {**details, "credentialsProfile": "zenko"}, {"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    )
    assert "no credentials file" in missing


def test_write_headers_carry_metadata_tags_and_encryption() -> None:
    settings = parse_settings("loc", config(serverSideEncryption=True))
    headers = write_headers(
        settings,
        ObjectMeta(
            content_type="a/b", user_metadata={"k": "v"}, tags={"a b": "c&d"}, cache_control="no-cache"
        ),
    )
    assert headers == {
        "Content-Type": "a/b",
        "Cache-Control": "no-cache",
        "x-amz-meta-k": "v",
        "x-amz-tagging": "a%20b=c%26d",
        "x-amz-server-side-encryption": "AES256",
    }
    assert "x-amz-server-side-encryption" not in write_headers(parse_settings("loc", config()), ObjectMeta())


def test_internal_parts_grow_so_ten_thousand_hold_a_huge_stream() -> None:
    assert part_size_for(1) == part_size_for(1000) == 8 * 1024 * 1024
    assert part_size_for(1001) == 16 * 1024 * 1024
    assert sum(part_size_for(number) for number in range(1, 10_001)) > 5 * 1024**4


def test_the_registry_builds_this_backend() -> None:
    backend = create_remote("loc", config())
    assert isinstance(backend, AwsS3Backend) and backend.location_type == "aws_s3"
    assert backend.keeps_versions is False


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def provider() -> AsyncIterator[Callable[[Handler], Awaitable[AwsS3Backend]]]:
    """Starts a local HTTP server answering with ``handler``; returns a backend pointed at it."""
    runners: list[web.AppRunner] = []
    backends: list[AwsS3Backend] = []

    async def start(handler: Handler) -> AwsS3Backend:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        settings = parse_settings(
            "canned", config(awsEndpoint=f"127.0.0.1:{port}", https=False, pathStyle=True)
        )
        backend = AwsS3Backend(settings, RemoteTimeouts(connect_s=2.0, request_s=0.5))
        backends.append(backend)
        return backend

    yield start
    for backend in backends:
        await backend.close()
    for runner in runners:
        await runner.cleanup()


def s3_error(status: int, code: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        body = f"<Error><Code>{code}</Code><Message>provider text with s3cr3t</Message></Error>"
        return web.Response(status=status, text=body if request.method != "HEAD" else "")

    return handler


async def body_stream(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (503, "SlowDown", "BACKEND_THROTTLED"),
        (429, "TooManyRequests", "BACKEND_THROTTLED"),
        (503, "ServiceUnavailable", "BACKEND_UNAVAILABLE"),
        (500, "InternalError", "BACKEND_UNAVAILABLE"),
        (403, "InvalidAccessKeyId", "BACKEND_AUTH"),
        (403, "SignatureDoesNotMatch", "BACKEND_AUTH"),
        (403, "AccessDenied", "BACKEND_AUTH"),
        (404, "NoSuchBucket", "BACKEND_UNAVAILABLE"),
        (404, "NoSuchKey", "BLOB_NOT_FOUND"),
        (412, "PreconditionFailed", "BLOB_NOT_FOUND"),
    ],
)
async def test_provider_errors_become_reasons_without_the_provider_text(
    provider: Callable[[Handler], Awaitable[AwsS3Backend]], status: int, code: str, reason: str
) -> None:
    backend = await provider(s3_error(status, code))
    with pytest.raises(StrataError) as failed:
        await backend.put("k", body_stream(b"abc"), ObjectMeta(size=3))
    assert ErrorReason.Name(failed.value.reason) == reason
    assert "s3cr3t" not in str(failed.value) and "provider text" not in str(failed.value)
    with pytest.raises(StrataError) as read_failed:
        async for _ in backend.get(RemoteObject("k", '"etag"', 3)):
            pass
    assert ErrorReason.Name(read_failed.value.reason) == reason


async def test_a_completion_that_fails_inside_a_200_answer_is_an_error(
    provider: Callable[[Handler], Awaitable[AwsS3Backend]],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200, text="<Error><Code>InternalError</Code></Error>")

    backend = await provider(handler)
    with pytest.raises(StrataError) as failed:
        await backend.complete_multipart("k", "upload", [], ObjectMeta())
    assert failed.value.reason == ErrorReason.BACKEND_UNAVAILABLE


async def test_a_provider_that_never_answers_times_out_as_unavailable(
    provider: Callable[[Handler], Awaitable[AwsS3Backend]],
) -> None:
    never = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    backend = await provider(handler)
    for attempt in (backend.health(), backend.head(RemoteObject("k", '"e"', 1))):
        with pytest.raises(StrataError) as stalled:
            await asyncio.wait_for(attempt, timeout=30)
        assert stalled.value.reason == ErrorReason.BACKEND_UNAVAILABLE
        assert "timed out" in str(stalled.value)
    never.set()


async def test_an_unreachable_endpoint_is_unavailable() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = parse_settings("gone", config(awsEndpoint=f"127.0.0.1:{port}", https=False, pathStyle=True))
    backend = AwsS3Backend(settings, RemoteTimeouts(connect_s=2.0, request_s=2.0))
    try:
        with pytest.raises(StrataError) as down:
            await backend.health()
        assert down.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    finally:
        await backend.close()
