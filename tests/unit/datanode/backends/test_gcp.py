"""The gcp backend's parts that need no emulator: details parsing, the service-account token flow
(against a real local token endpoint over HTTP), error translation of GCS answers, chunk cutting."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from datanode.backends.gcp import GcpBackend, object_resource
from datanode.backends.gcp_auth import ServiceAccount, ServiceAccountTokens, signed_assertion
from datanode.backends.gcp_config import parse_location
from datanode.backends.gcp_json import _ChunkBuffer, _persisted, reason_for_status
from datanode.backends.remote import ObjectMeta, RemoteObject, RemoteTimeouts, create_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

SHORT = RemoteTimeouts(connect_s=2.0, request_s=5.0)


def make_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


KEY, KEY_PEM = make_key()


def decode_segment(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_assertion(assertion: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """Checks the RS256 signature as a token endpoint would; returns the claims."""
    header, claims, signature = assertion.split(".")
    public_key.verify(
        decode_segment(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert json.loads(decode_segment(header)) == {"alg": "RS256", "typ": "JWT"}
    parsed: dict[str, Any] = json.loads(decode_segment(claims))
    return parsed


def reason(error: pytest.ExceptionInfo[StrataError]) -> str:
    return ErrorReason.Name(error.value.reason)


# -- details -------------------------------------------------------------------------------------


def location(**details: Any) -> dict[str, Any]:
    return {"type": "gcp", "legacyAwsBehavior": True, "details": {"bucketName": "data", **details}}


def test_details_defaults_follow_the_reference() -> None:
    parsed = parse_location("gcp-1", location(), {})
    assert parsed.endpoint == "https://storage.googleapis.com"
    assert parsed.mpu_bucket == "data" and parsed.bucket_match is False and parsed.account is None
    parsed = parse_location(
        "gcp-1", location(gcpEndpoint="storage.example.net/", mpuBucketName="parts", bucketMatch=True), {}
    )
    assert parsed.endpoint == "https://storage.example.net" and parsed.mpu_bucket == "parts"
    assert parsed.bucket_match is True
    assert (
        parse_location("g", location(gcpEndpoint="http://127.0.0.1:9/"), {}).endpoint == "http://127.0.0.1:9"
    )
    both = location(gcpEndpoint="storage.googleapis.com", jsonEndpoint="http://127.0.0.1:9")
    assert parse_location("g", both, {}).endpoint == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "details",
    [
        {"bucketName": ""},
        {"bucketName": 3},
        {"bucketMatch": "yes"},
        {"mpuBucketName": ["x"]},
        {"serviceCredentials": "key"},
        {"serviceCredentials": {"serviceEmail": "only@example.com"}},
        {"serviceCredentials": {"serviceEmail": "a@example.com", "serviceKey": "not a pem"}},
        {"serviceCredentials": {"keyFilename": "/nonexistent/key.json"}},
        {"serviceCredentials": {"scopes": 7}},
    ],
)
def test_bad_details_are_invalid_argument_without_the_key(details: dict[str, Any]) -> None:
    with pytest.raises(StrataError) as bad:
        GcpBackend("gcp-1", location(**details), environ={})
    assert reason(bad) == "INVALID_ARGUMENT"
    assert "not a pem" not in str(bad.value)


def test_credentials_come_from_the_key_file_inline_or_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(
        json.dumps({"client_email": "file@example.com", "private_key": KEY_PEM, "token_uri": "http://t/1"})
    )
    inline = {"serviceEmail": "inline@example.com", "serviceKey": KEY_PEM, "scopes": ["a", "b"]}
    from_file = parse_location("g", location(serviceCredentials={"keyFilename": str(key_file)}), {}).account
    assert (
        from_file is not None
        and from_file.email == "file@example.com"
        and from_file.token_uri == "http://t/1"
    )
    from_inline = parse_location("g", location(serviceCredentials=inline), {}).account
    assert (
        from_inline is not None and from_inline.email == "inline@example.com" and from_inline.scopes == "a b"
    )
    # Environment overrides win: the key file first, then e-mail + key; the scope separately.
    environ = {
        "g_GCP_SERVICE_EMAIL": "env@example.com",
        "g_GCP_SERVICE_KEY": KEY_PEM,
        "g_GCP_SERVICE_SCOPE": "s",
    }
    from_env = parse_location("g", location(serviceCredentials=inline), environ).account
    assert from_env is not None and from_env.email == "env@example.com" and from_env.scopes == "s"
    environ["g_GCP_SERVICE_KEYFILE"] = str(key_file)
    assert parse_location("g", location(), environ).account.email == "file@example.com"  # type: ignore[union-attr]
    assert "BEGIN" not in repr(from_env)


def test_the_registry_builds_a_gcp_backend() -> None:
    backend = create_remote("gcp-1", location(gcpEndpoint="http://127.0.0.1:9"))
    assert isinstance(backend, GcpBackend) and backend.location_type == "gcp"


def test_object_resource_forwards_content_headers_metadata_and_tags() -> None:
    meta = ObjectMeta(
        content_type="text/plain",
        user_metadata={"color": "blue"},
        tags={"team": "a b", "x": "1"},
        cache_control="no-cache",
        content_disposition="inline",
        content_encoding="gzip",
        content_language="fr",
    )
    assert object_resource("k", meta) == {
        "name": "k",
        "contentType": "text/plain",
        "cacheControl": "no-cache",
        "contentDisposition": "inline",
        "contentEncoding": "gzip",
        "contentLanguage": "fr",
        "metadata": {"color": "blue", "strata-tagging": "team=a%20b&x=1"},
    }
    assert object_resource("k", ObjectMeta()) == {"name": "k"}


# -- the pieces of the JSON client ---------------------------------------------------------------


def test_statuses_map_to_the_allowed_reasons() -> None:
    expected = {
        401: "BACKEND_AUTH",
        403: "BACKEND_AUTH",
        404: "BLOB_NOT_FOUND",
        412: "BLOB_NOT_FOUND",
        429: "BACKEND_THROTTLED",
        400: "INVALID_ARGUMENT",
        500: "BACKEND_UNAVAILABLE",
        503: "BACKEND_UNAVAILABLE",
    }
    assert {status: ErrorReason.Name(reason_for_status(status)) for status in expected} == expected


def test_the_chunk_buffer_cuts_exact_sizes_without_losing_bytes() -> None:
    buffer = _ChunkBuffer()
    data = bytes(range(256)) * 40
    for start in range(0, len(data), 700):
        buffer.append(data[start : start + 700])
    taken = b"".join(bytes(piece) for piece in buffer.take(4096))
    assert taken == data[:4096] and buffer.size == len(data) - 4096
    assert b"".join(bytes(piece) for piece in buffer.take_all()) == data[4096:] and buffer.size == 0


def test_the_persisted_range_is_read_from_the_range_header() -> None:
    assert _persisted("bytes=0-262143") == 262144
    assert _persisted("") == 0 and _persisted("bytes=garbage") == 0


# -- the token flow, against a local token endpoint ----------------------------------------------


class TokenEndpoint:
    """A small OAuth2 token endpoint: verifies each JWT with the account's public key."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self.public_key = public_key
        self.claims: list[dict[str, Any]] = []
        self.answer: Callable[[], web.Response] | None = None  # set to misbehave
        self.delay_s = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # holds concurrent callers on the one fetch in flight
        if self.answer is not None:
            return self.answer()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = verify_assertion(str(form.get("assertion", "")), self.public_key)
        except Exception:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.claims.append(claims)
        return web.json_response(
            {"access_token": f"token-{len(self.claims)}", "expires_in": 3600, "token_type": "Bearer"}
        )


