"""AWS Signature Version 2 (HMAC-SHA1) string-to-sign for S3, header and query flavours."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from gateway.s3.sigv4 import header_values

# Query parameters that are part of the canonicalized resource (the rest are ignored).
SUB_RESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "cors",
        "defaultObjectAcl",
        "delete",
        "encryption",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "analytics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "retention",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


def canonical_resource(path: str, query_pairs: list[tuple[str, str]], virtual_host_bucket: str | None) -> str:
    resource = path or "/"
    if virtual_host_bucket:
        resource = "/" + virtual_host_bucket + resource
    selected = sorted(
        ((name, value) for name, value in query_pairs if name in SUB_RESOURCES), key=lambda p: p[0]
    )
    if selected:
        resource += "?" + "&".join(f"{name}={value}" if value else name for name, value in selected)
    return resource


def canonical_amz_headers(headers: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    merged: dict[str, list[str]] = {}
    for name in headers:
        lowered = name.lower()
        if lowered.startswith("x-amz-") and lowered not in merged:
            merged[lowered] = [value.strip() for value in header_values(headers, lowered)]
    for name, value in (extra or {}).items():
        # A presigned URL carries the x-amz-* values it was signed with; they win over headers.
        merged[name.lower()] = [value.strip()]
    return "".join(f"{name}:{','.join(merged[name])}\n" for name in sorted(merged))


def string_to_sign(
    method: str,
    headers: Mapping[str, str],
    date_or_expires: str,
    resource: str,
    extra_amz: Mapping[str, str] | None = None,
    content_md5: str | None = None,
    content_type: str | None = None,
) -> str:
    md5 = content_md5 if content_md5 is not None else _first(headers, "content-md5")
    ctype = content_type if content_type is not None else _first(headers, "content-type")
    return (
        "\n".join([method.upper(), md5, ctype, date_or_expires])
        + "\n"
        + (canonical_amz_headers(headers, extra_amz) + resource)
    )


def sign(secret: str, text: str) -> str:
    # The bytes as received (see sigv4.string_to_sign).
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8", "surrogateescape"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _first(headers: Mapping[str, str], name: str) -> str:
    values = header_values(headers, name)
    return values[0].strip() if values else ""
