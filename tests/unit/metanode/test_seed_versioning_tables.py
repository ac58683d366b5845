"""Every key table of the seed's chapter 7.1 (Versioning), reproduced against the metadata core.

Each step sends the metadata call the seed names (PUT with ``versioning: true``, ``versionId: <id>``,
``versionId: ''``; DELETE with or without ``versionId``) and then compares every stored key of the
object with the seed's table. Version keys are labelled v1, v2, ... oldest first, as in the seed.
Where the seed's API sends two calls (3A then 3B, 4A then 4B) a test also checks that the single call
the gateway sends leaves the same keys: the core does both steps in one entry under the object's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metanode import keys
from metanode.core import MetadataCore
from metanode.kv import KV
from protos.common_pb2 import BlobRef, ErrorReason
from protos.metadata_pb2 import (
    LISTING_DELIMITER_MASTER,
    LISTING_DELIMITER_VERSIONS,
    BucketInfo,
    CreateBucketRequest,
    DeleteObjectRequest,
    GetObjectRequest,
    ListObjectsRequest,
    ObjectMD,
    PutObjectRequest,
)
from tests.unit.metanode.test_core import gc_blob_ids, reason_of

BUCKET = "seed"

Row = tuple[str, str, bool] | tuple[str, str, bool, str | None]


@dataclass
class Tables:
    """Reads an object's keys back in the seed's notation."""

    core: MetadataCore
    kv: KV
    uid: str
    labels: dict[str, str] = field(default_factory=dict)

    def reset_labels(self) -> None:
        self.labels.clear()

    def _label(self, version_id: str) -> str:
        if version_id not in self.labels:
            self.labels[version_id] = f"v{len(self.labels) + 1}"
        return self.labels[version_id]

    def rows(self, key: str, with_null_version_id: bool = False) -> list[Row]:
        prefix = keys.object_prefix(self.uid)
        stored: list[tuple[str, str | None, ObjectMD]] = []
        iterator = self.kv.iterate(keys.master_key(self.uid, key), keys.prefix_end(prefix))
        try:
            for raw_key, raw in iterator:
                object_key, version_id = keys.split_listing_key(keys.listing_key(prefix, raw_key))
                if object_key != key:
                    break
                stored.append((object_key, version_id, keys.decode_object(raw)))
        finally:
            iterator.close()
        # Labels follow age: the oldest version id seen gets the lowest free label.
        referenced = {vid for _, vid, _ in stored if vid} | {md.null_version_id for *_, md in stored}
        for version_id in sorted((vid for vid in referenced if vid), reverse=True):
            self._label(version_id)
        rows: list[Row] = []
        for object_key, version_id, md in stored:
            name = object_key if version_id is None else f"{object_key}.{self.labels[version_id]}"
            value = "DM" if md.is_delete_marker else md.etag
            if with_null_version_id:
                null_label = self.labels[md.null_version_id] if md.null_version_id else None
                rows.append((name, value, md.is_null, null_label))
            else:
                rows.append((name, value, md.is_null))
        return rows


async def setup(core: MetadataCore, kv: KV) -> Tables:
    bucket = await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name=BUCKET, owner_id="o")))
    return Tables(core, kv, bucket.uid)


def md(key: str, value: str, *, null: bool = False, delete_marker: bool = False) -> ObjectMD:
    blobs = [] if delete_marker else [BlobRef(location="loc", blob_id=f"blob-{value}", size=1)]
    return ObjectMD(key=key, etag=value, size=1, blobs=blobs, is_null=null, is_delete_marker=delete_marker)


async def put(core: MetadataCore, record: ObjectMD, **options: object) -> str:
    response = await core.put_object(PutObjectRequest(bucket=BUCKET, object=record, **options))  # type: ignore[arg-type]
    return response.version_id


async def delete(core: MetadataCore, key: str, version_id: str | None = None) -> ObjectMD:
    request = DeleteObjectRequest(bucket=BUCKET, key=key)
    if version_id is not None:
        request.version_id, request.has_version_id = version_id, True
    return (await core.delete_object(request)).removed


async def master_version_id(core: MetadataCore, key: str) -> str:
    return (await core.get_object(GetObjectRequest(bucket=BUCKET, key=key))).version_id


async def get_version(core: MetadataCore, key: str, version_id: str) -> ObjectMD:
    request = GetObjectRequest(bucket=BUCKET, key=key, version_id=version_id, has_version_id=True)
    return await core.get_object(request)


# ---- 7.1.3: Master Version, PUT/DELETE options ----


async def test_creation_of_new_versions_two_puts_with_versioning(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A"), versioning=True)
    assert tables.rows("foo") == [("foo", "A", False), ("foo.v1", "A", False)]
    await put(core, md("foo", "B"), versioning=True)
    # The master-version layout table: foo B, foo.v2 B, foo.v1 A (newest version first).
    assert tables.rows("foo") == [("foo", "B", False), ("foo.v2", "B", False), ("foo.v1", "A", False)]


async def test_put_without_options_overwrites_the_master_only(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    assert await put(core, md("foo", "A")) == ""
    await put(core, md("foo", "B"))
    assert tables.rows("foo") == [("foo", "B", False)]
    assert await gc_blob_ids(core) == ["blob-A"]


async def test_put_with_version_id_updates_that_version_and_the_master_when_latest(
    core: MetadataCore, kv: KV
) -> None:
    tables = await setup(core, kv)
    first = await put(core, md("foo", "A"), versioning=True)
    second = await put(core, md("foo", "B"), versioning=True)
    await put(core, md("foo", "A2"), version_id=first, has_version_id=True)
    assert tables.rows("foo") == [("foo", "B", False), ("foo.v2", "B", False), ("foo.v1", "A2", False)]
    await put(core, md("foo", "B2"), version_id=second, has_version_id=True)
    assert tables.rows("foo") == [("foo", "B2", False), ("foo.v2", "B2", False), ("foo.v1", "A2", False)]


async def test_put_with_version_id_newer_than_master_updates_master(core: MetadataCore, kv: KV) -> None:
    """A replicated version that is newer than the local master becomes the master (seed: geo-replication)."""
    tables = await setup(core, kv)
    older = await put(core, md("foo", "A"), versioning=True)
    newer = await put(core, md("foo", "B"), versioning=True)
    await delete(core, "foo", newer)
    assert tables.rows("foo") == [("foo", "A", False), ("foo.v1", "A", False)]
    await put(core, md("foo", "B"), version_id=newer, has_version_id=True)
    assert tables.rows("foo") == [("foo", "B", False), ("foo.v2", "B", False), ("foo.v1", "A", False)]
    assert (await master_version_id(core, "foo")) == newer != older


async def test_put_with_empty_version_id_overwrites_master_with_an_internal_id(
    core: MetadataCore, kv: KV
) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "A", True)]
    master = await core.get_object(GetObjectRequest(bucket=BUCKET, key="foo"))
    assert master.version_id  # findable later, never a key of its own yet


async def test_delete_without_options_deletes_the_master_only(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A"), versioning=True)
    await delete(core, "foo")
    assert tables.rows("foo") == [("foo.v1", "A", False)]


async def test_delete_of_latest_version_repairs_master_without_visible_placeholder(
    core: MetadataCore, kv: KV
) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A"), versioning=True)
    await put(core, md("foo", "B"), versioning=True)
    latest = await put(core, md("foo", "C"), versioning=True)
    await delete(core, "foo", latest)
    assert tables.rows("foo") == [("foo", "B", False), ("foo.v2", "B", False), ("foo.v1", "A", False)]
    remaining = [await master_version_id(core, "foo")]
    await delete(core, "foo", remaining[0])
    assert tables.rows("foo") == [("foo", "A", False), ("foo.v1", "A", False)]
    await delete(core, "foo", await master_version_id(core, "foo"))
    assert tables.rows("foo") == []  # no more versions: the master goes too
    assert sorted(await gc_blob_ids(core)) == ["blob-A", "blob-B", "blob-C"]


async def test_delete_of_an_older_version_leaves_the_master(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    oldest = await put(core, md("foo", "A"), versioning=True)
    await put(core, md("foo", "B"), versioning=True)
    assert tables.rows("foo") == [("foo", "B", False), ("foo.v2", "B", False), ("foo.v1", "A", False)]
    await delete(core, "foo", oldest)
    assert tables.rows("foo") == [("foo", "B", False), ("foo.v2", "B", False)]


async def test_get_with_and_without_version_id(core: MetadataCore, kv: KV) -> None:
    await setup(core, kv)
    first = await put(core, md("foo", "A"), versioning=True)
    await put(core, md("foo", "B"), versioning=True)
    assert (await core.get_object(GetObjectRequest(bucket=BUCKET, key="foo"))).etag == "B"
    assert (await get_version(core, "foo", first)).etag == "A"


async def test_standard_list_returns_masters_only(core: MetadataCore, kv: KV) -> None:
    """The LIST table: foo/bar, bar, qux/quz, quz with versions -> only the four master keys."""
    await setup(core, kv)
    for key in ("foo/bar", "qux/quz", "quz"):
        await put(core, md(key, "1"), versioning=True)
        await put(core, md(key, "2"), versioning=True)
    await put(core, md("bar", "1"))
    listing = await core.list_objects(
        ListObjectsRequest(bucket=BUCKET, listing_type=LISTING_DELIMITER_MASTER, max_keys=1000)
    )
    assert sorted(entry.key for entry in listing.entries) == ["bar", "foo/bar", "qux/quz", "quz"]
    versions = await core.list_objects(
        ListObjectsRequest(bucket=BUCKET, listing_type=LISTING_DELIMITER_VERSIONS, max_keys=1000)
    )
    assert len(versions.entries) == 7


# ---- 7.1.4: Null Version Management ----


async def test_case_1_putting_null_versions(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    # (1) PUT foo (first put), versionId: ''
    await put(core, md("foo", "A", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "A", True)]
    # (2A) DELETE foo (clean-up delete before second put), versionId: <version id of master version>
    await delete(core, "foo", await master_version_id(core, "foo"))
    assert tables.rows("foo") == []
    # (2B) PUT foo (second put), versionId: ''
    await put(core, md("foo", "B", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "B", True)]
    assert await gc_blob_ids(core) == ["blob-A"]


async def test_case_1_second_null_put_alone_replaces_the_first(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A", null=True), version_id="", has_version_id=True)
    await put(core, md("foo", "B", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "B", True)]
    assert await gc_blob_ids(core) == ["blob-A"]


async def _case_2(core: MetadataCore, kv: KV, tables: Tables) -> tuple[str, str]:
    await put(core, md("foo", "B", null=True), version_id="", has_version_id=True)
    tables.reset_labels()
    # (3A) PUT foo, versionId: <versionId of master version>
    null_id = await master_version_id(core, "foo")
    await put(core, md("foo", "B", null=True), version_id=null_id, has_version_id=True)
    assert tables.rows("foo", True) == [("foo", "B", True, None), ("foo.v1", "B", True, None)]
    # (3B) PUT foo, versioning: true
    new_id = await put(core, md("foo", "C"), versioning=True)
    assert tables.rows("foo", True) == [
        ("foo", "C", False, "v1"),
        ("foo.v2", "C", False, "v1"),
        ("foo.v1", "B", True, None),
    ]
    return null_id, new_id


async def test_case_2_preserving_existing_null_versions(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    null_id, _ = await _case_2(core, kv, tables)
    assert null_id == "null"  # a null version's internal id is never shown
    null_version = await get_version(core, "foo", "null")
    assert null_version.etag == "B" and null_version.version_id == "null"
    master = await core.get_object(GetObjectRequest(bucket=BUCKET, key="foo"))
    assert (await get_version(core, "foo", master.null_version_id)).etag == "B"
    assert await gc_blob_ids(core) == []


async def test_case_2_in_one_call_preserves_the_null_version(core: MetadataCore, kv: KV) -> None:
    """The gateway sends only 3B; the core stores the master-only null version (3A) in the same entry."""
    tables = await setup(core, kv)
    await put(core, md("foo", "B", null=True), version_id="", has_version_id=True)
    tables.reset_labels()
    await put(core, md("foo", "C"), versioning=True)
    assert tables.rows("foo", True) == [
        ("foo", "C", False, "v1"),
        ("foo.v2", "C", False, "v1"),
        ("foo.v1", "B", True, None),
    ]
    assert await gc_blob_ids(core) == []


async def test_case_2_null_version_put_before_versioning_gets_the_non_versioned_id(
    core: MetadataCore, kv: KV
) -> None:
    """A master with no versionId (put before versioning) is kept under the "non-versioned object id",
    which sorts after every real version."""
    tables = await setup(core, kv)
    await put(core, md("foo", "A"))  # no options: no version id at all
    non_versioned = keys.encode_version_id(keys.non_versioned_version_id(core.replication_group_id))
    await put(core, md("foo", "A"), version_id=non_versioned, has_version_id=True)  # (3A)
    await put(core, md("foo", "B"), versioning=True)  # (3B)
    rows = tables.rows("foo", True)
    assert rows == [("foo", "B", False, "v1"), ("foo.v2", "B", False, "v1"), ("foo.v1", "A", True, None)]
    assert (await get_version(core, "foo", "null")).etag == "A"


async def test_case_2_in_one_call_for_an_object_put_before_versioning(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A"))
    await put(core, md("foo", "B"), versioning=True)
    await put(core, md("foo", "C"), versioning=True)
    assert tables.rows("foo", True) == [
        ("foo", "C", False, "v1"),
        ("foo.v3", "C", False, "v1"),
        ("foo.v2", "B", False, "v1"),
        ("foo.v1", "A", True, None),
    ]
    assert (await get_version(core, "foo", "null")).etag == "A"
    assert await gc_blob_ids(core) == []


async def test_case_3_overwriting_a_null_version_that_is_not_latest(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await _case_2(core, kv, tables)
    # (4A) DELETE foo, versionId: <nullVersionId of master version> (v1)
    master = await core.get_object(GetObjectRequest(bucket=BUCKET, key="foo"))
    assert master.null_version_id
    await delete(core, "foo", master.null_version_id)
    assert tables.rows("foo") == [("foo", "C", False), ("foo.v2", "C", False)]
    # (4B) PUT foo, versionId: ''
    await put(core, md("foo", "D", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "D", True), ("foo.v2", "C", False)]
    assert await gc_blob_ids(core) == ["blob-B"]


async def test_case_3_in_one_call_replaces_the_older_null_version(core: MetadataCore, kv: KV) -> None:
    """The gateway sends only 4B; the core deletes the null version named by nullVersionId (4A) in the
    same entry, so no second null version can survive a race."""
    tables = await setup(core, kv)
    await _case_2(core, kv, tables)
    await put(core, md("foo", "D", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "D", True), ("foo.v2", "C", False)]
    assert await gc_blob_ids(core) == ["blob-B"]
    assert (await get_version(core, "foo", "null")).etag == "D"


async def test_null_master_with_its_own_key_is_cleaned_up_by_the_next_null_put(
    core: MetadataCore, kv: KV
) -> None:
    """Footnote 1: after a repair the null master may also have its own key; a null put removes both."""
    tables = await setup(core, kv)
    await _case_2(core, kv, tables)
    await delete(core, "foo", await master_version_id(core, "foo"))  # delete C: master repaired to null B
    assert tables.rows("foo") == [("foo", "B", True), ("foo.v1", "B", True)]
    await put(core, md("foo", "D", null=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "D", True)]
    assert await gc_blob_ids(core) == ["blob-B", "blob-C"]


# ---- 7.1.4: Delete Markers ----


async def test_delete_marker_is_a_new_version_even_for_a_key_that_never_existed(
    core: MetadataCore, kv: KV
) -> None:
    tables = await setup(core, kv)
    marker_id = await put(core, md("ghost", "", delete_marker=True), versioning=True)
    assert marker_id
    assert tables.rows("ghost") == [("ghost", "DM", False), ("ghost.v1", "DM", False)]
    listing = await core.list_objects(
        ListObjectsRequest(bucket=BUCKET, listing_type=LISTING_DELIMITER_MASTER, max_keys=1000)
    )
    assert list(listing.entries) == []


async def test_deleting_the_delete_marker_restores_the_previous_version(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A"), versioning=True)
    marker_id = await put(core, md("foo", "", delete_marker=True), versioning=True)
    assert (await core.get_object(GetObjectRequest(bucket=BUCKET, key="foo"))).is_delete_marker
    removed = await delete(core, "foo", marker_id)
    assert removed.is_delete_marker
    assert tables.rows("foo") == [("foo", "A", False), ("foo.v1", "A", False)]


async def test_suspended_delete_marker_replaces_the_null_version(core: MetadataCore, kv: KV) -> None:
    tables = await setup(core, kv)
    await put(core, md("foo", "A"))
    await put(core, md("foo", "B"), versioning=True)  # keeps A as the null version
    await put(core, md("foo", "", null=True, delete_marker=True), version_id="", has_version_id=True)
    assert tables.rows("foo") == [("foo", "DM", True), ("foo.v2", "B", False)]
    assert (await get_version(core, "foo", "null")).is_delete_marker
    assert await gc_blob_ids(core) == ["blob-A"]


# ---- Null Version Mapping ----


async def test_null_version_mapping_reads_the_latest_then_its_null_version_id(
    core: MetadataCore, kv: KV
) -> None:
    await setup(core, kv)
    await put(core, md("foo", "A", null=True), version_id="", has_version_id=True)
    assert (await get_version(core, "foo", "null")).etag == "A"  # step 1: the latest is null
    await put(core, md("foo", "B"), versioning=True)
    assert (await get_version(core, "foo", "null")).etag == "A"  # step 2: through nullVersionId


async def test_null_version_missing_is_no_such_version(core: MetadataCore, kv: KV) -> None:
    await setup(core, kv)
    await put(core, md("foo", "A"), versioning=True)
    assert await reason_of(get_version(core, "foo", "null")) == ErrorReason.NO_SUCH_VERSION
    assert await reason_of(delete(core, "foo", "null")) == ErrorReason.NO_SUCH_VERSION
