"""Condition keys: which ones a policy may name, and their values for one request.

Keys are case-insensitive, so both sides use the lower-cased name (``aws:sourceip``); that includes
the tag part of ``s3:ExistingObjectTag/<key>`` and ``s3:RequestObjectTag/<key>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

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


def _iso_seconds(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


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
) -> dict[str, list[str]]:
    """Every condition key S3 defines that applies to a request with these facts.

    ``auth_type`` is S3's value (``REST-HEADER``, ``REST-QUERY-STRING``, ``POST``);
    ``signature_version`` is ``"v4"``/``"v2"`` (as ``AuthResult`` has it) or S3's own spelling
    (``AWS4-HMAC-SHA256``/``AWS``). A key absent from the answer is absent from the request, which
    is what ``Null`` and the ``...IfExists`` operators test.
    """
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    conditions: dict[str, list[str]] = {
        "aws:sourceip": [source_ip],
        "aws:securetransport": ["true" if secure_transport else "false"],
        "aws:currenttime": [_iso_seconds(moment)],
        "aws:epochtime": [str(int(moment.timestamp()))],
    }
    if principal is None:
        conditions["aws:principaltype"] = ["Anonymous"]
        conditions["aws:userid"] = ["anonymous"]
    else:
        conditions["aws:principalaccount"] = [principal.account_id]
        conditions["aws:principalarn"] = [principal.arn or f"arn:aws:iam::{principal.account_id}:root"]
        conditions["aws:principaltype"] = ["Account"]
        conditions["aws:userid"] = [principal.account_id]  # an account's own credentials: its id
    if user_agent is not None:
        conditions["aws:useragent"] = [user_agent]
    if referer is not None:
        conditions["aws:referer"] = [referer]
    if auth_type is not None:
        conditions["s3:authtype"] = [auth_type]
    if signature_version is not None:
        conditions["s3:signatureversion"] = [_SIGNATURE_VERSIONS.get(signature_version, signature_version)]
    for name in _QUERY_KEYS:
        if name in query:
            conditions[f"s3:{name}"] = [query[name]]
    lowered_headers = {name.lower(): value for name, value in headers.items()}
    for name in _HEADER_KEYS:
        if name in lowered_headers:
            conditions[f"s3:{name}"] = [lowered_headers[name]]
    if version_id is not None:
        conditions["s3:versionid"] = [version_id]
    if existing_object_tags is not None:
        for tag, value in existing_object_tags.items():
            conditions[f"s3:existingobjecttag/{tag.lower()}"] = [value]
    tagging = lowered_headers.get("x-amz-tagging")
    if tagging is not None:
        request_tags = parse_qsl(tagging, keep_blank_values=True)
        conditions["s3:requestobjecttagkeys"] = [tag for tag, _ in request_tags]
        for tag, value in request_tags:
            conditions[f"s3:requestobjecttag/{tag.lower()}"] = [value]
    return conditions
