"""The one table of refused request features: validity first, then what is not done here."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.api.unsupported import RULES, check_form_fields, check_request
from gateway.s3 import errors

KEY = bytes(range(32))
SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
    "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
}


def refusal(operation: str, headers: dict[str, str]) -> errors.S3Error:
    with pytest.raises(errors.S3Error) as raised:
        check_request(operation, headers)
    return raised.value


def test_an_invalid_value_wins_over_an_unsupported_feature() -> None:
    headers = {"x-amz-server-side-encryption": "AES256", "x-amz-storage-class": "GLACIERX"}
    assert refusal("PutObject", headers).code == "InvalidStorageClass"
    headers = {"x-amz-acl": "public-read", "x-amz-object-lock-mode": "FOREVER"}
    assert refusal("PutObject", headers).code == "InvalidArgument"


def test_not_implemented_names_the_header() -> None:
    error = refusal("PutObject", {"X-Amz-Server-Side-Encryption": "aws:kms"})
    assert (error.code, error.status, error.details["Header"]) == (
        "NotImplemented",
        501,
        "x-amz-server-side-encryption",
    )
    assert refusal("UploadPart", SSE_C).details["Header"] == "x-amz-server-side-encryption-customer-algorithm"


def test_values_that_change_nothing_pass() -> None:
    check_request("PutObject", {"x-amz-acl": "private", "x-amz-storage-class": "STANDARD"})
    check_request("PutObject", {"x-amz-acl": "bucket-owner-full-control"})
    check_request("CreateBucket", {"x-amz-bucket-object-lock-enabled": "false", "x-amz-acl": "private"})
    check_request("CreateBucket", {"x-amz-object-ownership": "BucketOwnerEnforced"})
    check_form_fields({"acl": "private", "x-amz-storage-class": "STANDARD", "key": "k"})


def test_canned_acls_grant_headers_and_object_ownership_pass_to_their_handlers() -> None:
    check_request("PutObject", {"x-amz-acl": "public-read"})
    check_request(
        "PutObjectAcl", {"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}
    )
    check_request("CreateBucket", {"x-amz-object-ownership": "ObjectWriter"})
    assert refusal("CreateBucket", {"x-amz-object-ownership": "Nobody"}).code == "InvalidArgument"
    both = {"x-amz-acl": "private", "x-amz-grant-read": 'id="x"'}
    assert refusal("PutBucketAcl", both).code == "InvalidRequest"


def test_a_rule_only_applies_to_its_operations() -> None:
    # The range header is UploadPartCopy's own; only CopyObject refuses it.
    check_request("UploadPartCopy", {"x-amz-copy-source-range": "bytes=0-1"})
    assert refusal("CopyObject", {"x-amz-copy-source-range": "bytes=0-1"}).code == "InvalidArgument"
    # A storage class means nothing to a read, so a read carrying one is not refused for it.
    check_request("GetObject", {"x-amz-storage-class": "GLACIER"})


def test_form_fields_follow_the_header_rules() -> None:
    assert refusal_form({"acl": "aws-exec-read"}).code == "NotImplemented"
    assert refusal_form({"acl": "public-readx"}).code == "InvalidArgument"
    assert refusal_form({"x-amz-storage-class": "GLACIERX"}).code == "InvalidStorageClass"


def refusal_form(fields: dict[str, str]) -> errors.S3Error:
    with pytest.raises(errors.S3Error) as raised:
        check_form_fields(fields)
    return raised.value


def test_every_rule_header_is_lower_case() -> None:
    # Headers are matched lower-cased; an upper-case name in the table would never match.
    for rule in RULES:
        assert all(name == name.lower() for name in rule.headers), rule.headers


def test_sse_s3_passes_on_object_writes_but_form_uploads() -> None:
    for operation in ("PutObject", "CopyObject", "CreateMultipartUpload"):
        check_request(operation, {"x-amz-server-side-encryption": "AES256"})
    assert refusal("PostObject", {"x-amz-server-side-encryption": "AES256"}).code == "NotImplemented"
    assert refusal("PutObject", {"x-amz-server-side-encryption": "AES512"}).code == "InvalidArgument"
