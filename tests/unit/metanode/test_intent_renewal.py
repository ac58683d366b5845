"""Renewing a write intent keeps its blobs from the collector; a closed intent cannot come back."""

from __future__ import annotations

import pytest

from metanode.core import MetadataCore
from metanode.kv import MemoryKV
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    CreateBucketRequest,
    CreateIntentRequest,
    ObjectMD,
    PutObjectRequest,
    RenewIntentRequest,
    RunGcRequest,
)


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms


def blob(blob_id: str) -> BlobRef:
    return BlobRef(location="us-east-1", blob_id=blob_id, size=1)


@pytest.fixture
async def setup():  # type: ignore[no-untyped-def]
    clock = Clock()
    core = MetadataCore(MemoryKV(), intent_ttl_ms=3_000, clock_ms=clock)
    await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bucket", owner_id="alice")))
    yield core, clock
    await core.writer.close()


async def test_renewed_intent_outlives_its_first_deadline_and_commits(setup) -> None:  # type: ignore[no-untyped-def]
    core, clock = setup
    intent = await core.create_intent(CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("b")]))
    for _ in range(5):  # 10 s of streaming against a 3 s TTL
        clock.now_ms += 2_000
        renewed = await core.renew_intent(RenewIntentRequest(intent_id=intent.id, ttl_ms=3_000))
        assert renewed.expires_ms == clock.now_ms + 3_000
        assert (await core.run_gc(RunGcRequest())).intents_expired == 0
    md = ObjectMD(key="k", etag="e", size=1, blobs=[blob("b")])
    await core.put_object(PutObjectRequest(bucket="bucket", object=md, intent_id=intent.id))
    assert await core.gc_entries(10) == []


async def test_unrenewed_intent_expires_and_cannot_be_renewed_back(setup) -> None:  # type: ignore[no-untyped-def]
    core, clock = setup
    intent = await core.create_intent(CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("b")]))
    clock.now_ms += 3_001
    assert (await core.run_gc(RunGcRequest())).intents_expired == 1
    with pytest.raises(StrataError) as caught:
        await core.renew_intent(RenewIntentRequest(intent_id=intent.id))
    assert caught.value.reason == ErrorReason.NO_SUCH_INTENT
    queued = [b.blob_id for _, entry in await core.gc_entries(10) for b in entry.blobs]
    assert queued == ["b"]


async def test_renewing_an_aborted_intent_fails(setup) -> None:  # type: ignore[no-untyped-def]
    core, _ = setup
    intent = await core.create_intent(CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("b")]))
    await core.abort_intent(AbortIntentRequest(intent_id=intent.id))
    with pytest.raises(StrataError) as caught:
        await core.renew_intent(RenewIntentRequest(intent_id=intent.id))
    assert caught.value.reason == ErrorReason.NO_SUCH_INTENT


async def test_renewal_never_shortens_a_deadline(setup) -> None:  # type: ignore[no-untyped-def]
    core, _ = setup
    intent = await core.create_intent(
        CreateIntentRequest(bucket="bucket", key="k", blobs=[blob("b")], ttl_ms=60_000)
    )
    renewed = await core.renew_intent(RenewIntentRequest(intent_id=intent.id, ttl_ms=1_000))
    assert renewed.expires_ms == intent.expires_ms


@pytest.mark.parametrize("request_", [RenewIntentRequest(), RenewIntentRequest(intent_id="x", ttl_ms=-1)])
async def test_renewal_rejects_bad_requests(setup, request_: RenewIntentRequest) -> None:  # type: ignore[no-untyped-def]
    core, _ = setup
    with pytest.raises(StrataError) as caught:
        await core.renew_intent(request_)
    assert caught.value.reason == ErrorReason.INVALID_ARGUMENT
