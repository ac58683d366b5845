"""Bucket policy documents: parsed, validated and compiled once, with AWS's MalformedPolicy messages.

A compiled :class:`Policy` holds only pre-built matchers (pattern sets, principal sets, condition
tests), so evaluating a request never parses JSON nor compiles a pattern. Where AWS's exact wording
is not documented the message says what is wrong in the same style.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.policy.actions import ACTION_KINDS, ResourceKind, actions_named
from gateway.policy.conditions import Condition, ConditionError, compile_condition, parse_operator
from gateway.policy.keys import is_known_key
from gateway.policy.patterns import PatternSet, compile_wildcard, has_wildcard
from gateway.policy.variables import Part, has_variables, parse_template, pattern_matches
from gateway.s3.accounts import Account
from gateway.s3.errors import MalformedPolicy, PolicyTooLarge

MAX_POLICY_BYTES = 20 * 1024  # of the stored (compact) form
VERSIONS = ("2012-10-17", "2008-10-17")
S3_ARN_PREFIX = "arn:aws:s3:::"

NOT_JSON = "Policies must be valid JSON and the first byte must be '{'"
INVALID_ACTION = "Policy has invalid action"
INVALID_RESOURCE = "Policy has invalid resource"
INVALID_PRINCIPAL = "Invalid principal in policy"
INVALID_CONDITION_KEY = "Policy has an invalid condition key"
ACTION_RESOURCE_MISMATCH = "Action does not apply to any resource(s) in statement"
INVALID_VERSION = "The policy must contain a valid version string"
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique"
INVALID_CONDITION_BLOCK = "Condition must be a map of operators to maps of condition keys"

_TOP_LEVEL_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_ACCOUNT_ID = re.compile(r"[0-9]{12}\Z")
_IAM_ARN = re.compile(
    r"arn:aws:(?:iam|sts)::([0-9]{12}):(root|user/.+|role/.+|assumed-role/.+|federated-user/.+)\Z"
)
_CANONICAL_ID = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class PrincipalSet:
    """Whom a ``Principal``/``NotPrincipal`` names."""

    everyone: bool
    account_ids: frozenset[str]
    arns: frozenset[str]
    canonical_ids: frozenset[str]
    services: frozenset[str]

    def matches(self, account: Account | None) -> bool:
        if self.everyone:
            return True
        if account is None:
            return False
        return self.matches_identity(account.account_id, account.canonical_id, account.arn)

    def matches_identity(self, account_id: str, canonical_id: str, arn: str) -> bool:
        """``matches`` for an authenticated requester whose identity was worked out once."""
        return (
            self.everyone
            or account_id in self.account_ids
            or canonical_id in self.canonical_ids
            or (bool(arn) and arn in self.arns)
        )


@dataclass(frozen=True)
class Statement:
    sid: str | None
    allow: bool
    principals: PrincipalSet  # for NotPrincipal: the ones excluded
    principals_negated: bool
    actions: PatternSet  # of lower-cased action names
    actions_negated: bool
    resources: PatternSet
    resources_negated: bool
    conditions: tuple[Condition, ...]
    # Resources holding policy variables, as parts filled in from the request's keys.
    resource_templates: tuple[tuple[Part, ...], ...] = ()

    def matches_resource(self, resource: str, context: Mapping[str, Sequence[str]]) -> bool:
        if self.resources.matches(resource):
            return True
        return any(pattern_matches(parts, context, resource) for parts in self.resource_templates)


@dataclass(frozen=True)
class Policy:
    version: str
    policy_id: str | None
    statements: tuple[Statement, ...]
    compact: bytes  # the form stored and returned: the document with its whitespace removed
    # (action, requester) -> evaluation's plan for the statements whose Action and Principal cover
    # them (gateway.policy.evaluate); filled lazily, so a request only checks those.
    candidates: dict[tuple[str, tuple[str, str, str] | None], Any] = field(
        default_factory=dict, compare=False, repr=False
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_policy(
    document: bytes, *, bucket: str | None = None, accounts: Collection[Account] | None = None
) -> Policy:
    """Validates and compiles ``document``.

    ``bucket``: every resource must be in it (PutBucketPolicy); ``accounts``: principals must name
    one of them. Both are skipped when None (compiling an already stored policy).
    """
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPolicy(NOT_JSON) from None
    if not text.lstrip().startswith("{"):
        raise MalformedPolicy(NOT_JSON)
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise MalformedPolicy(NOT_JSON) from None
    if not isinstance(raw, dict):
        raise MalformedPolicy(NOT_JSON)
    compact = json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(compact) > MAX_POLICY_BYTES:
        raise PolicyTooLarge()
    for name in raw:
        if name not in _TOP_LEVEL_FIELDS:
            raise MalformedPolicy(f"Unknown field {name}")
    version = raw.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise MalformedPolicy(INVALID_VERSION)
    policy_id = raw.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy("Policy Id must be a string")
    raw_statements = raw.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not raw_statements or not isinstance(raw_statements, list):
        raise MalformedPolicy("Missing required field Statement")
    statements: list[Statement] = []
    sids: set[str] = set()
    known_accounts = _AccountIndex(accounts) if accounts is not None else None
    for raw_statement in raw_statements:
        statement = _statement(raw_statement, bucket, known_accounts, variables=version == "2012-10-17")
        if statement.sid is not None:
            if statement.sid in sids:
                raise MalformedPolicy(DUPLICATE_SID)
            sids.add(statement.sid)
        statements.append(statement)
    return Policy(version, policy_id, tuple(statements), compact)


def _one_of(raw: Mapping[str, Any], field: str) -> tuple[Any, bool]:
    """The value of ``field`` or ``Not<field>`` (and whether it was the Not form)."""
    positive, negative = raw.get(field), raw.get("Not" + field)
    if positive is not None and negative is not None:
        raise MalformedPolicy(f"Statement cannot contain both {field} and Not{field}")
    if positive is None and negative is None:
        raise MalformedPolicy(f"Missing required field {field}")
    return (positive, False) if positive is not None else (negative, True)


def _strings(value: Any, message: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise MalformedPolicy(message)
    return values


def _statement(raw: Any, bucket: str | None, accounts: _AccountIndex | None, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Missing required field Statement")
    for name in raw:
        if name not in _STATEMENT_FIELDS:
            raise MalformedPolicy(f"Unknown field {name}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy("Statement Sid must be a string")
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")

    raw_principal, principals_negated = _one_of(raw, "Principal")
    principals = _principals(raw_principal, accounts)

    raw_actions, actions_negated = _one_of(raw, "Action")
    action_names = _strings(raw_actions, INVALID_ACTION)
    named: set[str] = set()
    for action in action_names:
        matched = actions_named(action)
        if not matched:
            raise MalformedPolicy(INVALID_ACTION)
        named |= matched

    raw_resources, resources_negated = _one_of(raw, "Resource")
    resources = _strings(raw_resources, INVALID_RESOURCE)
    kinds: set[ResourceKind] = set()
    for resource in resources:
        kinds |= _resource_kinds(resource, bucket)
    if not actions_negated and not resources_negated:
        if not any(ACTION_KINDS[action] in kinds for action in named):
            raise MalformedPolicy(ACTION_RESOURCE_MISMATCH)

    return Statement(
        sid=sid,
        allow=effect == "Allow",
        principals=principals,
        principals_negated=principals_negated,
        # Lower-cased here and in the request, so matching needs no case folding.
        actions=PatternSet.of([action.lower() for action in action_names]),
        actions_negated=actions_negated,
        resources=PatternSet.of(
            [resource for resource in resources if not (variables and has_variables(resource))]
        ),
        resources_negated=resources_negated,
        conditions=_conditions(raw.get("Condition"), variables),
        resource_templates=tuple(
            parse_template(resource) for resource in resources if variables and has_variables(resource)
        ),
    )


def _resource_kinds(resource: str, bucket: str | None) -> set[ResourceKind]:
    if not resource.startswith(S3_ARN_PREFIX):
        raise MalformedPolicy(INVALID_RESOURCE)
    bucket_part, slash, _ = resource[len(S3_ARN_PREFIX) :].partition("/")
    if not bucket_part:
        raise MalformedPolicy(INVALID_RESOURCE)
    if bucket is not None:
        in_bucket = (
            compile_wildcard(bucket_part).fullmatch(bucket) is not None
            if has_wildcard(bucket_part)
            else bucket_part == bucket
        )
        if not in_bucket:
            raise MalformedPolicy(INVALID_RESOURCE)
    if slash:
        return {"object"}
    # "arn:aws:s3:::bucket*" also matches the bucket's objects.
    return {"bucket", "object"} if bucket_part.endswith("*") else {"bucket"}


class _AccountIndex:
    def __init__(self, accounts: Collection[Account]) -> None:
        self.account_ids = frozenset(account.account_id for account in accounts)
        self.canonical_ids = frozenset(account.canonical_id for account in accounts)


def _principals(raw: Any, accounts: _AccountIndex | None) -> PrincipalSet:
    if raw == "*":
        return PrincipalSet(True, frozenset(), frozenset(), frozenset(), frozenset())
    if not isinstance(raw, dict) or not raw:
        raise MalformedPolicy(INVALID_PRINCIPAL)
    everyone = False
    account_ids: set[str] = set()
    arns: set[str] = set()
    canonical_ids: set[str] = set()
    services: set[str] = set()
    for kind, value in raw.items():
        entries = _strings(value, INVALID_PRINCIPAL)
        if kind == "AWS":
            for entry in entries:
                if entry == "*":
                    everyone = True
                    continue
                account_id, arn = _aws_principal(entry)
                if accounts is not None and account_id not in accounts.account_ids:
                    raise MalformedPolicy(INVALID_PRINCIPAL)
                if arn is None:
                    account_ids.add(account_id)
                else:
                    arns.add(arn)
        elif kind == "CanonicalUser":
            for entry in entries:
                if not _CANONICAL_ID.match(entry):
                    raise MalformedPolicy(INVALID_PRINCIPAL)
                if accounts is not None and entry not in accounts.canonical_ids:
                    raise MalformedPolicy(INVALID_PRINCIPAL)
                canonical_ids.add(entry)
        elif kind == "Service":
            # A service principal is valid but no request here is made by an AWS service.
            services.update(entries)
        else:
            raise MalformedPolicy(INVALID_PRINCIPAL)
    return PrincipalSet(
        everyone, frozenset(account_ids), frozenset(arns), frozenset(canonical_ids), frozenset(services)
    )


def _aws_principal(entry: str) -> tuple[str, str | None]:
    """(account id, ARN of a user or role, or None when the entry names the whole account)."""
    if _ACCOUNT_ID.match(entry):
        return entry, None
    match = _IAM_ARN.match(entry)
    if match is None:
        raise MalformedPolicy(INVALID_PRINCIPAL)
    account_id, name = match.groups()
    return (account_id, None) if name == "root" else (account_id, entry)


def _condition_values(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise MalformedPolicy(INVALID_CONDITION_BLOCK)
    converted: list[str] = []
    for item in values:
        if isinstance(item, bool):
            converted.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            converted.append(str(item))
        else:
            raise MalformedPolicy(INVALID_CONDITION_BLOCK)
    return converted


def _conditions(raw: Any, variables: bool) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MalformedPolicy(INVALID_CONDITION_BLOCK)
    compiled: list[Condition] = []
    for operator, block in raw.items():
        try:
            parse_operator(operator)
        except ConditionError as exc:
            raise MalformedPolicy(str(exc)) from None
        if not isinstance(block, dict):
            raise MalformedPolicy(INVALID_CONDITION_BLOCK)
        for key, value in block.items():
            if not is_known_key(key):
                raise MalformedPolicy(INVALID_CONDITION_KEY)
            values: Sequence[str] = _condition_values(value)
            try:
                compiled.append(compile_condition(operator, key.lower(), values, variables))
            except ConditionError as exc:
                raise MalformedPolicy(str(exc)) from None
    return tuple(compiled)
