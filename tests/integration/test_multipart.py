"""Multipart upload through boto3 against the embedded server (mem and file backends)."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from protos.metadata_pb2 import RunGcRequest
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import s3_client
from tests.integration.test_buckets import error_of

MIB = 1024 * 1024
PART = 5 * MIB


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(3 * PART + 1234)


@pytest.fixture
def mpu_bucket(s3, bucket: str) -> Iterator[str]:
    yield bucket
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def upload_parts(s3, bucket: str, key: str, upload_id: str, pieces: list[bytes]) -> list[dict[str, object]]:
    parts = []
    for number, piece in enumerate(pieces, start=1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=piece)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    return parts


def split(data: bytes, size: int = PART) -> list[bytes]:
    return [data[offset : offset + size] for offset in range(0, len(data), size)]


def multipart_etag(pieces: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(piece).digest() for piece in pieces)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(pieces)}"'


def test_upload_complete_and_read_back(s3, mpu_bucket: str, data: bytes) -> None:
    created = s3.create_multipart_upload(
        Bucket=mpu_bucket,
        Key="big",
        ContentType="text/plain",
        Metadata={"color": "blue"},
        CacheControl="no-cache",
        Tagging="a=1&b=2",
    )
    pieces = split(data)
    parts = upload_parts(s3, mpu_bucket, "big", created["UploadId"], pieces)
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="big", UploadId=created["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert completed["ETag"] == multipart_etag(pieces)
    assert completed["Bucket"] == mpu_bucket and completed["Key"] == "big"
    got = s3.get_object(Bucket=mpu_bucket, Key="big")
    assert got["Body"].read() == data
    assert got["ETag"] == multipart_etag(pieces)
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "no-cache"
    tags = s3.get_object_tagging(Bucket=mpu_bucket, Key="big")["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in tags) == [("a", "1"), ("b", "2")]
    assert s3.list_multipart_uploads(Bucket=mpu_bucket).get("Uploads", []) == []


def test_ranges_across_part_boundaries_and_part_numbers(s3, mpu_bucket: str, data: bytes) -> None:
    created = s3.create_multipart_upload(Bucket=mpu_bucket, Key="ranged")
    pieces = split(data)
    parts = upload_parts(s3, mpu_bucket, "ranged", created["UploadId"], pieces)
    s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="ranged", UploadId=created["UploadId"], MultipartUpload={"Parts": parts}
    )
    start, end = PART - 10, 2 * PART + 10
    ranged = s3.get_object(Bucket=mpu_bucket, Key="ranged", Range=f"bytes={start}-{end}")
    assert ranged["Body"].read() == data[start : end + 1]
    for number, piece in enumerate(pieces, start=1):
        got = s3.get_object(Bucket=mpu_bucket, Key="ranged", PartNumber=number)
        assert got["Body"].read() == piece
        assert got["PartsCount"] == len(pieces)
        offset = (number - 1) * PART
        assert got["ContentRange"] == f"bytes {offset}-{offset + len(piece) - 1}/{len(data)}"
    head = s3.head_object(Bucket=mpu_bucket, Key="ranged", PartNumber=2)
    assert head["ContentLength"] == PART and head["PartsCount"] == len(pieces)
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=mpu_bucket, Key="ranged", PartNumber=len(pieces) + 1)
    assert error_of(caught) == ("InvalidPartNumber", 400)
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=mpu_bucket, Key="ranged", PartNumber=len(pieces) + 1)
    assert error_of(caught)[1] == 400


def test_part_number_one_of_a_simple_object_is_the_whole_object(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"hello")
    got = s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert got["Body"].read() == b"hello"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-4/5"
    # Only an object uploaded in parts reports a parts count.
    assert "PartsCount" not in got
    head = s3.head_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert head["ContentLength"] == 5 and "PartsCount" not in head


def test_part_number_beyond_one_of_a_simple_object_is_invalid_part_number(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"hello")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert error_of(caught) == ("InvalidPartNumber", 400)
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert error_of(caught)[1] == 400


def test_completion_errors(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k")["UploadId"]
    small = upload_parts(s3, mpu_bucket, "k", upload_id, [b"a" * 100, b"b" * 100])

    def complete(parts: list[dict[str, object]]) -> tuple[str, int]:
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                Bucket=mpu_bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        return error_of(caught)

    assert complete(small) == ("EntityTooSmall", 400)
    assert complete([small[1], small[0]]) == ("InvalidPartOrder", 400)
    assert complete([{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]) == ("InvalidPart", 400)
    assert complete([{"PartNumber": 3, "ETag": small[0]["ETag"]}]) == ("InvalidPart", 400)
    # Still in progress after every rejection; a single small part is fine (it is the last).
    s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": small[:1]}
    )
    assert s3.get_object(Bucket=mpu_bucket, Key="k")["Body"].read() == b"a" * 100


def test_retried_completion_succeeds_and_unknown_uploads_do_not(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k")["UploadId"]
    parts = upload_parts(s3, mpu_bucket, "k", upload_id, [b"x" * 10])
    first = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    again = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"] == first["ETag"]
    for call in (
        lambda: s3.upload_part(Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x"),
        lambda: s3.list_parts(Bucket=mpu_bucket, Key="k", UploadId="bogus"),
        lambda: s3.abort_multipart_upload(Bucket=mpu_bucket, Key="k", UploadId=upload_id),
        lambda: s3.complete_multipart_upload(
            Bucket=mpu_bucket, Key="other", UploadId=upload_id, MultipartUpload={"Parts": parts}
        ),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("NoSuchUpload", 404)


def test_overwritten_parts_and_list_parts(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k")["UploadId"]
    upload_parts(s3, mpu_bucket, "k", upload_id, [b"old" * 10, b"two", b"three"])
    replaced = s3.upload_part(Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"new")
    page = s3.list_parts(Bucket=mpu_bucket, Key="k", UploadId=upload_id, MaxParts=2)
    assert [part["PartNumber"] for part in page["Parts"]] == [1, 2] and page["IsTruncated"]
    assert page["Parts"][0]["ETag"] == replaced["ETag"] and page["Parts"][0]["Size"] == 3
    rest = s3.list_parts(
        Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumberMarker=page["NextPartNumberMarker"]
    )
    assert [part["PartNumber"] for part in rest["Parts"]] == [3] and not rest["IsTruncated"]
    assert rest["Initiator"]["ID"] and rest["StorageClass"] == "STANDARD"


def test_part_numbers_outside_the_range_are_rejected(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k")["UploadId"]
    for number in (0, 10001):
        with pytest.raises(ClientError) as caught:
            s3.upload_part(Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=b"x")
        assert error_of(caught) == ("InvalidArgument", 400)


def test_content_md5_and_sdk_checksums_are_verified(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    bad_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as caught:
        s3.upload_part(
            Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"data", ContentMD5=bad_md5
        )
    assert error_of(caught) == ("BadDigest", 400)
    bad_crc = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as caught:
        s3.upload_part(
            Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"data", ChecksumCRC32=bad_crc
        )
    assert error_of(caught) == ("BadDigest", 400)
    pieces = [b"a" * PART, b"tail"]
    parts = []
    for number, piece in enumerate(pieces, start=1):
        answer = s3.upload_part(
            Bucket=mpu_bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=number,
            Body=piece,
            ChecksumAlgorithm="CRC32",
        )
        crc = base64.b64encode(zlib.crc32(piece).to_bytes(4, "big")).decode()
        assert answer["ChecksumCRC32"] == crc
        parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": crc})
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    raw = b"".join(zlib.crc32(piece).to_bytes(4, "big") for piece in pieces)
    assert completed["ChecksumCRC32"] == base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    assert s3.get_object(Bucket=mpu_bucket, Key="k")["Body"].read() == b"".join(pieces)


def test_list_multipart_uploads_with_prefix_delimiter_and_pagination(s3, mpu_bucket: str) -> None:
    made = [
        (key, s3.create_multipart_upload(Bucket=mpu_bucket, Key=key)["UploadId"])
        for key in ("a", "a", "d/1", "d/2", "z")
    ]
    listed = s3.list_multipart_uploads(Bucket=mpu_bucket)
    assert sorted((u["Key"], u["UploadId"]) for u in listed["Uploads"]) == sorted(made)
    grouped = s3.list_multipart_uploads(Bucket=mpu_bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["d/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["a", "a", "z"]
    seen = []
    for page in s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=mpu_bucket, PaginationConfig={"PageSize": 2}
    ):
        seen.extend((u["Key"], u["UploadId"]) for u in page.get("Uploads", []))
    assert sorted(seen) == sorted(made) and len(seen) == len(made)
    prefixed = s3.list_multipart_uploads(Bucket=mpu_bucket, Prefix="d/")
    assert [u["Key"] for u in prefixed["Uploads"]] == ["d/1", "d/2"]


def test_abort_leaves_nothing_behind(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k")["UploadId"]
    upload_parts(s3, mpu_bucket, "k", upload_id, [b"x" * 100])
    s3.abort_multipart_upload(Bucket=mpu_bucket, Key="k", UploadId=upload_id)
    assert s3.list_multipart_uploads(Bucket=mpu_bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as caught:
        s3.list_parts(Bucket=mpu_bucket, Key="k", UploadId=upload_id)
    assert error_of(caught) == ("NoSuchUpload", 404)


def test_versioned_bucket_completion_creates_a_version(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = upload_parts(s3, bucket, "k", upload_id, [b"v2"])
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert completed["VersionId"] and completed["VersionId"] != first["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=first["VersionId"])["Body"].read() == b"v1"
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def test_upload_part_copy_with_range_and_conditions(s3, mpu_bucket: str, data: bytes) -> None:
    s3.put_object(Bucket=mpu_bucket, Key="source", Body=data)
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="copy")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=mpu_bucket,
        Key="copy",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": mpu_bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{PART - 1}",
    )
    second = s3.upload_part_copy(
        Bucket=mpu_bucket,
        Key="copy",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": mpu_bucket, "Key": "source"},
        CopySourceRange=f"bytes={PART}-{len(data) - 1}",
    )
    with pytest.raises(ClientError) as caught:
        s3.upload_part_copy(
            Bucket=mpu_bucket,
            Key="copy",
            UploadId=upload_id,
            PartNumber=3,
            CopySource={"Bucket": mpu_bucket, "Key": "source"},
            CopySourceIfMatch='"0123"',
        )
    assert error_of(caught) == ("PreconditionFailed", 412)
    parts = [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
    ]
    s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key="copy", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=mpu_bucket, Key="copy")["Body"].read() == data


def test_transfer_manager_round_trip(s3, bucket: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "up.bin"
    payload = os.urandom(24 * MIB + 17)
    source.write_bytes(payload)
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)
    s3.upload_file(str(source), bucket, "tm", Config=config)
    target = tmp_path / "down.bin"
    s3.download_file(bucket, "tm", str(target), Config=config)
    assert target.read_bytes() == payload
    assert s3.head_object(Bucket=bucket, Key="tm")["ETag"].endswith('-5"')


def _live_blob_ids(server: EmbeddedThread) -> set[str]:
    async def collect() -> set[str]:
        from metanode import keys

        core = server.server.core
        found: set[str] = set()

        def scan() -> None:
            iterator = core.kv.iterate(keys.OBJECT_PREFIX, keys.prefix_end(keys.OBJECT_PREFIX))
            try:
                for _, raw in iterator:
                    found.update(blob.blob_id for blob in keys.decode_object(raw).blobs)
            finally:
                iterator.close()

        import asyncio

        await asyncio.to_thread(scan)
        return found

    return server.call(collect())


def _stored_blob_ids(server: EmbeddedThread) -> set[str]:
    async def collect() -> set[str]:
        found: set[str] = set()
        for backend in server.server.backends.values():
            async for blob_id in backend.list_blobs():
                found.add(blob_id)
        return found

    return server.call(collect())


@pytest.mark.parametrize("backend", ["mem", "file"])
def test_after_aborts_overwrites_and_gc_only_live_blobs_remain(backend: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedThread(backend=backend, root=tmp_path if backend == "file" else None) as server:
        s3 = s3_client(server.url)
        s3.create_bucket(Bucket="gc-bucket")
        # Completed with a replaced part and a part left out.
        kept = s3.create_multipart_upload(Bucket="gc-bucket", Key="kept")["UploadId"]
        parts = upload_parts(s3, "gc-bucket", "kept", kept, [b"a" * PART, b"b" * 100, b"c" * 100])
        parts[0] = {
            "PartNumber": 1,
            "ETag": s3.upload_part(
                Bucket="gc-bucket", Key="kept", UploadId=kept, PartNumber=1, Body=b"A" * PART
            )["ETag"],
        }
        s3.complete_multipart_upload(
            Bucket="gc-bucket", Key="kept", UploadId=kept, MultipartUpload={"Parts": [parts[0], parts[2]]}
        )
        # Aborted after overwriting.
        aborted = s3.create_multipart_upload(Bucket="gc-bucket", Key="gone")["UploadId"]
        upload_parts(s3, "gc-bucket", "gone", aborted, [b"x" * 100, b"y" * 100])
        upload_parts(s3, "gc-bucket", "gone", aborted, [b"z" * 100])
        s3.abort_multipart_upload(Bucket="gc-bucket", Key="gone", UploadId=aborted)
        # Completed, then overwritten by another completed upload.
        for round_ in range(2):
            upload_id = s3.create_multipart_upload(Bucket="gc-bucket", Key="over")["UploadId"]
            done = upload_parts(s3, "gc-bucket", "over", upload_id, [bytes([round_]) * 100])
            s3.complete_multipart_upload(
                Bucket="gc-bucket", Key="over", UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        # Still in progress: its part is referenced by its upload, not by an object.
        pending = s3.create_multipart_upload(Bucket="gc-bucket", Key="pending")["UploadId"]
        upload_parts(s3, "gc-bucket", "pending", pending, [b"p" * 100])
        s3.abort_multipart_upload(Bucket="gc-bucket", Key="pending", UploadId=pending)

        response = server.call(server.server.core.run_gc(RunGcRequest()))
        assert response.entries_remaining == 0
        live = _live_blob_ids(server)
        assert len(live) == 3
        assert _stored_blob_ids(server) == live
        assert s3.get_object(Bucket="gc-bucket", Key="kept")["Body"].read() == b"A" * PART + b"c" * 100


def _intent_keys(server: EmbeddedThread) -> set[str]:
    async def collect() -> set[str]:
        from metanode import keys

        core = server.server.core

        def scan() -> set[str]:
            iterator = core.kv.iterate(keys.INTENT_PREFIX, keys.prefix_end(keys.INTENT_PREFIX))
            try:
                return {keys.decode_intent(raw).key for _, raw in iterator}
            finally:
                iterator.close()

        import asyncio

        return await asyncio.to_thread(scan)

    return server.call(collect())


def _wait_for(condition, what: str, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _start_slow_part_upload(url: str, bucket: str, key: str, upload_id: str, part_number: int, body: bytes):  # type: ignore[no-untyped-def]
    """Opens an UploadPart and sends its headers and the first byte; the caller sends the rest."""
    import http.client
    from urllib.parse import urlsplit

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.integration.conftest import ACCESS_KEY, SECRET_KEY

    target = f"{url}/{bucket}/{key}?partNumber={part_number}&uploadId={upload_id}"
    request = AWSRequest(
        method="PUT",
        url=target,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(len(body))},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    parts = urlsplit(target)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.putrequest("PUT", f"{parts.path}?{parts.query}", skip_accept_encoding=True)
    for name, value in request.headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(body[:1])
    return connection


def test_the_most_recently_started_upload_of_a_part_wins_even_when_it_finishes_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedThread(backend="file", root=tmp_path) as server:
        s3 = s3_client(server.url)
        s3.create_bucket(Bucket="race")
        upload_id = s3.create_multipart_upload(Bucket="race", Key="k")["UploadId"]
        earlier, later = b"E" * 1000, b"L" * 2000
        slow = _start_slow_part_upload(server.url, "race", "k", upload_id, 1, earlier)
        try:
            # The earlier upload has started (its write intent exists) before the later one begins.
            _wait_for(lambda: "k" in _intent_keys(server), "the first upload's intent")
            later_etag = s3.upload_part(Bucket="race", Key="k", UploadId=upload_id, PartNumber=1, Body=later)[
                "ETag"
            ]
            slow.send(earlier[1:])
            answer = slow.getresponse()
            earlier_etag = answer.getheader("ETag")
            assert answer.status == 200, answer.read()
        finally:
            slow.close()
        assert earlier_etag == f'"{hashlib.md5(earlier).hexdigest()}"'
        listed = s3.list_parts(Bucket="race", Key="k", UploadId=upload_id)["Parts"]
        assert [(part["PartNumber"], part["ETag"], part["Size"]) for part in listed] == [
            (1, later_etag, len(later))
        ]
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                Bucket="race",
                Key="k",
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": earlier_etag}]},
            )
        assert error_of(caught) == ("InvalidPart", 400)
        s3.complete_multipart_upload(
            Bucket="race",
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": later_etag}]},
        )
        assert s3.get_object(Bucket="race", Key="k")["Body"].read() == later
        # The losing upload's blob is collected: only the object's blob is left.
        server.call(server.server.core.run_gc(RunGcRequest()))
        live = _live_blob_ids(server)
        assert len(live) == 1
        assert _stored_blob_ids(server) == live


def test_a_part_uploaded_again_later_replaces_the_earlier_one(s3, mpu_bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key="k")["UploadId"]
    for body in (b"first", b"second", b"third"):
        etag = s3.upload_part(Bucket=mpu_bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=body)["ETag"]
    listed = s3.list_parts(Bucket=mpu_bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [(part["ETag"], part["Size"]) for part in listed] == [(etag, 5)]


@pytest.mark.parametrize("backend", ["mem", "file"])
def test_delete_bucket_with_only_uploads_in_progress_aborts_them(backend: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedThread(backend=backend, root=tmp_path if backend == "file" else None) as server:
        s3 = s3_client(server.url)
        s3.create_bucket(Bucket="uploads-only")
        first = s3.create_multipart_upload(Bucket="uploads-only", Key="a")["UploadId"]
        upload_parts(s3, "uploads-only", "a", first, [b"x" * 100, b"y" * 100])
        s3.create_multipart_upload(Bucket="uploads-only", Key="b/c")
        assert len(_stored_blob_ids(server)) == 2
        answer = s3.delete_bucket(Bucket="uploads-only")
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(ClientError) as caught:
            s3.head_bucket(Bucket="uploads-only")
        assert error_of(caught)[1] == 404
        with pytest.raises(ClientError) as caught:
            s3.list_parts(Bucket="uploads-only", Key="a", UploadId=first)
        assert error_of(caught) == ("NoSuchBucket", 404)
        # The parts' blobs were queued with the deletion and are collected: no orphan.
        response = server.call(server.server.core.run_gc(RunGcRequest()))
        assert response.entries_remaining == 0
        assert _stored_blob_ids(server) == set()
        # A new bucket of the same name starts empty.
        s3.create_bucket(Bucket="uploads-only")
        assert s3.list_multipart_uploads(Bucket="uploads-only").get("Uploads", []) == []
        s3.delete_bucket(Bucket="uploads-only")


def test_delete_bucket_with_an_object_and_an_upload_is_not_empty_and_keeps_both(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="object", Body=b"x")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="pending", UploadId=upload_id, PartNumber=1, Body=b"part")
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(caught) == ("BucketNotEmpty", 409)
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [upload["UploadId"] for upload in uploads] == [upload_id]
    assert len(s3.list_parts(Bucket=bucket, Key="pending", UploadId=upload_id)["Parts"]) == 1
    s3.abort_multipart_upload(Bucket=bucket, Key="pending", UploadId=upload_id)


def test_a_part_still_uploading_when_its_bucket_is_deleted_leaves_no_orphan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedThread(backend="file", root=tmp_path) as server:
        s3 = s3_client(server.url)
        s3.create_bucket(Bucket="going")
        upload_id = s3.create_multipart_upload(Bucket="going", Key="k")["UploadId"]
        body = b"P" * 100_000
        slow = _start_slow_part_upload(server.url, "going", "k", upload_id, 1, body)
        try:
            _wait_for(lambda: "k" in _intent_keys(server), "the part upload's intent")
            s3.delete_bucket(Bucket="going")
            slow.send(body[1:])
            answer = slow.getresponse()
            assert answer.status == 404, answer.read()
            assert b"<Code>NoSuchBucket</Code>" in answer.read()
        finally:
            slow.close()
        server.call(server.server.core.run_gc(RunGcRequest()))
        assert _intent_keys(server) == set()
        assert _stored_blob_ids(server) == set()
