"""Pieces several S3 handler families share: bucket access, object headers, ranges, conditions."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

from aiohttp import web

from datanode.backends.remote import ObjectMeta
from gateway.access import EXPECTED_BUCKET_OWNER_HEADER
from gateway.authz.enforce import authorized_bucket
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import Element, document, http_date
from protos.metadata_pb2 import BucketInfo, ObjectMD

# Headers stored with an object and returned on GET/HEAD, by request header name.
STORED_CONTENT_HEADERS: Mapping[str, str] = {
    "Content-Type": "content_type",
    "Content-Encoding": "content_encoding",
    "Content-Disposition": "content_disposition",
    "Content-Language": "content_language",
    "Cache-Control": "cache_control",
    "Expires": "expires",
}
USER_METADATA_PREFIX = "x-amz-meta-"
LOCATION_METADATA = "scal-location-constraint"  # x-amz-meta-scal-location-constraint: where the data goes
MAX_USER_METADATA_BYTES = 2 * 1024


async def owned_bucket(
    ctx: RequestContext,
    name: str | None = None,
    expected_owner_header: str = EXPECTED_BUCKET_OWNER_HEADER,
    operation: str | None = None,
) -> BucketInfo:
    """The request's bucket, if it exists, the principal may do ``operation`` (default: the
    request's) on it (gateway.authz), and its owner is the one the request expects
    (``expected_owner_header``; the copy source has its own header)."""
    return await authorized_bucket(ctx, name, expected_owner_header, operation)


async def update_bucket_settings(ctx: RequestContext, bucket: BucketInfo, **fields: object) -> None:
    """Stores the bucket's record with ``fields`` set, when any of them differs. A copy is edited:
    the record the metadata service handed out (the embedded core's cached one) never changes
    before the update is stored."""
    if all(getattr(bucket, name) == value for name, value in fields.items()):
        return
    updated = BucketInfo()
    updated.CopyFrom(bucket)
    for name, value in fields.items():
        setattr(updated, name, value)
    await ctx.services.metadata.update_bucket(updated)


def etag_header(md: ObjectMD) -> str:
    return f'"{md.etag}"'


def object_headers(md: ObjectMD) -> dict[str, str]:
    """Response headers describing a stored object (GET and HEAD)."""
    headers = {
        "ETag": etag_header(md),
        "Last-Modified": http_date(md.last_modified_ms / 1000),
        "Accept-Ranges": "bytes",
        "Content-Type": md.content_type or "application/octet-stream",
    }
    for header, field_name in STORED_CONTENT_HEADERS.items():
        value = getattr(md, field_name)
        if value and header != "Content-Type":
            headers[header] = value
    for name, value in md.user_metadata.items():
        headers[USER_METADATA_PREFIX + name] = value
    if md.version_id:
        headers["x-amz-version-id"] = md.version_id
    if md.website_redirect_location:
        headers["x-amz-website-redirect-location"] = md.website_redirect_location
    if md.storage_class and md.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = md.storage_class
    if md.tags:
        headers["x-amz-tagging-count"] = str(len(md.tags))
    if md.sse_algorithm:
        headers["x-amz-server-side-encryption"] = md.sse_algorithm
    return headers


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-*`` request headers, names lower-cased without the prefix."""
    metadata: dict[str, str] = {}
    size = 0
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(USER_METADATA_PREFIX):
            short = lowered[len(USER_METADATA_PREFIX) :]
            metadata[short] = value
            size += len(short.encode()) + len(value.encode())
    if size > MAX_USER_METADATA_BYTES:
        raise errors.MetadataTooLarge()
    return metadata


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """A single ``bytes=`` range resolved against ``size``; None means the whole object.

    Like S3, a syntactically invalid or multi-range header is ignored; a valid
    but unsatisfiable one is InvalidRange (416).
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            if not last.isdigit():
                return None
            suffix = int(last)
            if suffix == 0:
                raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
            if size == 0:
                raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
            return ByteRange(max(0, size - suffix), size - 1)
        start = int(first)
        end = int(last) if last != "" else size - 1
    except ValueError:
        return None
    if start < 0 or (last != "" and end < start):
        return None
    if start >= size:
        raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
    return ByteRange(start, min(end, size - 1))


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _etag_matches(condition: str, etag: str) -> bool:
    candidates = [part.strip().strip('"') for part in condition.split(",")]
    return "*" in candidates or etag in candidates


def check_conditions(headers: Mapping[str, str], md: ObjectMD, prefix: str = "") -> bool:
    """Evaluates If-* conditions (RFC 7232 order, as S3 does) against ``md``.

    ``prefix`` selects the header family: "" for reads, "x-amz-copy-source-" for a copy source.
    Raises PreconditionFailed; returns False when a read's answer is 304 Not Modified.
    """

    def header(name: str) -> str | None:
        value = headers.get(prefix + name)
        return value if value is not None else headers.get((prefix + name).lower())

    def condition(name: str) -> str:
        return prefix + name if prefix else name

    modified = md.last_modified_ms // 1000
    if_match = header("If-Match")
    if_none_match = header("If-None-Match")
    if if_match is not None:
        if not _etag_matches(if_match, md.etag):
            raise errors.PreconditionFailed(Condition=condition("If-Match"))
    else:
        unmodified_since = _parse_http_date(header("If-Unmodified-Since"))
        if unmodified_since is not None and modified > unmodified_since:
            raise errors.PreconditionFailed(Condition=condition("If-Unmodified-Since"))
    if if_none_match is not None:
        if _etag_matches(if_none_match, md.etag):
            return False
    else:
        modified_since = _parse_http_date(header("If-Modified-Since"))
        if modified_since is not None and modified <= modified_since:
            return False
    return True


def xml_response(root: Element, status: int = 200) -> web.Response:
    return web.Response(status=status, body=document(root), content_type="application/xml")


def object_meta(md: ObjectMD) -> ObjectMeta:
    """What an external location may keep beside the object's data (its content headers, metadata, tags).

    The location header is Strata's own routing: another S3 service behind it would act on it.
    """
    forwarded = {name: value for name, value in md.user_metadata.items() if name != LOCATION_METADATA}
    return ObjectMeta(
        content_type=md.content_type,
        user_metadata=forwarded,
        tags=dict(md.tags),
        cache_control=md.cache_control,
        content_disposition=md.content_disposition,
        content_encoding=md.content_encoding,
        content_language=md.content_language,
    )
