"""The metadata core over both KV stores: buckets, objects, versions, intents, GC."""

from __future__ import annotations

import asyncio

import pytest

from metanode import keys
from metanode.core import MetadataCore
from metanode.kv import MemoryKV
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    LISTING_DELIMITER_MASTER,
    LISTING_DELIMITER_VERSIONS,
    LISTING_MPU,
    VERSIONING_ENABLED,
    AbortIntentRequest,
    BucketInfo,
    BucketName,
    CreateBucketRequest,
    CreateIntentRequest,
    DeleteObjectRequest,
    GetObjectRequest,
    ListBucketsRequest,
    ListObjectsRequest,
    ObjectMD,
    PutObjectRequest,
    QueueGarbageRequest,
    RunGcRequest,
)


class RecordingDeleter:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.deleted: list[str] = []
        self.failing = failing or set()

    async def delete(self, blob: BlobRef) -> None:
        if blob.blob_id in self.failing:
            raise OSError("datanode down")
        self.deleted.append(blob.blob_id)


def blob(blob_id: str) -> BlobRef:
    return BlobRef(location="us-east-1", blob_id=blob_id, size=1)


def obj(key: str, etag: str = "e1", *blob_ids: str) -> ObjectMD:
    return ObjectMD(key=key, etag=etag, size=1, blobs=[blob(b) for b in blob_ids])


async def reason_of(awaitable: object) -> int:
    with pytest.raises(StrataError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.reason


async def make_bucket(core: MetadataCore, name: str = "bucket", owner: str = "alice") -> BucketInfo:
    return await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name=name, owner_id=owner)))


async def gc_blob_ids(core: MetadataCore) -> list[str]:
    entries = await core.gc_entries(1000)
    return sorted(b.blob_id for _, entry in entries for b in entry.blobs)


# ---- buckets ----


async def test_create_get_list_delete_bucket(core: MetadataCore) -> None:
    created = await make_bucket(core, "b2")
    await make_bucket(core, "b1")
    await make_bucket(core, "other", owner="bob")
    assert len(created.uid) == keys.BUCKET_UID_LENGTH and created.creation_ms > 0
    assert (await core.get_bucket(BucketName(name="b2"))).uid == created.uid
    listed = await core.list_buckets(ListBucketsRequest(owner_id="alice"))
    assert [b.name for b in listed.buckets] == ["b1", "b2"]
    await core.delete_bucket(BucketName(name="b2"))
    assert await reason_of(core.get_bucket(BucketName(name="b2"))) == ErrorReason.NO_SUCH_BUCKET
    assert await reason_of(core.delete_bucket(BucketName(name="b2"))) == ErrorReason.NO_SUCH_BUCKET


async def test_create_existing_bucket_reports_owner(core: MetadataCore) -> None:
    await make_bucket(core, "taken", owner="alice")
    assert await reason_of(make_bucket(core, "taken", owner="alice")) == ErrorReason.BUCKET_OWNED_BY_YOU
    assert await reason_of(make_bucket(core, "taken", owner="bob")) == ErrorReason.BUCKET_EXISTS


async def test_update_bucket_replaces_attributes_but_keeps_uid(core: MetadataCore) -> None:
    created = await make_bucket(core)
    updated = await core.update_bucket(
        BucketInfo(name="bucket", uid="f" * 32, versioning=VERSIONING_ENABLED, location="eu")
    )
    assert updated.uid == created.uid and updated.owner_id == "alice"
    stored = await core.get_bucket(BucketName(name="bucket"))
    assert stored.versioning == VERSIONING_ENABLED and stored.location == "eu"
    assert await reason_of(core.update_bucket(BucketInfo(name="nope"))) == ErrorReason.NO_SUCH_BUCKET


