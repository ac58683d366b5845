from __future__ import annotations

import pytest

from gateway.api.common import ByteRange
from gateway.api.copy_source import (
    CopySource,
    check_copy_conditions,
    parse_copy_source,
    parse_copy_source_range,
)
from gateway.s3 import errors
from protos.metadata_pb2 import ObjectMD

# 2024-01-02 03:04:05 UTC
MODIFIED_MS = 1704164645 * 1000
BEFORE = "Mon, 01 Jan 2024 00:00:00 GMT"
AFTER = "Wed, 03 Jan 2024 00:00:00 GMT"


def source_md() -> ObjectMD:
    return ObjectMD(key="k", etag="abc", last_modified_ms=MODIFIED_MS)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bucket/key", CopySource("bucket", "key")),
        ("/bucket/key", CopySource("bucket", "key")),
        ("/bucket/dir/sub/key.txt", CopySource("bucket", "dir/sub/key.txt")),
        ("bucket/a%20b%2Bc%3Fd", CopySource("bucket", "a b+c?d")),
        ("bucket/caf%C3%A9", CopySource("bucket", "café")),
        ("bucket/key?versionId=abc123", CopySource("bucket", "key", "abc123")),
        ("/bucket/key?versionId=null", CopySource("bucket", "key", "null")),
        ("bucket%2Fkey", CopySource("bucket", "key")),
    ],
)
def test_copy_source_header_forms(header: str, expected: CopySource) -> None:
    assert parse_copy_source(header) == expected


@pytest.mark.parametrize("header", ["", "bucket", "/bucket", "bucket/", "/", "//key", "bucket/%FF"])
def test_copy_source_without_bucket_and_key_is_invalid_argument(header: str) -> None:
    with pytest.raises(errors.InvalidArgument) as excinfo:
        parse_copy_source(header)
    assert excinfo.value.details.get("ArgumentName") == "x-amz-copy-source"


def test_copy_source_empty_version_id_is_invalid() -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_copy_source("bucket/key?versionId=")


def test_copy_source_key_too_long() -> None:
    with pytest.raises(errors.KeyTooLongError):
        parse_copy_source("bucket/" + "k" * 1025)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-amz-copy-source-if-match": '"abc"'},
        {"x-amz-copy-source-if-match": "*"},
        {"x-amz-copy-source-if-none-match": '"other"'},
        {"x-amz-copy-source-if-modified-since": BEFORE},
        {"x-amz-copy-source-if-unmodified-since": AFTER},
        # A matching etag wins over a failing date, as in S3.
        {"x-amz-copy-source-if-match": '"abc"', "x-amz-copy-source-if-unmodified-since": BEFORE},
        {"x-amz-copy-source-if-none-match": '"other"', "x-amz-copy-source-if-modified-since": AFTER},
        {"x-amz-copy-source-if-modified-since": "not a date"},
    ],
)
def test_copy_conditions_that_pass(headers: dict[str, str]) -> None:
    check_copy_conditions(headers, source_md())


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-copy-source-if-match": '"other"'},
        {"x-amz-copy-source-if-none-match": '"abc"'},
        {"x-amz-copy-source-if-none-match": "*"},
        {"x-amz-copy-source-if-modified-since": AFTER},
        {"x-amz-copy-source-if-unmodified-since": BEFORE},
        {"x-amz-copy-source-if-match": '"other"', "x-amz-copy-source-if-unmodified-since": AFTER},
    ],
)
def test_copy_conditions_that_fail_are_precondition_failed(headers: dict[str, str]) -> None:
    with pytest.raises(errors.PreconditionFailed):
        check_copy_conditions(headers, source_md())


def test_copy_source_range() -> None:
    assert parse_copy_source_range(None, 10) is None
    assert parse_copy_source_range("bytes=0-9", 10) == ByteRange(0, 9)
    assert parse_copy_source_range("bytes=3-3", 10) == ByteRange(3, 3)


@pytest.mark.parametrize("value", ["bytes=5-", "bytes=-5", "items=0-1", "0-1", "bytes=a-b"])
def test_malformed_copy_source_range_is_invalid_argument(value: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_copy_source_range(value, 10)


@pytest.mark.parametrize("value", ["bytes=0-10", "bytes=5-4", "bytes=10-12"])
def test_copy_source_range_outside_the_object_is_invalid_range(value: str) -> None:
    with pytest.raises(errors.InvalidRange):
        parse_copy_source_range(value, 10)
