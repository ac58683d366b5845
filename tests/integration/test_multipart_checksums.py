"""CompleteMultipartUpload checks the client's whole-object checksum and the parts' checksums (boto3)."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator

import crc32c
import pytest
from awscrt import checksums as crt_checksums
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of

MIB = 1024 * 1024
PART = 5 * MIB
KEY = "checked"


@pytest.fixture(scope="module")
def pieces() -> list[bytes]:
    return [os.urandom(PART), os.urandom(PART), os.urandom(777)]


@pytest.fixture
def mpu_bucket(s3, bucket: str) -> Iterator[str]:
    yield bucket
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def digest(algorithm: str, data: bytes) -> bytes:
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crc32c.crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crt_checksums.crc64nvme(data).to_bytes(8, "big")
    return hashlib.new(algorithm.lower(), data).digest()


def full_object(algorithm: str, pieces: list[bytes]) -> str:
    return b64(digest(algorithm, b"".join(pieces)))


def composite(algorithm: str, pieces: list[bytes]) -> str:
    joined = b"".join(digest(algorithm, piece) for piece in pieces)
    return f"{b64(digest(algorithm, joined))}-{len(pieces)}"


def start(s3, bucket: str, algorithm: str, checksum_type: str, pieces: list[bytes]) -> tuple[str, list[dict]]:
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=KEY, ChecksumAlgorithm=algorithm, ChecksumType=checksum_type
    )["UploadId"]
    parts = []
    for number, piece in enumerate(pieces, start=1):
        answer = s3.upload_part(
            Bucket=bucket,
            Key=KEY,
            UploadId=upload_id,
            PartNumber=number,
            Body=piece,
            ChecksumAlgorithm=algorithm,
        )
        field = f"Checksum{algorithm}"
        assert answer[field] == b64(digest(algorithm, piece))
        parts.append({"PartNumber": number, "ETag": answer["ETag"], field: answer[field]})
    return upload_id, parts


def rejected(s3, bucket: str, upload_id: str, parts: list[dict], **extra: str) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(
            Bucket=bucket, Key=KEY, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
        )
    code, status = error_of(caught)
    return code, status, caught.value.response["Error"]["Message"]


def assert_still_open(s3, bucket: str, upload_id: str, count: int) -> None:
    """Nothing was completed: the upload and all its parts remain, and no object exists."""
    listed = s3.list_parts(Bucket=bucket, Key=KEY, UploadId=upload_id)
    assert [part["PartNumber"] for part in listed["Parts"]] == list(range(1, count + 1))
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key=KEY)
    assert error_of(caught)[1] == 404


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksum_is_verified(s3, mpu_bucket: str, pieces: list[bytes], algorithm: str) -> None:
    upload_id, parts = start(s3, mpu_bucket, algorithm, "FULL_OBJECT", pieces)
    wrong = full_object(algorithm, [*pieces[:-1], b"not the tail"])
    code, status, message = rejected(
        s3, mpu_bucket, upload_id, parts, **{f"Checksum{algorithm}": wrong, "ChecksumType": "FULL_OBJECT"}
    )
    assert (code, status) == ("BadDigest", 400)
    assert algorithm.lower() in message
    assert_still_open(s3, mpu_bucket, upload_id, len(pieces))

    right = full_object(algorithm, pieces)
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket,
        Key=KEY,
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        ChecksumType="FULL_OBJECT",
        **{f"Checksum{algorithm}": right},
    )
    assert completed[f"Checksum{algorithm}"] == right
    assert completed["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=mpu_bucket, Key=KEY, ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == right
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(b"".join(pieces)).digest()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksum_is_verified(s3, mpu_bucket: str, pieces: list[bytes], algorithm: str) -> None:
    upload_id, parts = start(s3, mpu_bucket, algorithm, "COMPOSITE", pieces)
    field = f"Checksum{algorithm}"
    # The full-object value is not the composite one; a wrong part count is not either.
    right = composite(algorithm, pieces)
    for wrong in (full_object(algorithm, pieces), right.rsplit("-", 1)[0] + "-2"):
        code, status, _ = rejected(s3, mpu_bucket, upload_id, parts, **{field: wrong})
        assert (code, status) == ("BadDigest", 400)
    assert_still_open(s3, mpu_bucket, upload_id, len(pieces))
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket,
        Key=KEY,
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        ChecksumType="COMPOSITE",
        **{field: right},
    )
    assert completed[field] == right and completed["ChecksumType"] == "COMPOSITE"
    # A retried completion (the upload is gone) still answers with the object.
    again = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key=KEY, UploadId=upload_id, MultipartUpload={"Parts": parts}, **{field: right}
    )
    assert again["ETag"] == completed["ETag"]


def test_composite_value_without_part_count_is_accepted(s3, mpu_bucket: str, pieces: list[bytes]) -> None:
    upload_id, parts = start(s3, mpu_bucket, "SHA256", "COMPOSITE", pieces)
    right = composite("SHA256", pieces)
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket,
        Key=KEY,
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        ChecksumSHA256=right.rsplit("-", 1)[0],
    )
    assert completed["ChecksumSHA256"] == right


def test_parts_without_their_checksums_are_invalid(s3, mpu_bucket: str, pieces: list[bytes]) -> None:
    upload_id, parts = start(s3, mpu_bucket, "SHA1", "COMPOSITE", pieces)
    bare = [dict(part) for part in parts]
    del bare[1]["ChecksumSHA1"]
    code, status, message = rejected(s3, mpu_bucket, upload_id, bare)
    assert (code, status) == ("InvalidRequest", 400)
    assert "sha1 checksum" in message and "missing for part 2" in message
    # A part naming another algorithm's checksum instead does not match what was received.
    other = [dict(part) for part in parts]
    del other[0]["ChecksumSHA1"]
    other[0]["ChecksumSHA256"] = b64(hashlib.sha256(pieces[0]).digest())
    code, status, message = rejected(s3, mpu_bucket, upload_id, other)
    assert (code, status) == ("BadDigest", 400)
    assert "sha256" in message and "part 1" in message
    assert_still_open(s3, mpu_bucket, upload_id, len(pieces))
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key=KEY, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert completed["ChecksumSHA1"] == composite("SHA1", pieces)


def test_malformed_or_contradictory_checksum_requests(s3, mpu_bucket: str, pieces: list[bytes]) -> None:
    upload_id, parts = start(s3, mpu_bucket, "CRC32", "FULL_OBJECT", pieces)
    right = full_object("CRC32", pieces)
    cases: list[tuple[dict[str, str], str]] = [
        ({"ChecksumCRC32": "not base64!"}, "InvalidRequest"),
        ({"ChecksumCRC32": b64(b"\x00" * 8)}, "InvalidRequest"),  # wrong width
        ({"ChecksumCRC32": f"{right}-x"}, "InvalidRequest"),
        ({"ChecksumCRC32": f"{right}-3"}, "InvalidRequest"),  # a part count on a full-object value
        ({"ChecksumCRC32": right, "ChecksumSHA256": b64(b"\x00" * 32)}, "InvalidRequest"),
        ({"ChecksumSHA256": b64(hashlib.sha256(b"".join(pieces)).digest())}, "InvalidRequest"),
        ({"ChecksumCRC32": right, "ChecksumType": "COMPOSITE"}, "BadDigest"),  # not the upload's mode
    ]
    for extra, expected_code in cases:
        code, status, _ = rejected(s3, mpu_bucket, upload_id, parts, **extra)
        assert (code, status) == (expected_code, 400), extra
    assert_still_open(s3, mpu_bucket, upload_id, len(pieces))
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket, Key=KEY, UploadId=upload_id, MultipartUpload={"Parts": parts}, ChecksumCRC32=right
    )
    assert completed["ChecksumCRC32"] == right


def test_whole_object_checksum_is_ignored_without_an_upload_algorithm(
    s3, mpu_bucket: str, pieces: list[bytes]
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=mpu_bucket, Key=KEY)["UploadId"]
    parts = []
    for number, piece in enumerate(pieces, start=1):
        answer = s3.upload_part(Bucket=mpu_bucket, Key=KEY, UploadId=upload_id, PartNumber=number, Body=piece)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    completed = s3.complete_multipart_upload(
        Bucket=mpu_bucket,
        Key=KEY,
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        ChecksumCRC64NVME=b64(b"\x01" * 8),
    )
    assert completed["ETag"].endswith(f'-{len(pieces)}"')
    assert s3.head_object(Bucket=mpu_bucket, Key=KEY)["ContentLength"] == sum(map(len, pieces))
