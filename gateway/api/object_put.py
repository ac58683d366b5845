"""PutObject, following the write protocol of DESIGN section 6.

intent -> stream data (``write.store_data``) -> commit metadata (closing the
intent) -> old blobs to GC. A failure at any step deletes what was written; a
crash leaves an intent whose blobs the metanode's garbage collector removes
when it expires.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from gateway.api import checksums
from gateway.api.bucket_encryption import bucket_default
from gateway.api.common import STORED_CONTENT_HEADERS, etag_header, object_meta, owned_bucket, user_metadata
from gateway.api.tagging import TAGGING_HEADER, parse_tagging_header
from gateway.api.unsupported import STORED_STORAGE_CLASS
from gateway.api.versioning import reject_version_id
from gateway.api.write import commit_object, discard, store_data
from gateway.authz.written import apply_written_acl
from gateway.context import RequestContext
from gateway.crypto import sse
from gateway.lifecycle import EXPIRATION_HEADER, expiration_header
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers, iter_payload
from gateway.s3.validation import validate_key
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    VERSIONING_ENABLED,
    BucketInfo,
    GetObjectRequest,
    ObjectMD,
)

LOCATION_HEADER = "x-amz-meta-scal-location-constraint"


def declared_length(ctx: RequestContext) -> int | None:
    """The object's size as announced by the client, when it is."""
    headers = ctx.headers
    raw = headers.get("x-amz-decoded-content-length")
    if raw is None and "aws-chunked" not in headers.get("Content-Encoding", ""):
        raw = headers.get("Content-Length")
    if raw is None:
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return None
        raise errors.MissingContentLength()
    try:
        length = int(raw)
    except ValueError:
        raise errors.InvalidArgument("Invalid content length", ArgumentName="Content-Length") from None
    if length < 0:
        raise errors.InvalidArgument("Invalid content length", ArgumentName="Content-Length")
    if length > ctx.services.max_put_size:
        raise errors.EntityTooLarge(ProposedSize=str(length), MaxSizeAllowed=str(ctx.services.max_put_size))
    return length


def expected_md5(ctx: RequestContext) -> bytes | None:
    return parse_content_md5(ctx.headers.get("Content-MD5"))


def parse_content_md5(raw: str | None) -> bytes | None:
    """The digest of a Content-MD5 value (header or form field); InvalidDigest when malformed."""
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest() from None
    if len(digest) != 16:
        raise errors.InvalidDigest()
    return digest


async def choose_location(ctx: RequestContext, bucket: BucketInfo) -> str:
    """Where a new object's data goes: the request's location header, else the bucket's."""
    requested = ctx.headers.get(LOCATION_HEADER)
    if not requested:
        return bucket.location or ctx.host_location()
    if requested not in ctx.services.locations():
        raise errors.InvalidLocationConstraint(f"Location {requested} is not configured")
    if bucket.versioning == VERSIONING_ENABLED:
        await require_versions_kept(ctx, requested)
    return requested


async def require_versions_kept(ctx: RequestContext, location: str) -> None:
    """NotImplemented where a versioned object's data would go to a location that loses overwritten
    writes (an external service without versions): its older versions could not be read back."""
    if not await ctx.services.data.keeps_versions(location):
        raise errors.S3NotImplemented(
            f"Versioning is not supported on location {location}: the service behind it keeps no "
            "earlier versions of an object (see the location's documentation)."
        )


def new_object_md(ctx: RequestContext, bucket: BucketInfo, location: str) -> ObjectMD:
    md = ObjectMD(
        key=ctx.key,
        location=location,
        storage_class=STORED_STORAGE_CLASS,  # the only class accepted (gateway.api.unsupported)
        website_redirect_location=ctx.headers.get("x-amz-website-redirect-location", ""),
    )
    for header, field_name in STORED_CONTENT_HEADERS.items():
        value = ctx.headers.get(header)
        if header == "Content-Encoding" and value is not None:
            value = stored_content_encoding(value)
        if value is not None:
            setattr(md, field_name, value)
    md.user_metadata.update(user_metadata(ctx.headers))
    lowered = {name.lower(): value for name, value in ctx.headers.items()}
    apply_written_acl(md, bucket, ctx.principal.account, lowered, ctx.services.authenticator.accounts())
    return md


def stored_content_encoding(value: str) -> str | None:
    """Content-Encoding without ``aws-chunked`` (how the body travelled, not how the object is
    encoded); None when nothing else is left, as S3 keeps none then."""
    kept = [token.strip() for token in value.split(",") if token.strip().lower() != "aws-chunked"]
    kept = [token for token in kept if token]
    return ", ".join(kept) if kept else None


