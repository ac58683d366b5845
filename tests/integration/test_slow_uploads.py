"""Uploads that stream for longer than the intent TTL (STRATA_INTENT_TTL) while GC runs often."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import s3_client
from tests.integration.trickle import trickle

TTL_S = 2.0
BODY = os.urandom(300_000)  # above the inline threshold: a blob under an intent


# The file backend only: intents and their collection are the same code whatever stores the blobs.
@pytest.fixture(scope="module", params=["file"])
def slow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedThread]:
    root = tmp_path_factory.mktemp("slow") if request.param == "file" else None
    with EmbeddedThread(
        backend=request.param, root=root, gc_interval_s=0.2, intent_ttl_s=TTL_S, gc_grace_s=0.0
    ) as running:
        yield running


@pytest.fixture
def s3(slow_server: EmbeddedThread):  # type: ignore[no-untyped-def]
    return s3_client(slow_server.url)


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"slow-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def stored_blobs(server: EmbeddedThread) -> set[str]:
    async def collect() -> set[str]:
        assert server.server is not None
        found: set[str] = set()
        for backend in server.server.backends.values():
            found.update([blob_id async for blob_id in backend.list_blobs()])
        return found

    return server.call(collect())  # type: ignore[no-any-return]


def wait_until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.mark.timeout(60)
def test_put_object_streaming_longer_than_the_intent_ttl_round_trips(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "slow"})
    reply = trickle(url, BODY, duration_s=4 * TTL_S)
    assert reply is not None and reply.status == 200, reply
    got = s3.get_object(Bucket=bucket, Key="slow")["Body"].read()
    assert hashlib.md5(got).digest() == hashlib.md5(BODY).digest()


@pytest.mark.timeout(60)
def test_upload_part_streaming_longer_than_the_intent_ttl_round_trips(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    url = s3.generate_presigned_url(
        "upload_part", Params={"Bucket": bucket, "Key": "mpu", "UploadId": upload_id, "PartNumber": 1}
    )
    reply = trickle(url, BODY, duration_s=4 * TTL_S)
    assert reply is not None and reply.status == 200, reply
    etag = s3.list_parts(Bucket=bucket, Key="mpu", UploadId=upload_id)["Parts"][0]["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="mpu")["Body"].read() == BODY


@pytest.mark.timeout(60)
@pytest.mark.allow_server_errors(503)
def test_collected_intent_fails_the_upload_with_503_and_leaves_no_blob(
    slow_server: EmbeddedThread,
    s3,
    bucket: str,  # type: ignore[no-untyped-def]
) -> None:
    before = stored_blobs(slow_server)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "lost"})
    result: list[object] = []
    uploader = threading.Thread(target=lambda: result.append(trickle(url, BODY, duration_s=3 * TTL_S)))
    uploader.start()
    assert slow_server.server is not None
    core = slow_server.server.core
    # Collect every open intent while the body is still streaming, as a GC that lost the race would.
    wait_until(lambda: slow_server.call(core.expire_intents(expire_all=True)) > 0)
    uploader.join(60)
    reply = result[0]
    assert reply is not None and reply.status == 503, reply
    assert b"<Code>ServiceUnavailable</Code>" in reply.body and b"<RequestId>" in reply.body
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    wait_until(lambda: stored_blobs(slow_server) == before)


@pytest.mark.timeout(60)
def test_writer_that_disconnects_leaves_no_blob(slow_server: EmbeddedThread, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    before = stored_blobs(slow_server)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "gone"})
    assert trickle(url, BODY, duration_s=2 * TTL_S, abandon_after=10) is None
    wait_until(lambda: stored_blobs(slow_server) == before)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
