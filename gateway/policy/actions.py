"""The S3 action names a bucket policy may name, with the kind of resource each applies to.

Used to validate documents (an ``Action`` that names no S3 action is "Policy has invalid action";
a statement whose actions apply to none of its resources is refused as AWS does).
"""

from __future__ import annotations

from typing import Literal

from gateway.policy.patterns import compile_wildcard, has_wildcard

ResourceKind = Literal["bucket", "object"]

_OBJECT_ACTIONS = (
    "AbortMultipartUpload",
    "BypassGovernanceRetention",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjectVersion",
    "DeleteObjectVersionTagging",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "GetObjectVersion",
    "GetObjectVersionAcl",
    "GetObjectVersionAttributes",
    "GetObjectVersionForReplication",
    "GetObjectVersionTagging",
    "GetObjectVersionTorrent",
    "InitiateReplication",
    "ListMultipartUploadParts",
    "ObjectOwnerOverrideToBucketOwner",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "PutObjectVersionAcl",
    "PutObjectVersionTagging",
    "ReplicateDelete",
    "ReplicateObject",
    "ReplicateTags",
    "RestoreObject",
)

_BUCKET_ACTIONS = (
    "CreateBucket",
    "DeleteBucket",
    "DeleteBucketOwnershipControls",
    "DeleteBucketPolicy",
    "DeleteBucketWebsite",
    "GetAccelerateConfiguration",
    "GetAnalyticsConfiguration",
    "GetBucketAcl",
    "GetBucketCORS",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketNotification",
    "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock",
    "GetBucketRequestPayment",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketWebsite",
    "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration",
    "GetInventoryConfiguration",
    "GetLifecycleConfiguration",
    "GetMetricsConfiguration",
    "GetReplicationConfiguration",
    "ListBucket",
    "ListBucketMultipartUploads",
    "ListBucketVersions",
    "PutAccelerateConfiguration",
    "PutAnalyticsConfiguration",
    "PutBucketAcl",
    "PutBucketCORS",
    "PutBucketLogging",
    "PutBucketNotification",
    "PutBucketObjectLockConfiguration",
    "PutBucketOwnershipControls",
    "PutBucketPolicy",
    "PutBucketPublicAccessBlock",
    "PutBucketRequestPayment",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "PutEncryptionConfiguration",
    "PutIntelligentTieringConfiguration",
    "PutInventoryConfiguration",
    "PutLifecycleConfiguration",
    "PutMetricsConfiguration",
    "PutReplicationConfiguration",
)

# Lower-cased "s3:<name>" -> the resource kind it acts on.
ACTION_KINDS: dict[str, ResourceKind] = {
    **{f"s3:{name}".lower(): "bucket" for name in _BUCKET_ACTIONS},
    **{f"s3:{name}".lower(): "object" for name in _OBJECT_ACTIONS},
}


def actions_named(pattern: str) -> frozenset[str]:
    """The known actions (lower-cased) an ``Action`` entry names; empty when it names none."""
    lowered = pattern.lower()
    if lowered == "*":
        return frozenset(ACTION_KINDS)
    if not lowered.startswith("s3:"):
        return frozenset()
    if not has_wildcard(lowered):
        return frozenset({lowered}) if lowered in ACTION_KINDS else frozenset()
    regex = compile_wildcard(lowered)
    return frozenset(name for name in ACTION_KINDS if regex.fullmatch(name))