def write_conditions(ctx: RequestContext) -> tuple[str, bool]:
    """(If-Match etag, If-None-Match: *) of a write; S3 supports no other If-None-Match value."""
    if_match = ctx.headers.get("If-Match", "").strip()
    if_none_match = ctx.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise errors.S3NotImplemented(
            "A header you provided implies functionality that is not implemented", Header="If-None-Match"
        )
    return if_match, if_none_match is not None


async def precheck_write_conditions(
    ctx: RequestContext, bucket: BucketInfo, if_match: str, if_none_match: bool
) -> None:
    """Fails early, before any byte is stored; the metanode re-checks atomically at commit."""
    if not if_match and not if_none_match:
        return
    try:
        current = await ctx.services.metadata.get_object(GetObjectRequest(bucket=bucket.name, key=ctx.key))
    except StrataError as error:
        if error.reason != ErrorReason.NO_SUCH_KEY:
            raise
        current = None
    live = current is not None and not current.is_delete_marker
    if if_none_match and live:
        raise errors.PreconditionFailed(Condition="If-None-Match")
    if if_match:
        if not live:
            raise errors.NoSuchKey(Key=ctx.key)
        assert current is not None
        if if_match != "*" and if_match.strip('"') != current.etag:
            raise errors.PreconditionFailed(Condition="If-Match")


def wants_encryption(ctx: RequestContext, bucket: BucketInfo) -> bool:
    """SSE-S3 asked by the request's header, or by the bucket's default encryption."""
    return ctx.headers.get(sse.SSE_HEADER) == sse.SSE_S3 or bucket_default(bucket) is not None


async def requested_data_key(
    ctx: RequestContext, bucket: BucketInfo, md: ObjectMD, length: int | None
) -> bytes | None:
    """The data key sealing a new object when its request asks for SSE-S3 or its bucket encrypts by
    default (recorded in ``md``). Other algorithms never get here (gateway.api.unsupported refuses them).
    """
    if not wants_encryption(ctx, bucket):
        return None
    if length is None:
        raise errors.MissingContentLength()  # the sealed layout depends on the size
    return await sse.new_data_key(ctx.services.kms, bucket.name, md)


async def put_object(ctx: RequestContext) -> web.StreamResponse:
    validate_key(ctx.key)
    reject_version_id(ctx)
    length = declared_length(ctx)
    md5_expected = expected_md5(ctx)
    checksum = checksums.for_write(ctx.headers, ctx.auth.payload.has_trailer)
    tags = parse_tagging_header(ctx.headers.get(TAGGING_HEADER))
    if_match, if_none_match = write_conditions(ctx)
    bucket = await owned_bucket(ctx)
    location = await choose_location(ctx, bucket)
    md = new_object_md(ctx, bucket, location)
    if tags:
        md.tags.update(tags)
    await precheck_write_conditions(ctx, bucket, if_match, if_none_match)
    data_key = await requested_data_key(ctx, bucket, md, length)
    trailers = PayloadTrailers()
    body = iter_payload(
        ctx.request.content, ctx.auth.payload, ctx.headers, trailers, max_size=ctx.services.max_put_size
    )
    stored = await store_data(
        ctx, bucket.name, ctx.key, location, body, length, hashers=checksum.hashers, meta=object_meta(md),
        data_key=data_key,
    )  # fmt: skip
    try:
        if length is not None and stored.size != length:
            raise errors.IncompleteBody()
        if md5_expected is not None and stored.md5 != md5_expected:
            raise errors.BadDigest()
        verified = checksum.result(trailers)
        if verified is not None:
            md.checksums.append(verified)
        committed = await commit_object(
            ctx, bucket, md, stored, if_match=if_match, if_none_match=if_none_match
        )
    except BaseException:
        await discard(ctx, stored)
        raise
    response = web.Response(status=200)
    response.headers["ETag"] = etag_header(md)
    if checksum.requested is not None:
        response.headers.update(checksums.checksum_headers(md.checksums))
    if md.sse_algorithm:
        response.headers[sse.SSE_HEADER] = md.sse_algorithm
    if committed.version_id:
        response.headers["x-amz-version-id"] = committed.version_id
    # -- lifecycle
    md.last_modified_ms = committed.last_modified_ms
    expiration = expiration_header(bucket, md, ctx.services.lifecycle_day_ms)
    if expiration is not None:
        response.headers[EXPIRATION_HEADER] = expiration
    return response
