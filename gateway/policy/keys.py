"""Condition keys: which ones a policy may name, and their values for one request.

Keys are case-insensitive, so both sides use the lower-cased name (``aws:sourceip``); that includes
the tag part of ``s3:ExistingObjectTag/<key>`` and ``s3:RequestObjectTag/<key>``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy

from gateway.s3.accounts import Account

GLOBAL_KEYS = frozenset(
    name.lower()
    for name in (
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:FederatedProvider",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalType",
        "aws:Referer",
        "aws:RequestedRegion",
        "aws:ResourceAccount",
        "aws:ResourceOrgID",
        "aws:ResourceOrgPaths",
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceIdentity",
        "aws:SourceIp",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceOwner",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:TagKeys",
        "aws:TokenIssueTime",
        "aws:UserAgent",
        "aws:userid",
        "aws:username",
        "aws:ViaAWSService",
        "aws:VpcSourceIp",
    )
)

S3_KEYS = frozenset(
    name.lower()
    for name in (
        "s3:AccessGrantsInstanceArn",
        "s3:AccessPointNetworkOrigin",
        "s3:authType",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
        "s3:delimiter",
        "s3:if-match",
        "s3:if-none-match",
        "s3:LocationConstraint",
        "s3:max-keys",
        "s3:object-lock-legal-hold",
        "s3:object-lock-mode",
        "s3:object-lock-remaining-retention-days",
        "s3:object-lock-retain-until-date",
        "s3:prefix",
        "s3:RequestObjectTagKeys",
        "s3:ResourceAccount",
        "s3:signatureAge",
        "s3:signatureversion",
        "s3:TlsVersion",
        "s3:VersionId",
        "s3:x-amz-acl",
        "s3:x-amz-content-sha256",
        "s3:x-amz-copy-source",
        "s3:x-amz-grant-full-control",
        "s3:x-amz-grant-read",
        "s3:x-amz-grant-read-acp",
        "s3:x-amz-grant-write",
        "s3:x-amz-grant-write-acp",
        "s3:x-amz-metadata-directive",
        "s3:x-amz-object-ownership",
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-storage-class",
        "s3:x-amz-website-redirect-location",
    )
)

# Keys that take a name after the slash (tag keys).
KEY_FAMILIES = (
    "aws:requesttag/",
    "aws:resourcetag/",
    "aws:principaltag/",
    "s3:existingobjecttag/",
    "s3:requestobjecttag/",
)


def is_known_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in GLOBAL_KEYS or lowered in S3_KEYS:
        return True
    return any(lowered.startswith(family) and len(lowered) > len(family) for family in KEY_FAMILIES)


# Request headers whose value is the condition key of the same name.
_HEADER_KEYS = (
    "x-amz-acl",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
    "x-amz-metadata-directive",
    "x-amz-object-ownership",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "if-match",
    "if-none-match",
)
_QUERY_KEYS = ("prefix", "delimiter", "max-keys")
_SIGNATURE_VERSIONS = {"v4": "AWS4-HMAC-SHA256", "v2": "AWS"}


@functools.lru_cache(maxsize=4)
def _iso_of_epoch(seconds: int) -> str:
    utc = datetime.fromtimestamp(seconds, UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def _iso_seconds(moment: datetime) -> str:
    return _iso_of_epoch(math.floor(moment.timestamp()))  # requests within a second share it


class _Facts(NamedTuple):
    source_ip: str
    secure_transport: bool
    user_agent: str | None
    referer: str | None
    principal: Account | None
    auth_type: str | None
    signature_version: str | None
    query: Mapping[str, str]
    headers: Mapping[str, str]
    existing_object_tags: Mapping[str, str] | None
    version_id: str | None
    now: datetime


def request_conditions(
    *,
    source_ip: str,
    secure_transport: bool,
    user_agent: str | None,
    referer: str | None,
    principal: Account | None,
    auth_type: str | None,
    signature_version: str | None,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    existing_object_tags: Mapping[str, str] | None,
    version_id: str | None,
    now: datetime,
) -> RequestKeys:
    """Every condition key S3 defines that applies to a request with these facts.

    ``auth_type`` is S3's value (``REST-HEADER``, ``REST-QUERY-STRING``, ``POST``);
    ``signature_version`` is ``"v4"``/``"v2"`` (as ``AuthResult`` has it) or S3's own spelling
    (``AWS4-HMAC-SHA256``/``AWS``). A key absent from the answer is absent from the request, which
    is what ``Null`` and the ``...IfExists`` operators test.
    """
    return RequestKeys(
        _Facts(
            source_ip,
            secure_transport,
            user_agent,
            referer,
            principal,
            auth_type,
            signature_version,
            query,
            headers,
            existing_object_tags,
            version_id,
            now if now.tzinfo is not None else now.replace(tzinfo=UTC),
        )
    )


class RequestKeys(Mapping[str, list[str]]):
    """A request's condition keys, each worked out the first time a policy reads it: a policy
    names a handful of the dozens of keys a request has. Iterating (or ``len``) works them all out."""

    __slots__ = ("_complete", "_facts", "_values")

    def __init__(self, facts: _Facts) -> None:
        self._facts = facts
        self._values: dict[str, list[str] | None] = {}
        self._complete = False

    def get(self, key: str, default: Any = None) -> Any:
        values = self._values
        if key in values:
            found = values[key]
        elif self._complete:
            return default
        else:
            compute = _ONE_KEY.get(key)
            if compute is not None:
                value = compute(self._facts)
                found = None if value is None else [value]
            else:
                found = self._everything().get(key)
            values[key] = found
        return default if found is None else found

    def values_of(self, keys: Sequence[str]) -> tuple[object, ...]:
        """The values of ``keys`` (None for an absent one) in a hashable form, for remembering
        what a policy answered to them: the single-valued keys straight from the request's facts."""
        facts = self._facts
        values: list[object] = []
        for key in keys:
            compute = _ONE_KEY.get(key)
            if compute is not None:
                values.append(compute(facts))
            else:
                found = self.get(key)
                values.append(None if found is None else tuple(found))
        return tuple(values)

    def __getitem__(self, key: str) -> list[str]:
        found: list[str] | None = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())

    def _everything(self) -> dict[str, list[str]]:
        if not self._complete:
            everything = _all_conditions(self._facts)
            self._values = {**{key: None for key in self._values}, **everything}
            self._complete = True
        return {key: value for key, value in self._values.items() if value is not None}


