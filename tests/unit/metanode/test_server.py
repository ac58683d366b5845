"""A real gRPC server on 127.0.0.1 and the MetadataClient: the port works across the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from metanode.client import MetadataClient
from metanode.core import MetadataCore
from metanode.server import bound_port, open_core, start_server
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    LISTING_DELIMITER_VERSIONS,
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
    RenewIntentRequest,
    RunGcRequest,
)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[MetadataCore, MetadataClient]]:
    core = await open_core(str(tmp_path / "meta"))
    server = await start_server(core, "127.0.0.1:0")
    client = MetadataClient(f"127.0.0.1:{bound_port(server)}", timeout_s=10)
    yield core, client
    await client.close()
    await server.stop(grace=None)
    await core.close()


async def test_round_trip_of_every_call(served: tuple[MetadataCore, MetadataClient]) -> None:
    _, client = served
    bucket = await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bkt", owner_id="alice")))
    assert len(bucket.uid) == 32
    assert (await client.get_bucket(BucketName(name="bkt"))).uid == bucket.uid
    await client.update_bucket(BucketInfo(name="bkt", location="eu"))
    listed = await client.list_buckets(ListBucketsRequest(owner_id="alice"))
    assert [b.location for b in listed.buckets] == ["eu"]

    intent = await client.create_intent(
        CreateIntentRequest(bucket="bkt", key="k", blobs=[BlobRef(location="eu", blob_id="b1")])
    )
    renewed = await client.renew_intent(RenewIntentRequest(intent_id=intent.id, ttl_ms=600_000))
    assert renewed.id == intent.id and renewed.expires_ms >= intent.expires_ms
    put = await client.put_object(
        PutObjectRequest(
            bucket="bkt",
            object=ObjectMD(key="k", etag="e", blobs=[BlobRef(location="eu", blob_id="b1")]),
            versioning=True,
            intent_id=intent.id,
        )
    )
    assert put.version_id
    got = await client.get_object(GetObjectRequest(bucket="bkt", key="k"))
    assert got.version_id == put.version_id and got.etag == "e"
    listing = await client.list_objects(
        ListObjectsRequest(bucket="bkt", listing_type=LISTING_DELIMITER_VERSIONS, max_keys=10)
    )
    assert [entry.key for entry in listing.entries] == ["k"]
    await client.abort_intent(AbortIntentRequest(intent_id=intent.id))
    with pytest.raises(StrataError) as gone:
        await client.renew_intent(RenewIntentRequest(intent_id=intent.id))
    assert gone.value.reason == ErrorReason.NO_SUCH_INTENT
    await client.queue_garbage(QueueGarbageRequest(blobs=[BlobRef(location="eu", blob_id="g")]))
    gc = await client.run_gc(RunGcRequest())
    assert gc.entries_remaining == 1
    removed = await client.delete_object(
        DeleteObjectRequest(bucket="bkt", key="k", version_id=put.version_id, has_version_id=True)
    )
    assert removed.removed.etag == "e"
    await client.delete_bucket(BucketName(name="bkt"))


async def test_error_reasons_survive_the_wire(served: tuple[MetadataCore, MetadataClient]) -> None:
    _, client = served
    with pytest.raises(StrataError) as missing:
        await client.get_bucket(BucketName(name="nope"))
    assert missing.value.reason == ErrorReason.NO_SUCH_BUCKET
    await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bkt", owner_id="alice")))
    with pytest.raises(StrataError) as owned:
        await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bkt", owner_id="alice")))
    assert owned.value.reason == ErrorReason.BUCKET_OWNED_BY_YOU
    with pytest.raises(StrataError) as bad:
        await client.get_object(GetObjectRequest(bucket="bkt", key="k", version_id="zz", has_version_id=True))
    assert bad.value.reason == ErrorReason.INVALID_ARGUMENT


@pytest.mark.allow_server_errors(tracebacks=True)  # the core fails on purpose; the servicer logs it
async def test_unexpected_failure_is_internal_not_a_crash(
    served: tuple[MetadataCore, MetadataClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    core, client = served

    async def broken(request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "list_buckets", broken)
    with pytest.raises(StrataError) as caught:
        await client.list_buckets(ListBucketsRequest())
    assert caught.value.reason == ErrorReason.INTERNAL
    assert (await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="ok")))).name == "ok"
