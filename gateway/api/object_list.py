"""ListObjects (V1) and ListObjectsV2 over the metanode's current-version listing."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web

from gateway.api.common import owned_bucket, xml_response
from gateway.authz.ownership import listed_owners
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import Element, element, iso8601, optional
from protos.metadata_pb2 import LISTING_DELIMITER_MASTER, ListObjectsRequest, ListObjectsResponse

MAX_KEYS_LIMIT = 1000

Encoder = Callable[[str], str]


def max_keys(ctx: RequestContext) -> int:
    raw = ctx.query.get("max-keys")
    if raw is None:
        return MAX_KEYS_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise errors.InvalidArgument(
            "Provided max-keys not an integer or within integer range",
            ArgumentName="max-keys",
            ArgumentValue=raw,
        ) from None
    if value < 0:
        raise errors.InvalidArgument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
            ArgumentName="maxKeys",
            ArgumentValue=raw,
        )
    return min(value, MAX_KEYS_LIMIT)


def encoder(ctx: RequestContext) -> Encoder:
    """Applies ``encoding-type`` to the names a listing returns."""
    encoding = ctx.query.get("encoding-type")
    if encoding is None:
        return lambda value: value
    if encoding.lower() != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=encoding,
        )
    return lambda value: quote(value, safe="/")


async def _list(ctx: RequestContext, marker: str, limit: int) -> ListObjectsResponse:
    bucket = await owned_bucket(ctx)
    listing = await ctx.services.metadata.list_objects(
        ListObjectsRequest(
            bucket=bucket.name,
            listing_type=LISTING_DELIMITER_MASTER,
            prefix=ctx.query.get("prefix", ""),
            delimiter=ctx.query.get("delimiter", ""),
            marker=marker,
            max_keys=limit,
        )
    )
    return listed_owners(bucket, listing)


def _contents(listing: ListObjectsResponse, encode: Encoder, with_owner: bool) -> list[Element]:
    contents = []
    for entry in listing.entries:
        md = entry.object
        owner = (
            element("Owner", None, element("ID", md.owner_id), element("DisplayName", md.owner_display_name))
            if with_owner
            else None
        )
        contents.append(
            element(
                "Contents",
                None,
                element("Key", encode(entry.key)),
                element("LastModified", iso8601(md.last_modified_ms / 1000)),
                element("ETag", f'"{md.etag}"'),
                element("Size", md.size),
                owner,
                element("StorageClass", md.storage_class or "STANDARD"),
            )
        )
    for prefix in listing.common_prefixes:
        contents.append(element("CommonPrefixes", None, element("Prefix", encode(prefix))))
    return contents


def _common_head(ctx: RequestContext, encode: Encoder, encode_prefix: Encoder) -> list[Element | None]:
    delimiter = ctx.query.get("delimiter") or None
    return [
        element("Name", ctx.bucket),
        element("Prefix", encode_prefix(ctx.query.get("prefix", ""))),
        optional("Delimiter", encode(delimiter) if delimiter else None),
        optional("EncodingType", "url" if "encoding-type" in ctx.query else None),
    ]


def _truncated(listing: ListObjectsResponse) -> Element:
    return element("IsTruncated", "true" if listing.is_truncated else "false")


async def list_objects(ctx: RequestContext) -> web.StreamResponse:
    encode = encoder(ctx)
    limit = max_keys(ctx)
    marker = ctx.query.get("marker", "")
    listing = await _list(ctx, marker, limit)
    next_marker = listing.next_marker if listing.is_truncated and ctx.query.get("delimiter") else None
    root = Element(
        "ListBucketResult",
        None,
        [
            # V1 echoes Prefix as given even under encoding-type=url (clients do not decode it there);
            # Marker, NextMarker, Delimiter and the names listed are encoded.
            *_common_head(ctx, encode, encode_prefix=lambda prefix: prefix),
            element("Marker", encode(marker)),
            optional("NextMarker", encode(next_marker) if next_marker is not None else None),
            element("MaxKeys", limit),
            _truncated(listing),
            *_contents(listing, encode, with_owner=True),
        ],
    )
    return xml_response(root)


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.InvalidArgument(
            "The continuation token provided is incorrect", ArgumentName="continuation-token"
        ) from None


def _encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode().rstrip("=")


async def list_objects_v2(ctx: RequestContext) -> web.StreamResponse:
    encode = encoder(ctx)
    limit = max_keys(ctx)
    token = ctx.query.get("continuation-token")
    start_after = ctx.query.get("start-after")
    marker = _decode_token(token) if token is not None else (start_after or "")
    listing = await _list(ctx, marker, limit)
    root = Element(
        "ListBucketResult",
        None,
        [
            *_common_head(ctx, encode, encode_prefix=encode),
            element("KeyCount", len(listing.entries) + len(listing.common_prefixes)),
            element("MaxKeys", limit),
            _truncated(listing),
            optional("ContinuationToken", token),
            optional(
                "NextContinuationToken", _encode_token(listing.next_marker) if listing.is_truncated else None
            ),
            optional("StartAfter", encode(start_after) if start_after is not None else None),
            *_contents(listing, encode, with_owner=ctx.query.get("fetch-owner") == "true"),
        ],
    )
    return xml_response(root)
