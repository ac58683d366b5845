"""GetObjectAttributes' part paging over a stored object's record."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway.api.object_attributes import _non_negative_header, object_parts
from gateway.s3 import errors
from protos.common_pb2 import Checksum
from protos.metadata_pb2 import ObjectMD, ObjectPart


def _multipart(numbers: list[int]) -> ObjectMD:
    md = ObjectMD(key="k", size=10 * len(numbers), parts_count=len(numbers))
    md.checksums.append(Checksum(algorithm="CRC32", value=f"whole-{len(numbers)}"))
    md.part_sizes.extend(10 for _ in numbers)
    for number in numbers:
        md.parts.append(
            ObjectPart(
                part_number=number, size=10, checksums=[Checksum(algorithm="CRC32", value=f"v{number}")]
            )
        )
    return md


def test_single_part_object_has_no_parts() -> None:
    assert object_parts(ObjectMD(key="k", size=3), 0, 1000) is None


def test_pages_follow_the_part_number_marker() -> None:
    md = _multipart([1, 4, 7, 9])
    first = object_parts(md, 0, 2)
    assert first is not None
    assert [part.part_number for part in first.parts] == [1, 4]
    assert first.truncated and first.total == 4
    second = object_parts(md, 4, 2)
    assert second is not None
    assert [part.part_number for part in second.parts] == [7, 9] and not second.truncated
    # A marker between numbers starts at the next one.
    between = object_parts(md, 5, 10)
    assert between is not None and [part.part_number for part in between.parts] == [7, 9]
    past = object_parts(md, 9, 10)
    assert past is not None and list(past.parts) == [] and not past.truncated


def test_parts_of_an_object_without_a_checksum_are_counted_not_listed() -> None:
    md = _multipart([1, 2, 3])
    del md.checksums[:]
    page = object_parts(md, 0, 2)
    assert page is not None
    assert page.total == 3 and list(page.parts) == [] and not page.truncated


def test_records_without_parts_fall_back_to_sizes_numbered_in_order() -> None:
    md = ObjectMD(key="k", size=25, parts_count=3)
    md.checksums.append(Checksum(algorithm="CRC32", value="whole-3"))
    md.part_sizes.extend([10, 10, 5])
    page = object_parts(md, 1, 1000)
    assert page is not None
    assert [(part.part_number, part.size, list(part.checksums)) for part in page.parts] == [
        (2, 10, []),
        (3, 5, []),
    ]


@pytest.mark.parametrize("value", ["²", "١٢", "many", "-1"])
def test_paging_header_that_is_not_plain_digits_is_invalid_argument(value: str) -> None:
    ctx = SimpleNamespace(headers={"x-amz-max-parts": value})
    with pytest.raises(errors.InvalidArgument):
        _non_negative_header(ctx, "x-amz-max-parts", 1000)  # type: ignore[arg-type]