async def test_delete_bucket_refuses_when_objects_or_versions_remain(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k"), versioning=True))
    assert await reason_of(core.delete_bucket(BucketName(name="bucket"))) == ErrorReason.BUCKET_NOT_EMPTY
    await core.delete_object(DeleteObjectRequest(bucket="bucket", key="k"))  # master only: the version stays
    assert await reason_of(core.delete_bucket(BucketName(name="bucket"))) == ErrorReason.BUCKET_NOT_EMPTY


async def test_invalid_names_are_invalid_argument(core: MetadataCore) -> None:
    await make_bucket(core)
    assert await reason_of(make_bucket(core, "")) == ErrorReason.INVALID_ARGUMENT
    put = PutObjectRequest(bucket="bucket", object=obj("bad\0key"))
    assert await reason_of(core.put_object(put)) == ErrorReason.INVALID_ARGUMENT
    get = GetObjectRequest(bucket="bucket", key="k", version_id="nothex", has_version_id=True)
    assert await reason_of(core.get_object(get)) == ErrorReason.INVALID_ARGUMENT


# ---- objects ----


async def test_put_get_delete_object(core: MetadataCore) -> None:
    await make_bucket(core)
    response = await core.put_object(PutObjectRequest(bucket="bucket", object=obj("a/b", "etag1", "b1")))
    assert response.version_id == "" and response.last_modified_ms > 0
    stored = await core.get_object(GetObjectRequest(bucket="bucket", key="a/b"))
    assert stored.etag == "etag1" and stored.last_modified_ms == response.last_modified_ms
    removed = await core.delete_object(DeleteObjectRequest(bucket="bucket", key="a/b"))
    assert removed.removed.etag == "etag1"
    assert (
        await reason_of(core.get_object(GetObjectRequest(bucket="bucket", key="a/b")))
        == ErrorReason.NO_SUCH_KEY
    )
    delete_again = core.delete_object(DeleteObjectRequest(bucket="bucket", key="a/b"))
    assert await reason_of(delete_again) == ErrorReason.NO_SUCH_KEY
    assert await gc_blob_ids(core) == ["b1"]


async def test_object_in_missing_bucket_is_no_such_bucket(core: MetadataCore) -> None:
    put = PutObjectRequest(bucket="ghost", object=obj("k"))
    assert await reason_of(core.put_object(put)) == ErrorReason.NO_SUCH_BUCKET
    get = GetObjectRequest(bucket="ghost", key="k")
    assert await reason_of(core.get_object(get)) == ErrorReason.NO_SUCH_BUCKET


async def test_overwrite_queues_old_blobs_for_gc(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e1", "old1", "old2")))
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e2", "new")))
    assert await gc_blob_ids(core) == ["old1", "old2"]


async def test_rewriting_same_blobs_queues_nothing(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e1", "same")))
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e1", "same")))
    assert await gc_blob_ids(core) == []


async def test_conditional_put(core: MetadataCore) -> None:
    await make_bucket(core)
    first = PutObjectRequest(bucket="bucket", object=obj("k", "e1"), if_none_match=True)
    await core.put_object(first)
    assert await reason_of(core.put_object(first)) == ErrorReason.PRECONDITION_FAILED
    wrong = PutObjectRequest(bucket="bucket", object=obj("k", "e2"), if_match='"other"')
    assert await reason_of(core.put_object(wrong)) == ErrorReason.PRECONDITION_FAILED
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e2"), if_match='"e1"'))
    missing = PutObjectRequest(bucket="bucket", object=obj("none"), if_match="e1")
    assert await reason_of(core.put_object(missing)) == ErrorReason.PRECONDITION_FAILED


async def test_concurrent_if_none_match_lets_exactly_one_win(core: MetadataCore) -> None:
    await make_bucket(core)
    attempts = [
        core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", f"e{n}"), if_none_match=True))
        for n in range(20)
    ]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert len(winners) == 1
    assert all(
        isinstance(outcome, StrataError) and outcome.reason == ErrorReason.PRECONDITION_FAILED
        for outcome in outcomes
        if isinstance(outcome, BaseException)
    )


# ---- versions ----


async def test_versioning_true_creates_versions_listed_newest_first(core: MetadataCore) -> None:
    await make_bucket(core)
    ids = []
    for n in range(3):
        put = PutObjectRequest(bucket="bucket", object=obj("k", f"e{n}", f"b{n}"), versioning=True)
        ids.append((await core.put_object(put)).version_id)
    assert all(ids) and len(set(ids)) == 3
    latest = await core.get_object(GetObjectRequest(bucket="bucket", key="k"))
    assert latest.etag == "e2" and latest.version_id == ids[2]
    oldest = await core.get_object(
        GetObjectRequest(bucket="bucket", key="k", version_id=ids[0], has_version_id=True)
    )
    assert oldest.etag == "e0"
    listing = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=1000)
    )
    assert [entry.object.version_id for entry in listing.entries] == list(reversed(ids))
    assert await gc_blob_ids(core) == []


async def test_versions_listing_pages_with_version_id_marker(core: MetadataCore) -> None:
    await make_bucket(core)
    for key in ("a", "b"):
        for n in range(3):
            await core.put_object(
                PutObjectRequest(bucket="bucket", object=obj(key, f"e{n}"), versioning=True)
            )
    seen = []
    marker = version_marker = ""
    while True:
        page = await core.list_objects(
            ListObjectsRequest(
                bucket="bucket",
                listing_type=LISTING_DELIMITER_VERSIONS,
                marker=marker,
                version_id_marker=version_marker,
                max_keys=4,
            )
        )
        seen += [(entry.key, entry.object.etag) for entry in page.entries]
        if not page.is_truncated:
            break
        marker, version_marker = page.next_marker, page.next_version_id_marker
    assert seen == [("a", "e2"), ("a", "e1"), ("a", "e0"), ("b", "e2"), ("b", "e1"), ("b", "e0")]


async def test_deleting_latest_version_repairs_master(core: MetadataCore) -> None:
    await make_bucket(core)
    ids = [
        (
            await core.put_object(
                PutObjectRequest(bucket="bucket", object=obj("k", f"e{n}", f"b{n}"), versioning=True)
            )
        ).version_id
        for n in range(2)
    ]
    removed = await core.delete_object(
        DeleteObjectRequest(bucket="bucket", key="k", version_id=ids[1], has_version_id=True)
    )
    assert removed.removed.etag == "e1"
    current = await core.get_object(GetObjectRequest(bucket="bucket", key="k"))
    assert current.etag == "e0" and current.version_id == ids[0] and not current.is_phd
    await core.delete_object(
        DeleteObjectRequest(bucket="bucket", key="k", version_id=ids[0], has_version_id=True)
    )
    assert (
        await reason_of(core.get_object(GetObjectRequest(bucket="bucket", key="k")))
        == ErrorReason.NO_SUCH_KEY
    )
    await core.delete_bucket(BucketName(name="bucket"))
    assert await gc_blob_ids(core) == ["b0", "b1"]


async def test_deleting_older_version_leaves_master(core: MetadataCore) -> None:
    await make_bucket(core)
    first = await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e0"), versioning=True))
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e1"), versioning=True))
    await core.delete_object(
        DeleteObjectRequest(bucket="bucket", key="k", version_id=first.version_id, has_version_id=True)
    )
    assert (await core.get_object(GetObjectRequest(bucket="bucket", key="k"))).etag == "e1"
    missing = DeleteObjectRequest(bucket="bucket", key="k", version_id=first.version_id, has_version_id=True)
    assert await reason_of(core.delete_object(missing)) == ErrorReason.NO_SUCH_VERSION


async def test_delete_marker_hides_object_from_master_listing(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("gone", "e0"), versioning=True))
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("kept", "e0"), versioning=True))
    marker = ObjectMD(key="gone", is_delete_marker=True)
    await core.put_object(PutObjectRequest(bucket="bucket", object=marker, versioning=True))
    current = await core.get_object(GetObjectRequest(bucket="bucket", key="gone"))
    assert current.is_delete_marker
    listing = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_MASTER, max_keys=1000)
    )
    assert [entry.key for entry in listing.entries] == ["kept"]


