"""Object ownership (OwnershipControls): who owns an object another account writes, and whether
ACLs still apply.

``ObjectWriter`` (also a bucket with no controls): the writer owns it. ``BucketOwnerPreferred``:
the bucket's owner owns it when it was written with the ``bucket-owner-full-control`` canned ACL.
``BucketOwnerEnforced``: the bucket's owner owns every object and ACLs grant nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from protos.metadata_pb2 import BucketInfo, ListObjectsResponse

OBJECT_WRITER = "ObjectWriter"
BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
OBJECT_OWNERSHIPS = (OBJECT_WRITER, BUCKET_OWNER_PREFERRED, BUCKET_OWNER_ENFORCED)
OWNER_ONLY_CANNED = "bucket-owner-full-control"


def object_owner(ownership: str, writer_id: str, bucket_owner_id: str, headers: Mapping[str, str]) -> str:
    """The canonical id that owns an object ``writer_id`` writes into the bucket."""
    if ownership == BUCKET_OWNER_ENFORCED:
        return bucket_owner_id
    if ownership == BUCKET_OWNER_PREFERRED and headers.get("x-amz-acl") == OWNER_ONLY_CANNED:
        return bucket_owner_id
    return writer_id


def acls_disabled(ownership: str) -> bool:
    return ownership == BUCKET_OWNER_ENFORCED


def listed_owners(bucket: BucketInfo, listing: ListObjectsResponse) -> ListObjectsResponse:
    """The listing as the bucket's settings show it: under ``BucketOwnerEnforced`` the bucket owner
    owns every object, those written before it was set included."""
    if bucket.object_ownership == BUCKET_OWNER_ENFORCED:
        for entry in listing.entries:
            entry.object.owner_id = bucket.owner_id
            entry.object.owner_display_name = bucket.owner_display_name
    return listing
