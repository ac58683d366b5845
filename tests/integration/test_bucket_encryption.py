"""Bucket default encryption: Put/Get/DeleteBucketEncryption and CloudServer's encrypted buckets."""

from __future__ import annotations

import os
import uuid

import pytest
from botocore.exceptions import ClientError

from gateway.crypto.envelope import sealed_size
from protos.metadata_pb2 import GetObjectRequest, ObjectMD

MIB = 1024 * 1024
AES256_RULE = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _stored_md(server, bucket: str, key: str) -> ObjectMD:
    return server.call(server.server.core.get_object(GetObjectRequest(bucket=bucket, key=key)))


def _error(call, *args, **kwargs) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_bucket_without_default_encryption_has_no_configuration(s3, bucket) -> None:
    assert _error(s3.get_bucket_encryption, Bucket=bucket) == (
        "ServerSideEncryptionConfigurationNotFoundError",
        404,
    )


def test_the_default_is_stored_returned_and_deleted(s3, bucket) -> None:
    config = {
        "Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
        ]
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config)
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got == config
    s3.delete_bucket_encryption(Bucket=bucket)
    assert _error(s3.get_bucket_encryption, Bucket=bucket)[1] == 404


def test_every_new_object_of_an_encrypting_bucket_is_sealed(server, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="before", Body=b"written before the default")
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE)
    body = os.urandom(2 * MIB + 1)
    put = s3.put_object(Bucket=bucket, Key="put", Body=body)
    assert put["ServerSideEncryption"] == "AES256"
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "before"})
    assert copied["ServerSideEncryption"] == "AES256"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")
    assert upload["ServerSideEncryption"] == "AES256"
    part = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload["UploadId"], PartNumber=1, Body=body)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multi", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    for key, data in (("put", body), ("copy", b"written before the default"), ("multi", body)):
        got = s3.get_object(Bucket=bucket, Key=key)
        assert (got["ServerSideEncryption"], got["Body"].read()) == ("AES256", data)
        md = _stored_md(server, bucket, key)
        assert md.sse_algorithm == "AES256"
        assert sum(blob.size for blob in md.blobs) + len(md.inline_data) == sealed_size(len(data))
    # What was written before stays as it was; deleting the default changes nothing written.
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="before")
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.head_object(Bucket=bucket, Key="put")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="after", Body=b"x")


def test_the_reference_header_on_create_bucket_makes_an_encrypted_bucket(server, s3) -> None:
    name = f"scal-{uuid.uuid4().hex[:12]}"

    def encrypted(params, **kwargs) -> None:  # type: ignore[no-untyped-def]
        params["headers"]["x-amz-scal-server-side-encryption"] = "AES256"

    s3.meta.events.register("before-call.s3.CreateBucket", encrypted)
    try:
        s3.create_bucket(Bucket=name)
    finally:
        s3.meta.events.unregister("before-call.s3.CreateBucket", encrypted)
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.put_object(Bucket=name, Key="k", Body=b"secret")["ServerSideEncryption"] == "AES256"
    assert _stored_md(server, name, "k").sse_algorithm == "AES256"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize(
    ("value", "expected"), [("aws:kms", ("NotImplemented", 501)), ("AES128", ("InvalidArgument", 400))]
)
def test_the_reference_header_with_another_value_creates_no_bucket(s3, value: str, expected) -> None:
    name = f"scal-{uuid.uuid4().hex[:12]}"

    def header(params, **kwargs) -> None:  # type: ignore[no-untyped-def]
        params["headers"]["x-amz-scal-server-side-encryption"] = value

    s3.meta.events.register("before-call.s3.CreateBucket", header)
    try:
        assert _error(s3.create_bucket, Bucket=name) == expected
    finally:
        s3.meta.events.unregister("before-call.s3.CreateBucket", header)
    assert _error(s3.head_bucket, Bucket=name)[1] == 404


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}, ("NotImplemented", 501)),
        (
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "my-key"}},
            ("NotImplemented", 501),
        ),
        (
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "my-key"}},
            ("InvalidArgument", 400),
        ),
        ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "DES"}}, ("MalformedXML", 400)),
        ({"BucketKeyEnabled": True}, ("MalformedXML", 400)),
    ],
)
def test_a_refused_configuration_changes_nothing(s3, bucket, rule, expected) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE)
    config = {"Rules": [rule]}
    assert (
        _error(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=config) == expected
    )
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == AES256_RULE


def test_only_the_owner_configures_encryption(s3, other, bucket) -> None:
    code, status = _error(
        other.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE
    )
    assert (code, status) == ("AccessDenied", 403)
    assert _error(other.get_bucket_encryption, Bucket=bucket)[1] == 403
    assert _error(s3.get_bucket_encryption, Bucket=bucket)[1] == 404


def test_a_form_upload_to_an_encrypting_bucket_is_refused_not_stored_in_the_clear(server, s3, bucket) -> None:
    import urllib3

    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE)
    post = s3.generate_presigned_post(bucket, "form-object")
    fields = {**post["fields"], "file": ("file.bin", b"form data")}
    body, content_type = urllib3.encode_multipart_formdata(fields)
    answer = urllib3.request("POST", post["url"], body=body, headers={"Content-Type": content_type})
    assert answer.status == 501 and b"<Code>NotImplemented</Code>" in answer.data
    assert _error(s3.head_object, Bucket=bucket, Key="form-object")[1] == 404
