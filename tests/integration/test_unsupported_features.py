"""A request that asks for a feature this server does not do gets S3's error and changes nothing.

Invalid values get the error S3 gives for them (checked first, as S3 does); valid values of a
feature not done here get 501 NotImplemented naming the header (or the state error S3 gives);
values that change nothing (x-amz-acl: private, STANDARD) keep working.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.conftest import ACCESS_KEY, SECRET_KEY, s3_client
from tests.integration.test_post_object import curl_form

SSE_C_KEY = os.urandom(32)
ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


def failure(call) -> tuple[str, int, dict[str, str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    metadata = response["ResponseMetadata"]
    # HEAD errors have no body: their request id is only in the header.
    assert metadata.get("RequestId") or metadata["HTTPHeaders"].get("x-amz-request-id")
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]


def assert_absent(s3, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key=key)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def assert_no_bucket(s3, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=name)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def new_bucket_name() -> str:
    return f"refused-{uuid.uuid4().hex[:12]}"


# --- server-side encryption ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encryption",
    [
        {"ServerSideEncryption": "aws:kms"},
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/mine"},
        {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY},
    ],
)
def test_encrypted_put_is_not_implemented_and_stores_nothing(s3, bucket, encryption) -> None:
    code, status, error = failure(lambda: s3.put_object(Bucket=bucket, Key="secret", Body=b"x", **encryption))
    assert (code, status) == ("NotImplemented", 501)
    assert error["Header"].startswith("x-amz-server-side-encryption")
    assert_absent(s3, bucket, "secret")


@pytest.mark.parametrize(
    ("encryption", "expected_code"),
    [
        ({"ServerSideEncryption": "AES512"}, "InvalidArgument"),
        ({"SSEKMSKeyId": "alias/mine"}, "InvalidArgument"),
        ({"SSECustomerAlgorithm": "AES128", "SSECustomerKey": SSE_C_KEY}, "InvalidEncryptionAlgorithmError"),
        ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b"short"}, "InvalidArgument"),
    ],
)
def test_invalid_encryption_request_is_refused_first(s3, bucket, encryption, expected_code: str) -> None:
    # Also a storage class not offered: the invalid encryption value is what S3 reports.
    code, status, _ = failure(
        lambda: s3.put_object(Bucket=bucket, Key="secret", Body=b"x", StorageClass="GLACIER", **encryption)
    )
    assert (code, status) == (expected_code, 400)
    assert_absent(s3, bucket, "secret")


def test_customer_key_md5_must_match_the_key(server, bucket) -> None:
    s3 = s3_client(server.url)
    other_md5 = base64.b64encode(hashlib.md5(b"another key").digest()).decode()

    def wrong_md5(params, **kwargs) -> None:  # type: ignore[no-untyped-def]
        params["headers"]["x-amz-server-side-encryption-customer-key-MD5"] = other_md5

    s3.meta.events.register("before-call.s3.PutObject", wrong_md5)
    code, status, _ = failure(
        lambda: s3.put_object(
            Bucket=bucket, Key="secret", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=SSE_C_KEY
        )
    )
    assert (code, status) == ("InvalidArgument", 400)
    assert_absent(s3, bucket, "secret")


def test_reading_with_a_customer_key_is_not_implemented(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"not encrypted")
    key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="plain", **key))[:2] == ("NotImplemented", 501)
    assert failure(lambda: s3.head_object(Bucket=bucket, Key="plain", **key))[1] == 501


def test_reading_with_a_server_side_encryption_header_is_invalid(server, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"not encrypted")
    reader = s3_client(server.url)

    def ask_for_sse(params, **kwargs) -> None:  # type: ignore[no-untyped-def]
        params["headers"]["x-amz-server-side-encryption"] = "AES256"

    reader.meta.events.register("before-call.s3.GetObject", ask_for_sse)
    assert failure(lambda: reader.get_object(Bucket=bucket, Key="plain"))[:2] == ("InvalidArgument", 400)


def test_encrypted_copy_is_not_implemented_and_creates_nothing(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="source", Body=b"data")
    source = {"Bucket": bucket, "Key": "source"}
    calls = [
        {"ServerSideEncryption": "aws:kms"},
        {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY},
        {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": SSE_C_KEY},
    ]
    for extra in calls:
        code, status, _ = failure(
            lambda extra=extra: s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, **extra)
        )
        assert (code, status) == ("NotImplemented", 501), extra
    assert_absent(s3, bucket, "copy")


def test_encrypted_multipart_upload_is_not_implemented(s3, bucket) -> None:
    code, status, _ = failure(
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="big", ServerSideEncryption="aws:kms")
    )
    assert (code, status) == ("NotImplemented", 501)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    s3.put_object(Bucket=bucket, Key="source", Body=b"s" * 100)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}
    assert failure(
        lambda: s3.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=1, Body=b"p", **key)
    )[:2] == ("NotImplemented", 501)
    copy_key = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": SSE_C_KEY}
    assert failure(
        lambda: s3.upload_part_copy(
            Bucket=bucket,
            Key="big",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "source"},
            **copy_key,
        )
    )[:2] == ("NotImplemented", 501)
    assert s3.list_parts(Bucket=bucket, Key="big", UploadId=upload_id).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id)


def test_unencrypted_put_claims_no_encryption(s3, bucket) -> None:
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in put
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain")


# --- access control --------------------------------------------------------------------------------


def test_aws_exec_read_is_not_implemented_and_nothing_is_created(s3, bucket) -> None:
    # It grants EC2's own account, which does not exist here; every other canned ACL is done.
    name = new_bucket_name()
    code, status, error = failure(lambda: s3.create_bucket(Bucket=name, ACL="aws-exec-read"))
    assert (code, status, error["Header"]) == ("NotImplemented", 501, "x-amz-acl")
    assert_no_bucket(s3, name)
    code, status, _ = failure(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="aws-exec-read"))
    assert (code, status) == ("NotImplemented", 501)
    assert_absent(s3, bucket, "k")
    code, status, _ = failure(lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", ACL="aws-exec-read"))
    assert (code, status) == ("NotImplemented", 501)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_invalid_or_conflicting_acl_headers_are_refused(s3, bucket) -> None:
    code, status, _ = failure(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="everyone"))
    assert (code, status) == ("InvalidArgument", 400)
    code, status, _ = failure(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private", GrantRead=ALL_USERS)
    )
    assert (code, status) == ("InvalidRequest", 400)
    assert_absent(s3, bucket, "k")


def test_owner_only_canned_acls_keep_working(s3) -> None:
    name = new_bucket_name()
    s3.create_bucket(Bucket=name, ACL="private")
    try:
        s3.put_object(Bucket=name, Key="a", Body=b"a", ACL="private")
        s3.put_object(Bucket=name, Key="b", Body=b"b", ACL="bucket-owner-full-control")
        upload = s3.create_multipart_upload(Bucket=name, Key="c", ACL="private")
        s3.abort_multipart_upload(Bucket=name, Key="c", UploadId=upload["UploadId"])
        s3.copy_object(Bucket=name, Key="d", CopySource={"Bucket": name, "Key": "a"}, ACL="private")
        assert s3.get_object(Bucket=name, Key="d")["Body"].read() == b"a"
    finally:
        for key in ("a", "b", "d"):
            s3.delete_object(Bucket=name, Key=key)
        s3.delete_bucket(Bucket=name)


def test_object_ownership_on_create_bucket_is_accepted(s3) -> None:
    for ownership in ("BucketOwnerEnforced", "ObjectWriter", "BucketOwnerPreferred"):
        name = new_bucket_name()
        s3.create_bucket(Bucket=name, ObjectOwnership=ownership)
        assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": ownership}
        ]
        s3.delete_bucket(Bucket=name)
    name = new_bucket_name()
    assert failure(lambda: s3.create_bucket(Bucket=name, ObjectOwnership="Nobody"))[:2] == (
        "InvalidArgument",
        400,
    )
    assert_no_bucket(s3, name)


# --- object lock -----------------------------------------------------------------------------------


def test_bucket_with_object_lock_is_not_implemented_and_not_created(s3) -> None:
    name = new_bucket_name()
    code, status, error = failure(lambda: s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True))
    assert (code, status) == ("NotImplemented", 501)
    assert error["Header"] == "x-amz-bucket-object-lock-enabled"
    assert_no_bucket(s3, name)
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=False)
    s3.delete_bucket(Bucket=name)


def test_object_lock_headers_on_a_bucket_without_object_lock(s3, bucket) -> None:
    until = datetime.now(UTC) + timedelta(days=1)
    refused = [
        ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until}, "InvalidRequest"),
        ({"ObjectLockLegalHoldStatus": "ON"}, "InvalidRequest"),
        ({"ObjectLockMode": "FOREVER", "ObjectLockRetainUntilDate": until}, "InvalidArgument"),
        ({"ObjectLockMode": "COMPLIANCE"}, "InvalidArgument"),
        (
            {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until - timedelta(days=2)},
            "InvalidArgument",
        ),
        ({"ObjectLockLegalHoldStatus": "MAYBE"}, "InvalidArgument"),
    ]
    for extra, expected_code in refused:
        code, status, _ = failure(
            lambda extra=extra: s3.put_object(Bucket=bucket, Key="locked", Body=b"x", **extra)
        )
        assert (code, status) == (expected_code, 400), extra
        assert failure(lambda extra=extra: s3.create_multipart_upload(Bucket=bucket, Key="locked", **extra))[
            0
        ] == (expected_code)
    assert_absent(s3, bucket, "locked")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# --- storage class ---------------------------------------------------------------------------------


def test_storage_class_s3_does_not_define_is_invalid(s3, bucket) -> None:
    code, status, _ = failure(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="GLACIERX")
    )
    assert (code, status) == ("InvalidStorageClass", 400)
    code, status, _ = failure(
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", StorageClass="glacier")
    )
    assert (code, status) == ("InvalidStorageClass", 400)
    assert_absent(s3, bucket, "k")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("storage_class", ["GLACIER", "REDUCED_REDUNDANCY", "STANDARD_IA", "DEEP_ARCHIVE"])
def test_storage_class_not_offered_is_not_implemented(s3, bucket, storage_class: str) -> None:
    code, status, error = failure(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass=storage_class)
    )
    assert (code, status) == ("NotImplemented", 501)
    assert error["Header"] == "x-amz-storage-class"
    assert_absent(s3, bucket, "k")
    s3.put_object(Bucket=bucket, Key="source", Body=b"x")
    code, _, _ = failure(
        lambda: s3.copy_object(
            Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "source"}, StorageClass=storage_class
        )
    )
    assert code == "NotImplemented"
    assert_absent(s3, bucket, "k")


def test_standard_storage_class_is_stored_and_reported(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="STANDARD")
    assert s3.head_object(Bucket=bucket, Key="k").get("StorageClass", "STANDARD") == "STANDARD"
    assert [item["StorageClass"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["STANDARD"]


# --- copies ----------------------------------------------------------------------------------------


def test_copy_source_range_on_copy_object_is_invalid(server, bucket) -> None:
    s3 = s3_client(server.url)
    s3.put_object(Bucket=bucket, Key="source", Body=b"0123456789")

    def add_range(params, **kwargs) -> None:  # type: ignore[no-untyped-def]
        params["headers"]["x-amz-copy-source-range"] = "bytes=0-4"

    s3.meta.events.register("before-call.s3.CopyObject", add_range)
    code, status, _ = failure(
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "source"})
    )
    assert (code, status) == ("InvalidArgument", 400)
    assert_absent(s3, bucket, "copy")


def test_copy_source_range_on_upload_part_copy_still_works(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="source", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ranged")["UploadId"]
    part = s3.upload_part_copy(
        Bucket=bucket,
        Key="ranged",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange="bytes=2-5",
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="ranged",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="ranged")["Body"].read() == b"2345"


# --- expected bucket owner -------------------------------------------------------------------------


def test_expected_bucket_owner_is_checked(s3, bucket) -> None:
    code, status, _ = failure(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="999999999999")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert_absent(s3, bucket, "k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="123456789012")
    assert s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="123456789012")["Body"].read() == b"x"


# --- conditional deletes, appends, completion checks -------------------------------------------


def test_conditional_delete_is_not_implemented_and_deletes_nothing(s3, bucket) -> None:
    etag = s3.put_object(Bucket=bucket, Key="kept", Body=b"x")["ETag"]
    for condition in ({"IfMatch": etag}, {"IfMatchSize": 1}):
        code, status, _ = failure(
            lambda condition=condition: s3.delete_object(Bucket=bucket, Key="kept", **condition)
        )
        assert (code, status) == ("NotImplemented", 501)
    code, status, _ = failure(
        lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "kept", "ETag": etag}]})
    )
    assert (code, status) == ("NotImplemented", 501)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_append_is_not_implemented(s3, bucket) -> None:
    code, status, _ = failure(lambda: s3.put_object(Bucket=bucket, Key="log", Body=b"x", WriteOffsetBytes=0))
    assert (code, status) == ("NotImplemented", 501)
    assert_absent(s3, bucket, "log")


def test_completion_with_an_object_size_check_is_refused_and_upload_kept(s3, bucket) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="sized")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="sized", UploadId=upload_id, PartNumber=1, Body=b"p")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    for size, expected in ((1, ("NotImplemented", 501)), (-1, ("InvalidArgument", 400))):
        code, status, _ = failure(
            lambda size=size: s3.complete_multipart_upload(
                Bucket=bucket, Key="sized", UploadId=upload_id, MultipartUpload=parts, MpuObjectSize=size
            )
        )
        assert (code, status) == expected
    assert_absent(s3, bucket, "sized")
    s3.complete_multipart_upload(Bucket=bucket, Key="sized", UploadId=upload_id, MultipartUpload=parts)
    assert s3.get_object(Bucket=bucket, Key="sized")["Body"].read() == b"p"


# --- DeleteObjects ---------------------------------------------------------------------------------


def _signed_post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    headers = {
        "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    request = AWSRequest(method="POST", url=url + path, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("quiet", ["notbool", "1", "yes"])
def test_delete_objects_with_a_quiet_that_is_not_a_boolean_is_malformed(
    server, s3, bucket, quiet: str
) -> None:
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    body = f"<Delete><Quiet>{quiet}</Quiet><Object><Key>keep</Key></Object></Delete>".encode()
    status, answer = _signed_post(server.url, f"/{bucket}?delete", body)
    assert status == 400
    assert ET.fromstring(answer).findtext("Code") == "MalformedXML"
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"x"


def test_delete_objects_quiet_true_and_false_still_work(s3, bucket) -> None:
    for quiet, listed in ((True, []), (False, ["b"])):
        s3.put_object(Bucket=bucket, Key="b", Body=b"x")
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": quiet})
        assert [item["Key"] for item in result.get("Deleted", [])] == listed


# --- PostObject ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("acl", "aws-exec-read", ("NotImplemented", 501)),
        ("acl", "everyone", ("InvalidArgument", 400)),
        ("x-amz-storage-class", "GLACIERX", ("InvalidStorageClass", 400)),
        ("x-amz-storage-class", "GLACIER", ("NotImplemented", 501)),
        ("x-amz-server-side-encryption", "AES256", ("NotImplemented", 501)),
        ("x-amz-object-lock-legal-hold", "ON", ("InvalidRequest", 400)),
        ("tagging", "<Tagging><TagSet></TagSet></Tagging>", ("NotImplemented", 501)),
    ],
)
def test_form_upload_asking_for_an_unsupported_feature_stores_nothing(
    server, s3, bucket, tmp_path: Path, field: str, value: str, expected: tuple[str, int]
) -> None:
    upload = tmp_path / "file.bin"
    upload.write_bytes(os.urandom(100))
    v4 = s3_client(server.url, signature_version="s3v4")
    post = v4.generate_presigned_post(
        bucket, "form-object", Fields={field: value}, Conditions=[{field: value}]
    )
    result = curl_form(post["url"], post["fields"], upload, tmp_path)
    assert (result.error_code(), result.status) == expected, result.body
    assert_absent(s3, bucket, "form-object")


def test_form_upload_with_private_acl_is_stored(server, s3, bucket, tmp_path: Path) -> None:
    upload = tmp_path / "file.bin"
    upload.write_bytes(b"form body")
    v4 = s3_client(server.url, signature_version="s3v4")
    post = v4.generate_presigned_post(
        bucket, "form-object", Fields={"acl": "private"}, Conditions=[{"acl": "private"}]
    )
    assert curl_form(post["url"], post["fields"], upload, tmp_path).status == 204
    assert s3.get_object(Bucket=bucket, Key="form-object")["Body"].read() == b"form body"
