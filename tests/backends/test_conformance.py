"""ONE suite every external backend passes, against its real server or emulator.

Each test checks the data through the adapter AND directly on the server with the
provider's own client (``Emulator.read_direct``), so an adapter cannot pass by
agreeing with itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from datanode.backends.remote import (
    ObjectMeta,
    RemoteBackend,
    RemoteObject,
    RemotePart,
    create_remote,
    remote_name,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.emulators import Emulator

MIB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that differ at every offset between seeds (so a wrong range or write shows)."""
    pattern = bytes((index * 31 + seed * 7 + index // 251) % 256 for index in range(4099))
    return (pattern * (size // len(pattern) + 1))[:size]


async def stream(data: bytes, piece: int = MIB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def read(backend: RemoteBackend, obj: RemoteObject, offset: int = 0, length: int = -1) -> bytes:
    return b"".join([piece async for piece in backend.get(obj, offset, length)])


def reason_of(error: pytest.ExceptionInfo[StrataError]) -> str:
    return ErrorReason.Name(error.value.reason)


def name_for(bucket_match: bool, key: str) -> str:
    return remote_name("strata-bucket", key, bucket_match=bucket_match)


async def test_put_get_head_delete_round_trip_lands_under_the_object_name(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any], bucket_match: bool
) -> None:
    name = name_for(bucket_match, "dir/sub/photo 1.jpg")
    data = payload(3 * MIB + 17)
    obj = await backend.put(name, stream(data), ObjectMeta(content_type="image/jpeg", size=len(data)))
    assert obj.name == name and obj.size == len(data) and obj.version
    assert await read(backend, obj) == data
    assert await backend.head(obj) == len(data)
    assert await asyncio.to_thread(emulator.read_direct, location, name) == data
    expected_names = ["dir/sub/photo 1.jpg"] if bucket_match else ["strata-bucket/dir/sub/photo 1.jpg"]
    assert await asyncio.to_thread(emulator.names_direct, location) == expected_names
    await backend.delete(obj)
    assert await backend.head(obj) is None
    assert await asyncio.to_thread(emulator.read_direct, location, name) is None
    await backend.delete(obj)  # deleting again is not an error


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
async def test_ranges_read_exactly_the_asked_bytes(backend: RemoteBackend) -> None:
    data = payload(2 * MIB + 5, seed=1)
    obj = await backend.put("ranges", stream(data, piece=300_000), ObjectMeta())
    for offset, length in [(0, 1), (0, -1), (1, 10), (MIB - 3, 7), (2 * MIB, -1), (len(data) - 1, 1), (5, 0)]:
        expected = data[offset:] if length == -1 else data[offset : offset + length]
        assert await read(backend, obj, offset, length) == expected, (offset, length)
    empty = await backend.put("empty", stream(b""), ObjectMeta(size=0))
    assert empty.size == 0 and await read(backend, empty) == b"" and await backend.head(empty) == 0


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
@pytest.mark.parametrize("known_size", [True, False], ids=["sized", "unsized"])
async def test_a_large_object_streams_in_and_out(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any], known_size: bool
) -> None:
    data = payload(17 * MIB + 3, seed=2)
    meta = ObjectMeta(size=len(data) if known_size else -1)
    obj = await backend.put("large", stream(data), meta)
    assert obj.size == len(data)
    pieces = [piece async for piece in backend.get(obj)]
    assert b"".join(pieces) == data and max(len(piece) for piece in pieces) <= 4 * MIB
    assert await asyncio.to_thread(emulator.read_direct, location, "large") == data


async def test_multipart_joins_the_listed_parts_with_replacements_under_the_object_name(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any], bucket_match: bool
) -> None:
    name = name_for(bucket_match, "big/upload.bin")
    upload_id = await backend.create_multipart(name, ObjectMeta(content_type="application/x-test"))
    parts_data = {1: payload(5 * MIB, seed=3), 2: payload(5 * MIB, seed=4), 3: payload(MIB + 1, seed=5)}
    parts: dict[int, RemotePart] = {}
    for number, data in parts_data.items():
        parts[number] = await backend.upload_part(name, upload_id, number, stream(data), len(data))
    # Uploading part 2 again replaces it.
    parts_data[2] = payload(5 * MIB, seed=6)
    parts[2] = await backend.upload_part(name, upload_id, 2, stream(parts_data[2]), len(parts_data[2]))
    assert [part.size for part in parts.values()] == [5 * MIB, 5 * MIB, MIB + 1]
    # Nothing is visible under the name before completion.
    assert await asyncio.to_thread(emulator.read_direct, location, name) is None
    obj = await backend.complete_multipart(name, upload_id, [parts[1], parts[2], parts[3]], ObjectMeta())
    whole = parts_data[1] + parts_data[2] + parts_data[3]
    assert obj.name == name and obj.size == len(whole)
    assert await read(backend, obj) == whole
    assert await read(backend, obj, 5 * MIB - 2, 4) == whole[5 * MIB - 2 : 5 * MIB + 2]
    assert await asyncio.to_thread(emulator.read_direct, location, name) == whole
    # Only the object remains: no part or segment is left over under another name in the container.
    assert await asyncio.to_thread(emulator.names_direct, location) == [name]
    await backend.delete(obj)  # the collector, once the object is deleted or overwritten
    assert await asyncio.to_thread(emulator.read_direct, location, name) is None
    assert await asyncio.to_thread(emulator.names_direct, location) == []


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
async def test_multipart_may_complete_with_a_subset_of_parts_and_abort_leaves_nothing(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any]
) -> None:
    upload_id = await backend.create_multipart("subset", ObjectMeta())
    one = await backend.upload_part("subset", upload_id, 1, stream(payload(5 * MIB, 7)), 5 * MIB)
    await backend.upload_part("subset", upload_id, 2, stream(payload(5 * MIB, 8)), 5 * MIB)
    three = await backend.upload_part("subset", upload_id, 3, stream(payload(100, 9)), 100)
    obj = await backend.complete_multipart("subset", upload_id, [one, three], ObjectMeta())
    assert await read(backend, obj) == payload(5 * MIB, 7) + payload(100, 9)

    aborted = await backend.create_multipart("aborted", ObjectMeta())
    await backend.upload_part("aborted", aborted, 1, stream(payload(MIB, 10)), MIB)
    await backend.abort_multipart("aborted", aborted)
    await backend.abort_multipart("aborted", aborted)  # aborting twice is not an error
    assert await asyncio.to_thread(emulator.names_direct, location) == ["subset"]


async def test_an_overwrite_never_lets_the_older_write_read_or_delete_the_newer(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any], bucket_match: bool
) -> None:
    name = name_for(bucket_match, "same-name")
    first_data, second_data = payload(MIB + 1, seed=11), payload(2 * MIB + 3, seed=12)
    first = await backend.put(name, stream(first_data), ObjectMeta())
    second = await backend.put(name, stream(second_data), ObjectMeta())
    assert first.version != second.version
    assert await read(backend, second) == second_data
    if backend.keeps_versions:
        assert await read(backend, first) == first_data
    else:
        with pytest.raises(StrataError) as gone:
            await read(backend, first)
        assert reason_of(gone) == "BLOB_NOT_FOUND"
        assert await backend.head(first) is None
    await backend.delete(first)  # the garbage collector deleting the overwritten write
    assert await read(backend, second) == second_data
    assert await asyncio.to_thread(emulator.read_direct, location, name) == second_data
    await backend.delete(second)
    assert await asyncio.to_thread(emulator.read_direct, location, name) is None
    assert await asyncio.to_thread(emulator.names_direct, location) == []


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
async def test_concurrent_writers_each_get_their_own_bytes_or_nothing(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any]
) -> None:
    datas = [payload(MIB // 2 + index, seed=20 + index) for index in range(8)]
    distinct = await asyncio.gather(
        *(backend.put(f"w{i}", stream(d), ObjectMeta()) for i, d in enumerate(datas))
    )
    for obj, data in zip(distinct, datas, strict=True):
        assert await read(backend, obj) == data
    same = await asyncio.gather(*(backend.put("contended", stream(d), ObjectMeta()) for d in datas[:4]))
    final = await asyncio.to_thread(emulator.read_direct, location, "contended")
    assert final in datas[:4]
    readable = 0
    for obj, data in zip(same, datas[:4], strict=True):
        try:
            got = await read(backend, obj)
        except StrataError as error:
            assert ErrorReason.Name(error.reason) == "BLOB_NOT_FOUND"
            continue
        assert got == data  # a write's reference never reads another writer's bytes
        readable += 1
    assert readable >= 1 if not backend.keeps_versions else readable == 4


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
async def test_a_put_cut_short_leaves_nothing_and_missing_objects_are_reported(
    backend: RemoteBackend, emulator: Emulator, location: dict[str, Any]
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield payload(MIB, seed=30)
        raise ConnectionResetError("client went away")

    with pytest.raises((ConnectionResetError, StrataError)):
        await backend.put("cut", broken(), ObjectMeta())
    with pytest.raises((ConnectionResetError, StrataError)):
        await backend.put("cut-sized", broken(), ObjectMeta(size=3 * MIB))
    assert await asyncio.to_thread(emulator.names_direct, location) == []

    ghost = RemoteObject("never-written", "1", 10)
    assert await backend.head(ghost) is None
    with pytest.raises(StrataError) as missing:
        await read(backend, ghost)
    assert reason_of(missing) == "BLOB_NOT_FOUND"
    await backend.delete(ghost)


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
async def test_wrong_credentials_are_backend_auth(emulator: Emulator, location: dict[str, Any]) -> None:
    if not emulator.checks_credentials:
        pytest.skip(
            f"{type(emulator).__name__} accepts any credentials: checked on the other servers of this type"
        )
    backend = create_remote("bad-credentials", emulator.with_bad_credentials(location))
    try:
        with pytest.raises(StrataError) as refused:
            await backend.health()
        assert reason_of(refused) == "BACKEND_AUTH"
        with pytest.raises(StrataError) as refused_put:
            await backend.put("x", stream(b"data"), ObjectMeta(size=4))
        assert reason_of(refused_put) == "BACKEND_AUTH"
        assert "secret" not in str(refused_put.value).lower()
    finally:
        await backend.close()


@pytest.mark.parametrize("bucket_match", [True], ids=["bucketMatch"])
async def test_a_stopped_server_is_unavailable_and_recovery_needs_no_restart(
    backend: RemoteBackend, emulator: Emulator
) -> None:
    obj = await backend.put("before-outage", stream(b"kept"), ObjectMeta(size=4))
    await backend.health()
    await asyncio.to_thread(emulator.stop)
    try:
        for attempt in (backend.health(), backend.head(obj), read(backend, obj)):
            with pytest.raises(StrataError) as down:
                await asyncio.wait_for(attempt, timeout=60)
            assert reason_of(down) == "BACKEND_UNAVAILABLE"
        with pytest.raises(StrataError) as down_put:
            await asyncio.wait_for(backend.put("during", stream(b"x"), ObjectMeta(size=1)), timeout=60)
        assert reason_of(down_put) == "BACKEND_UNAVAILABLE"
    finally:
        await asyncio.to_thread(emulator.start)
    await backend.health()
    assert await read(backend, obj) == b"kept"


def test_every_external_location_type_has_an_emulator_here() -> None:
    from datanode.backends.remote import remote_location_types
    from strata.testing.emulators import EMULATORS

    served = {emulator_id.split("-")[0] for emulator_id in EMULATORS}
    assert served == set(remote_location_types())
