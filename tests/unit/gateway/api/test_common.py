from __future__ import annotations

import pytest

from gateway.api.common import ByteRange, check_conditions, parse_range, user_metadata
from gateway.s3 import errors
from protos.metadata_pb2 import ObjectMD


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, ByteRange(0, 0)),
        ("bytes=2-5", 10, ByteRange(2, 5)),
        ("bytes=5-", 10, ByteRange(5, 9)),
        ("bytes=-3", 10, ByteRange(7, 9)),
        ("bytes=-30", 10, ByteRange(0, 9)),
        ("bytes=3-100", 10, ByteRange(3, 9)),
        ("bytes=5-2", 10, None),  # invalid: ignored, like S3
        ("bytes=0-1,3-4", 10, None),  # multiple ranges: whole object
        ("items=0-1", 10, None),
        ("bytes=abc", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=-5", 0), ("bytes=0-", 0)],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(errors.InvalidRange):
        parse_range(header, size)


def md(etag: str = "abc", modified_s: int = 1_700_000_000) -> ObjectMD:
    return ObjectMD(etag=etag, last_modified_ms=modified_s * 1000)


def test_if_match_and_if_none_match() -> None:
    assert check_conditions({"If-Match": '"abc"'}, md()) is True
    assert check_conditions({"If-Match": "*"}, md()) is True
    with pytest.raises(errors.PreconditionFailed):
        check_conditions({"If-Match": '"other"'}, md())
    assert check_conditions({"If-None-Match": '"abc"'}, md()) is False
    assert check_conditions({"If-None-Match": '"x", "y"'}, md()) is True


def test_date_conditions_and_their_precedence() -> None:
    before = "Mon, 13 Nov 2023 00:00:00 GMT"  # earlier than the object
    after = "Thu, 01 Jan 2026 00:00:00 GMT"
    assert check_conditions({"If-Modified-Since": after}, md()) is False
    assert check_conditions({"If-Modified-Since": before}, md()) is True
    with pytest.raises(errors.PreconditionFailed):
        check_conditions({"If-Unmodified-Since": before}, md())
    # If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since (RFC 7232).
    assert check_conditions({"If-Match": '"abc"', "If-Unmodified-Since": before}, md()) is True
    assert check_conditions({"If-None-Match": '"zzz"', "If-Modified-Since": after}, md()) is True
    # An unparsable date is ignored.
    assert check_conditions({"If-Modified-Since": "yesterday"}, md()) is True


def test_user_metadata_is_collected_and_bounded() -> None:
    assert user_metadata({"X-Amz-Meta-Color": "blue", "Content-Type": "x"}) == {"color": "blue"}
    with pytest.raises(errors.MetadataTooLarge):
        user_metadata({"x-amz-meta-big": "v" * 2100})
