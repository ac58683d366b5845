"""ListObjectVersions over the metanode's all-versions listing (DelimiterVersions)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import owned_bucket, xml_response
from gateway.api.object_list import Encoder, encoder, max_keys
from gateway.api.versioning import client_version_id
from gateway.authz.ownership import listed_owners
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import Element, element, iso8601, optional
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import LISTING_DELIMITER_VERSIONS, ListObjectsRequest, ListObjectsResponse, ObjectMD


def _owner(md: ObjectMD) -> Element:
    return element("Owner", None, element("ID", md.owner_id), element("DisplayName", md.owner_display_name))


def _version_element(key: str, md: ObjectMD, is_latest: bool, encode: Encoder) -> Element:
    common = [
        element("Key", encode(key)),
        element("VersionId", client_version_id(md)),
        element("IsLatest", "true" if is_latest else "false"),
        element("LastModified", iso8601(md.last_modified_ms / 1000)),
    ]
    if md.is_delete_marker:
        return Element("DeleteMarker", None, [*common, _owner(md)])
    return Element(
        "Version",
        None,
        [
            *common,
            element("ETag", f'"{md.etag}"'),
            element("Size", md.size),
            _owner(md),
            element("StorageClass", md.storage_class or "STANDARD"),
        ],
    )


def _entries(
    listing: ListObjectsResponse, key_marker: str, version_id_marker: str | None, encode: Encoder
) -> list[Element]:
    """Versions come newest first per key, so the first one of a key is the latest — unless the page
    starts inside that key's versions (after ``version_id_marker``)."""
    elements: list[Element] = []
    previous_key = key_marker if version_id_marker else None
    for entry in listing.entries:
        elements.append(_version_element(entry.key, entry.object, entry.key != previous_key, encode))
        previous_key = entry.key
    for prefix in listing.common_prefixes:
        elements.append(element("CommonPrefixes", None, element("Prefix", encode(prefix))))
    return elements


async def list_object_versions(ctx: RequestContext) -> web.StreamResponse:
    encode = encoder(ctx)
    limit = max_keys(ctx)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter", "")
    key_marker = ctx.query.get("key-marker", "")
    version_id_marker = ctx.query.get("version-id-marker")
    if version_id_marker is not None and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=version_id_marker,
        )
    if version_id_marker == "":
        raise errors.InvalidArgument(
            "A version-id marker cannot be empty.", ArgumentName="version-id-marker", ArgumentValue=""
        )
    bucket = await owned_bucket(ctx)
    try:
        listing = await ctx.services.metadata.list_objects(
            ListObjectsRequest(
                bucket=bucket.name,
                listing_type=LISTING_DELIMITER_VERSIONS,
                prefix=prefix,
                delimiter=delimiter,
                marker=key_marker,
                version_id_marker=version_id_marker or "",
                max_keys=limit,
            )
        )
    except StrataError as error:
        if error.reason == ErrorReason.INVALID_ARGUMENT and version_id_marker:
            raise errors.InvalidArgument(
                "Invalid version id specified",
                ArgumentName="version-id-marker",
                ArgumentValue=version_id_marker,
            ) from None
        raise
    listing = listed_owners(bucket, listing)
    next_key_marker = next_version_marker = None
    if listing.is_truncated:
        next_key_marker = listing.next_marker
        next_version_marker = listing.next_version_id_marker or None
    root = Element(
        "ListVersionsResult",
        None,
        [
            element("Name", bucket.name),
            element("Prefix", encode(prefix)),
            element("KeyMarker", encode(key_marker)),
            element("VersionIdMarker", version_id_marker or ""),
            optional("NextKeyMarker", encode(next_key_marker) if next_key_marker is not None else None),
            optional("NextVersionIdMarker", next_version_marker),
            element("MaxKeys", limit),
            optional("Delimiter", encode(delimiter) if delimiter else None),
            optional("EncodingType", "url" if "encoding-type" in ctx.query else None),
            element("IsTruncated", "true" if listing.is_truncated else "false"),
            *_entries(listing, key_marker, version_id_marker, encode),
        ],
    )
    return xml_response(root)
