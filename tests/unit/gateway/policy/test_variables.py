"""Policy variables in resources and string conditions (Version 2012-10-17)."""

from __future__ import annotations

from gateway.policy import PolicyEffect, PolicyRequest, evaluate
from gateway.policy.variables import Variable, parse_template
from tests.unit.gateway.policy.conftest import BART, BUCKET, LISA, document, statement

HOME = f"arn:aws:s3:::{BUCKET}/home/${{aws:PrincipalAccount}}/*"


def keys_of(account_id: str, **extra: list[str]) -> dict[str, list[str]]:
    return {"aws:principalaccount": [account_id], **extra}


def test_templates_split_text_variables_defaults_and_specials() -> None:
    assert parse_template("a/${aws:UserName}/${*}${s3:prefix, 'none'}") == (
        "a/",
        Variable("aws:username"),
        "/",
        Variable("*", special=True),
        Variable("s3:prefix", "none"),
    )


def test_a_resource_variable_is_filled_from_the_request() -> None:
    policy = document(statement(Principal={"AWS": [BART.account_id, LISA.account_id]}, Resource=HOME))
    own = f"arn:aws:s3:::{BUCKET}/home/{LISA.account_id}/notes.txt"
    other = f"arn:aws:s3:::{BUCKET}/home/{BART.account_id}/notes.txt"
    lisa = keys_of(LISA.account_id)
    assert evaluate(policy, PolicyRequest("s3:GetObject", own, LISA, lisa)) is PolicyEffect.ALLOW
    assert evaluate(policy, PolicyRequest("s3:GetObject", other, LISA, lisa)) is PolicyEffect.NONE
    assert evaluate(policy, PolicyRequest("s3:GetObject", own, LISA, {})) is PolicyEffect.NONE


def test_a_filled_in_value_matches_literally_not_as_a_wildcard() -> None:
    policy = document(statement(Resource=f"arn:aws:s3:::{BUCKET}/${{aws:username}}/*"))
    starred = {"aws:username": ["*"]}
    literal = f"arn:aws:s3:::{BUCKET}/*/a"
    assert evaluate(policy, PolicyRequest("s3:GetObject", literal, LISA, starred)) is PolicyEffect.ALLOW
    other = f"arn:aws:s3:::{BUCKET}/x/a"
    assert evaluate(policy, PolicyRequest("s3:GetObject", other, LISA, starred)) is PolicyEffect.NONE


def test_string_conditions_take_variables_and_defaults() -> None:
    policy = document(
        statement(
            Action="s3:ListBucket",
            Resource=f"arn:aws:s3:::{BUCKET}",
            Condition={
                "StringLike": {"s3:prefix": ["home/${aws:PrincipalAccount}/*", "${aws:username, 'shared'}/*"]}
            },
        )
    )
    resource = f"arn:aws:s3:::{BUCKET}"

    def effect(prefix: str) -> PolicyEffect:
        return evaluate(
            policy,
            PolicyRequest(
                "s3:ListBucket", resource, LISA, keys_of(LISA.account_id, **{"s3:prefix": [prefix]})
            ),
        )

    assert effect(f"home/{LISA.account_id}/docs") is PolicyEffect.ALLOW
    assert effect("shared/docs") is PolicyEffect.ALLOW
    assert effect(f"home/{BART.account_id}/docs") is PolicyEffect.NONE


def test_string_equals_with_a_variable_and_its_negation() -> None:
    policy = document(
        statement(
            Effect="Deny", Condition={"StringNotEquals": {"s3:x-amz-acl": "${aws:PrincipalAccount}-only"}}
        )
    )
    resource = f"arn:aws:s3:::{BUCKET}/k"
    matching = keys_of(LISA.account_id, **{"s3:x-amz-acl": [f"{LISA.account_id}-only"]})
    assert evaluate(policy, PolicyRequest("s3:GetObject", resource, LISA, matching)) is PolicyEffect.NONE
    other = keys_of(LISA.account_id, **{"s3:x-amz-acl": ["private"]})
    assert evaluate(policy, PolicyRequest("s3:GetObject", resource, LISA, other)) is PolicyEffect.DENY


def test_version_2008_has_no_policy_variables() -> None:
    raw = f"arn:aws:s3:::{BUCKET}/${{aws:username}}"
    policy = document(statement(Resource=raw), Version="2008-10-17")
    assert (
        evaluate(policy, PolicyRequest("s3:GetObject", raw, LISA, {"aws:username": ["x"]}))
        is PolicyEffect.ALLOW
    )
    filled = f"arn:aws:s3:::{BUCKET}/x"
    assert (
        evaluate(policy, PolicyRequest("s3:GetObject", filled, LISA, {"aws:username": ["x"]}))
        is PolicyEffect.NONE
    )
