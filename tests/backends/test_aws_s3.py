"""What the aws_s3 backend does beyond the conformance suite, checked on real S3 servers.

Forwarded headers are read back with boto3 straight from moto; credentials profiles are
checked on the Strata peer (it verifies signatures); versioned buckets on both.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp.abc
import pytest

from datanode.backends.aws_s3 import PART_SIZE, AwsS3Backend
from datanode.backends.aws_s3_config import parse_settings
from datanode.backends.remote import ObjectMeta, RemoteBackend, create_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.emulators import Emulator, EmulatorMissing, load_emulator
from strata.testing.emulators.s3_peer import S3PeerEmulator

MIB = 1024 * 1024


def started(emulators: dict[str, Emulator], emulator_id: str) -> S3PeerEmulator:
    if emulator_id not in emulators:
        try:
            emulator = load_emulator(emulator_id)
            emulator.start()
        except EmulatorMissing as missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{emulator_id}: {missing}")
            pytest.skip(f"{emulator_id}: {missing}")
        emulators[emulator_id] = emulator
    emulator = emulators[emulator_id]
    assert isinstance(emulator, S3PeerEmulator)
    return emulator


@pytest.fixture
def moto(emulators: dict[str, Emulator]) -> S3PeerEmulator:
    return started(emulators, "aws_s3-moto")


@pytest.fixture
def strata_peer(emulators: dict[str, Emulator]) -> S3PeerEmulator:
    return started(emulators, "aws_s3-strata")


@pytest.fixture(params=["aws_s3-moto", "aws_s3-strata"])
def s3_peer(request: pytest.FixtureRequest, emulators: dict[str, Emulator]) -> S3PeerEmulator:
    return started(emulators, request.param)


async def stream(data: bytes, piece: int = MIB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def read(backend: RemoteBackend, obj: Any) -> bytes:
    return b"".join([piece async for piece in backend.get(obj)])


def bucket_of(location: dict[str, Any]) -> str:
    return str(location["details"]["bucketName"])


FULL_META = ObjectMeta(
    content_type="text/x-test",
    user_metadata={"colour": "blue", "owner-id": "42"},
    tags={"project": "strata", "tier": "cold one"},
    cache_control="max-age=60",
    content_disposition='attachment; filename="a.txt"',
    content_encoding="identity",
    content_language="fr",
)


@pytest.mark.parametrize("how", ["put", "unsized-put-in-parts", "multipart"])
async def test_metadata_content_headers_tags_and_encryption_reach_the_provider(
    moto: S3PeerEmulator, how: str
) -> None:
    location = moto.location(bucket_match=True)
    location["details"]["serverSideEncryption"] = True
    backend = create_remote("forwarding", location)
    try:
        if how == "put":
            data = b"forwarded"
            obj = await backend.put("obj", stream(data), FULL_META)
        elif how == "unsized-put-in-parts":
            data = os.urandom(PART_SIZE + MIB)
            obj = await backend.put("obj", stream(data), FULL_META)
        else:
            data = os.urandom(5 * MIB) + b"tail"
            upload_id = await backend.create_multipart("obj", FULL_META)
            one = await backend.upload_part("obj", upload_id, 1, stream(data[: 5 * MIB]), 5 * MIB)
            two = await backend.upload_part("obj", upload_id, 2, stream(data[5 * MIB :]), 4)
            obj = await backend.complete_multipart("obj", upload_id, [one, two], ObjectMeta())
        assert await read(backend, obj) == data
    finally:
        await backend.close()
    client = moto.client()
    head = await asyncio.to_thread(client.head_object, Bucket=bucket_of(location), Key="obj")
    assert head["ContentType"] == "text/x-test"
    assert head["Metadata"] == {"colour": "blue", "owner-id": "42"}
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="a.txt"'
    assert head["ContentEncoding"] == "identity"
    assert head["ContentLanguage"] == "fr"
    assert head["ServerSideEncryption"] == "AES256"
    tagging = await asyncio.to_thread(client.get_object_tagging, Bucket=bucket_of(location), Key="obj")
    assert {tag["Key"]: tag["Value"] for tag in tagging["TagSet"]} == {
        "project": "strata",
        "tier": "cold one",
    }


async def test_without_server_side_encryption_no_encryption_is_asked(moto: S3PeerEmulator) -> None:
    location = moto.location(bucket_match=True)
    backend = create_remote("plain", location)
    try:
        await backend.put("obj", stream(b"x"), ObjectMeta(size=1))
    finally:
        await backend.close()
    head = await asyncio.to_thread(moto.client().head_object, Bucket=bucket_of(location), Key="obj")
    assert "ServerSideEncryption" not in head


@pytest.mark.parametrize("declared", [True, False], ids=["supportsVersioning", "detected"])
async def test_a_versioned_bucket_keeps_every_write_readable_and_deletes_only_its_own_version(
    s3_peer: S3PeerEmulator, declared: bool
) -> None:
    location = s3_peer.location(bucket_match=True, versioned=True)
    location["details"]["supportsVersioning"] = declared
    backend = create_remote("versioned", location)
    try:
        assert backend.keeps_versions is declared
        first = await backend.put("same", stream(b"first"), ObjectMeta(size=5))
        second = await backend.put("same", stream(b"second write"), ObjectMeta())
        assert first.version.startswith("vid:") and second.version.startswith("vid:")
        assert first.version != second.version
        assert await read(backend, first) == b"first"
        assert await read(backend, second) == b"second write"
        assert await backend.head(first) == 5
        await backend.delete(first)
        assert await backend.head(first) is None
        with pytest.raises(StrataError) as gone:
            await read(backend, first)
        assert ErrorReason.Name(gone.value.reason) == "BLOB_NOT_FOUND"
        assert await read(backend, second) == b"second write"
        assert await asyncio.to_thread(s3_peer.read_direct, location, "same") == b"second write"
        await backend.delete(second)
        await backend.delete(second)
        client = s3_peer.client()
        versions = await asyncio.to_thread(client.list_object_versions, Bucket=bucket_of(location))
        assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
    finally:
        await backend.close()


async def test_a_versioned_multipart_write_is_addressed_by_its_version(s3_peer: S3PeerEmulator) -> None:
    location = s3_peer.location(bucket_match=False, versioned=True)
    backend = create_remote("versioned-mpu", location)
    try:
        data = os.urandom(5 * MIB + 3)
        upload_id = await backend.create_multipart("b/k", ObjectMeta())
        one = await backend.upload_part("b/k", upload_id, 1, stream(data[: 5 * MIB]), 5 * MIB)
        two = await backend.upload_part("b/k", upload_id, 2, stream(data[5 * MIB :]), 3)
        obj = await backend.complete_multipart("b/k", upload_id, [one, two], ObjectMeta())
        overwrite = await backend.put("b/k", stream(b"newer"), ObjectMeta(size=5))
        assert obj.version.startswith("vid:") and obj.size == len(data)
        assert await read(backend, obj) == data
        await backend.delete(obj)
        assert await read(backend, overwrite) == b"newer"
    finally:
        await backend.close()


async def test_credentials_come_from_a_profile_of_the_shared_credentials_file(
    strata_peer: S3PeerEmulator, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n"
        f"[peer]\naws_access_key_id = {strata_peer.access_key}\n"
        f"aws_secret_access_key = {strata_peer.secret_key}\n"
        "[stale]\naws_access_key_id = accessKey1\naws_secret_access_key = notTheSecret\n"
    )
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    location = strata_peer.location(bucket_match=True)
    details = dict(location["details"])
    del details["credentials"]
    good = AwsS3Backend(
        parse_settings("profiled", {**location, "details": {**details, "credentialsProfile": "peer"}}, env)
    )
    stale = AwsS3Backend(
        parse_settings("stale", {**location, "details": {**details, "credentialsProfile": "stale"}}, env)
    )
    try:
        await good.health()
        obj = await good.put("via-profile", stream(b"profiled"), ObjectMeta(size=8))
        assert await asyncio.to_thread(strata_peer.read_direct, location, "via-profile") == b"profiled"
        assert await read(good, obj) == b"profiled"
        with pytest.raises(StrataError) as refused:
            await stale.health()
        assert ErrorReason.Name(refused.value.reason) == "BACKEND_AUTH"
        assert "notTheSecret" not in str(refused.value)
    finally:
        await good.close()
        await stale.close()


class LocalhostSubdomains(aiohttp.abc.AbstractResolver):
    """Resolves ``<anything>.localhost`` to 127.0.0.1, so the virtual-hosted URL form reaches moto."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        assert host == "localhost" or host.endswith(".localhost"), host
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        pass


