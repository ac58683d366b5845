"""The swift backend's settings and error translation.

Error translation runs against a small local Swift-shaped aiohttp server (tempauth login
plus objects answering the status a test chooses), because a real Swift cannot be made
to answer 498 or 429 on demand; the real server is in tests/backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from datanode.backends.remote import ObjectMeta, RemoteObject, RemoteTimeouts, create_remote
from datanode.backends.swift import SwiftBackend
from datanode.backends.swift_auth import DEFAULT_SEGMENT_SIZE, SwiftSettings
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.etcd import free_port

BASE_DETAILS: dict[str, Any] = {
    "swiftAuthUrl": "http://127.0.0.1:8080/auth/v1.0",
    "swiftUser": "test:tester",
    "swiftKey": "testing-secret",
    "swiftContainerName": "data",
}


def location(**details: Any) -> dict[str, Any]:
    merged = {**BASE_DETAILS, **details}
    return {
        "type": "swift",
        "legacyAwsBehavior": False,
        "details": {k: v for k, v in merged.items() if v is not None},
    }


def settings(environ: dict[str, str] | None = None, **details: Any) -> SwiftSettings:
    return SwiftSettings.from_location("loc", location(**details), environ or {})


def test_defaults_of_a_v1_location() -> None:
    parsed = settings()
    assert parsed.auth_version == 1 and parsed.auth_url == "http://127.0.0.1:8080/auth/v1.0"
    assert parsed.segment_container == "data+segments" and parsed.segment_size == DEFAULT_SEGMENT_SIZE
    assert parsed.bucket_match is True and parsed.interface == "public" and parsed.region == ""


def test_a_v3_location_needs_a_project_and_takes_domains_and_region() -> None:
    with pytest.raises(StrataError, match="swiftProject"):
        settings(swiftAuthVersion=3)
    parsed = settings(
        swiftAuthVersion="3",
        swiftProject="demo",
        swiftUserDomain="users",
        swiftProjectDomain="projects",
        swiftRegion="RegionTwo",
        swiftInterface="internal",
        swiftSegmentContainerName="segs",
        swiftSegmentSize=8 * 1024 * 1024,
        bucketMatch=False,
    )
    assert (parsed.auth_version, parsed.project, parsed.user_domain, parsed.project_domain) == (
        3,
        "demo",
        "users",
        "projects",
    )
    assert (parsed.region, parsed.interface, parsed.segment_container) == ("RegionTwo", "internal", "segs")
    assert parsed.segment_size == 8 * 1024 * 1024 and parsed.bucket_match is False


@pytest.mark.parametrize(
    "details, field_name",
    [
        ({"swiftAuthUrl": None}, "swiftAuthUrl"),
        ({"swiftAuthUrl": "ftp://host/auth"}, "swiftAuthUrl"),
        ({"swiftUser": ""}, "swiftUser"),
        ({"swiftKey": None}, "swiftKey"),
        ({"swiftContainerName": None}, "swiftContainerName"),
        ({"swiftAuthVersion": 2}, "swiftAuthVersion"),
        ({"swiftSegmentSize": 0}, "swiftSegmentSize"),
        ({"swiftSegmentSize": "64MiB"}, "swiftSegmentSize"),
        ({"swiftSegmentSize": True}, "swiftSegmentSize"),
        ({"swiftRegion": 5}, "swiftRegion"),
        ({"bucketMatch": "yes"}, "bucketMatch"),
    ],
)
def test_bad_details_are_invalid_arguments_naming_the_field(details: dict[str, Any], field_name: str) -> None:
    with pytest.raises(StrataError) as invalid:
        settings(**details)
    assert invalid.value.reason == ErrorReason.INVALID_ARGUMENT
    assert field_name in str(invalid.value) and "testing-secret" not in str(invalid.value)


def test_details_must_be_an_object() -> None:
    with pytest.raises(StrataError) as invalid:
        create_remote("loc", {"type": "swift", "details": "nope"})
    assert invalid.value.reason == ErrorReason.INVALID_ARGUMENT


def test_environment_overrides_replace_the_credentials_of_that_location_only() -> None:
    environ = {
        "loc_SWIFT_AUTH_URL": "https://keystone.example/v3",
        "loc_SWIFT_USER": "from-env",
        "loc_SWIFT_KEY": "env-key",
        "other_SWIFT_USER": "not-mine",
    }
    parsed = settings(environ)
    assert (parsed.auth_url, parsed.user, parsed.key) == (
        "https://keystone.example/v3",
        "from-env",
        "env-key",
    )
    # An override fills a field the file leaves out.
    assert settings(environ, swiftKey=None).key == "env-key"


def test_the_registry_builds_a_swift_backend() -> None:
    backend = create_remote("loc", location())
    assert isinstance(backend, SwiftBackend)
    assert backend.location_type == "swift" and backend.keeps_versions is True


# ---- error translation against a local Swift-shaped server ----------------------------------------


@dataclass
class FakeSwift:
    """Answers tempauth logins and gives every object request the chosen status."""

    auth_status: int = 200
    object_status: int = 201
    version_header: bool = True
    hang: bool = False  # object requests wait until the test ends
    released: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    async def login(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if self.auth_status != 200:
            return web.Response(status=self.auth_status, text="Unauthorized: testing-secret rejected")
        return web.Response(
            status=200, headers={"X-Storage-Url": f"{self.url}/v1/AUTH_test", "X-Auth-Token": "AUTH_tk1"}
        )

    async def storage(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        if self.hang:
            await self.released.wait()
        await request.read()
        if request.method == "HEAD" and request.path == "/v1/AUTH_test/data":
            return web.Response(status=204, headers={"X-Versions-Enabled": "True"})
        headers = {"X-Object-Version-Id": "1700000000.00001"} if self.version_header else {}
        return web.Response(status=self.object_status, headers=headers, text="provider text testing-secret")


@pytest.fixture
async def fake_swift() -> AsyncIterator[FakeSwift]:
    fake = FakeSwift()
    app = web.Application()
    app.router.add_get("/auth/v1.0", fake.login)
    app.router.add_route("*", "/v1/{tail:.*}", fake.storage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        fake.released.set()
        await runner.cleanup()


def backend_for(url: str, timeouts: RemoteTimeouts | None = None) -> SwiftBackend:
    return SwiftBackend("loc", location(swiftAuthUrl=f"{url}/auth/v1.0"), timeouts=timeouts, environ={})


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


THE_OBJECT = RemoteObject("key", "1700000000.00001", 4)


@pytest.mark.parametrize(
    "status, reason",
    [
        (498, "BACKEND_THROTTLED"),
        (429, "BACKEND_THROTTLED"),
        (401, "BACKEND_AUTH"),
        (403, "BACKEND_AUTH"),
        (500, "BACKEND_UNAVAILABLE"),
        (503, "BACKEND_UNAVAILABLE"),
        (507, "BACKEND_UNAVAILABLE"),
        (413, "INVALID_ARGUMENT"),
    ],
)
async def test_provider_statuses_become_reasons_without_provider_text(
    fake_swift: FakeSwift, status: int, reason: str
) -> None:
    fake_swift.object_status = status
    backend = backend_for(fake_swift.url)
    try:
        with pytest.raises(StrataError) as put_error:
            await backend.put("key", one_chunk(b"data"), ObjectMeta(size=4))
        with pytest.raises(StrataError) as get_error:
            [piece async for piece in backend.get(THE_OBJECT)]
        for error in (put_error, get_error):
            assert ErrorReason.Name(error.value.reason) == reason
            assert "testing-secret" not in str(error.value) and "provider text" not in str(error.value)
    finally:
        await backend.close()


@pytest.mark.parametrize("status", [404, 412])
async def test_a_missing_or_superseded_write_is_blob_not_found(fake_swift: FakeSwift, status: int) -> None:
    fake_swift.object_status = status
    backend = backend_for(fake_swift.url)
    try:
        assert await backend.head(THE_OBJECT) is None
        with pytest.raises(StrataError) as missing:
            [piece async for piece in backend.get(THE_OBJECT)]
        assert missing.value.reason == ErrorReason.BLOB_NOT_FOUND
        await backend.delete(THE_OBJECT)  # nothing to delete is not an error
        assert ("DELETE", "/v1/AUTH_test/data/key?version-id=1700000000.00001") in fake_swift.requests
    finally:
        await backend.close()


async def test_refused_login_is_backend_auth(fake_swift: FakeSwift) -> None:
    fake_swift.auth_status = 401
    backend = backend_for(fake_swift.url)
    try:
        with pytest.raises(StrataError) as refused:
            await backend.health()
        assert refused.value.reason == ErrorReason.BACKEND_AUTH
        assert "testing-secret" not in str(refused.value)
    finally:
        await backend.close()


async def test_a_cluster_without_object_versioning_is_refused_not_trusted(fake_swift: FakeSwift) -> None:
    fake_swift.version_header = False
    backend = backend_for(fake_swift.url)
    try:
        with pytest.raises(StrataError) as refused:
            await backend.put("key", one_chunk(b"data"), ObjectMeta(size=4))
        assert refused.value.reason == ErrorReason.BACKEND_UNAVAILABLE
        assert "allow_object_versioning" in str(refused.value)
    finally:
        await backend.close()


async def test_a_server_that_does_not_answer_in_time_is_unavailable(fake_swift: FakeSwift) -> None:
    fake_swift.hang = True
    backend = backend_for(fake_swift.url, RemoteTimeouts(connect_s=1, request_s=0.3))
    try:
        with pytest.raises(StrataError) as slow:
            await asyncio.wait_for(backend.head(THE_OBJECT), timeout=20)
        assert slow.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    finally:
        await backend.close()


async def test_nobody_listening_is_unavailable() -> None:
    backend = backend_for(f"http://127.0.0.1:{free_port()}")
    try:
        for attempt in (backend.health(), backend.put("key", one_chunk(b"data"), ObjectMeta(size=4))):
            with pytest.raises(StrataError) as down:
                await attempt
            assert down.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    finally:
        await backend.close()


async def test_a_body_longer_than_declared_is_refused_before_it_is_committed(fake_swift: FakeSwift) -> None:
    backend = backend_for(fake_swift.url)
    try:
        with pytest.raises(StrataError) as refused:
            await backend.put("key", one_chunk(b"too long"), ObjectMeta(size=4))
        assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
    finally:
        await backend.close()
