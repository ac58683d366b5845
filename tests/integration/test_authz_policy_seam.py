"""The decision point's side of the bucket policy contract, against a real server: what it asks the
policy's effect function (action, resource, principal, condition facts) and what it does with the
answer. The policy language itself is gateway.policy's (tests/integration/test_policy_enforcement.py
runs real documents); here a stand-in effect answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

import gateway.authz.enforce as enforce
from gateway.authz.policy_link import PolicyEffect, PolicyRequest
from protos.metadata_pb2 import BucketName
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, s3_client

BART_ID = "5ce086747eb8ab8577d9908e3cd9334499b1f37c2526e1b436936ea8b5b8ba14"


class StandInPolicy:
    """Answers from a table of (action, principal name or None) -> effect, and records each request."""

    def __init__(self, effects: dict[tuple[str, str | None], PolicyEffect]) -> None:
        self.effects = effects
        self.requests: list[PolicyRequest] = []

    def __call__(self, policy_document: bytes, request: PolicyRequest) -> PolicyEffect:
        self.requests.append(request)
        name = request.principal.name if request.principal is not None else None
        return self.effects.get((request.action, name), PolicyEffect.NONE)


@pytest.fixture
def with_policy(server: EmbeddedThread, s3, bucket: str) -> Iterator[str]:
    def set_policy(document: bytes) -> None:
        async def update() -> None:
            info = await server.server.core.get_bucket(BucketName(name=bucket))
            info.policy = document
            await server.server.core.update_bucket(info)

        server.call(update())

    # A real (public) document, so the decision point's is_public reads one; what it says of each
    # request is the stand-in effect's answer, patched in by each test.
    set_policy(
        b'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        b'"Action":"s3:GetObject","Resource":"arn:aws:s3:::' + bucket.encode() + b'/*"}]}'
    )
    yield bucket
    set_policy(b"")


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def test_a_policy_allow_opens_and_a_deny_closes(
    server: EmbeddedThread, s3, anonymous, with_policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = with_policy
    s3.put_object(Bucket=bucket, Key="doc", Body=b"hello")
    policy = StandInPolicy(
        {
            ("s3:GetObject", None): PolicyEffect.ALLOW,
            ("s3:ListBucket", "Lisa"): PolicyEffect.ALLOW,
            ("s3:DeleteObject", "Bart"): PolicyEffect.DENY,
            ("s3:PutBucketPolicy", "Bart"): PolicyEffect.DENY,
        }
    )
    monkeypatch.setattr(enforce, "POLICY_EFFECT", policy)
    assert anonymous.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"hello"
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    assert [item["Key"] for item in other.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc"]
    assert error_code(other.get_object, Bucket=bucket, Key="doc") == "AccessDenied"
    # An explicit Deny binds the bucket's owner too.
    assert error_code(s3.delete_object, Bucket=bucket, Key="doc") == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"hello"

    anonymous_get = next(r for r in policy.requests if r.principal is None)
    assert (anonymous_get.action, anonymous_get.resource) == ("s3:GetObject", f"arn:aws:s3:::{bucket}/doc")
    listing = next(r for r in policy.requests if r.action == "s3:ListBucket")
    assert listing.resource == f"arn:aws:s3:::{bucket}"
    assert listing.principal is not None and listing.principal.name == "Lisa"
    monkeypatch.setattr(enforce, "POLICY_EFFECT", StandInPolicy({}))
    s3.delete_object(Bucket=bucket, Key="doc")


def test_a_version_request_asks_for_the_version_action(
    s3, with_policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = with_policy
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="v", Body=b"1")["VersionId"]
    policy = StandInPolicy({("s3:GetObjectVersion", "Bart"): PolicyEffect.DENY})
    monkeypatch.setattr(enforce, "POLICY_EFFECT", policy)
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"1"
    assert error_code(s3.get_object, Bucket=bucket, Key="v", VersionId=version) == "AccessDenied"
    assert {r.action for r in policy.requests} >= {"s3:GetObject", "s3:GetObjectVersion"}
    monkeypatch.setattr(enforce, "POLICY_EFFECT", StandInPolicy({}))
    s3.delete_object(Bucket=bucket, Key="v", VersionId=version)


def test_restrict_public_buckets_confines_a_public_policy(
    s3, anonymous, with_policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = with_policy
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    monkeypatch.setattr(enforce, "POLICY_EFFECT", StandInPolicy({("s3:GetObject", None): PolicyEffect.ALLOW}))
    monkeypatch.setattr(enforce, "policy_is_public", lambda document: True)
    assert anonymous.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"x"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    assert error_code(anonymous.get_object, Bucket=bucket, Key="doc") == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"x"
    s3.delete_public_access_block(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="doc")
