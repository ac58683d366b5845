"""What only the azure backend does, checked on Azurite with Azure's own client.

Metadata, content settings and tags landing on the blob; environment overrides of the
location; multipart block bookkeeping (replaced parts, concurrent uploads to one name).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from datanode.backends.azure import AzureBackend
from datanode.backends.azure_encoding import decode_metadata_name, settings_from
from datanode.backends.remote import ObjectMeta, RemoteTimeouts, create_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.emulators import Emulator, EmulatorMissing, load_emulator
from strata.testing.emulators.azurite import AzuriteEmulator
from tests.backends.test_conformance import MIB, payload, read, stream

EMULATOR_ID = "azure-azurite"


@pytest.fixture
def azurite(emulators: dict[str, Emulator]) -> Iterator[AzuriteEmulator]:
    if EMULATOR_ID not in emulators:
        try:
            started = load_emulator(EMULATOR_ID)
            started.start()
        except EmulatorMissing as missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{EMULATOR_ID}: {missing}")
            pytest.skip(f"{EMULATOR_ID}: {missing}")
        emulators[EMULATOR_ID] = started
    emulator = emulators[EMULATOR_ID]
    assert isinstance(emulator, AzuriteEmulator)
    yield emulator


@pytest.fixture
def location(azurite: AzuriteEmulator) -> dict[str, Any]:
    return azurite.location(bucket_match=True)


@pytest.fixture
async def backend(location: dict[str, Any]) -> AsyncIterator[AzureBackend]:
    remote = create_remote("azure-test", location)
    assert isinstance(remote, AzureBackend)
    try:
        yield remote
    finally:
        await remote.close()


@pytest.mark.parametrize("size", [100, 9 * MIB + 1], ids=["one-put", "blocks"])
async def test_metadata_content_settings_and_tags_land_on_the_blob(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any], size: int
) -> None:
    meta = ObjectMeta(
        content_type="text/plain; charset=utf-8",
        user_metadata={"color": "blue", "content-id": "x-1", "my_key": "naïve"},
        tags={"project": "strata", "stage": "a b/c"},
        cache_control="max-age=60",
        content_disposition='attachment; filename="a.txt"',
        content_encoding="identity",
        content_language="fr",
        size=size,
    )
    await backend.put("with-meta", stream(payload(size)), meta)
    properties = await asyncio.to_thread(azurite.properties_direct, location, "with-meta")
    settings = properties.content_settings
    assert settings.content_type == "text/plain; charset=utf-8"
    assert settings.cache_control == "max-age=60"
    assert settings.content_disposition == 'attachment; filename="a.txt"'
    assert settings.content_encoding == "identity"
    assert settings.content_language == "fr"
    stored = {decode_metadata_name(name): value for name, value in properties.metadata.items()}
    assert stored == {"color": "blue", "content-id": "x-1", "my_key": "=?UTF-8?B?bmHDr3Zl?="}
    assert await asyncio.to_thread(azurite.tags_direct, location, "with-meta") == {
        "project": "strata",
        "stage": "a b/c",
    }


async def test_multipart_completion_carries_the_metadata_and_tags(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    meta = ObjectMeta(content_type="video/mp4", user_metadata={"origin": "camera"}, tags={"kind": "video"})
    upload_id = await backend.create_multipart("movie", meta)
    part = await backend.upload_part("movie", upload_id, 1, stream(payload(MIB)), MIB)
    await backend.complete_multipart("movie", upload_id, [part], meta)
    properties = await asyncio.to_thread(azurite.properties_direct, location, "movie")
    assert properties.content_settings.content_type == "video/mp4"
    assert dict(properties.metadata) == {"origin": "camera"}
    assert await asyncio.to_thread(azurite.tags_direct, location, "movie") == {"kind": "video"}


async def test_a_replaced_part_never_brings_its_older_blocks_into_the_object(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    # The first attempt of part 1 has more blocks (9 MiB: two) than its replacement (1 MiB: one),
    # so a completion that reused ids by position alone would pick up the old second block.
    upload_id = await backend.create_multipart("replaced", ObjectMeta())
    await backend.upload_part("replaced", upload_id, 1, stream(payload(9 * MIB, 1)), 9 * MIB)
    replacement = await backend.upload_part("replaced", upload_id, 1, stream(payload(MIB, 2)), MIB)
    last = await backend.upload_part("replaced", upload_id, 2, stream(payload(10, 3)), 10)
    obj = await backend.complete_multipart("replaced", upload_id, [replacement, last], ObjectMeta())
    expected = payload(MIB, 2) + payload(10, 3)
    assert obj.size == len(expected)
    assert await asyncio.to_thread(azurite.read_direct, location, "replaced") == expected


async def test_a_part_cut_short_is_refused_and_the_upload_stays_usable(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    upload_id = await backend.create_multipart("short", ObjectMeta())
    with pytest.raises(StrataError) as short:
        await backend.upload_part("short", upload_id, 1, stream(payload(MIB)), MIB + 1)
    assert short.value.reason == ErrorReason.INVALID_ARGUMENT
    part = await backend.upload_part("short", upload_id, 1, stream(payload(MIB, 4)), MIB)
    obj = await backend.complete_multipart("short", upload_id, [part], ObjectMeta())
    assert await read(backend, obj) == payload(MIB, 4)


async def test_a_second_upload_to_the_same_name_fails_cleanly_after_the_first_completes(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    # Azure drops every uncommitted block of a blob when a block list is committed.
    first = await backend.create_multipart("shared", ObjectMeta())
    second = await backend.create_multipart("shared", ObjectMeta())
    first_part = await backend.upload_part("shared", first, 1, stream(payload(MIB, 5)), MIB)
    second_part = await backend.upload_part("shared", second, 1, stream(payload(MIB, 6)), MIB)
    await backend.complete_multipart("shared", first, [first_part], ObjectMeta())
    with pytest.raises(StrataError) as lost:
        await backend.complete_multipart("shared", second, [second_part], ObjectMeta())
    assert lost.value.reason == ErrorReason.BLOB_NOT_FOUND
    assert await asyncio.to_thread(azurite.read_direct, location, "shared") == payload(MIB, 5)


async def test_a_put_whose_blocks_another_commit_dropped_fails_as_unavailable(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    staged, release = asyncio.Event(), asyncio.Event()

    async def held_open() -> AsyncIterator[bytes]:
        yield payload(8 * MIB, 7)
        yield payload(8 * MIB, 8)
        # The backend asks for more only once one of its two staged blocks is on the server.
        staged.set()
        await release.wait()

    slow = asyncio.create_task(backend.put("raced", held_open(), ObjectMeta()))
    await asyncio.wait_for(staged.wait(), timeout=30)
    winner = await backend.put("raced", stream(payload(9 * MIB, 9)), ObjectMeta())
    release.set()
    with pytest.raises(StrataError) as lost:
        await slow
    assert lost.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    assert await read(backend, winner) == payload(9 * MIB, 9)
    assert await asyncio.to_thread(azurite.read_direct, location, "raced") == payload(9 * MIB, 9)


async def test_environment_variables_override_the_location_details(
    azurite: AzuriteEmulator, location: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = azurite.with_bad_credentials(location)
    wrong["details"] = {**wrong["details"], "azureStorageEndpoint": "http://127.0.0.1:9/nowhere"}
    right = location["details"]
    monkeypatch.setenv("env-loc_AZURE_STORAGE_ACCESS_KEY", right["azureStorageAccessKey"])
    monkeypatch.setenv("env-loc_AZURE_STORAGE_ENDPOINT", right["azureStorageEndpoint"])
    monkeypatch.setenv("env-loc_AZURE_STORAGE_ACCOUNT_NAME", right["azureStorageAccountName"])
    backend = create_remote("env-loc", wrong)
    try:
        await backend.health()
        obj = await backend.put("via-env", stream(b"hello"), ObjectMeta(size=5))
        assert await read(backend, obj) == b"hello"
    finally:
        await backend.close()
    assert await asyncio.to_thread(azurite.read_direct, location, "via-env") == b"hello"


async def test_a_missing_container_is_unavailable_not_a_missing_blob(
    azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    gone = {**location, "details": {**location["details"], "azureContainerName": "no-such-container"}}
    backend = create_remote("missing-container", gone)
    try:
        with pytest.raises(StrataError) as down:
            await backend.health()
        assert down.value.reason == ErrorReason.BACKEND_UNAVAILABLE
        with pytest.raises(StrataError) as put_down:
            await backend.put("x", stream(b"x"), ObjectMeta(size=1))
        assert put_down.value.reason == ErrorReason.BACKEND_UNAVAILABLE
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"azureStorageEndpoint": "127.0.0.1:10000"}, "azureStorageEndpoint"),
        ({"azureStorageAccessKey": "not base64!"}, "azureStorageAccessKey"),
        ({"azureContainerName": "Upper_Case"}, "azureContainerName"),
        ({"azureStorageAccountName": ""}, "azureStorageAccountName"),
        ({"bucketMatch": "yes"}, "bucketMatch"),
    ],
)
def test_bad_details_are_refused_at_construction(
    location: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(StrataError) as refused:
        create_remote("bad", {**location, "details": {**location["details"], **change}})
    assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
    assert field in refused.value.message
    assert location["details"]["azureStorageAccessKey"] not in refused.value.message


async def test_tags_azure_cannot_hold_are_refused_before_anything_is_written(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    with pytest.raises(StrataError) as refused:
        await backend.put("tagged", stream(b"x"), ObjectMeta(tags={"owner": "a@b"}, size=1))
    assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
    assert await asyncio.to_thread(azurite.names_direct, location) == []


async def test_a_hung_server_times_out_as_unavailable(
    azurite: AzuriteEmulator, location: dict[str, Any]
) -> None:
    backend = AzureBackend(
        "hung", settings_from("hung", location), RemoteTimeouts(connect_s=0.5, request_s=1.0)
    )
    try:
        obj = await backend.put("before", stream(b"kept"), ObjectMeta(size=4))
        azurite.pause()
        try:
            for attempt in (backend.health(), backend.head(obj), read(backend, obj)):
                with pytest.raises(StrataError) as hung:
                    await asyncio.wait_for(attempt, timeout=30)
                assert hung.value.reason == ErrorReason.BACKEND_UNAVAILABLE
        finally:
            azurite.resume()
        assert await read(backend, obj) == b"kept"
    finally:
        await backend.close()


@pytest.mark.parametrize("declared", [10, 9 * MIB], ids=["one-put", "blocks"])
async def test_a_body_shorter_than_declared_is_refused_and_leaves_nothing(
    backend: AzureBackend, azurite: AzuriteEmulator, location: dict[str, Any], declared: int
) -> None:
    with pytest.raises(StrataError) as refused:
        await backend.put("short-body", stream(payload(declared - 1)), ObjectMeta(size=declared))
    assert refused.value.reason == ErrorReason.INVALID_ARGUMENT
    assert await asyncio.to_thread(azurite.names_direct, location) == []