async def test_the_virtual_hosted_url_form_over_plain_http_reaches_the_bucket(moto: S3PeerEmulator) -> None:
    location = moto.location(bucket_match=True)
    details = {
        **location["details"],
        "awsEndpoint": f"localhost:{moto.port}",
        "pathStyle": False,
        "https": False,
    }
    settings = parse_settings("virtual-hosted", {**location, "details": details})
    assert settings.object_url("a b/c") == f"http://{bucket_of(location)}.localhost:{moto.port}/a%20b/c"
    backend = AwsS3Backend(settings, resolver=LocalhostSubdomains())
    try:
        await backend.health()
        obj = await backend.put("a b/c", stream(b"hosted"), ObjectMeta(size=6))
        assert await read(backend, obj) == b"hosted"
    finally:
        await backend.close()
    assert await asyncio.to_thread(moto.read_direct, location, "a b/c") == b"hosted"


async def test_a_missing_bucket_is_unavailable_not_missing_data(s3_peer: S3PeerEmulator) -> None:
    location = s3_peer.location(bucket_match=True)
    location["details"]["bucketName"] = "strata-no-such-bucket"
    backend = create_remote("no-bucket", location)
    try:
        with pytest.raises(StrataError) as missing:
            await backend.put("x", stream(b"x"), ObjectMeta(size=1))
        assert ErrorReason.Name(missing.value.reason) == "BACKEND_UNAVAILABLE"
        with pytest.raises(StrataError) as health:
            await backend.health()
        assert ErrorReason.Name(health.value.reason) == "BACKEND_UNAVAILABLE"
    finally:
        await backend.close()


