"""Request payment, acceleration, logging and x-amz-bucket-region with boto3 against the embedded server."""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import ACCESS_KEY, SECRET_KEY
from tests.integration.test_bucket_policy import error_of

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@pytest.fixture
def log_bucket(s3) -> Iterator[str]:
    name = f"logs-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket(Bucket=name)


def signed_put(url: str, bucket: str, sub_resource: str, body: bytes) -> tuple[int, str]:
    """A signed PUT of a hand-written body (boto3 would refuse to serialise it): (status, error code)."""
    target = f"/{bucket}?{sub_resource}"
    request = AWSRequest(method="PUT", url=url + target, data=body)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("PUT", target, body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        found = re.search(rb"<Code>([^<]+)</Code>", response.read())
        return response.status, found.group(1).decode() if found else ""
    finally:
        connection.close()


# ---- request payment ----


def test_request_payment_is_the_bucket_owner(s3, bucket: str) -> None:
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "BucketOwner"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"


def test_requester_pays_is_refused_as_not_implemented(s3, bucket: str) -> None:
    status, code, _ = error_of(
        s3.put_bucket_request_payment, Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"}
    )
    assert (status, code) == (501, "NotImplemented")
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"


def test_an_unknown_payer_is_malformed_xml(server: EmbeddedThread, bucket: str) -> None:
    body = f'<RequestPaymentConfiguration xmlns="{S3_NS}"><Payer>Nobody</Payer></RequestPaymentConfiguration>'
    assert signed_put(server.url, bucket, "requestPayment", body.encode()) == (400, "MalformedXML")


def test_request_payment_is_for_the_owner_only(other, bucket: str) -> None:
    assert error_of(other.get_bucket_request_payment, Bucket=bucket)[:2] == (403, "AccessDenied")


# ---- acceleration ----


def test_accelerate_configuration_is_empty(s3, bucket: str) -> None:
    answer = s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert "Status" not in answer
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_enabling_acceleration_is_not_implemented(s3, bucket: str) -> None:
    status, code, _ = error_of(
        s3.put_bucket_accelerate_configuration,
        Bucket=bucket,
        AccelerateConfiguration={"Status": "Enabled"},
    )
    assert (status, code) == (501, "NotImplemented")
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)


# ---- logging ----


def test_logging_is_off_until_configured(s3, bucket: str) -> None:
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_logging_configuration_round_trips_with_grants(s3, bucket: str, log_bucket: str) -> None:
    owner = s3.list_buckets()["Owner"]
    other_email = "lisa@strata.local"
    s3.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={
            "LoggingEnabled": {
                "TargetBucket": log_bucket,
                "TargetPrefix": "access/",
                "TargetGrants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                    {
                        "Grantee": {
                            "Type": "Group",
                            "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
                        },
                        "Permission": "READ",
                    },
                    {
                        "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": other_email},
                        "Permission": "WRITE",
                    },
                ],
                "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}},
            }
        },
    )
    enabled = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
    assert (enabled["TargetBucket"], enabled["TargetPrefix"]) == (log_bucket, "access/")
    grants = enabled["TargetGrants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL", "READ", "WRITE"]
    assert grants[0]["Grantee"]["ID"] == owner["ID"]
    assert grants[1]["Grantee"]["URI"].endswith("/AuthenticatedUsers")
    # The e-mail grantee is stored as its account, as ACL grants are.
    assert grants[2]["Grantee"]["Type"] == "CanonicalUser"
    assert grants[2]["Grantee"]["ID"] != owner["ID"]
    assert enabled["TargetObjectKeyFormat"] == {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}

    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_logging_target_must_exist(s3, bucket: str) -> None:
    status = {"LoggingEnabled": {"TargetBucket": f"missing-{uuid.uuid4().hex[:12]}", "TargetPrefix": "x/"}}
    assert error_of(s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus=status)[:2] == (
        400,
        "InvalidTargetBucketForLogging",
    )
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_logging_target_must_belong_to_the_same_account(s3, other, bucket: str) -> None:
    foreign = f"foreign-{uuid.uuid4().hex[:12]}"
    other.create_bucket(Bucket=foreign)
    try:
        status = {"LoggingEnabled": {"TargetBucket": foreign, "TargetPrefix": "x/"}}
        assert error_of(s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus=status)[:2] == (
            400,
            "InvalidTargetBucketForLogging",
        )
    finally:
        other.delete_bucket(Bucket=foreign)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


@pytest.mark.parametrize(
    "enabled",
    [
        "<TargetPrefix>x/</TargetPrefix>",  # no target bucket
        "<TargetBucket>{target}</TargetBucket>",  # no prefix
        "<TargetBucket>{target}</TargetBucket><TargetPrefix>x</TargetPrefix><Surprise/>",
        "<TargetBucket>{target}</TargetBucket><TargetPrefix>x</TargetPrefix><TargetGrants><Grant><Grantee "
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>'
        "http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ_ACP</Permission>"
        "</Grant></TargetGrants>",  # not a log permission
    ],
)
def test_malformed_logging_status_is_malformed_xml(
    server: EmbeddedThread, s3, bucket: str, log_bucket: str, enabled: str
) -> None:
    body = f'<BucketLoggingStatus xmlns="{S3_NS}"><LoggingEnabled>{enabled.format(target=log_bucket)}'
    body += "</LoggingEnabled></BucketLoggingStatus>"
    assert signed_put(server.url, bucket, "logging", body.encode()) == (400, "MalformedXML")
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_logging_is_for_the_owner_only(other, bucket: str) -> None:
    assert error_of(other.get_bucket_logging, Bucket=bucket)[:2] == (403, "AccessDenied")


# ---- HeadBucket ----


def test_head_bucket_names_the_bucket_region(s3, bucket: str) -> None:
    headers = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-bucket-region"] == "us-east-1"