async def test_put_with_empty_version_id_overwrites_master_only(core: MetadataCore) -> None:
    await make_bucket(core)
    first = PutObjectRequest(bucket="bucket", object=obj("k", "e0", "b0"), has_version_id=True, version_id="")
    first.object.is_null = True
    response = await core.put_object(first)
    assert response.version_id
    second = PutObjectRequest(
        bucket="bucket", object=obj("k", "e1", "b1"), has_version_id=True, version_id=""
    )
    await core.put_object(second)
    assert (await core.get_object(GetObjectRequest(bucket="bucket", key="k"))).etag == "e1"
    versions = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=1000)
    )
    assert [entry.object.etag for entry in versions.entries] == ["e1"]
    assert await gc_blob_ids(core) == ["b0"]


async def test_null_version_is_preserved_then_found_by_null(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "pre", "b0")))
    keep_null = PutObjectRequest(
        bucket="bucket", object=obj("k", "pre", "b0"), has_version_id=True, version_id="null"
    )
    await core.put_object(keep_null)
    await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "new", "b1"), versioning=True))
    null_version = await core.get_object(
        GetObjectRequest(bucket="bucket", key="k", version_id="null", has_version_id=True)
    )
    assert null_version.etag == "pre" and null_version.is_null
    versions = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=1000)
    )
    assert [entry.object.etag for entry in versions.entries] == ["new", "pre"]
    assert await gc_blob_ids(core) == []


