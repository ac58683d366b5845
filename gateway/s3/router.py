"""Routing as data: every S3 request shape maps to one typed :class:`Endpoint`.

A request is classified by (method, level, sub-resource) where level is the
service (no bucket), a bucket, or an object, and the sub-resource is the first
query parameter of that level's table that is present. The table lists every
AWS operation name with the IAM permission it needs, so the dispatch table and
the authorization check are both plain look-ups.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_to_bytes

from gateway.s3.errors import (
    InvalidArgument,
    InvalidBucketName,
    InvalidURI,
    MethodNotAllowed,
    S3Error,
    S3NotImplemented,
)

Level = Literal["service", "bucket", "object"]

COPY_SOURCE_HEADER = "x-amz-copy-source"


@dataclass(frozen=True)
class Endpoint:
    operation: str  # AWS operation name, e.g. "PutObject"
    bucket: str | None
    key: str | None
    permission: str  # IAM action, e.g. "s3:PutObject"; "" when no permission applies (CORS preflight)
    upload_id: str | None = None
    part_number: int | None = None
    version_id: str | None = None
    sub_resource: str | None = None  # the query parameter that selected the operation
    virtual_host: bool = False  # bucket came from the Host header


@dataclass(frozen=True)
class _Rule:
    method: str
    level: Level
    sub_resource: str | None  # query parameter that must be present; None = no sub-resource matched
    operation: str
    permission: str
    needs_copy_source: bool | None = None  # True/False: x-amz-copy-source must be present/absent


def _rules() -> tuple[_Rule, ...]:
    rules: list[_Rule] = [
        _Rule("GET", "service", None, "ListBuckets", "s3:ListAllMyBuckets"),
        _Rule("HEAD", "service", None, "ListBuckets", "s3:ListAllMyBuckets"),
        # --- bucket level, GET ---
        _Rule("GET", "bucket", "uploads", "ListMultipartUploads", "s3:ListBucketMultipartUploads"),
        _Rule("GET", "bucket", "versions", "ListObjectVersions", "s3:ListBucketVersions"),
        _Rule("GET", "bucket", "versioning", "GetBucketVersioning", "s3:GetBucketVersioning"),
        _Rule("GET", "bucket", "location", "GetBucketLocation", "s3:GetBucketLocation"),
        _Rule("GET", "bucket", "acl", "GetBucketAcl", "s3:GetBucketAcl"),
        _Rule("GET", "bucket", "tagging", "GetBucketTagging", "s3:GetBucketTagging"),
        _Rule("GET", "bucket", "policy", "GetBucketPolicy", "s3:GetBucketPolicy"),
        _Rule("GET", "bucket", "policyStatus", "GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"),
        _Rule("GET", "bucket", "cors", "GetBucketCors", "s3:GetBucketCORS"),
        _Rule("GET", "bucket", "website", "GetBucketWebsite", "s3:GetBucketWebsite"),
        _Rule(
            "GET", "bucket", "lifecycle", "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"
        ),
        _Rule("GET", "bucket", "encryption", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        _Rule(
            "GET",
            "bucket",
            "object-lock",
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
        ),
        _Rule("GET", "bucket", "replication", "GetBucketReplication", "s3:GetReplicationConfiguration"),
        _Rule("GET", "bucket", "logging", "GetBucketLogging", "s3:GetBucketLogging"),
        _Rule(
            "GET", "bucket", "notification", "GetBucketNotificationConfiguration", "s3:GetBucketNotification"
        ),
        _Rule("GET", "bucket", "requestPayment", "GetBucketRequestPayment", "s3:GetBucketRequestPayment"),
        _Rule(
            "GET", "bucket", "accelerate", "GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration"
        ),
        _Rule(
            "GET",
            "bucket",
            "ownershipControls",
            "GetBucketOwnershipControls",
            "s3:GetBucketOwnershipControls",
        ),
        _Rule("GET", "bucket", "publicAccessBlock", "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
        _Rule(
            "GET", "bucket", "analytics", "GetBucketAnalyticsConfiguration", "s3:GetAnalyticsConfiguration"
        ),
        _Rule("GET", "bucket", "metrics", "GetBucketMetricsConfiguration", "s3:GetMetricsConfiguration"),
        _Rule(
            "GET", "bucket", "inventory", "GetBucketInventoryConfiguration", "s3:GetInventoryConfiguration"
        ),
        _Rule(
            "GET",
            "bucket",
            "intelligent-tiering",
            "GetBucketIntelligentTieringConfiguration",
            "s3:GetIntelligentTieringConfiguration",
        ),
        _Rule("GET", "bucket", "list-type", "ListObjectsV2", "s3:ListBucket"),
        _Rule("GET", "bucket", None, "ListObjects", "s3:ListBucket"),
        _Rule("HEAD", "bucket", None, "HeadBucket", "s3:ListBucket"),
        # --- bucket level, PUT ---
        _Rule("PUT", "bucket", "versioning", "PutBucketVersioning", "s3:PutBucketVersioning"),
        _Rule("PUT", "bucket", "acl", "PutBucketAcl", "s3:PutBucketAcl"),
        _Rule("PUT", "bucket", "tagging", "PutBucketTagging", "s3:PutBucketTagging"),
        _Rule("PUT", "bucket", "policy", "PutBucketPolicy", "s3:PutBucketPolicy"),
        _Rule("PUT", "bucket", "cors", "PutBucketCors", "s3:PutBucketCORS"),
        _Rule("PUT", "bucket", "website", "PutBucketWebsite", "s3:PutBucketWebsite"),
        _Rule(
            "PUT", "bucket", "lifecycle", "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"
        ),
        _Rule("PUT", "bucket", "encryption", "PutBucketEncryption", "s3:PutEncryptionConfiguration"),
        _Rule(
            "PUT",
            "bucket",
            "object-lock",
            "PutObjectLockConfiguration",
            "s3:PutBucketObjectLockConfiguration",
        ),
        _Rule("PUT", "bucket", "replication", "PutBucketReplication", "s3:PutReplicationConfiguration"),
        _Rule("PUT", "bucket", "logging", "PutBucketLogging", "s3:PutBucketLogging"),
        _Rule(
            "PUT", "bucket", "notification", "PutBucketNotificationConfiguration", "s3:PutBucketNotification"
        ),
        _Rule("PUT", "bucket", "requestPayment", "PutBucketRequestPayment", "s3:PutBucketRequestPayment"),
        _Rule(
            "PUT", "bucket", "accelerate", "PutBucketAccelerateConfiguration", "s3:PutAccelerateConfiguration"
        ),
        _Rule(
            "PUT",
            "bucket",
            "ownershipControls",
            "PutBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
        ),
        _Rule("PUT", "bucket", "publicAccessBlock", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        _Rule(
            "PUT", "bucket", "analytics", "PutBucketAnalyticsConfiguration", "s3:PutAnalyticsConfiguration"
        ),
        _Rule("PUT", "bucket", "metrics", "PutBucketMetricsConfiguration", "s3:PutMetricsConfiguration"),
        _Rule(
            "PUT", "bucket", "inventory", "PutBucketInventoryConfiguration", "s3:PutInventoryConfiguration"
        ),
        _Rule(
            "PUT",
            "bucket",
            "intelligent-tiering",
            "PutBucketIntelligentTieringConfiguration",
            "s3:PutIntelligentTieringConfiguration",
        ),
        _Rule("PUT", "bucket", None, "CreateBucket", "s3:CreateBucket"),
        # --- bucket level, DELETE ---
        _Rule("DELETE", "bucket", "tagging", "DeleteBucketTagging", "s3:PutBucketTagging"),
        _Rule("DELETE", "bucket", "policy", "DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
        _Rule("DELETE", "bucket", "cors", "DeleteBucketCors", "s3:PutBucketCORS"),
        _Rule("DELETE", "bucket", "website", "DeleteBucketWebsite", "s3:DeleteBucketWebsite"),
        _Rule("DELETE", "bucket", "lifecycle", "DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
        _Rule("DELETE", "bucket", "encryption", "DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
        _Rule("DELETE", "bucket", "replication", "DeleteBucketReplication", "s3:PutReplicationConfiguration"),
        _Rule(
            "DELETE",
            "bucket",
            "ownershipControls",
            "DeleteBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
        ),
        _Rule(
            "DELETE",
            "bucket",
            "publicAccessBlock",
            "DeletePublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
        ),
        _Rule(
            "DELETE",
            "bucket",
            "analytics",
            "DeleteBucketAnalyticsConfiguration",
            "s3:PutAnalyticsConfiguration",
        ),
        _Rule(
            "DELETE", "bucket", "metrics", "DeleteBucketMetricsConfiguration", "s3:PutMetricsConfiguration"
        ),
        _Rule(
            "DELETE",
            "bucket",
            "inventory",
            "DeleteBucketInventoryConfiguration",
            "s3:PutInventoryConfiguration",
        ),
        _Rule(
            "DELETE",
            "bucket",
            "intelligent-tiering",
            "DeleteBucketIntelligentTieringConfiguration",
            "s3:PutIntelligentTieringConfiguration",
        ),
        _Rule("DELETE", "bucket", None, "DeleteBucket", "s3:DeleteBucket"),
        # --- bucket level, POST ---
        _Rule("POST", "bucket", "delete", "DeleteObjects", "s3:DeleteObject"),
        _Rule("POST", "bucket", None, "PostObject", "s3:PutObject"),
        _Rule("OPTIONS", "bucket", None, "Options", ""),
        # --- object level ---
        _Rule("GET", "object", "uploadId", "ListParts", "s3:ListMultipartUploadParts"),
        _Rule("GET", "object", "acl", "GetObjectAcl", "s3:GetObjectAcl"),
        _Rule("GET", "object", "tagging", "GetObjectTagging", "s3:GetObjectTagging"),
        _Rule("GET", "object", "retention", "GetObjectRetention", "s3:GetObjectRetention"),
        _Rule("GET", "object", "legal-hold", "GetObjectLegalHold", "s3:GetObjectLegalHold"),
        _Rule("GET", "object", "attributes", "GetObjectAttributes", "s3:GetObjectAttributes"),
        _Rule("GET", "object", "torrent", "GetObjectTorrent", "s3:GetObjectTorrent"),
        _Rule("GET", "object", None, "GetObject", "s3:GetObject"),
        _Rule("HEAD", "object", None, "HeadObject", "s3:GetObject"),
        _Rule("PUT", "object", "uploadId", "UploadPartCopy", "s3:PutObject", needs_copy_source=True),
        _Rule("PUT", "object", "uploadId", "UploadPart", "s3:PutObject", needs_copy_source=False),
        _Rule("PUT", "object", "acl", "PutObjectAcl", "s3:PutObjectAcl"),
        _Rule("PUT", "object", "tagging", "PutObjectTagging", "s3:PutObjectTagging"),
        _Rule("PUT", "object", "retention", "PutObjectRetention", "s3:PutObjectRetention"),
        _Rule("PUT", "object", "legal-hold", "PutObjectLegalHold", "s3:PutObjectLegalHold"),
        _Rule("PUT", "object", None, "CopyObject", "s3:PutObject", needs_copy_source=True),
        _Rule("PUT", "object", None, "PutObject", "s3:PutObject", needs_copy_source=False),
        _Rule("DELETE", "object", "uploadId", "AbortMultipartUpload", "s3:AbortMultipartUpload"),
        _Rule("DELETE", "object", "tagging", "DeleteObjectTagging", "s3:DeleteObjectTagging"),
        _Rule("DELETE", "object", None, "DeleteObject", "s3:DeleteObject"),
        _Rule("POST", "object", "uploads", "CreateMultipartUpload", "s3:PutObject"),
        _Rule("POST", "object", "uploadId", "CompleteMultipartUpload", "s3:PutObject"),
        _Rule("POST", "object", "restore", "RestoreObject", "s3:RestoreObject"),
        _Rule("POST", "object", "select", "SelectObjectContent", "s3:GetObject"),
        _Rule("OPTIONS", "object", None, "Options", ""),
    ]
    return tuple(rules)


RULES: tuple[_Rule, ...] = _rules()

# Only these query parameters select an operation, in this order of precedence; any other (prefix,
# max-keys, response-content-type, x-id, X-Amz-Signature, ...) never changes the operation.
_SELECTING: dict[Level, tuple[str, ...]] = {
    level: tuple(
        dict.fromkeys(rule.sub_resource for rule in RULES if rule.level == level and rule.sub_resource)
    )
    for level in ("service", "bucket", "object")
}
_METHODS = frozenset(rule.method for rule in RULES)

# A version-specific request needs the *Version flavour of the permission (IAM semantics).
_VERSION_PERMISSIONS: dict[str, str] = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}


def route(
    method: str,
    raw_path: str,
    query: Mapping[str, str],
    host: str | None,
    endpoints: Collection[str],
    headers: Mapping[str, str] | None = None,
) -> Endpoint:
    """Classifies one request; raises an S3Error for shapes S3 does not serve."""
    method = method.upper()
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/"):
        raise InvalidURI()
    host_bucket = bucket_from_host(host, endpoints)
    if host_bucket is not None:
        bucket: str | None = host_bucket
        key = _decode(path[1:]) or None
    else:
        bucket_part, slash, key_part = path[1:].partition("/")
        bucket = _decode(bucket_part) or None
        key = _decode(key_part) or None
        if bucket is None and slash:
            raise InvalidBucketName(BucketName="")
    level: Level = "service" if bucket is None else ("bucket" if key is None else "object")

    if method not in _METHODS:
        raise MethodNotAllowed(Method=method, ResourceType=level.upper())
    sub_resource = next((name for name in _SELECTING[level] if _selects(name, query)), None)
    has_copy_source = bool(headers and headers.get(COPY_SOURCE_HEADER))
    rule = _match(method, level, sub_resource, has_copy_source)
    if rule is None:
        raise _unroutable(method, level, sub_resource)

    version_id = query.get("versionId") if level == "object" else None
    permission = rule.permission
    if version_id:
        permission = _VERSION_PERMISSIONS.get(permission, permission)
    return Endpoint(
        operation=rule.operation,
        bucket=bucket,
        key=key,
        permission=permission,
        upload_id=query.get("uploadId") if level == "object" else None,
        part_number=_part_number(query) if level == "object" else None,
        version_id=version_id,
        sub_resource=rule.sub_resource,
        virtual_host=host_bucket is not None,
    )


def bucket_from_host(host: str | None, endpoints: Collection[str]) -> str | None:
    """The bucket named by a virtual-hosted-style Host header, or None for path-style."""
    if not host:
        return None
    hostname = _strip_port(host).lower().rstrip(".")
    if _is_ip_address(hostname):
        return None
    best: str | None = None
    for endpoint in endpoints:
        endpoint = endpoint.lower().rstrip(".")
        if hostname.endswith("." + endpoint) and (best is None or len(endpoint) > len(best)):
            best = endpoint
    if best is None:
        return None
    return hostname[: -len(best) - 1]


def _selects(name: str, query: Mapping[str, str]) -> bool:
    if name not in query:
        return False
    if name == "list-type":  # only list-type=2 means ListObjectsV2; anything else is a V1 listing
        return query.get(name) == "2"
    return True


def _match(method: str, level: Level, sub_resource: str | None, has_copy_source: bool) -> _Rule | None:
    for rule in RULES:
        if rule.method != method or rule.level != level or rule.sub_resource != sub_resource:
            continue
        if rule.needs_copy_source is not None and rule.needs_copy_source != has_copy_source:
            continue
        return rule
    return None


def _unroutable(method: str, level: Level, sub_resource: str | None) -> S3Error:
    # The sub-resource exists for this resource with another method: S3 answers 405, else 501.
    if any(rule.level == level and rule.sub_resource == sub_resource for rule in RULES):
        return MethodNotAllowed(Method=method, ResourceType=level.upper())
    return S3NotImplemented()


def _part_number(query: Mapping[str, str]) -> int | None:
    raw = query.get("partNumber")
    if raw is None:
        return None
    try:
        number = int(raw)
    except ValueError:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        ) from None
    if not 1 <= number <= 10000:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        )
    return number


def _decode(raw: str) -> str:
    """Percent-decodes once; '+' stays '+' because paths are not form-encoded."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidURI() from None


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


@functools.lru_cache(maxsize=4096)
def _is_ip_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True
