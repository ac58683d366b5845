"""The b2 backend against the B2 API server over b2sdk's RawSimulator: what the shared suite does not cover."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from datanode.backends.remote import ObjectMeta, RemoteObject, RemoteTimeouts, create_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.emulators import Emulator, EmulatorMissing, load_emulator
from tests.backends.test_conformance import payload, read, stream

MIB = 1024 * 1024
EMULATOR_ID = "b2-simulator"

if TYPE_CHECKING:  # imported lazily at run time, so a missing b2sdk skips instead of breaking collection
    from strata.testing.emulators.b2_simulator import B2SimulatorEmulator


@pytest.fixture
def b2(emulators: dict[str, Emulator]) -> Iterator[B2SimulatorEmulator]:
    if EMULATOR_ID not in emulators:
        try:
            started = load_emulator(EMULATOR_ID)
            started.start()
        except EmulatorMissing as missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{EMULATOR_ID}: {missing}")
            pytest.skip(f"{EMULATOR_ID}: {missing}")
        emulators[EMULATOR_ID] = started
    emulator: Any = emulators[EMULATOR_ID]
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def location(b2: B2SimulatorEmulator) -> dict[str, Any]:
    return b2.location(bucket_match=True)


def backend_of(location: dict[str, Any], **options: Any) -> Any:
    from datanode.backends.b2 import B2Backend

    return B2Backend("b2-test", location, **options)


def reason_of(error: pytest.ExceptionInfo[StrataError]) -> str:
    return ErrorReason.Name(error.value.reason)


async def test_metadata_and_content_headers_land_as_b2_file_info(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = create_remote("b2-test", location)
    try:
        meta = ObjectMeta(
            content_type="text/plain",
            user_metadata={"color": "blue é", "not valid!": "dropped"},
            cache_control="max-age=60",
            content_disposition='attachment; filename="a.txt"',
            size=5,
        )
        await backend.put("meta.txt", stream(b"hello"), meta)
        found = await asyncio.to_thread(b2.file_direct, location, "meta.txt")
        assert found is not None
        assert found["content_type"] == "text/plain" and found["info"] == {"color": "blue é"}
        assert found["cache_control"] == "max-age=60"
        assert found["content_disposition"] == 'attachment; filename="a.txt"'
        assert found["content_language"] is None
        upload_id = await backend.create_multipart(
            "meta-mpu", ObjectMeta(content_type="a/b", user_metadata={"k": "v"})
        )
        part = await backend.upload_part("meta-mpu", upload_id, 1, stream(b"x" * 10), 10)
        await backend.complete_multipart("meta-mpu", upload_id, [part], ObjectMeta())
        found = await asyncio.to_thread(b2.file_direct, location, "meta-mpu")
        assert found is not None and found["content_type"] == "a/b" and found["info"] == {"k": "v"}
    finally:
        await backend.close()


async def test_a_sized_put_past_the_single_upload_limit_streams_as_a_large_file(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = backend_of(location, single_upload_max=6 * MIB, part_size=5 * MIB)
    try:
        data = payload(12 * MIB + 3, seed=40)
        obj = await backend.put("sized-large", stream(data, piece=700_000), ObjectMeta(size=len(data)))
        assert obj.size == len(data) and await read(backend, obj) == data
        assert await asyncio.to_thread(b2.read_direct, location, "sized-large") == data

        async def short() -> AsyncIterator[bytes]:
            yield payload(7 * MIB, seed=41)

        with pytest.raises(StrataError) as cut:
            await backend.put("sized-short", short(), ObjectMeta(size=12 * MIB))
        assert reason_of(cut) == "INVALID_ARGUMENT"
        assert await asyncio.to_thread(b2.unfinished_direct, location) == []
        assert await asyncio.to_thread(b2.names_direct, location) == ["sized-large"]
    finally:
        await backend.close()


async def test_an_unsized_put_that_fails_midway_cancels_its_large_file(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = backend_of(location, buffered_part_size=5 * MIB)

    async def broken() -> AsyncIterator[bytes]:
        for seed in range(12):
            yield payload(MIB, seed=seed)
        raise ConnectionResetError("client went away")

    try:
        with pytest.raises(ConnectionResetError):
            await backend.put("unsized-broken", broken(), ObjectMeta())
        assert await asyncio.to_thread(b2.unfinished_direct, location) == []
        assert await asyncio.to_thread(b2.names_direct, location) == []
    finally:
        await backend.close()


async def test_an_expired_token_is_renewed_once_without_the_caller_noticing(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = create_remote("b2-test", location)
    try:
        obj = await backend.put("renewed", stream(b"abc"), ObjectMeta(size=3))
        await asyncio.to_thread(b2.expire_tokens)
        assert await backend.head(obj) == 3
        await asyncio.to_thread(b2.expire_tokens)
        assert await read(backend, obj) == b"abc"
        await asyncio.to_thread(b2.expire_tokens)
        again = await backend.put("renewed", stream(b"abcd"), ObjectMeta(size=4))
        assert await read(backend, again) == b"abcd" and await read(backend, obj) == b"abc"
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (429, "too_many_requests", "BACKEND_THROTTLED"),
        (503, "service_unavailable", "BACKEND_THROTTLED"),
        (500, "internal_error", "BACKEND_UNAVAILABLE"),
        (403, "access_denied", "BACKEND_AUTH"),
    ],
)
async def test_b2_error_answers_become_the_contracts_reasons(
    b2: B2SimulatorEmulator, location: dict[str, Any], status: int, code: str, reason: str
) -> None:
    backend = create_remote("b2-test", location)
    try:
        obj = await backend.put("errors", stream(b"abc"), ObjectMeta(size=3))
        for attempt in (
            lambda: backend.head(obj),
            lambda: read(backend, obj),
            lambda: backend.put("errors-2", stream(b"x"), ObjectMeta(size=1)),
            lambda: backend.delete(obj),
            lambda: backend.create_multipart("errors-3", ObjectMeta()),
        ):
            b2.fail_next(status, code)
            with pytest.raises(StrataError) as failed:
                await attempt()
            assert reason_of(failed) == reason
            assert "injected" not in str(failed.value)  # B2's message text stays inside the adapter
        assert await read(backend, obj) == b"abc"
    finally:
        await backend.close()


async def test_a_buffered_upload_is_retried_once_on_a_fresh_url_a_streamed_one_is_not(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = create_remote("b2-test", location)
    try:
        await backend.put("warm", stream(b"w"), ObjectMeta(size=1))  # leaves one upload URL pooled
        b2.fail_next(503, "service_unavailable")
        unsized = await backend.put("unsized", stream(b"buffered"), ObjectMeta())
        assert await read(backend, unsized) == b"buffered"
        b2.fail_next(503, "service_unavailable")
        with pytest.raises(StrataError) as streamed:
            await backend.put("sized", stream(b"streamed"), ObjectMeta(size=8))
        assert reason_of(streamed) == "BACKEND_THROTTLED"
        b2.fail_next(500, "internal_error", count=2)
        with pytest.raises(StrataError) as twice:
            await backend.put("unsized-2", stream(b"buffered"), ObjectMeta())
        assert reason_of(twice) == "BACKEND_UNAVAILABLE"
        assert await asyncio.to_thread(b2.names_direct, location) == ["unsized", "warm"]
    finally:
        await backend.close()


async def test_a_stalled_server_times_out_as_unavailable(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = backend_of(location, timeouts=RemoteTimeouts(connect_s=1.0, request_s=0.5))
    try:
        obj = await backend.put("stalled", stream(b"abc"), ObjectMeta(size=3))
        for attempt in (lambda: backend.head(obj), lambda: read(backend, obj)):
            b2.stall_next(5.0)
            with pytest.raises(StrataError) as stalled:
                await attempt()
            assert reason_of(stalled) == "BACKEND_UNAVAILABLE"
        b2.clear_faults()
        assert await read(backend, obj) == b"abc"
    finally:
        await backend.close()


async def test_a_file_id_of_another_name_or_an_unfinished_upload_is_not_found(
    location: dict[str, Any],
) -> None:
    backend = create_remote("b2-test", location)
    try:
        real = await backend.put("owner", stream(b"mine"), ObjectMeta(size=4))
        borrowed = RemoteObject("thief", real.version, 4)
        assert await backend.head(borrowed) is None
        with pytest.raises(StrataError) as missing:
            await read(backend, borrowed)
        assert reason_of(missing) == "BLOB_NOT_FOUND"
        await backend.delete(borrowed)  # deleting through another name leaves the owner's write alone
        assert await read(backend, real) == b"mine"
        upload_id = await backend.create_multipart("pending", ObjectMeta())
        assert await backend.head(RemoteObject("pending", upload_id, 0)) is None
        await backend.abort_multipart("pending", upload_id)
    finally:
        await backend.close()


async def test_multipart_with_gaps_in_part_numbers_is_refused_and_abort_cleans_up(
    b2: B2SimulatorEmulator, location: dict[str, Any]
) -> None:
    backend = create_remote("b2-test", location)
    try:
        upload_id = await backend.create_multipart("gaps", ObjectMeta())
        one = await backend.upload_part("gaps", upload_id, 1, stream(payload(5 * MIB, 50)), 5 * MIB)
        three = await backend.upload_part("gaps", upload_id, 3, stream(payload(10, 51)), 10)
        with pytest.raises(StrataError) as refused:
            await backend.complete_multipart("gaps", upload_id, [one, three], ObjectMeta())
        assert reason_of(refused) == "INVALID_ARGUMENT"
        assert await asyncio.to_thread(b2.unfinished_direct, location) == ["gaps"]
        await backend.abort_multipart("gaps", upload_id)
        assert await asyncio.to_thread(b2.unfinished_direct, location) == []
        assert await asyncio.to_thread(b2.names_direct, location) == []
    finally:
        await backend.close()


async def test_environment_overrides_win_over_details(
    b2: B2SimulatorEmulator, location: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = b2.with_bad_credentials(location)
    monkeypatch.setenv("b2-env_B2_APPLICATION_KEY", location["details"]["b2ApplicationKey"])
    backend = create_remote("b2-env", wrong)
    try:
        await backend.health()
    finally:
        await backend.close()


async def test_a_bucket_the_key_cannot_see_is_unavailable_not_a_crash(location: dict[str, Any]) -> None:
    missing_bucket = {**location, "details": {**location["details"], "b2BucketName": "no-such-bucket"}}
    backend = create_remote("b2-test", missing_bucket)
    try:
        with pytest.raises(StrataError) as unavailable:
            await backend.health()
        assert reason_of(unavailable) == "BACKEND_UNAVAILABLE"
    finally:
        await backend.close()