async def test_update_specific_version_updates_master_when_latest(core: MetadataCore) -> None:
    await make_bucket(core)
    put = await core.put_object(
        PutObjectRequest(bucket="bucket", object=obj("k", "e0", "b0"), versioning=True)
    )
    tagged = obj("k", "e0", "b0")
    tagged.tags["color"] = "blue"
    await core.put_object(
        PutObjectRequest(bucket="bucket", object=tagged, has_version_id=True, version_id=put.version_id)
    )
    assert (await core.get_object(GetObjectRequest(bucket="bucket", key="k"))).tags["color"] == "blue"
    by_version = await core.get_object(
        GetObjectRequest(bucket="bucket", key="k", version_id=put.version_id, has_version_id=True)
    )
    assert by_version.tags["color"] == "blue"
    assert await gc_blob_ids(core) == []


async def test_listing_master_with_delimiter(core: MetadataCore) -> None:
    await make_bucket(core)
    for key in ("a/1", "a/2", "b", "c/x/y"):
        await core.put_object(PutObjectRequest(bucket="bucket", object=obj(key)))
    listing = await core.list_objects(
        ListObjectsRequest(bucket="bucket", listing_type=LISTING_DELIMITER_MASTER, delimiter="/", max_keys=2)
    )
    assert list(listing.common_prefixes) == ["a/"]
    assert [entry.key for entry in listing.entries] == ["b"]
    assert listing.is_truncated and listing.next_marker == "b"
    unsupported = ListObjectsRequest(bucket="bucket", listing_type=LISTING_MPU)
    assert await reason_of(core.list_objects(unsupported)) == ErrorReason.INVALID_ARGUMENT


# ---- intents and GC ----


async def test_commit_closes_intent_and_frees_unused_intent_blobs(core: MetadataCore) -> None:
    await make_bucket(core)
    intent = await core.create_intent(
        CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("used"), blob("spare")])
    )
    await core.put_object(
        PutObjectRequest(bucket="bucket", object=obj("k", "e", "used"), intent_id=intent.id)
    )
    assert await gc_blob_ids(core) == ["spare"]
    again = PutObjectRequest(bucket="bucket", object=obj("k", "e", "used"), intent_id=intent.id)
    assert await reason_of(core.put_object(again)) == ErrorReason.NO_SUCH_INTENT


async def test_abort_intent_queues_its_blobs(core: MetadataCore) -> None:
    await make_bucket(core)
    intent = await core.create_intent(CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("x")]))
    await core.abort_intent(AbortIntentRequest(intent_id=intent.id))
    await core.abort_intent(AbortIntentRequest(intent_id=intent.id))  # idempotent
    assert await gc_blob_ids(core) == ["x"]
    late = PutObjectRequest(bucket="bucket", object=obj("k", "e", "x"), intent_id=intent.id)
    assert await reason_of(core.put_object(late)) == ErrorReason.NO_SUCH_INTENT


