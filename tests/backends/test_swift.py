"""The swift backend beyond the conformance suite, against the real all-in-one Swift.

Keystone v3 is exercised through a small local aiohttp Keystone (no Keystone runs here):
it checks the password, hands out a real tempauth token of the running Swift and a
catalog whose object-store endpoint is that Swift, so the backend's v3 path (request
body, ``X-Subject-Token``, catalog and region choice) runs against real storage.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from datanode.backends.remote import ObjectMeta, RemoteBackend, create_remote
from datanode.backends.swift import SwiftBackend
from datanode.backends.swift_auth import SwiftToken
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.emulators import Emulator, EmulatorMissing, load_emulator
from strata.testing.emulators.swift import KEY, USER, SwiftEmulator
from tests.backends.test_conformance import MIB, payload, read, stream

KEYSTONE_PASSWORD = "keystone-secret"


@pytest.fixture
def swift(emulators: dict[str, Emulator]) -> SwiftEmulator:
    if "swift-swift" not in emulators:
        try:
            started = load_emulator("swift-swift")
            started.start()
        except EmulatorMissing as missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"swift-swift: {missing}")
            pytest.skip(f"swift-swift: {missing}")
        emulators["swift-swift"] = started
    emulator = emulators["swift-swift"]
    assert isinstance(emulator, SwiftEmulator)
    return emulator


def with_details(location: dict[str, Any], **details: Any) -> dict[str, Any]:
    return {**location, "details": {**location["details"], **details}}


@pytest.fixture
async def small_segments(swift: SwiftEmulator) -> AsyncIterator[tuple[SwiftBackend, dict[str, Any]]]:
    """A backend whose large-object threshold is 1 MiB, so segment handling shows on small bodies."""
    location = with_details(swift.location(bucket_match=True), swiftSegmentSize=MIB)
    backend = create_remote("swift-small-segments", location)
    assert isinstance(backend, SwiftBackend)
    try:
        yield backend, location
    finally:
        await backend.close()


def segments_of(swift: SwiftEmulator, location: dict[str, Any]) -> list[str]:
    return swift.list_container(location["details"]["swiftContainerName"] + "+segments")


async def test_a_large_object_is_a_static_large_object_whose_delete_removes_its_segments(
    swift: SwiftEmulator, small_segments: tuple[SwiftBackend, dict[str, Any]]
) -> None:
    backend, location = small_segments
    data = payload(3 * MIB + 10, seed=40)
    obj = await backend.put("slo", stream(data, piece=700_000), ObjectMeta(size=len(data)))
    segments = await asyncio.to_thread(segments_of, swift, location)
    assert len(segments) == 4
    headers = await asyncio.to_thread(swift.headers_direct, location, "slo")
    assert headers is not None and headers.get("x-static-large-object") == "True"
    assert await read(backend, obj, MIB - 1, 3) == data[MIB - 1 : MIB + 2]
    # An overwrite is a write of its own: deleting the older one leaves the newer's segments.
    newer_data = payload(2 * MIB + 1, seed=41)
    newer = await backend.put("slo", stream(newer_data), ObjectMeta(size=-1))
    await backend.delete(obj)
    assert len(await asyncio.to_thread(segments_of, swift, location)) == 3
    assert await read(backend, newer) == newer_data
    await backend.delete(newer)
    assert await asyncio.to_thread(segments_of, swift, location) == []
    assert await asyncio.to_thread(swift.names_direct, location) == []


async def test_an_unsized_body_cut_short_leaves_no_segment_behind(
    swift: SwiftEmulator, small_segments: tuple[SwiftBackend, dict[str, Any]]
) -> None:
    backend, location = small_segments

    async def broken() -> AsyncIterator[bytes]:
        for index in range(3):
            yield payload(MIB, seed=50 + index)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await backend.put("cut-large", broken(), ObjectMeta(size=-1))
    assert await asyncio.to_thread(segments_of, swift, location) == []
    assert await asyncio.to_thread(swift.names_direct, location) == []


async def test_multipart_segments_of_unchosen_parts_and_aborted_uploads_are_removed(
    swift: SwiftEmulator, small_segments: tuple[SwiftBackend, dict[str, Any]]
) -> None:
    backend, location = small_segments
    upload = await backend.create_multipart("mpu", ObjectMeta())
    first = await backend.upload_part("mpu", upload, 1, stream(payload(MIB, 60)), MIB)
    await backend.upload_part("mpu", upload, 2, stream(payload(MIB, 61)), MIB)
    replaced = await backend.upload_part("mpu", upload, 2, stream(payload(MIB, 62)), MIB)
    await backend.upload_part("mpu", upload, 3, stream(payload(10, 63)), 10)
    assert len(await asyncio.to_thread(segments_of, swift, location)) == 4
    obj = await backend.complete_multipart("mpu", upload, [first, replaced], ObjectMeta())
    assert await read(backend, obj) == payload(MIB, 60) + payload(MIB, 62)
    assert len(await asyncio.to_thread(segments_of, swift, location)) == 2

    aborted = await backend.create_multipart("gone", ObjectMeta())
    await backend.upload_part("gone", aborted, 1, stream(payload(MIB, 64)), MIB)
    assert len(await asyncio.to_thread(segments_of, swift, location)) == 3
    await backend.abort_multipart("gone", aborted)
    assert len(await asyncio.to_thread(segments_of, swift, location)) == 2
    await backend.delete(obj)
    assert await asyncio.to_thread(segments_of, swift, location) == []
    assert await asyncio.to_thread(swift.names_direct, location) == []


@pytest.mark.parametrize("size", [5, 3 * MIB], ids=["plain", "slo"])
async def test_user_metadata_and_content_headers_reach_swift(
    swift: SwiftEmulator, small_segments: tuple[SwiftBackend, dict[str, Any]], size: int
) -> None:
    backend, location = small_segments
    meta = ObjectMeta(
        content_type="text/plain; charset=utf-8",
        user_metadata={"color": "blue", "owner-id": "42"},
        content_encoding="gzip",
        content_disposition='attachment; filename="a.txt"',
        content_language="fr",
        cache_control="max-age=60",
        size=size,
    )
    obj = await backend.put("meta", stream(payload(size, 70)), meta)
    headers = await asyncio.to_thread(swift.headers_direct, location, "meta")
    assert headers is not None
    assert headers["x-object-meta-color"] == "blue" and headers["x-object-meta-owner-id"] == "42"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-encoding"] == "gzip"
    assert headers["content-disposition"] == 'attachment; filename="a.txt"'
    assert headers["content-language"] == "fr"
    assert headers["cache-control"] == "max-age=60"
    # Content-Encoding is the object's own: the bytes come back as stored, not decoded.
    assert await read(backend, obj) == payload(size, 70)


async def test_a_token_swift_no_longer_knows_is_renewed_once(swift: SwiftEmulator) -> None:
    backend = create_remote("swift-renewal", swift.location(bucket_match=True))
    assert isinstance(backend, SwiftBackend)
    try:
        obj = await backend.put("renewed", stream(b"first"), ObjectMeta(size=5))
        current = await backend._auth.token(backend._client())
        backend._auth._current = SwiftToken(current.storage_url, "AUTH_tk-forgotten", float("inf"))
        assert await read(backend, obj) == b"first"
        backend._auth._current = SwiftToken(current.storage_url, "AUTH_tk-forgotten", float("inf"))
        again = await backend.put("renewed", stream(b"second"), ObjectMeta(size=6))
        assert await read(backend, again) == b"second"
        assert backend._auth._current is not None and backend._auth._current.token != "AUTH_tk-forgotten"
    finally:
        await backend.close()


async def test_a_missing_container_is_unavailable_not_created(swift: SwiftEmulator) -> None:
    location = with_details(swift.location(bucket_match=True), swiftContainerName="never-created")
    backend = create_remote("swift-missing", location)
    try:
        for attempt in (backend.health(), backend.put("x", stream(b"x"), ObjectMeta(size=1))):
            with pytest.raises(StrataError) as missing:
                await attempt
            assert missing.value.reason == ErrorReason.BACKEND_UNAVAILABLE
            assert "never-created" in str(missing.value)
    finally:
        await backend.close()


# ---- Keystone v3 through a local stub -------------------------------------------------------------


@pytest.fixture
async def keystone(swift: SwiftEmulator) -> AsyncIterator[str]:
    """A Keystone v3 password endpoint on 127.0.0.1 fronting the real Swift; yields its /v3 URL."""
    assert swift.server is not None
    server = swift.server

    async def issue_token(request: web.Request) -> web.Response:
        body = await request.json()
        identity = body["auth"]["identity"]
        user = identity["password"]["user"]
        project = body["auth"]["scope"]["project"]
        if (
            identity["methods"] != ["password"]
            or user["name"] != "demo"
            or user["password"] != KEYSTONE_PASSWORD
            or user["domain"]["name"] != "users"
            or project != {"name": "test", "domain": {"name": "projects"}}
        ):
            return web.json_response({"error": {"code": 401}}, status=401)
        storage_url, token = await asyncio.to_thread(server.authenticate, USER, KEY)
        catalog = [
            {"type": "identity", "endpoints": [{"interface": "public", "region_id": "one", "url": "x"}]},
            {
                "type": "object-store",
                "endpoints": [
                    {"interface": "internal", "region_id": "one", "url": "http://127.0.0.1:9/none"},
                    {"interface": "public", "region_id": "two", "url": "http://127.0.0.1:9/none"},
                    {"interface": "public", "region_id": "one", "url": storage_url},
                ],
            },
        ]
        document = {"token": {"expires_at": "2999-01-01T00:00:00.000000Z", "catalog": catalog}}
        return web.json_response(document, status=201, headers={"X-Subject-Token": token})

    app = web.Application()
    app.router.add_post("/v3/auth/tokens", issue_token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v3"
    finally:
        await runner.cleanup()


def keystone_location(swift: SwiftEmulator, auth_url: str, **extra: Any) -> dict[str, Any]:
    location = swift.location(bucket_match=True)
    details = {
        "swiftAuthUrl": auth_url,
        "swiftAuthVersion": 3,
        "swiftUser": "demo",
        "swiftKey": KEYSTONE_PASSWORD,
        "swiftProject": "test",
        "swiftUserDomain": "users",
        "swiftProjectDomain": "projects",
        "swiftRegion": "one",
        "swiftContainerName": location["details"]["swiftContainerName"],
        "bucketMatch": True,
        **extra,
    }
    return {**location, "details": details}


async def test_keystone_v3_password_auth_picks_the_object_store_of_the_region(
    swift: SwiftEmulator, keystone: str
) -> None:
    location = keystone_location(swift, keystone)
    backend: RemoteBackend = create_remote("swift-v3", location)
    try:
        await backend.health()
        obj = await backend.put("through-keystone", stream(b"v3 data"), ObjectMeta(size=7))
        assert await read(backend, obj) == b"v3 data"
        assert await asyncio.to_thread(swift.read_direct, location, "through-keystone") == b"v3 data"
    finally:
        await backend.close()


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"swiftKey": "wrong"}, "BACKEND_AUTH"),
        ({"swiftRegion": "three"}, "BACKEND_UNAVAILABLE"),  # no object-store endpoint there
    ],
    ids=["wrong-password", "unknown-region"],
)
async def test_keystone_refusals_are_reported_without_secrets(
    swift: SwiftEmulator, keystone: str, extra: dict[str, Any], reason: str
) -> None:
    backend = create_remote("swift-v3-bad", keystone_location(swift, keystone, **extra))
    try:
        with pytest.raises(StrataError) as refused:
            await backend.health()
        assert ErrorReason.Name(refused.value.reason) == reason
        assert KEYSTONE_PASSWORD not in str(refused.value) and "wrong" not in str(refused.value)
    finally:
        await backend.close()


async def test_a_name_past_swifts_limit_is_an_invalid_argument(swift: SwiftEmulator) -> None:
    location = swift.location(bucket_match=True)
    backend = create_remote("swift-long-name", location)
    try:
        with pytest.raises(StrataError) as refused:
            await backend.put("n" * 1100, stream(b"data"), ObjectMeta(size=4))
        assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
        assert await asyncio.to_thread(swift.names_direct, location) == []
    finally:
        await backend.close()
