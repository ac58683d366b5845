"""Multipart upload: CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
AbortMultipartUpload, ListParts, ListMultipartUploads.

Each part is its own blob, written with the write protocol (intent, stream, commit
the part record). Completion is metadata only: the object's ``blobs`` are the chosen
parts' blobs, so no byte is copied; parts left out, replaced parts and aborted
uploads are freed through the metanode's GC queue in the batch that drops them.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import NoReturn
from urllib.parse import quote

from aiohttp import web

from datanode.backends.remote import RemotePart
from gateway.api import checksums, multipart_checksums
from gateway.api.common import etag_header, object_meta, owned_bucket, xml_response
from gateway.api.copy_source import (
    COPY_SOURCE_HEADER,
    COPY_SOURCE_RANGE_HEADER,
    check_copy_conditions,
    copy_source_version_id,
    load_copy_source,
    parse_copy_source,
    parse_copy_source_range,
)
from gateway.api.object_get import read_object
from gateway.api.object_list import encoder
from gateway.api.object_put import (
    choose_location,
    declared_length,
    expected_md5,
    new_object_md,
    wants_encryption,
)
from gateway.api.tagging import TAGGING_HEADER, parse_tagging_header
from gateway.api.versioning import put_request
from gateway.api.write import Hasher, StoredData, closing_intent, discard, store_data, store_remote_part
from gateway.context import RequestContext
from gateway.crypto import sse
from gateway.crypto.envelope import sealed_size
from gateway.s3 import errors
from gateway.s3.body import PayloadTrailers, iter_payload
from gateway.s3.xml import Element, element, iso8601, optional, parse
from metanode.multipart import CompletionRejected, choose_parts
from protos.common_pb2 import BlobRef, Checksum, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    COMPLETE_BAD_DIGEST,
    COMPLETE_ENTITY_TOO_SMALL,
    COMPLETE_INVALID_PART,
    COMPLETE_INVALID_PART_ORDER,
    CompletedPart,
    CompleteUploadRequest,
    CreateUploadRequest,
    ListPartsRequest,
    ListUploadsRequest,
    ObjectMD,
    PartInfo,
    PutPartRequest,
    QueueGarbageRequest,
    UploadInfo,
    UploadRef,
)
from strata.runtime.log import log_fields

log = logging.getLogger("gateway.multipart")

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
MAX_LISTED = 1000
MAX_COMPLETE_BODY = 2 * 1024 * 1024
ALGORITHM_HEADER = "x-amz-checksum-algorithm"
COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
# Which checksum types each algorithm supports, as S3 does.
_TYPES_BY_ALGORITHM = {
    "CRC32": (COMPOSITE, FULL_OBJECT),
    "CRC32C": (COMPOSITE, FULL_OBJECT),
    "CRC64NVME": (FULL_OBJECT,),
    "SHA1": (COMPOSITE,),
    "SHA256": (COMPOSITE,),
}


def _upload_ref(ctx: RequestContext) -> UploadRef:
    upload_id = ctx.endpoint.upload_id
    if not upload_id:
        raise errors.NoSuchUpload()
    return UploadRef(bucket=ctx.bucket, key=ctx.key, upload_id=upload_id)


def _checksum_elements(values: Iterable[Checksum]) -> list[Element]:
    return [element(f"Checksum{checksum.algorithm}", checksum.value) for checksum in values if checksum.value]


def _requested_checksum_config(ctx: RequestContext) -> tuple[str, str]:
    """(algorithm, type) from x-amz-checksum-algorithm and x-amz-checksum-type ("" when absent)."""
    raw_algorithm = ctx.headers.get(ALGORITHM_HEADER, "").strip().upper()
    raw_type = ctx.headers.get(checksums.TYPE_HEADER, "").strip().upper()
    if raw_algorithm and raw_algorithm not in _TYPES_BY_ALGORITHM:
        raise errors.InvalidRequest(
            "Checksum algorithm provided is unsupported.",
            ArgumentName=ALGORITHM_HEADER,
            ArgumentValue=raw_algorithm,
        )
    if raw_type and raw_type not in (COMPOSITE, FULL_OBJECT):
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    if raw_type and not raw_algorithm:
        raise errors.InvalidRequest(
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
        )
    if raw_algorithm:
        allowed = _TYPES_BY_ALGORITHM[raw_algorithm]
        checksum_type = raw_type or allowed[0]
        if checksum_type not in allowed:
            raise errors.InvalidRequest(
                f"The {checksum_type} checksum type cannot be used with the {raw_algorithm.lower()} "
                "checksum algorithm."
            )
        return raw_algorithm, checksum_type
    return "", ""


def _checksum_config_headers(upload: UploadInfo) -> dict[str, str]:
    if not upload.checksum_algorithm:
        return {}
    return {ALGORITHM_HEADER: upload.checksum_algorithm, checksums.TYPE_HEADER: upload.checksum_type}


# ---- CreateMultipartUpload ----


async def create_multipart_upload(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    location = await choose_location(ctx, bucket)
    template = new_object_md(ctx, bucket, location)
    if wants_encryption(ctx, bucket):
        template.sse_algorithm = sse.SSE_S3  # each part gets its own data key (UploadPart)
    tags = parse_tagging_header(ctx.headers.get(TAGGING_HEADER))
    if tags:
        template.tags.update(tags)
    algorithm, checksum_type = _requested_checksum_config(ctx)
    info = UploadInfo(
        bucket=bucket.name,
        key=ctx.key,
        object=template,
        checksum_algorithm=algorithm,
        checksum_type=checksum_type,
    )
    data = ctx.services.data
    if data.is_remote(location):
        # The provider's own multipart upload carries the parts, so the object lands whole under its name.
        info.remote_name = data.plan(location, bucket.name, ctx.key).remote_name
        info.remote_upload_id = await data.create_multipart(location, info.remote_name, object_meta(template))
    try:
        upload = await ctx.services.metadata.create_upload(CreateUploadRequest(upload=info))
    except BaseException:
        if info.remote_upload_id:
            await _abort_remote(ctx, info)
        raise
    body = element(
        "InitiateMultipartUploadResult",
        None,
        element("Bucket", bucket.name),
        element("Key", ctx.key),
        element("UploadId", upload.upload_id),
    )
    response = xml_response(body)
    response.headers.update(_checksum_config_headers(upload))
    response.headers.update(sse.response_headers(upload.object))
    return response


# ---- UploadPart ----


def _part_number(ctx: RequestContext) -> int:
    number = ctx.endpoint.part_number
    if number is None:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive", ArgumentName="partNumber"
        )
    return number


def _part_calculator(ctx: RequestContext, upload: UploadInfo) -> checksums.ChecksumCalculator:
    """The client's checksum, or the upload's algorithm computed for the composite at completion."""
    requested = checksums.requested_checksum(ctx.headers, trailer_allowed=ctx.auth.payload.has_trailer)
    wanted = upload.checksum_algorithm
    if requested is not None and wanted and requested.algorithm != wanted:
        raise errors.InvalidRequest(
            f"Checksum Type mismatch occurred, expected checksum Type: {wanted.lower()}, "
            f"actual checksum Type: {requested.algorithm.lower()}"
        )
    return checksums.ChecksumCalculator(requested, default=wanted or None)


async def _commit_part(
    ctx: RequestContext, ref: UploadRef, part_number: int, stored: StoredData, checksum: Checksum | None
) -> PartInfo:
    part = PartInfo(part_number=part_number, etag=stored.etag, size=stored.size, blob=stored.blobs[0])
    if stored.sse_key is not None:
        part.sse_key.CopyFrom(stored.sse_key)
    if checksum is not None:
        part.checksums.append(checksum)
    with closing_intent(stored):
        await ctx.services.metadata.put_part(
            PutPartRequest(upload=ref, part=part, intent_id=stored.intent_id)
        )
    return part


async def _store_part(
    ctx: RequestContext,
    upload: UploadInfo,
    part_number: int,
    body: AsyncIterator[bytes],
    length: int | None,
    hashers: Sequence[Hasher],
) -> StoredData:
    data_key, sealed_key = None, None
    if sse.is_encrypted(upload.object):
        if length is None:
            raise errors.MissingContentLength()  # the sealed layout depends on the size
        data_key, sealed_key = await sse.new_part_key(ctx.services.kms, upload.bucket, upload.key)
    if upload.remote_upload_id:
        stored = await store_remote_part(ctx, upload, part_number, body, length, hashers, data_key)
    else:
        stored = await store_data(
            ctx,
            upload.bucket,
            upload.key,
            upload.object.location,
            body,
            length,
            allow_inline=False,
            hashers=hashers,
            data_key=data_key,
        )
    stored.sse_key = sealed_key
    return stored


async def upload_part(ctx: RequestContext) -> web.StreamResponse:
    ref = _upload_ref(ctx)
    part_number = _part_number(ctx)
    length = declared_length(ctx)
    md5_expected = expected_md5(ctx)
    await owned_bucket(ctx)
    upload = await ctx.services.metadata.get_upload(ref)
    calculator = _part_calculator(ctx, upload)
    trailers = PayloadTrailers()
    body = iter_payload(
        ctx.request.content, ctx.auth.payload, ctx.headers, trailers, max_size=ctx.services.max_put_size
    )
    stored = await _store_part(ctx, upload, part_number, body, length, calculator.hashers)
    try:
        if length is not None and stored.size != length:
            raise errors.IncompleteBody()
        if md5_expected is not None and stored.md5 != md5_expected:
            raise errors.BadDigest()
        checksum = calculator.result(trailers)
        part = await _commit_part(ctx, ref, part_number, stored, checksum)
    except BaseException:
        await discard(ctx, stored)
        raise
    response = web.Response(status=200)
    response.headers["ETag"] = f'"{part.etag}"'
    response.headers.update(_part_checksum_headers(part))
    response.headers.update(sse.response_headers(upload.object))
    return response


def _part_checksum_headers(part: PartInfo) -> dict[str, str]:
    return {checksums.header_name(checksum.algorithm): checksum.value for checksum in part.checksums}


# ---- UploadPartCopy ----


async def upload_part_copy(ctx: RequestContext) -> web.StreamResponse:
    ref = _upload_ref(ctx)
    part_number = _part_number(ctx)
    source = parse_copy_source(ctx.headers.get(COPY_SOURCE_HEADER))
    await owned_bucket(ctx)
    upload = await ctx.services.metadata.get_upload(ref)
    source_bucket, source_md = await load_copy_source(ctx, source)
    check_copy_conditions(ctx.headers, source_md)
    byte_range = parse_copy_source_range(ctx.headers.get(COPY_SOURCE_RANGE_HEADER), source_md.size)
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, source_md.size)
    if length > ctx.services.max_put_size:
        raise errors.InvalidRequest(
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
        )
    calculator = checksums.ChecksumCalculator(None, default=upload.checksum_algorithm or None)
    pieces = read_object(ctx.services, source_bucket.name, source_md, start, length)
    stored = await _store_part(ctx, upload, part_number, pieces, length, calculator.hashers)
    try:
        part = await _commit_part(ctx, ref, part_number, stored, calculator.result())
    except BaseException:
        await discard(ctx, stored)
        raise
    body = element(
        "CopyPartResult",
        None,
        element("LastModified", iso8601(time.time())),
        element("ETag", f'"{part.etag}"'),
        *_checksum_elements(part.checksums),
    )
    response = xml_response(body)
    source_version_id = copy_source_version_id(source_bucket, source_md)
    if source_version_id is not None:
        response.headers["x-amz-copy-source-version-id"] = source_version_id
    response.headers.update(sse.response_headers(upload.object))
    return response


# ---- CompleteMultipartUpload ----


async def _read_complete_body(ctx: RequestContext) -> bytes:
    body = bytearray()
    async for piece in iter_payload(ctx.request.content, ctx.auth.payload, ctx.headers):
        body += piece
        if len(body) > MAX_COMPLETE_BODY:
            raise errors.MalformedXML()
    return bytes(body)


def _parse_parts(body: bytes) -> list[CompletedPart]:
    if not body.strip():
        raise errors.MalformedXML()
    root = parse(body, "CompleteMultipartUpload")
    parts: list[CompletedPart] = []
    for node in root.findall("Part"):
        number_text = (node.findtext("PartNumber") or "").strip()
        etag = (node.findtext("ETag") or "").strip()
        if not number_text.isdigit():
            raise errors.MalformedXML()
        number = int(number_text)
        if not 1 <= number <= MAX_PARTS:
            raise errors.InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=number_text,
            )
        part = CompletedPart(part_number=number, etag=etag)
        for algorithm in checksums.ALGORITHMS:
            value = node.findtext(f"Checksum{algorithm}")
            if value:
                part.checksums.append(Checksum(algorithm=algorithm, value=value.strip()))
        parts.append(part)
    if not parts:
        raise errors.MalformedXML()
    if len(parts) > MAX_PARTS:
        raise errors.InvalidRequest("A completion may name at most 10000 parts.")
    return parts


async def _current_upload(ctx: RequestContext, ref: UploadRef) -> UploadInfo | None:
    try:
        return await ctx.services.metadata.get_upload(ref)
    except StrataError as error:
        if error.reason != ErrorReason.NO_SUCH_UPLOAD:
            raise
        return None  # gone: the metanode answers a retried completion or NoSuchUpload


async def _all_parts(ctx: RequestContext, ref: UploadRef) -> dict[int, PartInfo]:
    parts: dict[int, PartInfo] = {}
    marker = 0
    while True:
        page = await ctx.services.metadata.list_parts(
            ListPartsRequest(upload=ref, part_number_marker=marker, max_parts=1000)
        )
        parts.update((part.part_number, part) for part in page.parts)
        if not page.is_truncated or not page.parts:
            return parts
        marker = page.parts[-1].part_number


def _stored_part_size(upload: UploadInfo, part: PartInfo) -> int:
    """The bytes the provider holds for a part: its sealed form when the upload is encrypted."""
    return sealed_size(part.size) if sse.is_encrypted(upload.object) else part.size


async def _complete_remote(
    ctx: RequestContext, upload: UploadInfo, request: CompleteUploadRequest
) -> BlobRef:
    """Completes the provider's upload with the parts the completion names (validated as the metanode
    will validate them again), so the object exists whole under its name before its metadata does."""
    try:
        chosen = choose_parts(request, await _all_parts(ctx, request.upload), MIN_PART_SIZE)
    except CompletionRejected as rejected:
        _raise_problem(rejected.problem, rejected.part_number, request.upload.upload_id)
    location = upload.object.location
    written = await ctx.services.data.complete_multipart(
        location,
        upload.remote_name,
        upload.remote_upload_id,
        [
            RemotePart(part.part_number, part.blob.remote_version, _stored_part_size(upload, part))
            for part in chosen
        ],
        object_meta(upload.object),
    )
    return BlobRef(
        location=location,
        blob_id=uuid.uuid4().hex,
        size=written.size,
        remote_name=written.name,
        remote_version=written.version,
    )


def _raise_problem(problem: int, part_number: int, upload_id: str) -> NoReturn:
    if problem == COMPLETE_INVALID_PART:
        raise errors.InvalidPart(PartNumber=str(part_number), UploadId=upload_id)
    if problem == COMPLETE_INVALID_PART_ORDER:
        raise errors.InvalidPartOrder(UploadId=upload_id)
    if problem == COMPLETE_ENTITY_TOO_SMALL:
        raise errors.EntityTooSmall(PartNumber=str(part_number), MinSizeAllowed=str(MIN_PART_SIZE))
    raise errors.InternalError()


async def _abort_remote(ctx: RequestContext, upload: UploadInfo) -> None:
    """Best effort: the provider's upload and its parts (an upload left behind is only storage)."""
    try:
        await ctx.services.data.abort_multipart(
            upload.object.location, upload.remote_name, upload.remote_upload_id
        )
    except StrataError as error:
        log.warning(
            "could not abort an external location's multipart upload",
            extra=log_fields(
                location=upload.object.location, upload_id=upload.upload_id, reason=error.reason_name
            ),
        )