def _header(name: str) -> Callable[[_Facts], str | None]:
    def read(facts: _Facts) -> str | None:
        headers = facts.headers
        value = headers.get(name)
        if value is None and not isinstance(headers, CIMultiDictProxy | CIMultiDict):
            value = next((found for header, found in headers.items() if header.lower() == name), None)
        return value

    return read


def _query(name: str) -> Callable[[_Facts], str | None]:
    return lambda facts: facts.query.get(name)


# The keys with one value each, worked out on their own (None: absent from the request); the
# others (tag families) come from the whole set.
_ONE_KEY: dict[str, Callable[[_Facts], str | None]] = {
    "aws:sourceip": lambda facts: facts.source_ip,
    "aws:securetransport": lambda facts: "true" if facts.secure_transport else "false",
    "aws:currenttime": lambda facts: _iso_seconds(facts.now),
    "aws:epochtime": lambda facts: str(int(facts.now.timestamp())),
    "aws:principaltype": lambda facts: "Anonymous" if facts.principal is None else "Account",
    "aws:userid": lambda facts: "anonymous" if facts.principal is None else facts.principal.account_id,
    "aws:principalaccount": lambda facts: None if facts.principal is None else facts.principal.account_id,
    "aws:principalarn": lambda facts: None if facts.principal is None else _principal_arn(facts.principal),
    "aws:useragent": lambda facts: facts.user_agent,
    "aws:referer": lambda facts: facts.referer,
    "s3:authtype": lambda facts: facts.auth_type,
    "s3:signatureversion": lambda facts: (
        None
        if facts.signature_version is None
        else _SIGNATURE_VERSIONS.get(facts.signature_version, facts.signature_version)
    ),
    "s3:versionid": lambda facts: facts.version_id,
    **{f"s3:{name}": _query(name) for name in _QUERY_KEYS},
    **{f"s3:{name}": _header(name) for name in _HEADER_KEYS},
}


def _principal_arn(principal: Account) -> str:
    return principal.arn or f"arn:aws:iam::{principal.account_id}:root"


def _all_conditions(facts: _Facts) -> dict[str, list[str]]:
    conditions: dict[str, list[str]] = {}
    for key, compute in _ONE_KEY.items():
        value = compute(facts)
        if value is not None:
            conditions[key] = [value]
    if facts.existing_object_tags is not None:
        for tag, tag_value in facts.existing_object_tags.items():
            conditions[f"s3:existingobjecttag/{tag.lower()}"] = [tag_value]
    tagging = _header("x-amz-tagging")(facts)
    if tagging is not None:
        request_tags = parse_qsl(tagging, keep_blank_values=True)
        conditions["s3:requestobjecttagkeys"] = [tag for tag, _ in request_tags]
        for tag, tag_value in request_tags:
            conditions[f"s3:requestobjecttag/{tag.lower()}"] = [tag_value]
    return conditions
