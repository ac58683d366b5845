"""ServerSideEncryptionConfiguration documents (gateway.api.bucket_encryption)."""

from __future__ import annotations

import pytest

from gateway.api.bucket_encryption import (
    DefaultEncryption,
    created_bucket_encryption,
    parse_encryption_configuration,
)
from gateway.s3 import errors

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def document(rules: str) -> bytes:
    return f"<ServerSideEncryptionConfiguration {NS}>{rules}</ServerSideEncryptionConfiguration>".encode()


def rule(algorithm: str = "AES256", extra: str = "", outside: str = "") -> str:
    return (
        "<Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>{algorithm}</SSEAlgorithm>{extra}"
        f"</ApplyServerSideEncryptionByDefault>{outside}</Rule>"
    )


def test_an_aes256_default_round_trips_through_its_stored_form() -> None:
    parsed = parse_encryption_configuration(
        document(rule(outside="<BucketKeyEnabled>false</BucketKeyEnabled>"))
    )
    assert parsed == DefaultEncryption("AES256", False)
    assert DefaultEncryption.from_bytes(parsed.to_bytes()) == parsed
    assert DefaultEncryption.from_bytes(b"") is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (document(""), "MalformedXML"),
        (document(rule() + rule()), "MalformedXML"),
        (document(rule(outside="<BucketKeyEnabled>yes</BucketKeyEnabled>")), "MalformedXML"),
        (document(rule(extra="<SSEAlgorithm>AES256</SSEAlgorithm>")), "MalformedXML"),
        (document(rule(extra="<Other/>")), "MalformedXML"),
        (document(rule("aes256")), "MalformedXML"),
        (b"<Other/>", "MalformedXML"),
        (document(rule(extra="<KMSMasterKeyID>k</KMSMasterKeyID>")), "InvalidArgument"),
        (document(rule("aws:kms")), "NotImplemented"),
    ],
)
def test_refused_documents(body: bytes, code: str) -> None:
    with pytest.raises(errors.S3Error) as raised:
        parse_encryption_configuration(body)
    assert raised.value.code == code


def test_the_reference_create_bucket_header() -> None:
    assert created_bucket_encryption({}) == b""
    assert DefaultEncryption.from_bytes(
        created_bucket_encryption({"x-amz-scal-server-side-encryption": "AES256"})
    ) == DefaultEncryption("AES256")
    for headers, code in (
        ({"x-amz-scal-server-side-encryption": "aws:kms"}, "NotImplemented"),
        ({"x-amz-scal-server-side-encryption": "RSA"}, "InvalidArgument"),
        ({"x-amz-scal-server-side-encryption-aws-kms-key-id": "k"}, "InvalidArgument"),
    ):
        with pytest.raises(errors.S3Error) as raised:
            created_bucket_encryption(headers)
        assert raised.value.code == code