async def complete_multipart_upload(ctx: RequestContext) -> web.StreamResponse:
    ref = _upload_ref(ctx)
    bucket = await owned_bucket(ctx)
    whole = multipart_checksums.requested(ctx.headers)
    parts = _parse_parts(await _read_complete_body(ctx))
    upload = await _current_upload(ctx, ref)
    expected = multipart_checksums.expected_checksum(upload, parts, whole) if upload is not None else None
    if_none_match = ctx.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise errors.S3NotImplemented("If-None-Match only supports '*'")
    put = put_request(
        bucket,
        ObjectMD(key=ref.key),
        if_match=ctx.headers.get("If-Match", ""),
        if_none_match=if_none_match is not None,
    )
    request = CompleteUploadRequest(upload=ref, parts=parts, put=put, min_part_size=MIN_PART_SIZE)
    if expected is not None:
        request.expected_checksum.CopyFrom(expected)
    remote_blob = None
    if upload is not None and upload.remote_upload_id:
        remote_blob = await _complete_remote(ctx, upload, request)
        request.remote_blob.CopyFrom(remote_blob)
    try:
        completed = await ctx.services.metadata.complete_upload(request)
        if completed.problem == COMPLETE_BAD_DIGEST and expected is not None:
            raise multipart_checksums.mismatch(expected.algorithm)
        if completed.problem:
            _raise_problem(completed.problem, completed.problem_part_number, ref.upload_id)
    except BaseException:
        if remote_blob is not None:
            # The provider's object has no metadata pointing at it: queue it rather than leave it.
            with contextlib.suppress(Exception):
                await ctx.services.metadata.queue_garbage(
                    QueueGarbageRequest(blobs=[remote_blob], bucket=ref.bucket)
                )
        raise
    md = completed.object
    location = f"{ctx.request.scheme}://{ctx.request.host}/{quote(bucket.name)}/{quote(ref.key, safe='/')}"
    checksum_elements = _checksum_elements(md.checksums)
    body = element(
        "CompleteMultipartUploadResult",
        None,
        element("Location", location),
        element("Bucket", bucket.name),
        element("Key", ref.key),
        element("ETag", etag_header(md)),
        *checksum_elements,
        optional("ChecksumType", _object_checksum_type(md) if checksum_elements else None),
    )
    response = xml_response(body)
    if md.version_id:
        response.headers["x-amz-version-id"] = md.version_id
    response.headers.update(sse.response_headers(md))
    return response


