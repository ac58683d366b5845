"""Operation -> (S3 action name, what an ACL must grant for it), as AWS maps ACL permissions.

READ on a bucket lists it; WRITE on a bucket creates and deletes its objects; READ on an object
reads it; READ_ACP / WRITE_ACP on a resource read / write its ACL. An operation no ACL permission
maps to is for the bucket's owner (or whom a bucket policy allows) alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.authz.acl import READ, READ_ACP, WRITE, WRITE_ACP

# "bucket": the bucket's ACL decides; "object": the object's ACL (the handler completes the decision
# once it has the object's metadata); "owner": the bucket owner only; "object-owner": the object's
# owner or the bucket's owner.
Target = Literal["bucket", "object", "owner", "object-owner"]


@dataclass(frozen=True)
class OperationAccess:
    action: str
    target: Target
    permission: str | None = None  # the ACL permission for targets "bucket" and "object"


def _bucket(action: str, permission: str) -> OperationAccess:
    return OperationAccess(action, "bucket", permission)


def _object(action: str, permission: str) -> OperationAccess:
    return OperationAccess(action, "object", permission)


def _owner(action: str) -> OperationAccess:
    return OperationAccess(action, "owner")


OPERATIONS: Mapping[str, OperationAccess] = {
    "ListObjects": _bucket("s3:ListBucket", READ),
    "ListObjectsV2": _bucket("s3:ListBucket", READ),
    "HeadBucket": _bucket("s3:ListBucket", READ),
    "ListObjectVersions": _bucket("s3:ListBucketVersions", READ),
    "ListMultipartUploads": _bucket("s3:ListBucketMultipartUploads", READ),
    "PutObject": _bucket("s3:PutObject", WRITE),
    "PostObject": _bucket("s3:PutObject", WRITE),
    "CopyObject": _bucket("s3:PutObject", WRITE),
    "CreateMultipartUpload": _bucket("s3:PutObject", WRITE),
    "UploadPart": _bucket("s3:PutObject", WRITE),
    "UploadPartCopy": _bucket("s3:PutObject", WRITE),
    "CompleteMultipartUpload": _bucket("s3:PutObject", WRITE),
    "AbortMultipartUpload": _bucket("s3:AbortMultipartUpload", WRITE),
    "ListParts": _bucket("s3:ListMultipartUploadParts", WRITE),
    "DeleteObject": _bucket("s3:DeleteObject", WRITE),
    "DeleteObjects": _bucket("s3:DeleteObject", WRITE),
    "GetBucketAcl": _bucket("s3:GetBucketAcl", READ_ACP),
    "PutBucketAcl": _bucket("s3:PutBucketAcl", WRITE_ACP),
    "GetObject": _object("s3:GetObject", READ),
    "HeadObject": _object("s3:GetObject", READ),
    "GetObjectAttributes": _object("s3:GetObjectAttributes", READ),
    "GetObjectAcl": _object("s3:GetObjectAcl", READ_ACP),
    "PutObjectAcl": _object("s3:PutObjectAcl", WRITE_ACP),
    "GetObjectTagging": OperationAccess("s3:GetObjectTagging", "object-owner"),
    "PutObjectTagging": OperationAccess("s3:PutObjectTagging", "object-owner"),
    "DeleteObjectTagging": OperationAccess("s3:DeleteObjectTagging", "object-owner"),
}

# The actions of a version-specific request (``versionId``), as IAM names them.
VERSION_ACTIONS: Mapping[str, str] = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}

# What the bucket owner's account may always do, even when its bucket policy denies it (AWS keeps
# the owner able to repair a policy that locks everyone out).
POLICY_MANAGEMENT = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})


def operation_access(operation: str, router_action: str = "") -> OperationAccess:
    """The access rule of ``operation``; any other bucket operation is the owner's (its configuration)."""
    known = OPERATIONS.get(operation)
    if known is not None:
        return known
    return _owner(router_action or f"s3:{operation}")
