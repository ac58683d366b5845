"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size, without its body."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.api.common import owned_bucket, xml_response
from gateway.api.versioning import find_object, requested_version_id
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.validation import validate_key
from gateway.s3.xml import Element, element, http_date, optional
from protos.common_pb2 import Checksum
from protos.metadata_pb2 import VERSIONING_UNSET, ObjectMD, ObjectPart

ATTRIBUTES_HEADER = "x-amz-object-attributes"
MAX_PARTS_HEADER = "x-amz-max-parts"
PART_NUMBER_MARKER_HEADER = "x-amz-part-number-marker"
ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS_LIMIT = 1000
COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"


def requested_attributes(ctx: RequestContext) -> frozenset[str]:
    """The ``x-amz-object-attributes`` list (comma separated, possibly over several header lines)."""
    values = ctx.request.headers.getall(ATTRIBUTES_HEADER, [])
    names = [name.strip() for value in values for name in value.split(",")]
    names = [name for name in names if name]
    if not names:
        raise errors.InvalidArgument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either "
            "missing or empty",
            ArgumentName=ATTRIBUTES_HEADER,
            ArgumentValue=", ".join(values),
        )
    for name in names:
        if name not in ATTRIBUTES:
            raise errors.InvalidArgument(
                "Invalid attribute name specified.", ArgumentName=ATTRIBUTES_HEADER, ArgumentValue=name
            )
    return frozenset(names)


def _non_negative_header(ctx: RequestContext, name: str, default: int) -> int:
    raw = ctx.headers.get(name)
    if raw is None:
        return default
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > 2**31 - 1:
        raise errors.InvalidArgument(
            f"Argument {name} must be an integer between 0 and 2147483647",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return int(value)


@dataclass(frozen=True)
class PartsPage:
    total: int
    marker: int
    max_parts: int
    parts: Sequence[ObjectPart]
    truncated: bool


def object_parts(md: ObjectMD, marker: int, max_parts: int) -> PartsPage | None:
    """The page of a multipart object's parts after part number ``marker``; None for an object not
    uploaded in parts. Like S3, the parts themselves are listed only for an object with a checksum."""
    if not md.parts_count:
        return None
    if not md.checksums:
        return PartsPage(total=md.parts_count, marker=marker, max_parts=max_parts, parts=(), truncated=False)
    # Objects completed before parts were recorded keep only their sizes, numbered in order.
    parts = list(md.parts) or [
        ObjectPart(part_number=number, size=size) for number, size in enumerate(md.part_sizes, start=1)
    ]
    following = [part for part in parts if part.part_number > marker]
    page = following[:max_parts]
    return PartsPage(
        total=md.parts_count,
        marker=marker,
        max_parts=max_parts,
        parts=page,
        truncated=len(following) > len(page),
    )


def _checksum_values(checksums: Iterable[Checksum]) -> list[Element]:
    return [
        element(f"Checksum{checksum.algorithm}", checksum.value) for checksum in checksums if checksum.value
    ]


def _checksum_element(md: ObjectMD) -> Element | None:
    values = _checksum_values(md.checksums)
    if not values:
        return None
    composite = any("-" in checksum.value for checksum in md.checksums)
    return element(
        "Checksum", None, *values, element("ChecksumType", COMPOSITE if composite else FULL_OBJECT)
    )


def _parts_element(page: PartsPage) -> Element:
    return element(
        "ObjectParts",
        None,
        element("PartsCount", page.total),  # TotalPartsCount in the SDKs
        element("PartNumberMarker", page.marker),
        optional(
            "NextPartNumberMarker", page.parts[-1].part_number if page.truncated and page.parts else None
        ),
        element("MaxParts", page.max_parts),
        element("IsTruncated", "true" if page.truncated else "false"),
        *(
            element(
                "Part",
                None,
                element("PartNumber", part.part_number),
                element("Size", part.size),
                *_checksum_values(part.checksums),
            )
            for part in page.parts
        ),
    )


async def get_object_attributes(ctx: RequestContext) -> web.StreamResponse:
    validate_key(ctx.key)
    wanted = requested_attributes(ctx)
    max_parts = min(_non_negative_header(ctx, MAX_PARTS_HEADER, MAX_PARTS_LIMIT), MAX_PARTS_LIMIT)
    marker = _non_negative_header(ctx, PART_NUMBER_MARKER_HEADER, 0)
    bucket = await owned_bucket(ctx)
    # A delete marker answers 404 (current) or 405 (named version) with x-amz-delete-marker.
    md = await find_object(ctx, bucket, ctx.key, requested_version_id(ctx))
    page = object_parts(md, marker, max_parts) if "ObjectParts" in wanted else None
    root = Element(
        "GetObjectAttributesResponse",
        None,
        [
            # Unlike GetObject's header, this ETag is bare (no quotes).
            element("ETag", md.etag) if "ETag" in wanted else None,
            _checksum_element(md) if "Checksum" in wanted else None,
            _parts_element(page) if page is not None else None,
            element("StorageClass", md.storage_class or "STANDARD") if "StorageClass" in wanted else None,
            element("ObjectSize", md.size) if "ObjectSize" in wanted else None,
        ],
    )
    response = xml_response(root)
    response.headers["Last-Modified"] = http_date(md.last_modified_ms / 1000)
    if md.version_id:
        response.headers["x-amz-version-id"] = md.version_id
    elif bucket.versioning != VERSIONING_UNSET:
        # An object from before versioning is the null version once versioning is configured.
        response.headers["x-amz-version-id"] = "null"
    return response
