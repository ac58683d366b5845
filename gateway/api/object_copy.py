"""CopyObject: the source's bytes streamed through the gateway into a new object (DESIGN section 6).

Same write protocol as PutObject (intent, stream, commit or discard); the data is
read from the source's inline data or blobs in ~1 MiB pieces and never buffered
whole. Metadata and tags are copied or replaced per the directives, and the
object's checksum is recomputed on the way (and checked against the source's).
"""

from __future__ import annotations

from aiohttp import web

from gateway.api import checksums
from gateway.api.common import STORED_CONTENT_HEADERS, etag_header, object_meta, owned_bucket, xml_response
from gateway.api.copy_source import (
    COPY_SOURCE_HEADER,
    CopySource,
    check_copy_conditions,
    copy_source_version_id,
    load_copy_source,
    parse_copy_source,
)
from gateway.api.object_get import read_object
from gateway.api.object_put import (
    choose_location,
    new_object_md,
    precheck_write_conditions,
    requested_data_key,
    write_conditions,
)
from gateway.api.tagging import TAGGING_HEADER, parse_tagging_header
from gateway.api.write import commit_object, discard, store_data
from gateway.context import RequestContext
from gateway.crypto import sse
from gateway.s3 import errors
from gateway.s3.validation import validate_key
from gateway.s3.xml import element, iso8601, optional
from protos.common_pb2 import Checksum
from protos.metadata_pb2 import BucketInfo, ObjectMD

METADATA_DIRECTIVE_HEADER = "x-amz-metadata-directive"
TAGGING_DIRECTIVE_HEADER = "x-amz-tagging-directive"
CHECKSUM_ALGORITHM_HEADER = "x-amz-checksum-algorithm"
_DIRECTIVES = ("COPY", "REPLACE")
# Changing any of these makes a copy of an object onto itself legal (as in S3).
_SELF_COPY_CHANGES = (
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-server-side-encryption",
)


def _directive(ctx: RequestContext, header: str) -> str:
    value = ctx.headers.get(header, "COPY").strip().upper()
    if value not in _DIRECTIVES:
        raise errors.InvalidArgument(f"Unknown {header}.", ArgumentName=header, ArgumentValue=value)
    return value


def _checksum_algorithm(ctx: RequestContext, source: ObjectMD) -> tuple[str, Checksum | None]:
    """The algorithm for the copy, and the source's full-object value of it (to check the copy against)."""
    requested = ctx.headers.get(CHECKSUM_ALGORITHM_HEADER)
    source_values = {c.algorithm: c for c in source.checksums if "-" not in c.value}
    if requested is not None:
        algorithm = requested.strip().upper()
        if algorithm not in checksums.ALGORITHMS:
            raise errors.InvalidRequest(
                "Checksum algorithm provided is unsupported.",
                ArgumentName=CHECKSUM_ALGORITHM_HEADER,
                ArgumentValue=requested,
            )
    elif source_values:
        algorithm = next(iter(source_values))
    else:
        algorithm = checksums.DEFAULT_ALGORITHM
    return algorithm, source_values.get(algorithm)


def _copied_md(
    ctx: RequestContext, bucket: BucketInfo, source: ObjectMD, location: str, metadata_directive: str
) -> ObjectMD:
    """The new object's metadata: the request's own headers, plus the source's for COPY."""
    md = new_object_md(ctx, bucket, location)
    if metadata_directive == "COPY":
        for field_name in STORED_CONTENT_HEADERS.values():
            setattr(md, field_name, getattr(source, field_name))
        md.user_metadata.clear()
        md.user_metadata.update(source.user_metadata)
    return md


def _is_self_copy(ctx: RequestContext, source: CopySource, metadata_directive: str) -> bool:
    if (source.bucket, source.key) != (ctx.bucket, ctx.key) or source.version_id is not None:
        return False
    if metadata_directive == "REPLACE":
        return False
    return not any(header in ctx.headers for header in _SELF_COPY_CHANGES)


async def copy_object(ctx: RequestContext) -> web.StreamResponse:
    validate_key(ctx.key)
    source = parse_copy_source(ctx.headers.get(COPY_SOURCE_HEADER))
    metadata_directive = _directive(ctx, METADATA_DIRECTIVE_HEADER)
    tagging_directive = _directive(ctx, TAGGING_DIRECTIVE_HEADER)
    replaced_tags = parse_tagging_header(ctx.headers.get(TAGGING_HEADER))
    if_match, if_none_match = write_conditions(ctx)
    if _is_self_copy(ctx, source, metadata_directive):
        raise errors.InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or encryption "
            "attributes."
        )
    source_bucket, source_md = await load_copy_source(ctx, source)
    check_copy_conditions(ctx.headers, source_md)
    if source_md.size > ctx.services.max_put_size:
        raise errors.InvalidRequest(
            "The specified copy source is larger than the maximum allowable size for a copy source: "
            f"{ctx.services.max_put_size}"
        )
    bucket = await owned_bucket(ctx)
    location = await choose_location(ctx, bucket)
    md = _copied_md(ctx, bucket, source_md, location, metadata_directive)
    md.tags.update(source_md.tags if tagging_directive == "COPY" else (replaced_tags or {}))
    algorithm, source_checksum = _checksum_algorithm(ctx, source_md)
    calculator = checksums.ChecksumCalculator(None, default=algorithm)
    await precheck_write_conditions(ctx, bucket, if_match, if_none_match)

    data_key = await requested_data_key(ctx, bucket, md, source_md.size)
    pieces = read_object(ctx.services, source_bucket.name, source_md, 0, source_md.size)
    stored = await store_data(
        ctx, bucket.name, ctx.key, location, pieces, source_md.size, hashers=calculator.hashers,
        meta=object_meta(md), data_key=data_key,
    )  # fmt: skip
    try:
        computed = calculator.result()
        if stored.size != source_md.size or (
            computed is not None and source_checksum is not None and computed.value != source_checksum.value
        ):
            # The source's bytes no longer match what was stored for it: never propagate that silently.
            raise errors.InternalError()
        if computed is not None:
            md.checksums.append(computed)
        committed = await commit_object(
            ctx, bucket, md, stored, if_match=if_match, if_none_match=if_none_match
        )
    except BaseException:
        await discard(ctx, stored)
        raise
    checksum_elements = [element(f"Checksum{c.algorithm}", c.value) for c in md.checksums]
    response = xml_response(
        element(
            "CopyObjectResult",
            None,
            element("ETag", etag_header(md)),
            element("LastModified", iso8601(committed.last_modified_ms / 1000)),
            optional("ChecksumType", checksums.FULL_OBJECT if checksum_elements else None),
            *checksum_elements,
        )
    )
    if committed.version_id:
        response.headers["x-amz-version-id"] = committed.version_id
    response.headers.update(sse.response_headers(md))
    source_version_id = copy_source_version_id(source_bucket, source_md)
    if source_version_id is not None:
        response.headers["x-amz-copy-source-version-id"] = source_version_id
    return response
