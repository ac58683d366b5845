"""The lifecycle worker over a real metadata core (memory and RocksDB KV): bounded ticks that resume
where they stopped, keys whose versions span ticks, and the state each action leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from metanode import keys
from metanode.core import MetadataCore
from metanode.kv import KV
from metanode.lifecycle.positions import KVPositions
from metanode.lifecycle.rules import LifecycleConfiguration, LifecycleRule, RuleFilter, encode_configuration
from metanode.lifecycle.worker import LifecycleWorker
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    LISTING_DELIMITER_VERSIONS,
    VERSIONING_ENABLED,
    VERSIONING_SUSPENDED,
    BucketInfo,
    BucketName,
    CreateBucketRequest,
    CreateUploadRequest,
    GetObjectRequest,
    ListObjectsRequest,
    ListUploadsRequest,
    ObjectMD,
    PutObjectRequest,
    UploadInfo,
)

DAY_S = 1.0


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def core(kv: KV, clock: Clock) -> AsyncIterator[MetadataCore]:
    metadata = MetadataCore(kv, clock_ms=clock)
    yield metadata
    await metadata.writer.close()


async def configured_bucket(core: MetadataCore, versioning: int, *rules: LifecycleRule) -> BucketInfo:
    await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bucket", owner_id="alice")))
    bucket = await core.get_bucket(BucketName(name="bucket"))
    bucket.versioning = versioning
    bucket.lifecycle = encode_configuration(LifecycleConfiguration(rules))
    return await core.update_bucket(bucket)


async def put(core: MetadataCore, key: str, versioned: bool, size: int = 1) -> None:
    await core.put_object(
        PutObjectRequest(bucket="bucket", object=ObjectMD(key=key, size=size), versioning=versioned)
    )


async def versions(core: MetadataCore) -> list[tuple[str, bool]]:
    listing = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=1000)
    )
    return [(entry.key, entry.object.is_delete_marker) for entry in listing.entries]


async def test_each_tick_reads_a_bounded_batch_and_resumes_where_it_stopped(
    core: MetadataCore, clock: Clock
) -> None:
    await configured_bucket(core, VERSIONING_ENABLED, LifecycleRule("n", True, noncurrent_days=1))
    for key in ("a", "b", "c"):
        for _ in range(3):  # each key: one current and two noncurrent versions
            await put(core, key, versioned=True)
            clock.now_ms += 10
    clock.now_ms += 10_000
    worker = LifecycleWorker(core, day_s=DAY_S, batch_size=2, clock_ms=clock)
    reads = [(await worker.tick()).versions_read for _ in range(5)]
    assert reads == [2, 2, 2, 2, 1]  # nine versions, two per tick
    assert await versions(core) == [("a", False), ("b", False), ("c", False)]


async def test_current_versions_expire_by_versioning_state(core: MetadataCore, clock: Clock) -> None:
    await configured_bucket(
        core, VERSIONING_SUSPENDED, LifecycleRule("e", True, RuleFilter("x/"), expiration_days=1)
    )
    await put(core, "x/old", versioned=False)
    await put(core, "y/kept", versioned=False)
    worker = LifecycleWorker(core, day_s=DAY_S, clock_ms=clock)
    clock.now_ms += 999
    assert (await worker.tick()).expired == 0
    clock.now_ms += 1
    assert (await worker.tick()).expired == 1
    # Suspended: the delete marker became the null version, replacing the object.
    assert await versions(core) == [("x/old", True), ("y/kept", False)]


async def test_an_object_overwritten_after_the_listing_is_not_expired(
    core: MetadataCore, clock: Clock
) -> None:
    await configured_bucket(core, 0, LifecycleRule("e", True, expiration_days=1))
    await put(core, "k", versioned=False)
    clock.now_ms += 5_000
    worker = LifecycleWorker(core, day_s=DAY_S, clock_ms=clock)
    original = core.list_objects

    async def listing_then_overwrite(request: ListObjectsRequest):  # type: ignore[no-untyped-def]
        page = await original(request)
        await put(core, "k", versioned=False, size=2)  # lands between the listing and the delete
        return page

    core.list_objects = listing_then_overwrite  # type: ignore[method-assign]
    assert (await worker.tick()).expired == 0
    core.list_objects = original  # type: ignore[method-assign]
    assert await versions(core) == [("k", False)]


@pytest.mark.parametrize("versioning", [0, VERSIONING_ENABLED])
async def test_an_overwrite_committed_just_before_the_expiring_write_is_kept(
    core: MetadataCore, clock: Clock, versioning: int
) -> None:
    # The overwrite lands after every read of the pass, right before its delete (or delete
    # marker): the core refuses the conditioned write under the object's lock.
    await configured_bucket(core, versioning, LifecycleRule("e", True, expiration_days=1))
    await put(core, "k", versioned=bool(versioning))
    clock.now_ms += 5_000
    worker = LifecycleWorker(core, day_s=DAY_S, clock_ms=clock)
    name = "put_object" if versioning else "delete_object"
    original = getattr(core, name)
    calls = 0

    async def overwrite_first(request, **options):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            await put(core, "k", versioned=bool(versioning), size=2)
        return await original(request, **options)

    setattr(core, name, overwrite_first)
    assert (await worker.tick()).expired == 0
    setattr(core, name, original)
    current = await core.get_object(GetObjectRequest(bucket="bucket", key="k"))
    assert (current.size, current.is_delete_marker) == (2, False)


async def test_due_uploads_are_aborted_and_others_kept(core: MetadataCore, clock: Clock) -> None:
    await configured_bucket(core, 0, LifecycleRule("a", True, RuleFilter("tmp/"), abort_days=2))
    for key in ("tmp/u", "keep/u"):
        await core.create_upload(CreateUploadRequest(upload=UploadInfo(bucket="bucket", key=key)))
    worker = LifecycleWorker(core, day_s=DAY_S, clock_ms=clock)
    clock.now_ms += 1_999
    assert (await worker.tick()).uploads_aborted == 0
    clock.now_ms += 1
    assert (await worker.tick()).uploads_aborted == 1
    left = await core.list_uploads(ListUploadsRequest(bucket="bucket", max_uploads=10))
    assert [upload.key for upload in left.uploads] == ["keep/u"]


async def test_a_bucket_without_configuration_is_not_scanned(core: MetadataCore, clock: Clock) -> None:
    await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bucket", owner_id="alice")))
    await put(core, "k", versioned=False)
    clock.now_ms += 10**9
    stats = await LifecycleWorker(core, day_s=DAY_S, clock_ms=clock).tick()
    assert stats.versions_read == 0
    assert await versions(core) == [("k", False)]


async def test_a_failed_tick_starts_the_bucket_over_and_keeps_the_plan_right(
    core: MetadataCore, clock: Clock
) -> None:
    rule = LifecycleRule("n", True, noncurrent_days=1, newer_noncurrent_versions=1)
    await configured_bucket(core, VERSIONING_ENABLED, rule)
    for _ in range(4):
        await put(core, "k", versioned=True)
        clock.now_ms += 10
    clock.now_ms += 10_000
    worker = LifecycleWorker(core, day_s=DAY_S, batch_size=3, clock_ms=clock)
    assert (await worker.tick()).versions_read == 3  # the key's versions span two ticks
    original = core.list_objects

    async def unavailable(request: ListObjectsRequest):  # type: ignore[no-untyped-def]
        raise StrataError(ErrorReason.NOT_LEADER, "no leader")

    core.list_objects = unavailable  # type: ignore[method-assign]
    await worker.tick()
    core.list_objects = original  # type: ignore[method-assign]
    reads = [(await worker.tick()).versions_read for _ in range(2)]
    assert reads == [3, 1]  # from the beginning again
    # The current version and the newest noncurrent one stay; the two older ones went.
    assert await versions(core) == [("k", False), ("k", False)]


async def test_a_new_worker_resumes_after_the_last_key_the_previous_one_finished(
    core: MetadataCore, clock: Clock
) -> None:
    bucket = await configured_bucket(core, VERSIONING_ENABLED, LifecycleRule("n", True, noncurrent_days=1))
    for key in ("a", "b", "c"):
        for _ in range(2):
            await put(core, key, versioned=True)
            clock.now_ms += 10
    clock.now_ms += 10_000
    first = LifecycleWorker(
        core, day_s=DAY_S, batch_size=3, clock_ms=clock, positions=KVPositions(core.kv, core.writer)
    )
    assert (await first.tick()).versions_read == 3  # a's two versions and b's first: "a" is finished
    assert core.kv.get(keys.lifecycle_position_key(bucket.uid)) is not None
    # A new leader: another worker, the same replicated KV.
    second = LifecycleWorker(
        core, day_s=DAY_S, batch_size=3, clock_ms=clock, positions=KVPositions(core.kv, core.writer)
    )
    assert [(await second.tick()).versions_read for _ in range(2)] == [3, 1]  # b, b, c then c
    assert core.kv.get(keys.lifecycle_position_key(bucket.uid)) is None  # the sweep ended
    assert await versions(core) == [("a", False), ("b", False), ("c", False)]
