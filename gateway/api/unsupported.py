"""Request features S3 defines that this server does not do (yet): refused, never silently ignored.

One table of rules, each naming the headers (or PostObject form fields) it reads and the
operations it applies to. A request is checked in two passes, as AWS does: first every rule's
``validate`` (a value S3 itself would refuse: InvalidArgument, InvalidStorageClass, ...), then
every rule's ``refuse`` (a valid request this server cannot honour: NotImplemented, or the error
AWS gives for the state every bucket here is in). A value that changes nothing passes:
``x-amz-storage-class: STANDARD``, ``x-amz-bucket-object-lock-enabled: false``. Canned ACLs, grant
headers and ``x-amz-object-ownership`` are done (gateway.authz), but for ``aws-exec-read``.

Knowingly accepted: ``x-amz-request-payer`` (an acknowledgement; no bucket here is requester-pays,
so the owner pays, as in S3) and ``x-amz-bypass-governance-retention`` (no object has retention).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.s3 import errors

Headers = Mapping[str, str]  # lower-case names

SSE_HEADER = "x-amz-server-side-encryption"
ACL_HEADER = "x-amz-acl"
STORAGE_CLASS_HEADER = "x-amz-storage-class"
OBJECT_LOCK_MODE_HEADER = "x-amz-object-lock-mode"
OBJECT_LOCK_DATE_HEADER = "x-amz-object-lock-retain-until-date"
OBJECT_LOCK_HOLD_HEADER = "x-amz-object-lock-legal-hold"

_OBJECT_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload", "PostObject"})
_ACL_WRITES = frozenset(
    {
        "CreateBucket",
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "PostObject",
        "PutBucketAcl",
        "PutObjectAcl",
    }
)
_SSE_C_OPERATIONS = _OBJECT_WRITES | {"UploadPart", "UploadPartCopy", "GetObject", "HeadObject"}
_COPIES = frozenset({"CopyObject", "UploadPartCopy"})

SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "aws-exec-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
    }
)
GRANT_HEADERS = (
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
# The storage classes AWS defines; data here is stored one way only, which S3 calls STANDARD.
STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)
STORED_STORAGE_CLASS = "STANDARD"
OBJECT_OWNERSHIPS = frozenset({"BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"})


def not_implemented(header: str, what: str) -> errors.S3Error:
    return errors.S3NotImplemented(f"{what} is not implemented (header {header}).", Header=header)


def _invalid(header: str, value: str, message: str) -> errors.S3Error:
    return errors.InvalidArgument(message, ArgumentName=header, ArgumentValue=value)


# --- server-side encryption ------------------------------------------------------------------------


def _validate_sse(headers: Headers) -> None:
    value = headers.get(SSE_HEADER)
    if value is not None and value not in SSE_ALGORITHMS:
        raise _invalid(SSE_HEADER, value, "The encryption method specified is not supported")


def _refuse_sse(headers: Headers) -> None:
    value = headers.get(SSE_HEADER)
    if value is not None:
        raise not_implemented(SSE_HEADER, f"Server-side encryption ({value})")


# encryption at rest: SSE-S3 is done on PutObject, CopyObject and multipart uploads (gateway.crypto.sse);
# form uploads and the other algorithms are refused.
def _refuse_sse_but_s3(headers: Headers) -> None:
    value = headers.get(SSE_HEADER)
    if value is not None and value != "AES256":
        raise not_implemented(SSE_HEADER, f"Server-side encryption ({value})")


def _validate_sse_on_read(headers: Headers) -> None:
    # S3 refuses it on reads: an SSE-S3/SSE-KMS object is decrypted without being asked.
    raise _invalid(
        SSE_HEADER,
        headers[SSE_HEADER],
        "x-amz-server-side-encryption header is not supported for this operation.",
    )


_KMS_HEADERS = (
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
)


def _validate_kms(headers: Headers) -> None:
    present = [name for name in _KMS_HEADERS if name in headers]
    if not present:
        return
    if headers.get(SSE_HEADER) not in _KMS_ALGORITHMS:
        raise _invalid(
            present[0],
            headers[present[0]],
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
        )
    bucket_key = headers.get("x-amz-server-side-encryption-bucket-key-enabled")
    if bucket_key is not None and bucket_key.lower() not in ("true", "false"):
        raise _invalid("x-amz-server-side-encryption-bucket-key-enabled", bucket_key, "Must be true or false")


def _refuse_kms(headers: Headers) -> None:
    for name in _KMS_HEADERS:
        if name in headers:
            raise not_implemented(name, "Server-side encryption with KMS keys")


def _customer_key_rule(prefix: str) -> tuple[Callable[[Headers], None], Callable[[Headers], None]]:
    """SSE-C headers (``prefix`` + algorithm, key, key-MD5), checked the way S3 checks them."""
    algorithm_header, key_header, md5_header = (prefix + "algorithm", prefix + "key", prefix + "key-md5")

    def validate(headers: Headers) -> None:
        if not any(name in headers for name in (algorithm_header, key_header, md5_header)):
            return
        algorithm = headers.get(algorithm_header)
        if algorithm is None:
            raise _invalid(
                algorithm_header,
                "",
                "Requests specifying Server Side Encryption with Customer provided keys must provide "
                "a valid encryption algorithm.",
            )
        if algorithm != "AES256":
            raise errors.InvalidEncryptionAlgorithmError(
                "The Encryption request you specified is not valid. Supported value: AES256.",
                ArgumentName=algorithm_header,
                ArgumentValue=algorithm,
            )
        try:
            key = base64.b64decode(headers.get(key_header, ""), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise _invalid(key_header, "", "The secret key was invalid for the specified algorithm.")
        raw_md5 = headers.get(md5_header)
        if raw_md5 is None:
            raise _invalid(
                md5_header,
                "",
                "Requests specifying Server Side Encryption with Customer provided keys must provide "
                "the client calculated MD5 of the secret key.",
            )
        try:
            md5 = base64.b64decode(raw_md5, validate=True)
        except (binascii.Error, ValueError):
            md5 = b""
        if md5 != hashlib.md5(key).digest():
            raise _invalid(
                md5_header,
                raw_md5,
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            )

    def refuse(headers: Headers) -> None:
        if algorithm_header in headers:
            raise not_implemented(algorithm_header, "Server-side encryption with customer-provided keys")

    return validate, refuse


# --- access control --------------------------------------------------------------------------------


def _validate_acl(headers: Headers) -> None:
    value = headers.get(ACL_HEADER)
    if value is None:
        return
    if value not in CANNED_ACLS:
        raise _invalid(ACL_HEADER, value, "Invalid canned ACL")
    if any(name in headers for name in GRANT_HEADERS):
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")


def _refuse_acl(headers: Headers) -> None:
    # aws-exec-read grants EC2's own account, which does not exist here.
    value = headers.get(ACL_HEADER)
    if value == "aws-exec-read":
        raise not_implemented(ACL_HEADER, f"The canned ACL {value}")


def _validate_object_ownership(headers: Headers) -> None:
    value = headers.get("x-amz-object-ownership")
    if value is not None and value not in OBJECT_OWNERSHIPS:
        raise _invalid("x-amz-object-ownership", value, "Invalid x-amz-object-ownership header")


# --- object lock -----------------------------------------------------------------------------------


def _validate_bucket_object_lock(headers: Headers) -> None:
    value = headers.get("x-amz-bucket-object-lock-enabled")
    if value is not None and value.lower() not in ("true", "false"):
        raise _invalid("x-amz-bucket-object-lock-enabled", value, "Invalid value; must be true or false")


def _refuse_bucket_object_lock(headers: Headers) -> None:
    if headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        raise not_implemented("x-amz-bucket-object-lock-enabled", "Object Lock")


def _validate_object_lock(headers: Headers) -> None:
    mode = headers.get(OBJECT_LOCK_MODE_HEADER)
    until = headers.get(OBJECT_LOCK_DATE_HEADER)
    hold = headers.get(OBJECT_LOCK_HOLD_HEADER)
    if mode is not None and mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise _invalid(OBJECT_LOCK_MODE_HEADER, mode, "Unknown wormMode directive.")
    if until is not None:
        try:
            retain_until = datetime.fromisoformat(until.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(
                OBJECT_LOCK_DATE_HEADER, until, "The retain until date must be provided in ISO 8601 format"
            ) from None
        if retain_until.tzinfo is None:
            retain_until = retain_until.replace(tzinfo=UTC)
        if retain_until <= datetime.now(UTC):
            raise _invalid(OBJECT_LOCK_DATE_HEADER, until, "The retain until date must be in the future!")
    if (mode is None) != (until is None):
        raise _invalid(
            OBJECT_LOCK_MODE_HEADER if mode is None else OBJECT_LOCK_DATE_HEADER,
            "",
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )
    if hold is not None and hold not in ("ON", "OFF"):
        raise _invalid(OBJECT_LOCK_HOLD_HEADER, hold, "Legal Hold must be either of 'ON' or 'OFF'")


def _refuse_object_lock(headers: Headers) -> None:
    # No bucket here can have Object Lock (CreateBucket refuses it), so S3's answer is this one.
    if any(
        name in headers
        for name in (OBJECT_LOCK_MODE_HEADER, OBJECT_LOCK_DATE_HEADER, OBJECT_LOCK_HOLD_HEADER)
    ):
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")


# --- storage class, copies, forms ----------------------------------------------------------------


def _validate_storage_class(headers: Headers) -> None:
    value = headers.get(STORAGE_CLASS_HEADER)
    if value is not None and value not in STORAGE_CLASSES:
        raise errors.InvalidStorageClass(StorageClassRequested=value)


def _refuse_storage_class(headers: Headers) -> None:
    value = headers.get(STORAGE_CLASS_HEADER)
    if value is not None and value != STORED_STORAGE_CLASS:
        raise not_implemented(
            STORAGE_CLASS_HEADER, f"Storage class {value} (objects are stored as {STORED_STORAGE_CLASS})"
        )


def _validate_copy_range(headers: Headers) -> None:
    value = headers.get("x-amz-copy-source-range")
    if value is not None:
        raise _invalid(
            "x-amz-copy-source-range",
            value,
            "x-amz-copy-source-range is only valid for UploadPartCopy; CopyObject copies whole objects",
        )


_CONDITIONAL_DELETE_HEADERS = ("if-match", "x-amz-if-match-last-modified-time", "x-amz-if-match-size")


def _refuse_conditional_delete(headers: Headers) -> None:
    for name in _CONDITIONAL_DELETE_HEADERS:
        if name in headers:
            raise not_implemented(name, "A conditional delete")


def _refuse_append(headers: Headers) -> None:
    if "x-amz-write-offset-bytes" in headers:
        raise not_implemented("x-amz-write-offset-bytes", "Appending to an object")


def _validate_object_size(headers: Headers) -> None:
    value = headers.get("x-amz-mp-object-size", "")
    if not value.strip().isdigit():
        raise _invalid("x-amz-mp-object-size", value, "x-amz-mp-object-size must be a non-negative integer")


def _refuse_object_size(headers: Headers) -> None:
    raise not_implemented("x-amz-mp-object-size", "Checking the completed object's size")


def _refuse_form_tagging(headers: Headers) -> None:
    if "tagging" in headers:
        raise not_implemented("tagging", "Tagging in a POST form")


def _nothing(headers: Headers) -> None:
    return None


@dataclass(frozen=True)
class FeatureRule:
    """Headers (lower-case) of one feature, the operations that read them, and how each pass checks them."""

    headers: tuple[str, ...]
    operations: frozenset[str]
    validate: Callable[[Headers], None]
    refuse: Callable[[Headers], None]


_SSE_C = _customer_key_rule("x-amz-server-side-encryption-customer-")
_COPY_SSE_C = _customer_key_rule("x-amz-copy-source-server-side-encryption-customer-")
_SSE_C_HEADERS = tuple(
    "x-amz-server-side-encryption-customer-" + part for part in ("algorithm", "key", "key-md5")
)

RULES: tuple[FeatureRule, ...] = (
    FeatureRule((SSE_HEADER,), _OBJECT_WRITES - {"PostObject"}, _validate_sse, _refuse_sse_but_s3),
    FeatureRule((SSE_HEADER,), frozenset({"PostObject"}), _validate_sse, _refuse_sse),
    FeatureRule((SSE_HEADER,), frozenset({"GetObject", "HeadObject"}), _validate_sse_on_read, _nothing),
    FeatureRule(_KMS_HEADERS, _OBJECT_WRITES, _validate_kms, _refuse_kms),
    FeatureRule(_SSE_C_HEADERS, _SSE_C_OPERATIONS, *_SSE_C),
    FeatureRule(
        tuple(name.replace("x-amz-", "x-amz-copy-source-", 1) for name in _SSE_C_HEADERS),
        _COPIES,
        *_COPY_SSE_C,
    ),
    FeatureRule((ACL_HEADER,), _ACL_WRITES, _validate_acl, _refuse_acl),
    FeatureRule(
        ("x-amz-object-ownership",), frozenset({"CreateBucket"}), _validate_object_ownership, _nothing
    ),
    FeatureRule(
        ("x-amz-bucket-object-lock-enabled",),
        frozenset({"CreateBucket"}),
        _validate_bucket_object_lock,
        _refuse_bucket_object_lock,
    ),
    FeatureRule(
        (OBJECT_LOCK_MODE_HEADER, OBJECT_LOCK_DATE_HEADER, OBJECT_LOCK_HOLD_HEADER),
        _OBJECT_WRITES,
        _validate_object_lock,
        _refuse_object_lock,
    ),
    FeatureRule((STORAGE_CLASS_HEADER,), _OBJECT_WRITES, _validate_storage_class, _refuse_storage_class),
    FeatureRule(("x-amz-copy-source-range",), frozenset({"CopyObject"}), _validate_copy_range, _nothing),
    FeatureRule(("tagging",), frozenset({"PostObject"}), _nothing, _refuse_form_tagging),
    FeatureRule(
        _CONDITIONAL_DELETE_HEADERS, frozenset({"DeleteObject"}), _nothing, _refuse_conditional_delete
    ),
    FeatureRule(("x-amz-write-offset-bytes",), frozenset({"PutObject"}), _nothing, _refuse_append),
    FeatureRule(
        ("x-amz-mp-object-size",),
        frozenset({"CompleteMultipartUpload"}),
        _validate_object_size,
        _refuse_object_size,
    ),
)

# PostObject form fields that carry what a header carries elsewhere.
_FORM_FIELD_HEADERS = {"acl": ACL_HEADER}


def check_request(operation: str, headers: Mapping[str, str]) -> None:
    """Raises the S3 error for the first invalid value, then for the first feature not done here."""
    lowered = {name.lower(): value for name, value in headers.items()}
    applicable = [
        rule
        for rule in RULES
        if operation in rule.operations and any(name in lowered for name in rule.headers)
    ]
    for rule in applicable:
        rule.validate(lowered)
    for rule in applicable:
        rule.refuse(lowered)


def check_form_fields(fields: Mapping[str, str]) -> None:
    """The same rules for a PostObject form (field names are lower-case)."""
    as_headers = {_FORM_FIELD_HEADERS.get(name, name): value for name, value in fields.items()}
    check_request("PostObject", as_headers)
