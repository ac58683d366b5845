"""What the gcp backend does beyond the conformance suite, checked on fake-gcs-server: forwarded
metadata, multipart staging (emptied afterwards; composes in a tree past 32 parts), chunked
resumable uploads, versioned buckets, and the service-account token flow through a
token-checking front of the emulator."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import ClientSession, web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from datanode.backends.gcp import GcpBackend
from datanode.backends.remote import ObjectMeta, RemoteBackend, RemoteObject, RemotePart
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.emulators import EmulatorMissing
from strata.testing.emulators.fake_gcs import FakeGcsEmulator

KIB = 1024
MIB = 1024 * KIB
SMALL_CHUNK = 256 * KIB  # the smallest chunk the JSON API allows: many chunks per test object


def payload(size: int, seed: int = 0) -> bytes:
    pattern = bytes((index * 29 + seed * 11 + index // 253) % 256 for index in range(4093))
    return (pattern * (size // len(pattern) + 1))[:size]


async def stream(data: bytes, piece: int = MIB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def read(backend: RemoteBackend, obj: RemoteObject, offset: int = 0, length: int = -1) -> bytes:
    return b"".join([piece async for piece in backend.get(obj, offset, length)])


def started(versioning: bool) -> FakeGcsEmulator:
    try:
        emulator = FakeGcsEmulator(versioning=versioning)
        emulator.start()
    except EmulatorMissing as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    return emulator


@pytest.fixture(scope="module")
def fake_gcs() -> Iterator[FakeGcsEmulator]:
    emulator = started(versioning=False)
    yield emulator
    emulator.close()


@pytest.fixture(scope="module")
def versioned_fake_gcs() -> Iterator[FakeGcsEmulator]:
    emulator = started(versioning=True)
    yield emulator
    emulator.close()


@pytest.fixture
def location(fake_gcs: FakeGcsEmulator) -> dict[str, Any]:
    return fake_gcs.location(bucket_match=True)


@pytest.fixture
async def backend(location: dict[str, Any]) -> AsyncIterator[GcpBackend]:
    remote = GcpBackend("gcp-test", location, chunk_size=SMALL_CHUNK, environ={})
    try:
        yield remote
    finally:
        await remote.close()


def buckets(location: dict[str, Any]) -> tuple[str, str]:
    return location["details"]["bucketName"], location["details"]["mpuBucketName"]


async def test_metadata_content_headers_and_tags_land_on_the_gcs_object(
    backend: GcpBackend, fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    meta = ObjectMeta(
        content_type="text/csv",
        user_metadata={"owner": "alice", "color": "blue"},
        tags={"project": "x y"},
        cache_control="max-age=60",
        content_disposition='attachment; filename="a.csv"',
        content_encoding="identity",
        content_language="de",
        size=3 * SMALL_CHUNK + 5,
    )
    obj = await backend.put("report.csv", stream(payload(meta.size), piece=100_000), meta)
    bucket, _ = buckets(location)
    resource = await asyncio.to_thread(fake_gcs.resource_direct, bucket, "report.csv")
    assert resource is not None and resource["generation"] == obj.version
    assert resource["contentType"] == "text/csv" and resource["cacheControl"] == "max-age=60"
    assert resource["contentDisposition"] == 'attachment; filename="a.csv"'
    assert resource["contentEncoding"] == "identity" and resource["contentLanguage"] == "de"
    assert resource["metadata"] == {"owner": "alice", "color": "blue", "strata-tagging": "project=x%20y"}


@pytest.mark.parametrize("known_size", [True, False], ids=["sized", "unsized"])
async def test_uploads_go_in_many_chunks_and_read_back_in_ranges(
    backend: GcpBackend, fake_gcs: FakeGcsEmulator, location: dict[str, Any], known_size: bool
) -> None:
    data = payload(9 * SMALL_CHUNK + 1234, seed=1)
    # Pieces that do not line up with the chunks, so chunks are cut across pieces.
    obj = await backend.put(
        "chunky", stream(data, piece=300_001), ObjectMeta(size=len(data) if known_size else -1)
    )
    assert obj.size == len(data)
    assert await asyncio.to_thread(fake_gcs.read_direct, location, "chunky") == data
    assert (
        await read(backend, obj, SMALL_CHUNK - 1, SMALL_CHUNK + 2)
        == data[SMALL_CHUNK - 1 : 2 * SMALL_CHUNK + 1]
    )
    assert await read(backend, obj, len(data) + 10, 5) == b""


async def test_a_body_longer_or_shorter_than_announced_or_cut_leaves_nothing(
    backend: GcpBackend, fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    data = payload(3 * SMALL_CHUNK, seed=2)
    for announced in (len(data) - 1, len(data) + 1):
        with pytest.raises(StrataError) as wrong:
            await backend.put("wrong-size", stream(data, piece=100_000), ObjectMeta(size=announced))
        assert ErrorReason.Name(wrong.value.reason) == "INVALID_ARGUMENT"

    async def cut_after_chunks() -> AsyncIterator[bytes]:
        yield data  # two chunks go out before the stream breaks
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await backend.put("cut", cut_after_chunks(), ObjectMeta())
    assert await asyncio.to_thread(fake_gcs.names_direct, location) == []


async def test_multipart_keeps_creation_metadata_and_empties_the_staging_bucket(
    backend: GcpBackend, fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    bucket, mpu_bucket = buckets(location)
    meta = ObjectMeta(content_type="video/mp4", user_metadata={"camera": "b"})
    upload_id = await backend.create_multipart("movie.mp4", meta)
    parts = [
        await backend.upload_part(
            "movie.mp4", upload_id, n, stream(payload(SMALL_CHUNK + n, n)), SMALL_CHUNK + n
        )
        for n in (1, 2)
    ]
    staged = await asyncio.to_thread(fake_gcs.bucket_names_direct, mpu_bucket)
    assert len(staged) == 3 and all(name.startswith(f".strata-mpu/{upload_id}/") for name in staged)
    obj = await backend.complete_multipart("movie.mp4", upload_id, parts, ObjectMeta())
    assert await read(backend, obj) == payload(SMALL_CHUNK + 1, 1) + payload(SMALL_CHUNK + 2, 2)
    resource = await asyncio.to_thread(fake_gcs.resource_direct, bucket, "movie.mp4")
    assert resource is not None and resource["contentType"] == "video/mp4"
    assert resource["metadata"] == {"camera": "b"} and resource["generation"] == obj.version
    assert await asyncio.to_thread(fake_gcs.bucket_names_direct, mpu_bucket) == []

    aborted = await backend.create_multipart("dropped", ObjectMeta())
    await backend.upload_part("dropped", aborted, 1, stream(b"x" * 100), 100)
    await backend.abort_multipart("dropped", aborted)
    assert await asyncio.to_thread(fake_gcs.bucket_names_direct, mpu_bucket) == []
    with pytest.raises(StrataError) as bad:
        await backend.abort_multipart("dropped", "../../etc")
    assert ErrorReason.Name(bad.value.reason) == "INVALID_ARGUMENT"


async def test_more_than_32_parts_compose_in_a_tree(
    backend: GcpBackend, fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    _, mpu_bucket = buckets(location)
    upload_id = await backend.create_multipart("many", ObjectMeta())
    count = 70  # 70 parts -> 3 intermediate composes -> one final compose of 3 sources
    parts: list[RemotePart] = list(
        await asyncio.gather(
            *(
                backend.upload_part("many", upload_id, n, stream(payload(1000 + n, n)), 1000 + n)
                for n in range(1, count + 1)
            )
        )
    )
    chosen = [part for part in parts if part.part_number != 40]  # a subset, still past 32
    obj = await backend.complete_multipart("many", upload_id, chosen, ObjectMeta())
    expected = b"".join(payload(1000 + n, n) for n in range(1, count + 1) if n != 40)
    assert obj.size == len(expected) and await read(backend, obj) == expected
    assert await asyncio.to_thread(fake_gcs.read_direct, location, "many") == expected
    assert await asyncio.to_thread(fake_gcs.bucket_names_direct, mpu_bucket) == []
    with pytest.raises(StrataError) as unordered:
        await backend.complete_multipart("many", upload_id, [parts[1], parts[0]], ObjectMeta())
    assert ErrorReason.Name(unordered.value.reason) == "INVALID_ARGUMENT"


async def test_without_an_mpu_bucket_parts_are_staged_in_the_bucket_and_removed(
    fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    details = {key: value for key, value in location["details"].items() if key != "mpuBucketName"}
    backend = GcpBackend("gcp-test", {**location, "details": details}, environ={})
    try:
        upload_id = await backend.create_multipart("same-bucket", ObjectMeta(content_type="text/plain"))
        one = await backend.upload_part("same-bucket", upload_id, 1, stream(b"a" * 10), 10)
        two = await backend.upload_part("same-bucket", upload_id, 2, stream(b"b" * 10), 10)
        obj = await backend.complete_multipart("same-bucket", upload_id, [one, two], ObjectMeta())
        assert await read(backend, obj) == b"a" * 10 + b"b" * 10
        assert await asyncio.to_thread(fake_gcs.names_direct, location) == ["same-bucket"]
    finally:
        await backend.close()


async def test_a_versioned_bucket_keeps_older_generations_readable(
    versioned_fake_gcs: FakeGcsEmulator,
) -> None:
    location = versioned_fake_gcs.location(bucket_match=True)
    backend = GcpBackend("gcp-versioned", location, environ={})
    try:
        first = await backend.put("doc", stream(b"first"), ObjectMeta(size=5))
        second = await backend.put("doc", stream(b"second"), ObjectMeta(size=6))
        assert backend.keeps_versions is True and first.version != second.version
        assert await read(backend, first) == b"first" and await read(backend, second) == b"second"
        assert await backend.head(first) == 5 and await backend.head(second) == 6
        await backend.delete(second)  # the live generation goes; the older one stays
        # GCS removes that generation for good; fake-gcs-server keeps it as a noncurrent one. Either
        # way the name shows no current object and the older write is untouched.
        assert await asyncio.to_thread(versioned_fake_gcs.read_direct, location, "doc") is None
        assert await read(backend, first) == b"first"
    finally:
        await backend.close()


# -- the token flow against the emulator, through a front that checks bearer tokens -------------


class TokenCheckingFront:
    """A token endpoint plus a proxy to fake-gcs-server that refuses requests without a current token."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.refused = 0

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not str(form.get("assertion", "")).count(".") == 2:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.issued.append(f"token-{len(self.issued) + 1}")
        return web.json_response({"access_token": self.issued[-1], "expires_in": 3600})

    async def proxy(self, request: web.Request) -> web.StreamResponse:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued or bearer in self.revoked:
            self.refused += 1
            return web.json_response({"error": {"code": 401, "message": "Invalid Credentials"}}, status=401)
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in ("host", "authorization")
        }
        async with (
            ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                self.upstream + request.rel_url.raw_path_qs,
                data=await request.read(),
                headers=headers,
                allow_redirects=False,
            ) as answer,
        ):
            body = await answer.read()
            kept = {
                key: value
                for key, value in answer.headers.items()
                if key.lower() in ("content-type", "location", "range", "x-goog-generation", "content-range")
            }
            return web.Response(status=answer.status, body=body, headers=kept)