async def test_a_large_sized_write_goes_up_as_streamed_parts(
    moto: S3PeerEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datanode.backends import aws_s3

    monkeypatch.setattr(aws_s3, "MULTIPART_THRESHOLD", 9 * MIB)  # the real path, with a smaller body
    location = moto.location(bucket_match=True)
    backend = create_remote("split", location)
    data = os.urandom(2 * PART_SIZE + 3 * MIB + 7)
    try:
        obj = await backend.put("split", stream(data, piece=700_001), ObjectMeta(size=len(data)))
        assert obj.size == len(data) and obj.version.endswith('-3"')  # an ETag of three parts
        assert await read(backend, obj) == data
        newer = await backend.put("split", stream(b"newer"), ObjectMeta(size=5))
        assert await backend.head(obj) is None  # the parts' write is addressed by its ETag, not "null"
        await backend.delete(obj)
        assert await read(backend, newer) == b"newer"
        await backend.delete(newer)
        await backend.put("split", stream(data, piece=700_001), ObjectMeta(size=len(data)))
    finally:
        await backend.close()
    assert await asyncio.to_thread(moto.read_direct, location, "split") == data
    uploads = await asyncio.to_thread(moto.client().list_multipart_uploads, Bucket=bucket_of(location))
    assert uploads.get("Uploads", []) == []


@pytest.mark.parametrize("size", [3, 20 * MIB], ids=["put", "parts"])
async def test_a_body_longer_than_declared_is_refused_and_leaves_nothing(
    moto: S3PeerEmulator, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    from datanode.backends import aws_s3

    monkeypatch.setattr(aws_s3, "MULTIPART_THRESHOLD", 9 * MIB)
    location = moto.location(bucket_match=True)
    backend = create_remote("too-long", location)
    try:
        with pytest.raises(StrataError) as refused:
            await backend.put("long", stream(os.urandom(size + 1)), ObjectMeta(size=size))
        assert ErrorReason.Name(refused.value.reason) == "INVALID_ARGUMENT"
    finally:
        await backend.close()
    assert await asyncio.to_thread(moto.names_direct, location) == []
    uploads = await asyncio.to_thread(moto.client().list_multipart_uploads, Bucket=bucket_of(location))
    assert uploads.get("Uploads", []) == []