def _object_checksum_type(md: ObjectMD) -> str:
    return COMPOSITE if any("-" in checksum.value for checksum in md.checksums) else FULL_OBJECT


# ---- AbortMultipartUpload ----


async def abort_multipart_upload(ctx: RequestContext) -> web.StreamResponse:
    ref = _upload_ref(ctx)
    await owned_bucket(ctx)
    upload = await _current_upload(ctx, ref)
    await ctx.services.metadata.abort_upload(ref)
    if upload is not None and upload.remote_upload_id:
        await _abort_remote(ctx, upload)
    return web.Response(status=204)


# ---- ListParts and ListMultipartUploads ----


def _int_parameter(ctx: RequestContext, name: str, default: int) -> int:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.InvalidArgument(
            f"Provided {name} not an integer or within integer range", ArgumentName=name, ArgumentValue=raw
        ) from None
    if value < 0 or value > 2_147_483_647:
        raise errors.InvalidArgument(
            f"Argument {name} must be an integer between 0 and 2147483647",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return value


def _person(tag: str, md: ObjectMD) -> Element:
    return element(tag, None, element("ID", md.owner_id), element("DisplayName", md.owner_display_name))


async def list_parts(ctx: RequestContext) -> web.StreamResponse:
    ref = _upload_ref(ctx)
    bucket = await owned_bucket(ctx)
    max_parts = min(_int_parameter(ctx, "max-parts", MAX_LISTED), MAX_LISTED)
    marker = _int_parameter(ctx, "part-number-marker", 0)
    encode = encoder(ctx)
    if max_parts == 0:
        upload = await ctx.services.metadata.get_upload(ref)
        parts: list[PartInfo] = []
        truncated, next_marker = False, 0
    else:
        listed = await ctx.services.metadata.list_parts(
            ListPartsRequest(upload=ref, part_number_marker=min(marker, MAX_PARTS), max_parts=max_parts)
        )
        upload, parts = listed.upload, list(listed.parts)
        truncated, next_marker = listed.is_truncated, listed.next_part_number_marker
    template = upload.object
    body = element(
        "ListPartsResult",
        None,
        element("Bucket", bucket.name),
        element("Key", encode(ref.key)),
        element("UploadId", ref.upload_id),
        _person("Initiator", template),
        _person("Owner", template),
        element("StorageClass", template.storage_class or "STANDARD"),
        element("PartNumberMarker", marker),
        element("NextPartNumberMarker", next_marker),
        element("MaxParts", max_parts),
        element("IsTruncated", "true" if truncated else "false"),
        optional("EncodingType", "url" if "encoding-type" in ctx.query else None),
        optional("ChecksumAlgorithm", upload.checksum_algorithm or None),
        optional("ChecksumType", upload.checksum_type or None),
        *(
            element(
                "Part",
                None,
                element("PartNumber", part.part_number),
                element("LastModified", iso8601(part.last_modified_ms / 1000)),
                element("ETag", f'"{part.etag}"'),
                element("Size", part.size),
                *_checksum_elements(part.checksums),
            )
            for part in parts
        ),
    )
    return xml_response(body)


async def list_multipart_uploads(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    max_uploads = min(_int_parameter(ctx, "max-uploads", MAX_LISTED), MAX_LISTED)
    encode = encoder(ctx)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter", "")
    key_marker = ctx.query.get("key-marker", "")
    upload_id_marker = ctx.query.get("upload-id-marker", "") if key_marker else ""
    listed = await ctx.services.metadata.list_uploads(
        ListUploadsRequest(
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
    )
    uploads = [
        element(
            "Upload",
            None,
            element("Key", encode(upload.key)),
            element("UploadId", upload.upload_id),
            _person("Initiator", upload.object),
            _person("Owner", upload.object),
            element("StorageClass", upload.object.storage_class or "STANDARD"),
            element("Initiated", iso8601(upload.initiated_ms / 1000)),
            optional("ChecksumAlgorithm", upload.checksum_algorithm or None),
            optional("ChecksumType", upload.checksum_type or None),
        )
        for upload in listed.uploads
    ]
    body = element(
        "ListMultipartUploadsResult",
        None,
        element("Bucket", bucket.name),
        element("KeyMarker", encode(key_marker)),
        element("UploadIdMarker", upload_id_marker),
        element("NextKeyMarker", encode(listed.next_key_marker)),
        element("NextUploadIdMarker", listed.next_upload_id_marker),
        optional("Delimiter", encode(delimiter) if delimiter else None),
        optional("Prefix", encode(prefix)),
        element("MaxUploads", max_uploads),
        element("IsTruncated", "true" if listed.is_truncated else "false"),
        optional("EncodingType", "url" if "encoding-type" in ctx.query else None),
        *uploads,
        *(
            element("CommonPrefixes", None, element("Prefix", encode(common)))
            for common in listed.common_prefixes
        ),
    )
    return xml_response(body)
