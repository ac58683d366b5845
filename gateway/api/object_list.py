"""ListObjects (V1) and ListObjectsV2 over the metanode's current-version listing."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from aiohttp import web

from gateway.api.common import iso_date, owned_bucket, xml_add, xml_document, xml_response
from gateway.context import RequestContext
from gateway.s3 import errors
from protos.metadata_pb2 import LISTING_DELIMITER_MASTER, ListObjectsRequest, ListObjectsResponse

MAX_KEYS_LIMIT = 1000


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


def encoder(ctx: RequestContext):  # type: ignore[no-untyped-def]
    """Returns a function applying ``encoding-type`` to response names."""
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
    return await ctx.services.metadata.list_objects(
        ListObjectsRequest(
            bucket=bucket.name,
            listing_type=LISTING_DELIMITER_MASTER,
            prefix=ctx.query.get("prefix", ""),
            delimiter=ctx.query.get("delimiter", ""),
            marker=marker,
            max_keys=limit,
        )
    )


def _add_entries(ctx: RequestContext, root, listing: ListObjectsResponse, encode, with_owner: bool) -> None:  # type: ignore[no-untyped-def]
    for entry in listing.entries:
        md = entry.object
        contents = xml_add(root, "Contents")
        xml_add(contents, "Key", encode(entry.key))
        xml_add(contents, "LastModified", iso_date(md.last_modified_ms))
        xml_add(contents, "ETag", f'"{md.etag}"')
        xml_add(contents, "Size", md.size)
        if with_owner:
            owner = xml_add(contents, "Owner")
            xml_add(owner, "ID", md.owner_id)
            xml_add(owner, "DisplayName", md.owner_display_name)
        xml_add(contents, "StorageClass", md.storage_class or "STANDARD")
    for prefix in listing.common_prefixes:
        xml_add(xml_add(root, "CommonPrefixes"), "Prefix", encode(prefix))


def _add_request_echo(ctx: RequestContext, root, encode, limit: int) -> None:  # type: ignore[no-untyped-def]
    xml_add(root, "Name", ctx.bucket)
    xml_add(root, "Prefix", encode(ctx.query.get("prefix", "")))


async def list_objects(ctx: RequestContext) -> web.StreamResponse:
    encode = encoder(ctx)
    limit = max_keys(ctx)
    marker = ctx.query.get("marker", "")
    listing = await _list(ctx, marker, limit)
    root = xml_document("ListBucketResult")
    _add_request_echo(ctx, root, encode, limit)
    xml_add(root, "Marker", encode(marker))
    if listing.is_truncated and ctx.query.get("delimiter"):
        xml_add(root, "NextMarker", encode(listing.next_marker))
    xml_add(root, "MaxKeys", limit)
    if ctx.query.get("delimiter"):
        xml_add(root, "Delimiter", encode(ctx.query["delimiter"]))
    if "encoding-type" in ctx.query:
        xml_add(root, "EncodingType", "url")
    xml_add(root, "IsTruncated", "true" if listing.is_truncated else "false")
    _add_entries(ctx, root, listing, encode, with_owner=True)
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
    start_after = ctx.query.get("start-after", "")
    marker = _decode_token(token) if token is not None else start_after
    listing = await _list(ctx, marker, limit)
    root = xml_document("ListBucketResult")
    _add_request_echo(ctx, root, encode, limit)
    xml_add(root, "KeyCount", len(listing.entries) + len(listing.common_prefixes))
    xml_add(root, "MaxKeys", limit)
    if ctx.query.get("delimiter"):
        xml_add(root, "Delimiter", encode(ctx.query["delimiter"]))
    if "encoding-type" in ctx.query:
        xml_add(root, "EncodingType", "url")
    xml_add(root, "IsTruncated", "true" if listing.is_truncated else "false")
    if token is not None:
        xml_add(root, "ContinuationToken", token)
    if listing.is_truncated:
        xml_add(root, "NextContinuationToken", _encode_token(listing.next_marker))
    if "start-after" in ctx.query:
        xml_add(root, "StartAfter", encode(start_after))
    _add_entries(ctx, root, listing, encode, with_owner=ctx.query.get("fetch-owner") == "true")
    return xml_response(root)
