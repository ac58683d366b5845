"""How a bucket's versioning state turns an S3 request into metadata versioning options (seed 003, 7.1.4).

Every handler that creates an object (PutObject, CopyObject, CompleteMultipartUpload)
builds its metadata request with :func:`put_request`; every handler that reads or
updates an existing object or version finds it with :func:`find_object`, which
applies the delete-marker rules (404 NoSuchKey / 405 MethodNotAllowed / 400
InvalidRequest) in one place.

Null versions: an enabled bucket sends ``versioning: true`` and the metanode keeps
a null version that lives only in the master under its own key in the same entry
(the seed's 3A+3B); a suspended bucket sends ``versionId: ''`` with ``isNull`` and
the metanode removes the previous null version, wherever it lives, in the same
entry (the seed's 2A/4A+4B). One call per write, so concurrent writes can never
leave two null versions.
"""

from __future__ import annotations

from enum import Enum

from gateway.authz.enforce import authorize_object, may_list
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import http_date
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    VERSIONING_ENABLED,
    VERSIONING_SUSPENDED,
    BucketInfo,
    GetObjectRequest,
    ObjectMD,
    PutObjectRequest,
)

NULL_VERSION_ID = "null"
VERSION_ID_PARAMETER = "versionId"


class DeleteMarkerRule(Enum):
    """What an API answers when its target is a delete marker (seed: "Delete Markers")."""

    READ = "read"  # Get/Head Object, Get Object ACL: 404 NoSuchKey, or 405 for a named version
    UPDATE = "update"  # Put Object ACL/Tagging: 405 MethodNotAllowed either way
    COPY = "copy"  # CopyObject / UploadPartCopy source: 404 NoSuchKey, or 400 InvalidRequest for a version


def put_request(
    bucket: BucketInfo,
    md: ObjectMD,
    *,
    intent_id: str = "",
    if_match: str = "",
    if_none_match: bool = False,
) -> PutObjectRequest:
    """The metadata PUT that stores ``md`` as the new current object of ``bucket``."""
    request = PutObjectRequest(
        bucket=bucket.name, object=md, intent_id=intent_id, if_match=if_match, if_none_match=if_none_match
    )
    if bucket.versioning == VERSIONING_ENABLED:
        request.versioning = True
    elif bucket.versioning == VERSIONING_SUSPENDED:
        # The null version: the master only, with an internal id; the metanode drops the previous one.
        request.has_version_id = True
        request.version_id = ""
        request.object.is_null = True
    return request


def reject_version_id(ctx: RequestContext) -> None:
    """Object-creating APIs never overwrite a version's data: ``?versionId`` is InvalidArgument."""
    if VERSION_ID_PARAMETER in ctx.query:
        raise errors.InvalidArgument(
            "This operation does not accept a version-id.",
            ArgumentName="versionId",
            ArgumentValue=ctx.query[VERSION_ID_PARAMETER],
        )


def requested_version_id(ctx: RequestContext) -> str | None:
    """The request's ``versionId`` (None when absent); an empty one is InvalidArgument like AWS."""
    version_id = ctx.query.get(VERSION_ID_PARAMETER)
    if version_id is not None and not version_id:
        raise errors.InvalidArgument(
            "Version id cannot be the empty string", ArgumentName="versionId", ArgumentValue=""
        )
    return version_id


def client_version_id(md: ObjectMD) -> str:
    """The version id S3 shows for a stored record ("null" for a null version or one put before
    versioning)."""
    return md.version_id or NULL_VERSION_ID


def delete_marker_headers(md: ObjectMD, with_version: bool = True) -> dict[str, str]:
    headers = {"x-amz-delete-marker": "true"}
    if with_version:
        headers["x-amz-version-id"] = client_version_id(md)
    if md.last_modified_ms:
        headers["Last-Modified"] = http_date(md.last_modified_ms / 1000)
    return headers


def delete_marker_error(
    md: ObjectMD, rule: DeleteMarkerRule, version_id: str | None, key: str
) -> errors.S3Error:
    """The error an API answers when its target is the delete marker ``md``."""
    error: errors.S3Error
    if version_id is None and rule is not DeleteMarkerRule.UPDATE:
        error = errors.NoSuchKey(Key=key)
    elif version_id is not None and rule is DeleteMarkerRule.COPY:
        error = errors.InvalidRequest(
            "The source of a copy request may not specifically refer to a delete marker by version id."
        )
    else:
        error = errors.MethodNotAllowed(
            "The specified method is not allowed against this resource.",
            Method="GET" if rule is DeleteMarkerRule.READ else "PUT",
            ResourceType="DeleteMarker",
        )
    attach_headers(error, delete_marker_headers(md))
    return error


def attach_headers(error: errors.S3Error, headers: dict[str, str]) -> None:
    """Response headers an error carries (x-amz-delete-marker and friends)."""
    error.headers.update(headers)


async def find_object(
    ctx: RequestContext,
    bucket: BucketInfo,
    key: str,
    version_id: str | None,
    rule: DeleteMarkerRule = DeleteMarkerRule.READ,
) -> ObjectMD:
    """The current object (``version_id`` None) or that version ("null" included), never a delete
    marker: a delete marker answers the error of ``rule`` with its headers.

    The request's own object is where its object-level authorization completes (its ACL decides
    GetObject, GetObjectAcl, ...); who may not list the bucket gets AccessDenied for a missing one."""
    request = GetObjectRequest(bucket=bucket.name, key=key)
    if version_id is not None:
        request.version_id, request.has_version_id = version_id, True
    is_request_object = bucket.name == ctx.endpoint.bucket and key == ctx.endpoint.key
    try:
        md = await ctx.services.metadata.get_object(request)
    except StrataError as error:
        if error.reason == ErrorReason.INVALID_ARGUMENT and version_id is not None:
            raise errors.InvalidArgument(
                "Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id
            ) from None
        if error.reason in (ErrorReason.NO_SUCH_KEY, ErrorReason.NO_SUCH_VERSION) and not may_list(
            ctx, bucket
        ):
            raise errors.AccessDenied() from None
        raise
    if md.is_delete_marker:
        if not may_list(ctx, bucket):
            raise errors.AccessDenied()
        raise delete_marker_error(md, rule, version_id, key)
    if is_request_object:
        # The object-level half of the request's authorization, with the metadata read here anyway.
        authorize_object(ctx, bucket, md)
    return md
