"""The source side of a copy (CopyObject, UploadPartCopy): x-amz-copy-source and its conditions.

``parse_copy_source`` reads the header, ``load_copy_source`` finds the source object
(owned by the caller, not a delete marker), ``check_copy_conditions`` evaluates the
``x-amz-copy-source-if-*`` headers, and ``parse_copy_source_range`` reads
``x-amz-copy-source-range`` for UploadPartCopy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from gateway.access import SOURCE_EXPECTED_BUCKET_OWNER_HEADER
from gateway.api.common import ByteRange, check_conditions, owned_bucket
from gateway.authz.enforce import authorize_object, may_list
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.validation import validate_key
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import VERSIONING_UNSET, BucketInfo, GetObjectRequest, ObjectMD

COPY_SOURCE_PREFIX = "x-amz-copy-source-"

COPY_SOURCE_HEADER = "x-amz-copy-source"
COPY_SOURCE_RANGE_HEADER = "x-amz-copy-source-range"
_VERSION_PARAMETER = "versionId="


@dataclass(frozen=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None = None  # None: the current version

    @property
    def header_version(self) -> str:
        """The version the response names in x-amz-copy-source-version-id."""
        return self.version_id or ""


def _invalid_source(value: str) -> errors.S3Error:
    return errors.InvalidArgument(
        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        ArgumentName=COPY_SOURCE_HEADER,
        ArgumentValue=value,
    )


def parse_copy_source(value: str | None) -> CopySource:
    """``[/]bucket/key[?versionId=id]``, percent-decoded once (the key may contain '/')."""
    if not value:
        raise _invalid_source(value or "")
    path, question, query = value.partition("?")
    version_id: str | None = None
    if question:
        # Only versionId is meaningful; anything else after '?' is not part of the key (it would be %3F).
        for parameter in query.split("&"):
            if parameter.startswith(_VERSION_PARAMETER):
                version_id = _decode(parameter[len(_VERSION_PARAMETER) :], value)
        if version_id == "":
            raise errors.InvalidArgument(
                "Version id cannot be the empty string", ArgumentName="versionId", ArgumentValue=""
            )
    decoded = _decode(path, value)
    if decoded.startswith("/"):
        decoded = decoded[1:]
    bucket, slash, key = decoded.partition("/")
    if not bucket or not slash or not key:
        raise _invalid_source(value)
    validate_key(key)
    return CopySource(bucket=bucket, key=key, version_id=version_id)


def _decode(raw: str, whole: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid_source(whole) from None


async def load_copy_source(ctx: RequestContext, source: CopySource) -> tuple[BucketInfo, ObjectMD]:
    """The source bucket and object; its errors name the source, not the destination (and, to whoever
    may not list the source bucket, a missing source is AccessDenied, as for a GetObject)."""
    bucket: BucketInfo | None = None
    try:
        bucket = await owned_bucket(ctx, source.bucket, SOURCE_EXPECTED_BUCKET_OWNER_HEADER, "GetObject")
        md = await ctx.services.metadata.get_object(
            GetObjectRequest(
                bucket=source.bucket,
                key=source.key,
                version_id=source.version_id or "",
                has_version_id=source.version_id is not None,
            )
        )
    except StrataError as error:
        if error.reason == ErrorReason.NO_SUCH_BUCKET:
            raise errors.NoSuchBucket(BucketName=source.bucket) from None
        missing = (ErrorReason.NO_SUCH_KEY, ErrorReason.NO_SUCH_VERSION)
        if error.reason in missing and bucket is not None and not may_list(ctx, bucket):
            raise errors.AccessDenied() from None
        if error.reason == ErrorReason.NO_SUCH_KEY:
            raise errors.NoSuchKey(Key=source.key) from None
        if error.reason == ErrorReason.NO_SUCH_VERSION:
            raise errors.NoSuchVersion(Key=source.key, VersionId=source.version_id) from None
        if error.reason == ErrorReason.INVALID_ARGUMENT:
            raise errors.InvalidArgument(
                "Invalid version id specified", ArgumentName="versionId", ArgumentValue=source.version_id
            ) from None
        raise
    if md.is_delete_marker:
        if source.version_id is not None:
            raise errors.InvalidRequest(
                "The source of a copy request may not specifically refer to a delete marker by version id."
            )
        raise errors.NoSuchKey(Key=source.key)
    authorize_object(ctx, bucket, md, "GetObject", source.key)
    return bucket, md


def copy_source_version_id(bucket: BucketInfo, md: ObjectMD) -> str | None:
    """x-amz-copy-source-version-id: the copied version, "null" for the null version of a bucket that
    has had versioning, none from a bucket that never had it."""
    if md.version_id:
        return md.version_id
    return None if bucket.versioning == VERSIONING_UNSET else "null"


def check_copy_conditions(headers: Mapping[str, str], md: ObjectMD) -> None:
    """The x-amz-copy-source-if-* headers; any failed condition, "not modified" too, is 412.

    As in S3: a matching if-match overrides a failing if-unmodified-since, and a
    non-matching if-none-match overrides a failing if-modified-since.
    """
    if not check_conditions(headers, md, prefix=COPY_SOURCE_PREFIX):
        none_match = headers.get(COPY_SOURCE_PREFIX + "if-none-match")
        failed = "If-None-Match" if none_match is not None else "If-Modified-Since"
        raise errors.PreconditionFailed(Condition=COPY_SOURCE_PREFIX + failed)


def parse_copy_source_range(value: str | None, size: int) -> ByteRange | None:
    """``bytes=first-last`` (both required, inside the source) for UploadPartCopy; None when absent."""
    if value is None:
        return None
    unit, _, spec = value.strip().partition("=")
    first, dash, last = spec.partition("-")
    if unit != "bytes" or not dash or not first.isdigit() or not last.isdigit():
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last",
            ArgumentName=COPY_SOURCE_RANGE_HEADER,
            ArgumentValue=value,
        )
    start, end = int(first), int(last)
    if end < start or end >= size:
        raise errors.InvalidRange(
            f"Range specified is not valid for source object of size: {size}",
            ActualObjectSize=str(size),
            RangeRequested=value,
        )
    return ByteRange(start, end)
