"""Many concurrent puts and deletes of one key through the core, then the versioning invariants.

The mix is what the gateway sends for enabled and suspended buckets: new versions, null versions,
delete markers (both kinds) and version-specific deletes. Whatever the interleaving, the stored keys
must have one latest version, at most one null version, a master that agrees with its newest version,
and every blob either live or queued for GC, never both.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from metanode import keys
from metanode.core import MetadataCore
from metanode.kv import KV
from metanode.versioning import resolve_null_version
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    BucketInfo,
    CreateBucketRequest,
    DeleteObjectRequest,
    GetObjectRequest,
    ObjectMD,
    PutObjectRequest,
)

BUCKET = "race"
KEY = "contended"
ROUNDS = 12
OPERATIONS_PER_ROUND = 25


def stored_state(kv: KV, uid: str) -> tuple[ObjectMD | None, list[tuple[str, ObjectMD]]]:
    """The master and every version key (newest first) of KEY."""
    master_raw = kv.get(keys.master_key(uid, KEY))
    prefix = keys.versions_prefix(uid, KEY)
    iterator = kv.iterate(prefix, keys.prefix_end(prefix))
    try:
        versions = [(raw_key[len(prefix) :].decode(), keys.decode_object(raw)) for raw_key, raw in iterator]
    finally:
        iterator.close()
    return (keys.decode_object(master_raw) if master_raw is not None else None), versions


async def run_mix(
    core: MetadataCore,
    rng: random.Random,
    first_index: int,
    operations: int,
    issued: list[str],
    created_blobs: set[str],
) -> None:
    async def one(index: int) -> None:
        choice = rng.random()
        blob_id = f"blob-{index}"
        record = ObjectMD(key=KEY, etag=f"e{index}", size=1)
        if choice < 0.3:  # enabled PutObject
            record.blobs.append(BlobRef(location="loc", blob_id=blob_id, size=1))
            created_blobs.add(blob_id)
            put = PutObjectRequest(bucket=BUCKET, object=record, versioning=True)
        elif choice < 0.5:  # suspended PutObject
            record.blobs.append(BlobRef(location="loc", blob_id=blob_id, size=1))
            record.is_null = True
            created_blobs.add(blob_id)
            put = PutObjectRequest(bucket=BUCKET, object=record, has_version_id=True, version_id="")
        elif choice < 0.6:  # enabled DeleteObject: a delete marker
            record.is_delete_marker = True
            put = PutObjectRequest(bucket=BUCKET, object=record, versioning=True)
        elif choice < 0.7:  # suspended DeleteObject: a null delete marker
            record.is_delete_marker = record.is_null = True
            put = PutObjectRequest(bucket=BUCKET, object=record, has_version_id=True, version_id="")
        else:  # DeleteObject ?versionId=
            target = rng.choice(issued) if issued and rng.random() < 0.85 else "null"
            try:
                await core.delete_object(
                    DeleteObjectRequest(bucket=BUCKET, key=KEY, version_id=target, has_version_id=True)
                )
            except StrataError as error:
                assert error.reason == ErrorReason.NO_SUCH_VERSION
            return
        response = await core.put_object(put)
        issued.append(response.version_id)

    await asyncio.gather(*(one(index) for index in range(first_index, first_index + operations)))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_concurrent_puts_and_deletes_keep_versioning_invariants(
    core: MetadataCore, kv: KV, seed: int
) -> None:
    bucket = await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name=BUCKET, owner_id="o")))
    rng = random.Random(seed)
    issued: list[str] = []
    created: set[str] = set()
    for round_number in range(ROUNDS):
        # Each round races a batch of requests; the invariants must hold whenever the key is quiet.
        await run_mix(core, rng, round_number * OPERATIONS_PER_ROUND, OPERATIONS_PER_ROUND, issued, created)
        await check_invariants(core, kv, bucket.uid, created)


async def check_invariants(core: MetadataCore, kv: KV, uid: str, created: set[str]) -> None:
    master, versions = await asyncio.to_thread(stored_state, kv, uid)
    version_ids = [version_id for version_id, _ in versions]
    assert version_ids == sorted(version_ids), "version keys must list newest first"
    if master is None:
        assert versions == [], "versions without a master: the latest was lost"
    else:
        assert not master.is_phd
        if master.version_id in version_ids:
            # The master is a copy of its newest version.
            assert version_ids[0] == master.version_id
            assert versions[0][1] == master
        else:
            # A null version living only in the master: newer than every version key.
            assert master.is_null
            assert all(keys.is_newer_version(master.version_id, other) for other in version_ids)

    null_versions = [version_id for version_id, record in versions if record.is_null]
    master_only_null = master is not None and master.is_null and master.version_id not in version_ids
    assert len(null_versions) + int(master_only_null) <= 1, "two null versions"
    if null_versions:
        assert master is not None and resolve_null_version(master) == null_versions[0], "a lost null version"
        null_record = await core.get_object(
            GetObjectRequest(bucket=BUCKET, key=KEY, version_id="null", has_version_id=True)
        )
        assert null_record.etag == dict(versions)[null_versions[0]].etag

    live = {blob.blob_id for _, record in versions for blob in record.blobs}
    if master is not None:
        live |= {blob.blob_id for blob in master.blobs}
    queued = {blob.blob_id for _, entry in await core.gc_entries(100_000) for blob in entry.blobs}
    assert not live & queued, "a live blob is queued for deletion"
    assert created == live | queued, "a blob is neither live nor queued: leaked"