@pytest.fixture
async def front(fake_gcs: FakeGcsEmulator) -> AsyncIterator[tuple[TokenCheckingFront, str]]:
    checker = TokenCheckingFront(fake_gcs.endpoint)
    app = web.Application(client_max_size=64 * MIB)
    app.router.add_post("/token", checker.token)
    app.router.add_route("*", "/{tail:.*}", checker.proxy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield checker, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_service_account_tokens_are_sent_cached_and_renewed_after_a_refusal(
    fake_gcs: FakeGcsEmulator, location: dict[str, Any], front: tuple[TokenCheckingFront, str]
) -> None:
    checker, url = front
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = {"serviceEmail": "svc@example.com", "serviceKey": pem, "tokenUri": f"{url}/token"}
    details = {**location["details"], "gcpEndpoint": url, "serviceCredentials": credentials}
    backend = GcpBackend("gcp-auth", {**location, "details": details}, environ={})
    try:
        await backend.health()
        obj = await backend.put("secured", stream(b"guarded bytes"), ObjectMeta(size=13))
        assert await read(backend, obj) == b"guarded bytes" and await backend.head(obj) == 13
        assert checker.issued == ["token-1"] and checker.refused == 0  # one token for every call
        checker.revoked.add("token-1")
        with pytest.raises(StrataError) as refused:
            await backend.head(obj)
        assert ErrorReason.Name(refused.value.reason) == "BACKEND_AUTH"
        assert await backend.head(obj) == 13  # the refused token was dropped and a new one fetched
        assert checker.issued == ["token-1", "token-2"]
        assert await asyncio.to_thread(fake_gcs.read_direct, location, "secured") == b"guarded bytes"
    finally:
        await backend.close()


async def test_a_missing_bucket_is_unavailable_not_a_missing_object(
    fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    for missing in ("bucketName", "mpuBucketName"):
        details = {**location["details"], missing: "strata-no-such-bucket"}
        backend = GcpBackend("gcp-missing", {**location, "details": details}, environ={})
        try:
            with pytest.raises(StrataError) as down:
                await backend.health()
            assert ErrorReason.Name(down.value.reason) == "BACKEND_UNAVAILABLE"
            assert "strata-no-such-bucket" in str(down.value)
            if missing == "bucketName":
                with pytest.raises(StrataError) as down_put:
                    await backend.put("x", stream(b"data"), ObjectMeta(size=4))
                assert ErrorReason.Name(down_put.value.reason) == "BACKEND_UNAVAILABLE"
        finally:
            await backend.close()


async def test_an_unsized_upload_holds_a_bounded_amount_of_memory(
    fake_gcs: FakeGcsEmulator, location: dict[str, Any]
) -> None:
    import tracemalloc

    total = 24 * MIB

    async def fresh_pieces() -> AsyncIterator[bytes]:
        for index in range(total // MIB):
            yield bytes([index % 256]) * MIB  # made on demand: held only while the adapter keeps it

    backend = GcpBackend("gcp-memory", location, chunk_size=MIB, environ={})
    try:
        tracemalloc.start()
        try:
            obj = await backend.put("bounded", fresh_pieces(), ObjectMeta())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert obj.size == total
        assert peak < 12 * MIB, f"peak {peak / MIB:.1f} MiB for a {total // MIB} MiB stream"
    finally:
        await backend.close()
