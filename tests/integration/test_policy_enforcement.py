"""Bucket policies enforced end to end: real policy documents stored through PutBucketPolicy decide
requests of the owner, another account and anonymous clients, with conditions, and together with
ACLs and the public access block."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

LISA = "arn:aws:iam::123456789013:root"
BART = "arn:aws:iam::123456789012:root"


@pytest.fixture
def owned(s3) -> Iterator[str]:
    name = f"pol-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="public/page.html", Body=b"<p>hello</p>")
    s3.put_object(Bucket=name, Key="private/secret.txt", Body=b"secret")
    yield name
    s3.delete_bucket_policy(Bucket=name)
    s3.delete_public_access_block(Bucket=name)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=name)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def denied(call, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
    try:
        call(*args, **kwargs)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied", error.response
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        return True
    return False


def test_a_public_read_statement_opens_its_prefix_to_anonymous_clients_only(s3, anonymous, owned) -> None:
    assert denied(anonymous.get_object, Bucket=owned, Key="public/page.html")
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{owned}/public/*",
            }
        ),
    )
    assert anonymous.get_object(Bucket=owned, Key="public/page.html")["Body"].read() == b"<p>hello</p>"
    assert denied(anonymous.get_object, Bucket=owned, Key="private/secret.txt")
    assert denied(anonymous.list_objects_v2, Bucket=owned)  # s3:ListBucket was not granted
    assert denied(anonymous.put_object, Bucket=owned, Key="public/new", Body=b"x")
    assert s3.get_bucket_policy_status(Bucket=owned)["PolicyStatus"]["IsPublic"] is True


def test_another_account_is_granted_listing_under_a_prefix_condition(s3, other, owned) -> None:
    assert denied(other.list_objects_v2, Bucket=owned)
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Sid": "ListPublicOnly",
                "Effect": "Allow",
                "Principal": {"AWS": LISA},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{owned}",
                "Condition": {"StringLike": {"s3:prefix": "public/*"}},
            }
        ),
    )
    listed = other.list_objects_v2(Bucket=owned, Prefix="public/")
    assert [item["Key"] for item in listed["Contents"]] == ["public/page.html"]
    assert denied(other.list_objects_v2, Bucket=owned, Prefix="private/")
    assert denied(other.list_objects_v2, Bucket=owned)
    assert denied(other.get_object, Bucket=owned, Key="public/page.html")  # listing is not reading


def test_an_explicit_deny_beats_an_acl_grant_and_binds_the_owner_too(s3, other, owned) -> None:
    s3.put_object_acl(Bucket=owned, Key="public/page.html", ACL="public-read")
    assert other.get_object(Bucket=owned, Key="public/page.html")["Body"].read() == b"<p>hello</p>"
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Effect": "Deny",
                "Principal": {"AWS": [LISA, BART]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{owned}/*",
            },
        ),  # fmt: skip
    )
    assert denied(other.get_object, Bucket=owned, Key="public/page.html")
    assert denied(s3.get_object, Bucket=owned, Key="public/page.html")
    # The owner still manages the policy itself, so it can never lock itself out.
    s3.delete_bucket_policy(Bucket=owned)
    assert s3.get_object(Bucket=owned, Key="public/page.html")["Body"].read() == b"<p>hello</p>"


def test_not_principal_and_not_action_deny_everyone_else_everything_else(s3, other, owned) -> None:
    s3.put_bucket_acl(Bucket=owned, ACL="public-read")  # every account may list ... unless denied
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Effect": "Deny",
                "NotPrincipal": {"AWS": BART},
                "NotAction": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{owned}", f"arn:aws:s3:::{owned}/*"],
            },
        ),  # fmt: skip
    )
    assert denied(other.list_objects_v2, Bucket=owned)  # Lisa is not Bart, and listing is not GetObject
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=owned)["Contents"]] == [
        "private/secret.txt",
        "public/page.html",
    ]
    s3.put_bucket_acl(Bucket=owned, ACL="private")


def test_source_ip_and_secure_transport_conditions(s3, other, owned) -> None:
    def allow_lisa(condition: dict[str, Any]) -> None:
        s3.put_bucket_policy(
            Bucket=owned,
            Policy=policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": LISA},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{owned}/*",
                    "Condition": condition,
                },
            ),  # fmt: skip
        )

    allow_lisa({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})
    assert other.get_object(Bucket=owned, Key="private/secret.txt")["Body"].read() == b"secret"
    allow_lisa({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.7/32"]}})
    assert denied(other.get_object, Bucket=owned, Key="private/secret.txt")
    allow_lisa({"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}})
    assert denied(other.get_object, Bucket=owned, Key="private/secret.txt")
    # This server is plain HTTP: a statement requiring TLS does not match, one refusing it does.
    allow_lisa({"Bool": {"aws:SecureTransport": "true"}})
    assert denied(other.get_object, Bucket=owned, Key="private/secret.txt")
    allow_lisa({"Bool": {"aws:SecureTransport": "false"}})
    assert other.get_object(Bucket=owned, Key="private/secret.txt")["Body"].read() == b"secret"


def get_from(address: str, url: str) -> int:
    """The status of a GET of ``url`` sent from the local ``address`` (any of 127.0.0.0/8 reaches
    a server on 127.0.0.1), so aws:SourceIp sees a client other than 127.0.0.1."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=30, source_address=(address, 0)
    )
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_source_ip_conditions_tell_client_addresses_apart(s3, other, owned) -> None:
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": LISA},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{owned}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.7/32", "127.0.1.0/24"]}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{owned}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "127.0.1.128/25"}},
            },
        ),
    )
    url = other.generate_presigned_url("get_object", Params={"Bucket": owned, "Key": "private/secret.txt"})
    statuses = {
        address: get_from(address, url)
        for address in ("127.0.0.7", "127.0.0.8", "127.0.1.9", "127.0.1.200", "127.0.0.1")
    }
    assert statuses == {
        "127.0.0.7": 200,
        "127.0.0.8": 403,
        "127.0.1.9": 200,
        "127.0.1.200": 403,
        "127.0.0.1": 403,
    }


