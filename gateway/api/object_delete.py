"""DeleteObject and DeleteObjects (POST ?delete), with delete markers per bucket versioning state.

Seed 003, 7.1.4 "Delete Markers": without a version id, a bucket whose versioning was
never configured deletes the object; an enabled bucket adds a delete marker as a new
version; a suspended bucket makes the delete marker the null version (replacing the
previous null version). A version id (``null`` included) deletes exactly that version.
A key or version that does not exist is not an error, and a delete marker is created
even for a key that never existed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import crc32c
from aiohttp import web

from gateway.api.common import owned_bucket, xml_response
from gateway.api.config_body import read_small_body
from gateway.api.versioning import put_request, requested_version_id
from gateway.authz.enforce import decide_item
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers
from gateway.s3.xml import Element, child_text, element, parse
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import VERSIONING_UNSET, BucketInfo, DeleteObjectRequest, ObjectMD

MAX_DELETE_KEYS = 1000
# Per-object conditions S3 defines for DeleteObjects; refused rather than ignored.
CONDITIONAL_DELETE_ELEMENTS = ("ETag", "LastModifiedTime", "Size")
PARALLEL_DELETES = 16


@dataclass(frozen=True)
class DeleteOutcome:
    """What one delete did: the version it removed or created, and whether that is a delete marker."""

    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str | None = None


async def delete_one(
    ctx: RequestContext, bucket: BucketInfo, key: str, version_id: str | None
) -> DeleteOutcome:
    """Deletes ``key`` (or one version of it) per the bucket's versioning state."""
    metadata = ctx.services.metadata
    if version_id is not None:
        try:
            response = await metadata.delete_object(
                DeleteObjectRequest(bucket=bucket.name, key=key, version_id=version_id, has_version_id=True)
            )
        except StrataError as error:
            if error.reason == ErrorReason.INVALID_ARGUMENT:
                raise errors.InvalidArgument(
                    "Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id
                ) from None
            if error.reason not in (ErrorReason.NO_SUCH_KEY, ErrorReason.NO_SUCH_VERSION):
                raise
            return DeleteOutcome(version_id=version_id)
        removed = response.removed
        if removed.is_delete_marker:
            return DeleteOutcome(
                version_id=version_id, delete_marker=True, delete_marker_version_id=version_id
            )
        return DeleteOutcome(version_id=version_id)
    if bucket.versioning == VERSIONING_UNSET:
        try:
            await metadata.delete_object(DeleteObjectRequest(bucket=bucket.name, key=key))
        except StrataError as error:
            if error.reason != ErrorReason.NO_SUCH_KEY:
                raise
        return DeleteOutcome()
    account = ctx.principal.account
    marker = ObjectMD(key=key, is_delete_marker=True)
    if account is not None:
        marker.owner_id, marker.owner_display_name = account.canonical_id, account.display_name
    created = await metadata.put_object(put_request(bucket, marker))
    return DeleteOutcome(delete_marker=True, delete_marker_version_id=created.version_id or "null")


async def delete_object(ctx: RequestContext) -> web.StreamResponse:
    version_id = requested_version_id(ctx)
    bucket = await owned_bucket(ctx)
    outcome = await delete_one(ctx, bucket, ctx.key, version_id)
    response = web.Response(status=204)
    shown_version = outcome.version_id if version_id is not None else outcome.delete_marker_version_id
    if shown_version is not None:
        response.headers["x-amz-version-id"] = shown_version
    if outcome.delete_marker:
        response.headers["x-amz-delete-marker"] = "true"
    return response


# ---- DeleteObjects ----

_CHECKSUM_HEADERS: dict[str, Callable[[bytes], bytes]] = {
    "x-amz-checksum-crc32": lambda body: zlib.crc32(body).to_bytes(4, "big"),
    "x-amz-checksum-crc32c": lambda body: crc32c.crc32c(body).to_bytes(4, "big"),
    "x-amz-checksum-sha1": lambda body: hashlib.sha1(body).digest(),
    "x-amz-checksum-sha256": lambda body: hashlib.sha256(body).digest(),
}


def _crc64nvme(body: bytes) -> bytes:
    from awscrt import checksums  # optional: only clients that choose CRC64NVME need it

    return checksums.crc64nvme(body).to_bytes(8, "big")


