"""How a bucket's versioning state turns an S3 write into metadata versioning options.

Every handler that creates an object (PutObject, CopyObject, CompleteMultipartUpload)
builds its metadata request here, so the rules live in one place (seed 003, 7.1.4).
"""

from __future__ import annotations

from protos.metadata_pb2 import (
    VERSIONING_ENABLED,
    VERSIONING_SUSPENDED,
    BucketInfo,
    ObjectMD,
    PutObjectRequest,
)


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
        # A suspended bucket writes the null version: the master only, with an internal id.
        request.has_version_id = True
        request.version_id = ""
        request.object.is_null = True
    return request
