"""The condition keys of one request, and their use in conditions."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.policy import PolicyEffect, PolicyRequest, evaluate, request_conditions
from tests.unit.gateway.policy.conftest import BART, BUCKET, document, statement

NOW = datetime(2026, 12, 1, 21, 30, 5, tzinfo=UTC)


def facts(**overrides: object) -> dict[str, list[str]]:
    arguments: dict[str, object] = {
        "source_ip": "127.0.0.5",
        "secure_transport": False,
        "user_agent": "Boto3/1.40",
        "referer": None,
        "principal": BART,
        "auth_type": "REST-HEADER",
        "signature_version": "v4",
        "query": {},
        "headers": {},
        "existing_object_tags": None,
        "version_id": None,
        "now": NOW,
    }
    arguments.update(overrides)
    return request_conditions(**arguments)  # type: ignore[arg-type]


def test_global_keys_of_an_authenticated_request() -> None:
    keys = facts()
    assert keys["aws:sourceip"] == ["127.0.0.5"]
    assert keys["aws:securetransport"] == ["false"]
    assert keys["aws:currenttime"] == ["2026-12-01T21:30:05Z"]
    assert keys["aws:epochtime"] == [str(int(NOW.timestamp()))]
    assert keys["aws:principalaccount"] == ["123456789012"]
    assert keys["aws:principalarn"] == ["arn:aws:iam::123456789012:root"]
    assert keys["aws:principaltype"] == ["Account"]
    assert keys["aws:useragent"] == ["Boto3/1.40"]
    assert keys["s3:authtype"] == ["REST-HEADER"]
    assert keys["s3:signatureversion"] == ["AWS4-HMAC-SHA256"]
    assert "aws:referer" not in keys
    assert "s3:prefix" not in keys and "s3:versionid" not in keys


def test_anonymous_requests_have_no_principal_account() -> None:
    keys = facts(principal=None, signature_version=None, auth_type=None, secure_transport=True)
    assert "aws:principalaccount" not in keys
    assert keys["aws:principaltype"] == ["Anonymous"]
    assert keys["aws:securetransport"] == ["true"]
    assert "s3:signatureversion" not in keys


def test_s3_keys_from_query_headers_tags_and_version() -> None:
    keys = facts(
        signature_version="v2",
        query={"prefix": "home/", "delimiter": "/", "max-keys": "10", "marker": "x"},
        headers={
            "X-Amz-Acl": "public-read",
            "x-amz-server-side-encryption": "AES256",
            "x-amz-copy-source": "/src/key",
            "x-amz-metadata-directive": "REPLACE",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "x-amz-tagging": "Env=prod&team=blue",
            "Referer": "ignored: the referer argument is the one used",
        },
        existing_object_tags={"Owner": "ops"},
        version_id="v1",
        referer="https://app.example.test/",
    )
    assert keys["s3:signatureversion"] == ["AWS"]
    assert keys["s3:prefix"] == ["home/"] and keys["s3:delimiter"] == ["/"] and keys["s3:max-keys"] == ["10"]
    assert keys["s3:x-amz-acl"] == ["public-read"]
    assert keys["s3:x-amz-server-side-encryption"] == ["AES256"]
    assert keys["s3:x-amz-copy-source"] == ["/src/key"]
    assert keys["s3:x-amz-metadata-directive"] == ["REPLACE"]
    assert keys["s3:x-amz-content-sha256"] == ["UNSIGNED-PAYLOAD"]
    assert keys["s3:requestobjecttagkeys"] == ["Env", "team"]
    assert keys["s3:requestobjecttag/env"] == ["prod"]
    assert keys["s3:existingobjecttag/owner"] == ["ops"]
    assert keys["s3:versionid"] == ["v1"]
    assert keys["aws:referer"] == ["https://app.example.test/"]


def test_policy_condition_keys_match_request_keys_whatever_their_case() -> None:
    policy = document(
        statement(
            Action="s3:ListBucket",
            Resource=f"arn:aws:s3:::{BUCKET}",
            Condition={
                "StringLike": {"s3:Prefix": "home/*"},
                "IpAddress": {"AWS:SourceIP": "127.0.0.0/24"},
                "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
                "NumericLessThanEquals": {"s3:max-keys": "100", "aws:EpochTime": "1900000000"},
                "StringEquals": {"aws:PrincipalType": "Account"},
            },
        )
    )
    resource = f"arn:aws:s3:::{BUCKET}"
    good = facts(query={"prefix": "home/bart/", "max-keys": "50"})
    assert evaluate(policy, PolicyRequest("s3:ListBucket", resource, BART, good)) is PolicyEffect.ALLOW
    for changed in (
        facts(query={"prefix": "etc/", "max-keys": "50"}),
        facts(query={"prefix": "home/", "max-keys": "500"}),
        facts(query={"prefix": "home/"}),
        facts(query={"prefix": "home/", "max-keys": "5"}, source_ip="10.0.0.1"),
        facts(query={"prefix": "home/", "max-keys": "5"}, now=datetime(2027, 2, 1, tzinfo=UTC)),
        facts(query={"prefix": "home/", "max-keys": "5"}, principal=None),
    ):
        assert evaluate(policy, PolicyRequest("s3:ListBucket", resource, BART, changed)) is PolicyEffect.NONE


def test_object_tag_conditions() -> None:
    policy = document(
        statement(
            Action="s3:PutObject",
            Condition={
                "StringEquals": {"s3:RequestObjectTag/Env": "prod"},
                "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["Env", "Team"]},
            },
        ),
        statement(
            Sid="deny-secret",
            Effect="Deny",
            Condition={"StringEquals": {"s3:ExistingObjectTag/class": "secret"}},
        ),
    )
    resource = f"arn:aws:s3:::{BUCKET}/k"
    put = PolicyRequest("s3:PutObject", resource, BART, facts(headers={"x-amz-tagging": "Env=prod&Team=a"}))
    assert evaluate(policy, put) is PolicyEffect.ALLOW
    extra = PolicyRequest("s3:PutObject", resource, BART, facts(headers={"x-amz-tagging": "Env=prod&Cost=1"}))
    assert evaluate(policy, extra) is PolicyEffect.NONE
    get = PolicyRequest("s3:GetObject", resource, BART, facts(existing_object_tags={"class": "secret"}))
    assert evaluate(policy, get) is PolicyEffect.DENY