_CHECKSUM_HEADERS["x-amz-checksum-crc64nvme"] = _crc64nvme


def _decode_digest(raw: str) -> bytes | None:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_integrity(ctx: RequestContext, body: bytes, trailers: PayloadTrailers) -> None:
    """DeleteObjects needs Content-MD5 or an SDK checksum, as a header or an aws-chunked trailer
    (current SDKs send a CRC instead of MD5)."""
    checked = False
    content_md5 = ctx.headers.get("Content-MD5")
    if content_md5 is not None:
        digest = _decode_digest(content_md5)
        if digest is None or len(digest) != 16:
            raise errors.InvalidDigest()
        if digest != hashlib.md5(body).digest():
            raise errors.BadDigest()
        checked = True
    for header, compute in _CHECKSUM_HEADERS.items():
        raw = ctx.headers.get(header) or trailers.get(header)
        if raw is None:
            continue
        expected = _decode_digest(raw)
        if expected is None:
            raise errors.InvalidRequest(f"Value for {header} header is invalid.")
        try:
            actual = compute(body)
        except ImportError:
            continue  # no implementation here: the other integrity checks still apply
        if actual != expected:
            raise errors.BadDigest(
                f"The {header.removeprefix('x-amz-checksum-').upper()} you specified did not match the calculated checksum."
            )
        checked = True
    if not checked:
        raise errors.InvalidRequest("Missing required header for this request: Content-MD5")


@dataclass(frozen=True)
class DeleteRequestItem:
    key: str
    version_id: str | None


def parse_delete_request(body: bytes) -> tuple[list[DeleteRequestItem], bool]:
    """The objects to delete and the Quiet flag; MalformedXML for anything S3 would refuse."""
    root = parse(body, "Delete")
    quiet_text = (child_text(root, "Quiet") or "false").strip().lower()
    if quiet_text not in ("true", "false"):
        raise errors.MalformedXML()
    quiet = quiet_text == "true"
    items: list[DeleteRequestItem] = []
    for node in root.findall("Object"):
        key = child_text(node, "Key")
        if key is None:
            raise errors.MalformedXML()
        for condition in CONDITIONAL_DELETE_ELEMENTS:
            if node.find(condition) is not None:
                raise errors.S3NotImplemented(
                    f"Conditional deletes ({condition} in Object) are not implemented."
                )
        version_id = child_text(node, "VersionId")
        items.append(DeleteRequestItem(key, version_id if version_id else None))
    if not items or len(items) > MAX_DELETE_KEYS:
        raise errors.MalformedXML()
    return items, quiet


def _deleted(item: DeleteRequestItem, outcome: DeleteOutcome) -> Element:
    return element(
        "Deleted",
        None,
        element("Key", item.key),
        element("VersionId", item.version_id) if item.version_id is not None else None,
        element("DeleteMarker", "true") if outcome.delete_marker else None,
        element("DeleteMarkerVersionId", outcome.delete_marker_version_id)
        if outcome.delete_marker_version_id
        else None,
    )


def _error(item: DeleteRequestItem, error: errors.S3Error) -> Element:
    return element(
        "Error",
        None,
        element("Key", item.key),
        element("VersionId", item.version_id) if item.version_id is not None else None,
        element("Code", error.code),
        element("Message", error.message),
    )


async def delete_objects(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    trailers = PayloadTrailers()
    body = await read_small_body(ctx, trailers)
    verify_integrity(ctx, body, trailers)
    items, quiet = parse_delete_request(body)
    limit = asyncio.Semaphore(PARALLEL_DELETES)

    async def run(item: DeleteRequestItem) -> Element | None:
        async with limit:
            try:
                if not item.key or len(item.key.encode()) > 1024:
                    raise errors.KeyTooLongError() if item.key else errors.InvalidArgument("Invalid key")
                if not decide_item(ctx, bucket, item.key, item.version_id):
                    raise errors.AccessDenied()
                outcome = await delete_one(ctx, bucket, item.key, item.version_id)
            except errors.S3Error as error:
                return _error(item, error)
            except StrataError as error:
                return _error(item, errors.from_strata_error(error, bucket.name, item.key))
        return None if quiet else _deleted(item, outcome)

    results = await asyncio.gather(*(run(item) for item in items))
    return xml_response(Element("DeleteResult", None, results))
