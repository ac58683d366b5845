"""Object and bucket tagging: Put/Get/DeleteObjectTagging, Put/Get/DeleteBucketTagging, x-amz-tagging.

Tag rules as S3: at most 10 tags per object and 50 per bucket, keys of 1-128 and
values of at most 256 characters, no duplicate keys, no ``aws:`` prefix; any
violation is InvalidTag and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from aiohttp import web

from gateway.api.checksums import verify_small_body
from gateway.api.common import owned_bucket, xml_response
from gateway.api.versioning import DeleteMarkerRule, find_object
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.validation import validate_key
from gateway.s3.xml import MAX_REQUEST_XML_BYTES, Element, element, parse
from protos.metadata_pb2 import BucketInfo, ObjectMD, PutObjectRequest

TAGGING_HEADER = "x-amz-tagging"
TAGGING_COUNT_HEADER = "x-amz-tagging-count"
MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
_RESERVED_PREFIX = "aws:"


def validate_tags(pairs: Iterable[tuple[str, str]], max_tags: int) -> dict[str, str]:
    """The tag set as a dict; InvalidTag for any S3 tag rule violation."""
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not key:
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        if len(key) > MAX_KEY_CHARS:
            raise errors.InvalidTag(f"The TagKey you have provided is too long, max {MAX_KEY_CHARS}")
        if len(value) > MAX_VALUE_CHARS:
            raise errors.InvalidTag(f"The TagValue you have provided is too long, max {MAX_VALUE_CHARS}")
        if key.lower().startswith(_RESERVED_PREFIX):
            raise errors.InvalidTag("Your TagKey cannot be prefixed with aws:")
        if key in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
        tags[key] = value
    if len(tags) > max_tags:
        kind = "Object" if max_tags == MAX_OBJECT_TAGS else "Bucket"
        raise errors.InvalidTag(f"{kind} tags cannot be greater than {max_tags}")
    return tags


def parse_tagging_header(value: str | None) -> dict[str, str] | None:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL query encoding); None when the header is absent."""
    if value is None:
        return None
    try:
        pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=bool(value), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters "
            "without tag name duplicates.",
            ArgumentName=TAGGING_HEADER,
            ArgumentValue=value,
        ) from None
    return validate_tags(pairs, MAX_OBJECT_TAGS)


def parse_tagging_xml(body: bytes, max_tags: int) -> dict[str, str]:
    root = parse(body, "Tagging")
    tag_set = root.find("TagSet")
    if tag_set is None:
        raise errors.MalformedXML()
    pairs: list[tuple[str, str]] = []
    for tag in tag_set:
        if tag.tag != "Tag":
            raise errors.MalformedXML()
        key_node, value_node = tag.find("Key"), tag.find("Value")
        if key_node is None or value_node is None:
            raise errors.MalformedXML()
        pairs.append((key_node.text or "", value_node.text or ""))
    return validate_tags(pairs, max_tags)


def tagging_document(tags: Mapping[str, str]) -> Element:
    return element(
        "Tagging",
        None,
        Element(
            "TagSet",
            None,
            [
                element("Tag", None, element("Key", key), element("Value", value))
                for key, value in tags.items()
            ],
        ),
    )


async def _read_body(ctx: RequestContext) -> bytes:
    body = await ctx.request.content.read(MAX_REQUEST_XML_BYTES + 1)
    if len(body) > MAX_REQUEST_XML_BYTES:
        raise errors.MalformedXML()
    if not body.strip():
        raise errors.MalformedXML()
    verify_small_body(ctx.headers, body)
    return body


# ---- objects ----


async def _object(ctx: RequestContext, rule: DeleteMarkerRule) -> tuple[BucketInfo, ObjectMD]:
    validate_key(ctx.key)
    bucket = await owned_bucket(ctx)
    md = await find_object(ctx, bucket, ctx.key, ctx.query.get("versionId"), rule)
    return bucket, md


async def update_object_metadata(ctx: RequestContext, bucket: BucketInfo, md: ObjectMD) -> None:
    """Rewrites the metadata of the stored object/version ``md`` (same data, same version)."""
    if md.version_id:
        # Updating that one version in place (seed: PUT with `versionId: <id>`) keeps its Last-Modified.
        request = PutObjectRequest(
            bucket=bucket.name, object=md, version_id=md.version_id, has_version_id=True
        )
    else:
        # An unversioned object: replace the master, unless something else replaced it meanwhile.
        request = PutObjectRequest(bucket=bucket.name, object=md, if_match=md.etag)
    await ctx.services.metadata.put_object(request)


def _version_headers(md: ObjectMD) -> dict[str, str]:
    return {"x-amz-version-id": md.version_id} if md.version_id else {}


async def put_object_tagging(ctx: RequestContext) -> web.StreamResponse:
    body = await _read_body(ctx)
    bucket, md = await _object(ctx, DeleteMarkerRule.UPDATE)
    tags = parse_tagging_xml(body, MAX_OBJECT_TAGS)
    md.tags.clear()
    md.tags.update(tags)
    await update_object_metadata(ctx, bucket, md)
    return web.Response(status=200, headers=_version_headers(md))


async def get_object_tagging(ctx: RequestContext) -> web.StreamResponse:
    _, md = await _object(ctx, DeleteMarkerRule.READ)
    response = xml_response(tagging_document(md.tags))
    response.headers.update(_version_headers(md))
    return response


async def delete_object_tagging(ctx: RequestContext) -> web.StreamResponse:
    bucket, md = await _object(ctx, DeleteMarkerRule.UPDATE)
    if md.tags:
        md.tags.clear()
        await update_object_metadata(ctx, bucket, md)
    return web.Response(status=204, headers=_version_headers(md))


# ---- buckets ----


async def _store_bucket_tags(ctx: RequestContext, bucket: BucketInfo, tags: Mapping[str, str]) -> None:
    updated = BucketInfo()
    updated.CopyFrom(bucket)  # the record handed out may be the embedded core's cached one
    updated.tags.clear()
    updated.tags.update(tags)
    await ctx.services.metadata.update_bucket(updated)


async def put_bucket_tagging(ctx: RequestContext) -> web.StreamResponse:
    body = await _read_body(ctx)
    bucket = await owned_bucket(ctx)
    tags = parse_tagging_xml(body, MAX_BUCKET_TAGS)
    await _store_bucket_tags(ctx, bucket, tags)
    return web.Response(status=204)


async def get_bucket_tagging(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if not bucket.tags:
        raise errors.NoSuchTagSet(BucketName=bucket.name)
    return xml_response(tagging_document(bucket.tags))


async def delete_bucket_tagging(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    if bucket.tags:
        await _store_bucket_tags(ctx, bucket, {})
    return web.Response(status=204)