@pytest.fixture
async def token_endpoint() -> AsyncIterator[tuple[TokenEndpoint, str]]:
    endpoint = TokenEndpoint(KEY.public_key())
    app = web.Application()
    app.router.add_post("/token", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield endpoint, f"http://127.0.0.1:{port}/token"
    finally:
        await runner.cleanup()


def test_the_assertion_is_signed_with_the_key_and_names_the_account() -> None:
    account = ServiceAccount("svc@example.com", KEY_PEM, "https://oauth2.example/token", "scope-a")
    claims = verify_assertion(signed_assertion(account, KEY, 1_000_000.0), KEY.public_key())
    assert claims == {
        "iss": "svc@example.com",
        "scope": "scope-a",
        "aud": "https://oauth2.example/token",
        "iat": 1_000_000,
        "exp": 1_003_600,
    }
    _, other_pem = make_key()
    other = ServiceAccount("svc@example.com", other_pem, "https://oauth2.example/token")
    from datanode.backends.gcp_auth import load_private_key

    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidSignature
        verify_assertion(signed_assertion(other, load_private_key("g", other_pem), 0.0), KEY.public_key())


async def test_a_token_is_fetched_once_and_shared_by_concurrent_requests(
    token_endpoint: tuple[TokenEndpoint, str],
) -> None:
    import aiohttp

    endpoint, uri = token_endpoint
    endpoint.delay_s = 0.2
    tokens = ServiceAccountTokens("g", ServiceAccount("svc@example.com", KEY_PEM, uri), SHORT)
    async with aiohttp.ClientSession() as session:
        got = await asyncio.gather(*(tokens.token(session) for _ in range(10)))
        assert set(got) == {"token-1"} and tokens.fetches == 1
        assert endpoint.claims[0]["iss"] == "svc@example.com" and endpoint.claims[0]["aud"] == uri
        tokens.invalidate()  # what a 401 from the storage API does
        assert await tokens.token(session) == "token-2" and tokens.fetches == 2


async def test_a_refused_or_unreachable_token_endpoint_is_auth_or_unavailable(
    token_endpoint: tuple[TokenEndpoint, str],
) -> None:
    import aiohttp

    endpoint, uri = token_endpoint
    _, other_pem = make_key()  # a key the endpoint does not know: its signature fails
    refused = ServiceAccountTokens("g", ServiceAccount("svc@example.com", other_pem, uri), SHORT)
    unreachable = ServiceAccountTokens(
        "g", ServiceAccount("svc@example.com", KEY_PEM, "http://127.0.0.1:1/token"), SHORT
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(StrataError) as auth:
            await refused.token(session)
        assert reason(auth) == "BACKEND_AUTH" and "BEGIN" not in str(auth.value)
        with pytest.raises(StrataError) as down:
            await unreachable.token(session)
        assert reason(down) == "BACKEND_UNAVAILABLE"
        endpoint.answer = lambda: web.json_response({"error": "rate"}, status=429)
        good = ServiceAccountTokens("g", ServiceAccount("svc@example.com", KEY_PEM, uri), SHORT)
        with pytest.raises(StrataError) as throttled:
            await good.token(session)
        assert reason(throttled) == "BACKEND_THROTTLED"
        endpoint.answer = lambda: web.json_response({"no": "token"})
        with pytest.raises(StrataError) as empty:
            await good.token(session)
        assert reason(empty) == "BACKEND_UNAVAILABLE"


# -- error translation of storage answers, against a local server that misbehaves on purpose ------


@pytest.fixture
async def answering_server() -> AsyncIterator[tuple[list[int], list[str | None], str]]:
    """A JSON API endpoint answering each request with the next status of a list (and the provider's text)."""
    statuses: list[int] = []
    authorizations: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        authorizations.append(request.headers.get("Authorization"))
        status = statuses.pop(0) if statuses else 500
        body = {"error": {"code": status, "message": "provider secret detail: bucket owner is alice"}}
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield statuses, authorizations, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def single(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, "BACKEND_AUTH"), (403, "BACKEND_AUTH"), (429, "BACKEND_THROTTLED"), (503, "BACKEND_UNAVAILABLE")],
)
async def test_storage_errors_are_translated_without_the_provider_text(
    answering_server: tuple[list[int], list[str | None], str],
    token_endpoint: tuple[TokenEndpoint, str],
    status: int,
    expected: str,
) -> None:
    statuses, authorizations, url = answering_server
    _, token_uri = token_endpoint
    credentials = {"serviceEmail": "svc@example.com", "serviceKey": KEY_PEM, "tokenUri": token_uri}
    backend = GcpBackend(
        "gcp-1", location(gcpEndpoint=url, serviceCredentials=credentials), timeouts=SHORT, environ={}
    )
    try:
        statuses.extend([status] * 4)
        for attempt in (
            backend.health(),
            backend.head(RemoteObject("k", "1", 1)),
            backend.put("k", single(b"data"), ObjectMeta(size=4)),
        ):
            with pytest.raises(StrataError) as failed:
                await attempt
            assert reason(failed) == expected
            assert "alice" not in str(failed.value) and "secret" not in str(failed.value)
        assert authorizations and all(value and value.startswith("Bearer token-") for value in authorizations)
        if status == 401:  # a refused token is dropped: every call fetched a new one
            assert backend.tokens is not None and backend.tokens.fetches == len(authorizations)
        else:
            assert backend.tokens is not None and backend.tokens.fetches == 1
    finally:
        await backend.close()


async def test_an_unreachable_endpoint_is_unavailable() -> None:
    backend = GcpBackend("gcp-1", location(gcpEndpoint="http://127.0.0.1:1"), timeouts=SHORT, environ={})
    try:
        with pytest.raises(StrataError) as down:
            await backend.put("k", single(b"data"), ObjectMeta(size=4))
        assert reason(down) == "BACKEND_UNAVAILABLE"
        with pytest.raises(StrataError) as down_read:
            _ = [piece async for piece in backend.get(RemoteObject("k", "1", 4))]
        assert reason(down_read) == "BACKEND_UNAVAILABLE"
    finally:
        await backend.close()