def test_an_existing_object_tag_condition_is_decided_with_the_object_read(s3, other, owned) -> None:
    # Decided twice per request (before and after the object is read): the second answer must see
    # the tags, however many requests for other objects came before.
    s3.put_object(Bucket=owned, Key="shared/open.txt", Body=b"open")
    s3.put_object(Bucket=owned, Key="shared/closed.txt", Body=b"closed", Tagging="secret=yes")
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": LISA},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{owned}/shared/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{owned}/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/secret": "yes"}},
            },
        ),
    )
    for _ in range(3):
        assert other.get_object(Bucket=owned, Key="shared/open.txt")["Body"].read() == b"open"
        assert denied(other.get_object, Bucket=owned, Key="shared/closed.txt")
        assert denied(s3.get_object, Bucket=owned, Key="shared/closed.txt")
    s3.put_object_tagging(Bucket=owned, Key="shared/closed.txt", Tagging={"TagSet": []})
    assert other.get_object(Bucket=owned, Key="shared/closed.txt")["Body"].read() == b"closed"


def test_the_public_access_block_refuses_and_confines_public_policies(s3, anonymous, owned) -> None:
    public = policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{owned}/*"}
    )
    s3.put_public_access_block(
        Bucket=owned,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": False,
        },
    )  # fmt: skip
    assert denied(s3.put_bucket_policy, Bucket=owned, Policy=public)
    with pytest.raises(ClientError) as none:
        s3.get_bucket_policy(Bucket=owned)
    assert none.value.response["Error"]["Code"] == "NoSuchBucketPolicy"

    s3.put_public_access_block(
        Bucket=owned,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": True,
        },
    )  # fmt: skip
    s3.put_bucket_policy(Bucket=owned, Policy=public)
    assert denied(anonymous.get_object, Bucket=owned, Key="public/page.html")
    s3.delete_public_access_block(Bucket=owned)
    assert anonymous.get_object(Bucket=owned, Key="public/page.html")["Body"].read() == b"<p>hello</p>"


def test_delete_objects_asks_the_policy_about_each_key(s3, owned) -> None:
    s3.put_bucket_policy(
        Bucket=owned,
        Policy=policy(
            {
                "Effect": "Deny",
                "Principal": {"AWS": BART},
                "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{owned}/private/*",
            },
        ),  # fmt: skip
    )
    answer = s3.delete_objects(
        Bucket=owned, Delete={"Objects": [{"Key": "public/page.html"}, {"Key": "private/secret.txt"}]}
    )
    assert [item["Key"] for item in answer.get("Deleted", [])] == ["public/page.html"]
    assert [(item["Key"], item["Code"]) for item in answer["Errors"]] == [
        ("private/secret.txt", "AccessDenied")
    ]
    assert s3.get_object(Bucket=owned, Key="private/secret.txt")["Body"].read() == b"secret"