async def test_run_gc_deletes_queued_and_expired_intent_blobs(core: MetadataCore) -> None:
    deleter = RecordingDeleter(failing={"flaky"})
    core.set_deleter(deleter)
    await make_bucket(core)
    await core.queue_garbage(QueueGarbageRequest(blobs=[blob("g1"), blob("g2")]))
    await core.queue_garbage(QueueGarbageRequest(blobs=[blob("flaky")]))
    await core.create_intent(CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("orphan")]))
    not_yet = await core.run_gc(RunGcRequest())
    assert not_yet.intents_expired == 0
    response = await core.run_gc(RunGcRequest(expire_all_intents=True))
    assert response.intents_expired == 1
    assert sorted(deleter.deleted) == ["g1", "g2", "orphan"]
    assert not_yet.blobs_deleted + response.blobs_deleted == 3
    assert response.entries_remaining == 1  # the flaky blob stays queued
    deleter.failing.clear()
    final = await core.run_gc(RunGcRequest())
    assert final.blobs_deleted == 1 and final.entries_remaining == 0


async def test_run_gc_without_deleter_reports_queue(core: MetadataCore) -> None:
    await core.queue_garbage(QueueGarbageRequest(blobs=[blob("g1")]))
    response = await core.run_gc(RunGcRequest())
    assert response.entries_remaining == 1 and response.blobs_deleted == 0


async def test_state_survives_reopen_with_rocksdb(tmp_path: object) -> None:
    from metanode.server import open_core

    path = str(tmp_path) + "/meta"
    core = await open_core(path)
    await make_bucket(core)
    first = await core.put_object(PutObjectRequest(bucket="bucket", object=obj("k", "e0"), versioning=True))
    await core.queue_garbage(QueueGarbageRequest(blobs=[blob("g")]))
    await core.close()
    reopened = await open_core(path)
    second = await reopened.put_object(
        PutObjectRequest(bucket="bucket", object=obj("k", "e1"), versioning=True)
    )
    assert keys.is_newer_version(
        keys.decode_version_id(second.version_id), keys.decode_version_id(first.version_id)
    )
    await reopened.queue_garbage(QueueGarbageRequest(blobs=[blob("h")]))
    assert await gc_blob_ids(reopened) == ["g", "h"]
    assert (await reopened.get_object(GetObjectRequest(bucket="bucket", key="k"))).etag == "e1"
    await reopened.close()


async def test_memory_core_needs_no_event_loop_at_construction() -> None:
    core = MetadataCore(MemoryKV())
    await make_bucket(core)
    await core.close()


async def test_bucket_delete_racing_puts_never_orphans_objects(core: MetadataCore) -> None:
    bucket = await make_bucket(core)
    puts = [core.put_object(PutObjectRequest(bucket="bucket", object=obj(f"k{n}"))) for n in range(20)]
    outcomes = await asyncio.gather(
        *puts, core.delete_bucket(BucketName(name="bucket")), return_exceptions=True
    )
    deleted = not isinstance(outcomes[-1], BaseException)
    leftover = list(
        core.kv.iterate(keys.object_prefix(bucket.uid), keys.prefix_end(keys.object_prefix(bucket.uid)))
    )
    if deleted:
        assert leftover == []
        assert all(isinstance(outcome, StrataError) for outcome in outcomes[:-1])
    else:
        assert isinstance(outcomes[-1], StrataError) and outcomes[-1].reason == ErrorReason.BUCKET_NOT_EMPTY
        assert len(leftover) == 20


async def test_background_collector_runs_and_stops(core: MetadataCore) -> None:
    from metanode.gc import GarbageCollector

    deleter = RecordingDeleter()
    await core.queue_garbage(QueueGarbageRequest(blobs=[blob("bg")]))
    collector = GarbageCollector(core, deleter, interval_s=0.01)
    collector.start()
    for _ in range(500):
        if deleter.deleted:
            break
        await asyncio.sleep(0.01)
    await collector.stop()
    assert deleter.deleted == ["bg"]
    assert await core.count_gc_entries() == 0


async def test_intent_of_another_object_cannot_be_committed(core: MetadataCore) -> None:
    await make_bucket(core)
    intent = await core.create_intent(CreateIntentRequest(bucket="bucket", key="one", blobs=[blob("x")]))
    wrong = PutObjectRequest(bucket="bucket", object=obj("two", "e", "x"), intent_id=intent.id)
    assert await reason_of(core.put_object(wrong)) == ErrorReason.INVALID_ARGUMENT
