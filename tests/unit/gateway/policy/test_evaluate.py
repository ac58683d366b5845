"""Evaluating bucket policies: principals, actions, resources (and their Not forms), deny beats allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.policy import PolicyEffect, PolicyRequest, evaluate
from gateway.policy.evaluate import compiled
from gateway.s3.accounts import Account
from tests.unit.gateway.policy.conftest import BART, BUCKET, LISA, document, statement

OBJECT = f"arn:aws:s3:::{BUCKET}/album/cat.jpg"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"


def request(
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    principal: Account | None = LISA,
    conditions: Mapping[str, Sequence[str]] | None = None,
) -> PolicyRequest:
    return PolicyRequest(action, resource, principal, conditions or {})


def test_no_policy_and_no_matching_statement_give_none() -> None:
    assert evaluate(b"", request()) is PolicyEffect.NONE
    policy = document(statement(Action="s3:PutObject"))
    assert evaluate(policy, request()) is PolicyEffect.NONE


def test_an_allow_to_everyone_matches_anonymous_and_accounts() -> None:
    policy = document(statement())
    assert evaluate(policy, request(principal=None)) is PolicyEffect.ALLOW
    assert evaluate(policy, request(principal=BART)) is PolicyEffect.ALLOW


def test_explicit_deny_beats_allow_in_any_order() -> None:
    allow, deny = (
        statement(Sid="allow"),
        statement(Sid="deny", Effect="Deny", Principal={"AWS": LISA.account_id}),
    )
    for policy in (document(allow, deny), document(deny, allow)):
        assert evaluate(policy, request(principal=LISA)) is PolicyEffect.DENY
        assert evaluate(policy, request(principal=BART)) is PolicyEffect.ALLOW


def test_principals_by_account_id_root_arn_user_arn_and_canonical_id() -> None:
    by_id = document(statement(Principal={"AWS": LISA.account_id}))
    by_root = document(statement(Principal={"AWS": f"arn:aws:iam::{LISA.account_id}:root"}))
    by_canonical = document(statement(Principal={"CanonicalUser": LISA.canonical_id}))
    for policy in (by_id, by_root, by_canonical):
        assert evaluate(policy, request(principal=LISA)) is PolicyEffect.ALLOW
        assert evaluate(policy, request(principal=BART)) is PolicyEffect.NONE
        assert evaluate(policy, request(principal=None)) is PolicyEffect.NONE
    by_user = document(statement(Principal={"AWS": f"arn:aws:iam::{LISA.account_id}:user/alice"}))
    assert evaluate(by_user, request(principal=LISA)) is PolicyEffect.NONE  # the account is not that user


def test_service_principals_match_no_request() -> None:
    policy = document(statement(Principal={"Service": "logging.s3.amazonaws.com"}))
    assert evaluate(policy, request(principal=BART)) is PolicyEffect.NONE


def test_not_principal_applies_to_everyone_else_anonymous_included() -> None:
    policy = document(statement(Effect="Deny", Principal=None, NotPrincipal={"AWS": BART.account_id}))
    assert evaluate(policy, request(principal=BART)) is PolicyEffect.NONE
    assert evaluate(policy, request(principal=LISA)) is PolicyEffect.DENY
    assert evaluate(policy, request(principal=None)) is PolicyEffect.DENY


def test_actions_match_case_insensitively_with_wildcards() -> None:
    policy = document(statement(Action=["s3:get*", "S3:PUTOBJECT?cl"]))
    assert evaluate(policy, request(action="s3:GetObjectVersion")) is PolicyEffect.ALLOW
    assert evaluate(policy, request(action="s3:PutObjectAcl")) is PolicyEffect.ALLOW
    assert evaluate(policy, request(action="s3:PutObject")) is PolicyEffect.NONE
    assert evaluate(document(statement(Action="*")), request(action="s3:DeleteObject")) is PolicyEffect.ALLOW


def test_not_action_matches_every_other_action() -> None:
    policy = document(statement(Effect="Deny", Action=None, NotAction=["s3:GetObject", "s3:List*"]))
    assert evaluate(policy, request(action="s3:GetObject")) is PolicyEffect.NONE
    assert evaluate(policy, request(action="s3:ListBucket", resource=BUCKET_ARN)) is PolicyEffect.NONE
    assert evaluate(policy, request(action="s3:DeleteObject")) is PolicyEffect.DENY


def test_resources_match_with_wildcards_case_sensitively() -> None:
    policy = document(statement(Resource=[f"arn:aws:s3:::{BUCKET}/album/*", f"arn:aws:s3:::{BUCKET}/a?.txt"]))
    assert evaluate(policy, request(resource=OBJECT)) is PolicyEffect.ALLOW
    assert evaluate(policy, request(resource=f"arn:aws:s3:::{BUCKET}/ab.txt")) is PolicyEffect.ALLOW
    assert evaluate(policy, request(resource=f"arn:aws:s3:::{BUCKET}/abc.txt")) is PolicyEffect.NONE
    assert evaluate(policy, request(resource=f"arn:aws:s3:::{BUCKET}/Album/cat.jpg")) is PolicyEffect.NONE
    assert evaluate(policy, request(resource=f"arn:aws:s3:::{BUCKET}/other")) is PolicyEffect.NONE


def test_not_resource_matches_every_other_resource() -> None:
    policy = document(statement(Effect="Deny", Resource=None, NotResource=f"arn:aws:s3:::{BUCKET}/public/*"))
    assert evaluate(policy, request(resource=f"arn:aws:s3:::{BUCKET}/public/a")) is PolicyEffect.NONE
    assert evaluate(policy, request(resource=OBJECT)) is PolicyEffect.DENY


def test_every_condition_of_a_statement_must_hold() -> None:
    policy = document(
        statement(
            Condition={
                "IpAddress": {"aws:SourceIp": "127.0.0.0/24"},
                "Bool": {"aws:SecureTransport": "true"},
            }
        )
    )
    both = {"aws:sourceip": ["127.0.0.9"], "aws:securetransport": ["true"]}
    assert evaluate(policy, request(conditions=both)) is PolicyEffect.ALLOW
    assert (
        evaluate(policy, request(conditions={**both, "aws:securetransport": ["false"]})) is PolicyEffect.NONE
    )
    assert evaluate(policy, request(conditions={**both, "aws:sourceip": ["127.0.1.9"]})) is PolicyEffect.NONE


def test_remembered_condition_outcomes_follow_the_values_of_the_keys_read() -> None:
    # Outcomes are remembered per distinct tuple of the values the statements read: requests that
    # alternate those values, and change keys no statement reads, are each decided on their own.
    policy = document(
        statement(Sid="net", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        statement(
            Sid="tls",
            Effect="Deny",
            Resource=f"arn:aws:s3:::{BUCKET}/album/*",
            Condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
        statement(Sid="agent", Condition={"Null": {"aws:UserAgent": "true"}}),
    )
    cases = [
        (
            {"aws:sourceip": ["10.1.2.3"], "aws:securetransport": ["true"], "aws:useragent": ["x"]},
            OBJECT,
            "allow",
        ),
        (
            {"aws:sourceip": ["11.1.2.3"], "aws:securetransport": ["true"], "aws:useragent": ["x"]},
            OBJECT,
            "none",
        ),
        (
            {"aws:sourceip": ["10.1.2.3"], "aws:securetransport": ["false"], "aws:useragent": ["x"]},
            OBJECT,
            "deny",
        ),
        ({"aws:sourceip": ["10.1.2.3"], "aws:securetransport": ["false"]}, f"{BUCKET_ARN}/other", "allow"),
        ({"aws:sourceip": ["11.1.2.3"], "aws:securetransport": ["true"]}, OBJECT, "allow"),
        (
            {"aws:sourceip": ["11.1.2.3"], "aws:securetransport": ["true"], "aws:referer": ["r"]},
            OBJECT,
            "allow",
        ),
        (
            {"aws:sourceip": ["11.1.2.3"], "aws:securetransport": ["true"], "aws:useragent": []},
            OBJECT,
            "none",
        ),
    ]
    for _ in range(2):
        for conditions, resource, expected in cases:
            assert evaluate(policy, request(resource=resource, conditions=conditions)).value == expected, (
                conditions,
                resource,
            )


def test_a_stored_document_is_compiled_once() -> None:
    policy = document(statement(Sid="cached-once"))
    before = compiled.cache_info()
    for _ in range(5):
        evaluate(bytes(policy), request())
    after = compiled.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 4
