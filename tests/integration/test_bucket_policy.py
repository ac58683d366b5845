"""Put/Get/Delete BucketPolicy and GetBucketPolicyStatus with boto3 against the embedded server."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, s3_client

LISA_ACCOUNT = "123456789013"


def public_read(bucket: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Id": "public-read",
        "Statement": [
            {
                "Sid": "read",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def error_of(call, **arguments) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**arguments)
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_policy_round_trip_is_returned_compact(s3, bucket: str) -> None:
    document = public_read(bucket)
    indented = json.dumps(document, indent=4)
    s3.put_bucket_policy(Bucket=bucket, Policy=indented)
    stored = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    assert stored == json.dumps(document, separators=(",", ":"))
    assert json.loads(stored) == document


def test_without_a_policy_get_and_status_answer_no_such_bucket_policy(s3, bucket: str) -> None:
    assert error_of(s3.get_bucket_policy, Bucket=bucket)[:2] == (404, "NoSuchBucketPolicy")
    assert error_of(s3.get_bucket_policy_status, Bucket=bucket)[:2] == (404, "NoSuchBucketPolicy")


def test_delete_removes_the_policy_and_is_idempotent(s3, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read(bucket)))
    first = s3.delete_bucket_policy(Bucket=bucket)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_policy, Bucket=bucket)[:2] == (404, "NoSuchBucketPolicy")
    again = s3.delete_bucket_policy(Bucket=bucket)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_a_new_policy_replaces_the_old_one(s3, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read(bucket)))
    private = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{LISA_ACCOUNT}:root"},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(private), ConfirmRemoveSelfBucketAccess=True)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == private


def test_policy_status_tells_public_from_restricted_policies(s3, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read(bucket)))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    restricted = public_read(bucket)
    restricted["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "127.0.0.0/24"}}  # type: ignore[index]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(restricted))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    one_account = public_read(bucket)
    one_account["Statement"][0]["Principal"] = {"AWS": LISA_ACCOUNT}  # type: ignore[index]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(one_account))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


def _statement(bucket: str, **fields: object) -> str:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    statement.update(fields)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Action": "invalid_action"}, "Policy has invalid action"),
        ({"Resource": "arn:aws:s3:::some-other-bucket/*"}, "Policy has invalid resource"),
        ({"Principal": {"AWS": "999999999999"}}, "Invalid principal in policy"),
        ({"Effect": "hello"}, "Invalid effect: hello"),
        ({"Condition": {"StringEquals": {"s3:not-a-key": "x"}}}, "Policy has an invalid condition key"),
        ({"Condition": {"StringEqualz": {"aws:SourceIp": "x"}}}, "Invalid Condition type : StringEqualz"),
        (
            {"Action": "s3:PutObject", "Resource": "BUCKET_ARN"},
            "Action does not apply to any resource(s) in statement",
        ),
    ],
)
def test_malformed_policies_are_refused_with_their_message(
    s3, bucket: str, fields: dict[str, object], message: str
) -> None:
    if fields.get("Resource") == "BUCKET_ARN":
        fields = {**fields, "Resource": f"arn:aws:s3:::{bucket}"}
    status, code, text = error_of(s3.put_bucket_policy, Bucket=bucket, Policy=_statement(bucket, **fields))
    assert (status, code, text) == (400, "MalformedPolicy", message)
    assert error_of(s3.get_bucket_policy, Bucket=bucket)[:2] == (404, "NoSuchBucketPolicy")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
    ],
)
def test_documents_that_are_no_policy_are_refused(s3, bucket: str, policy: str, message: str) -> None:
    assert error_of(s3.put_bucket_policy, Bucket=bucket, Policy=policy) == (400, "MalformedPolicy", message)


def test_a_policy_over_20_kib_is_refused(s3, bucket: str) -> None:
    statements = [
        {
            "Sid": f"statement{index:04d}",
            "Effect": "Allow",
            "Principal": {"AWS": LISA_ACCOUNT},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/prefix-{index:04d}/*",
        }
        for index in range(200)
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    assert error_of(s3.put_bucket_policy, Bucket=bucket, Policy=policy)[:2] == (400, "PolicyTooLarge")


def test_only_the_bucket_owner_manages_its_policy(server: EmbeddedThread, s3, bucket: str) -> None:
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    policy = json.dumps(public_read(bucket))
    assert error_of(other.put_bucket_policy, Bucket=bucket, Policy=policy)[:2] == (403, "AccessDenied")
    assert error_of(s3.get_bucket_policy, Bucket=bucket)[:2] == (404, "NoSuchBucketPolicy")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert error_of(other.get_bucket_policy, Bucket=bucket)[:2] == (403, "AccessDenied")
    assert error_of(other.get_bucket_policy_status, Bucket=bucket)[:2] == (403, "AccessDenied")
    assert error_of(other.delete_bucket_policy, Bucket=bucket)[:2] == (403, "AccessDenied")
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == public_read(bucket)


def test_policy_of_a_missing_bucket_is_no_such_bucket(s3) -> None:
    assert error_of(s3.get_bucket_policy, Bucket="no-such-bucket-for-policy")[:2] == (404, "NoSuchBucket")
