"""GetObjectAttributes through boto3: single-part, multipart (with and without checksums), versions."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of

MIB = 1024 * 1024
ALL_ATTRIBUTES = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


@pytest.fixture(scope="module")
def pieces() -> list[bytes]:
    return [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]


@pytest.fixture
def versioned(s3) -> Iterator[str]:
    name = f"goa-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    listing = s3.list_object_versions(Bucket=name)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=name)


def _with_header_change(s3, change: Callable[[Any], None], call: Callable[[], Any]) -> Any:
    """Runs ``call`` with ``change`` applied to the request just before it is signed (for values
    botocore would refuse to send)."""

    def hook(request: Any, **kwargs: Any) -> None:
        change(request)

    s3.meta.events.register("before-sign.s3.GetObjectAttributes", hook)
    try:
        return call()
    finally:
        s3.meta.events.unregister("before-sign.s3.GetObjectAttributes", hook)


def _upload(
    s3, bucket: str, key: str, pieces: list[bytes], algorithm: str | None, numbers: list[int]
) -> dict:
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, **({"ChecksumAlgorithm": algorithm} if algorithm else {})
    )
    upload_id = created["UploadId"]
    completed = []
    for number, piece in zip(numbers, pieces, strict=True):
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        uploaded = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=piece, **extra
        )
        part = {"PartNumber": number, "ETag": uploaded["ETag"]}
        if algorithm:
            part[f"Checksum{algorithm}"] = uploaded[f"Checksum{algorithm}"]
        completed.append(part)
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": completed}
    )


def test_single_part_object(s3, bucket: str) -> None:
    body = b"hello attributes"
    put = s3.put_object(Bucket=bucket, Key="single", Body=body, ChecksumAlgorithm="SHA256")
    attributes = s3.get_object_attributes(Bucket=bucket, Key="single", ObjectAttributes=ALL_ATTRIBUTES)
    assert attributes["ETag"] == hashlib.md5(body).hexdigest() == put["ETag"].strip('"')
    assert attributes["Checksum"] == {
        "ChecksumSHA256": b64(hashlib.sha256(body).digest()),
        "ChecksumType": "FULL_OBJECT",
    }
    assert "ObjectParts" not in attributes
    assert attributes["StorageClass"] == "STANDARD"
    assert attributes["ObjectSize"] == len(body)
    assert attributes["LastModified"] == s3.head_object(Bucket=bucket, Key="single")["LastModified"]
    assert "VersionId" not in attributes


def test_only_the_requested_attributes_are_returned(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="some", Body=b"12345")
    size_only = s3.get_object_attributes(Bucket=bucket, Key="some", ObjectAttributes=["ObjectSize"])
    assert size_only["ObjectSize"] == 5
    assert not {"ETag", "Checksum", "ObjectParts", "StorageClass"} & set(size_only)
    two = s3.get_object_attributes(Bucket=bucket, Key="some", ObjectAttributes=["StorageClass", "ETag"])
    assert two["StorageClass"] == "STANDARD" and two["ETag"] == hashlib.md5(b"12345").hexdigest()
    assert "ObjectSize" not in two


def test_multipart_with_crc32_lists_part_checksums_and_pages(s3, bucket: str, pieces: list[bytes]) -> None:
    completed = _upload(s3, bucket, "mpu", pieces, "CRC32", [1, 2, 3])
    attributes = s3.get_object_attributes(Bucket=bucket, Key="mpu", ObjectAttributes=ALL_ATTRIBUTES)
    assert attributes["ETag"] == completed["ETag"].strip('"')
    assert attributes["ETag"].endswith("-3")
    assert attributes["Checksum"] == {
        "ChecksumCRC32": completed["ChecksumCRC32"],
        "ChecksumType": "COMPOSITE",
    }
    assert attributes["ObjectSize"] == sum(len(piece) for piece in pieces)
    parts = attributes["ObjectParts"]
    assert parts["TotalPartsCount"] == 3
    assert parts["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in parts["Parts"]] == [
        (number, len(piece), b64(crc32(piece))) for number, piece in enumerate(pieces, start=1)
    ]
    first = s3.get_object_attributes(Bucket=bucket, Key="mpu", ObjectAttributes=["ObjectParts"], MaxParts=2)
    first_parts = first["ObjectParts"]
    assert [p["PartNumber"] for p in first_parts["Parts"]] == [1, 2]
    assert first_parts["IsTruncated"] is True
    assert first_parts["NextPartNumberMarker"] == 2
    assert first_parts["MaxParts"] == 2 and first_parts["TotalPartsCount"] == 3
    rest = s3.get_object_attributes(
        Bucket=bucket,
        Key="mpu",
        ObjectAttributes=["ObjectParts"],
        MaxParts=2,
        PartNumberMarker=first_parts["NextPartNumberMarker"],
    )["ObjectParts"]
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    assert rest["IsTruncated"] is False and rest["PartNumberMarker"] == 2
    assert "NextPartNumberMarker" not in rest


def test_multipart_without_checksums_counts_parts_without_listing_them(
    s3, bucket: str, pieces: list[bytes]
) -> None:
    completed = _upload(s3, bucket, "plain-mpu", pieces, None, [2, 5, 9])
    attributes = s3.get_object_attributes(Bucket=bucket, Key="plain-mpu", ObjectAttributes=ALL_ATTRIBUTES)
    assert attributes["ETag"] == completed["ETag"].strip('"')
    assert attributes["ObjectSize"] == sum(len(piece) for piece in pieces)
    assert "Checksum" not in attributes
    # S3 lists the parts only of an object that has a checksum.
    parts = attributes["ObjectParts"]
    assert parts["TotalPartsCount"] == 3
    assert "Parts" not in parts and parts["IsTruncated"] is False


def test_multipart_parts_keep_the_numbers_they_were_uploaded_under(
    s3, bucket: str, pieces: list[bytes]
) -> None:
    _upload(s3, bucket, "gappy", pieces, "SHA256", [2, 5, 9])
    parts = s3.get_object_attributes(Bucket=bucket, Key="gappy", ObjectAttributes=["ObjectParts"])[
        "ObjectParts"
    ]
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in parts["Parts"]] == [
        (number, len(piece), b64(hashlib.sha256(piece).digest()))
        for number, piece in zip([2, 5, 9], pieces, strict=True)
    ]
    after_five = s3.get_object_attributes(
        Bucket=bucket, Key="gappy", ObjectAttributes=["ObjectParts"], PartNumberMarker=5
    )["ObjectParts"]
    assert [p["PartNumber"] for p in after_five["Parts"]] == [9]


def test_versions_null_version_and_delete_markers(s3, versioned: str) -> None:
    bucket = versioned
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    null = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert null["VersionId"] == "null" and null["ObjectSize"] == len(b"before versioning")
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"a")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"bbb")["VersionId"]
    current = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize", "ETag"])
    assert current["VersionId"] == second and current["ObjectSize"] == 3
    older = s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=first, ObjectAttributes=["ObjectSize"])
    assert older["VersionId"] == first and older["ObjectSize"] == 1
    assert older["LastModified"] == s3.head_object(Bucket=bucket, Key="k", VersionId=first)["LastModified"]
    by_null = s3.get_object_attributes(
        Bucket=bucket, Key="k", VersionId="null", ObjectAttributes=["ObjectSize"]
    )
    assert by_null["ObjectSize"] == len(b"before versioning")

    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert error_of(excinfo) == ("NoSuchKey", 404)
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=marker, ObjectAttributes=["ObjectSize"])
    assert error_of(excinfo) == ("MethodNotAllowed", 405)
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and "last-modified" in headers
    # The versions behind the marker are still there.
    assert (
        s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=second, ObjectAttributes=["ObjectSize"])[
            "ObjectSize"
        ]
        == 3
    )


@pytest.mark.parametrize(
    "value",
    ["Bogus", "ETag,Bogus", "etag", "", " , "],
)
def test_invalid_or_empty_attribute_list_is_invalid_argument(s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def set_value(request: Any) -> None:
        request.headers.replace_header("x-amz-object-attributes", value)

    with pytest.raises(ClientError) as excinfo:
        _with_header_change(
            s3,
            set_value,
            lambda: s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag"]),
        )
    assert error_of(excinfo) == ("InvalidArgument", 400)


def test_missing_attribute_header_is_invalid_argument(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def drop(request: Any) -> None:
        del request.headers["x-amz-object-attributes"]

    with pytest.raises(ClientError) as excinfo:
        _with_header_change(
            s3, drop, lambda: s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag"])
        )
    assert error_of(excinfo) == ("InvalidArgument", 400)


@pytest.mark.parametrize("header", ["x-amz-max-parts", "x-amz-part-number-marker"])
@pytest.mark.parametrize("value", ["many", "-1", "1.5"])
def test_malformed_part_paging_headers_are_invalid_argument(s3, bucket: str, header: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def set_value(request: Any) -> None:
        request.headers[header] = value

    with pytest.raises(ClientError) as excinfo:
        _with_header_change(
            s3, set_value, lambda: s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag"])
        )
    assert error_of(excinfo) == ("InvalidArgument", 400)


def test_missing_object_and_bucket(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
    assert error_of(excinfo) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket=f"absent-{uuid.uuid4().hex[:12]}", Key="k", ObjectAttributes=["ETag"])
    assert error_of(excinfo) == ("NoSuchBucket", 404)
