"""The ``details`` of a ``gcp`` location, with the reference's per-location environment overrides.

Fields (all optional except ``bucketName``):

- ``gcpEndpoint`` — host (``storage.googleapis.com``, https) or a full URL (``http://127.0.0.1:4443``);
  ``jsonEndpoint``, when present, takes precedence (the reference kept a separate JSON API host);
- ``bucketName`` — the bucket that receives the objects;
- ``mpuBucketName`` — where multipart parts are staged before they are composed (default: ``bucketName``);
- ``bucketMatch`` — object name ``<key>`` (true) or ``<bucket>/<key>`` (false, the default);
- ``serviceCredentials`` — ``{"keyFilename": path}`` (a JSON key file), or inline
  ``{"serviceEmail": ..., "serviceKey": <PEM>}``; ``scopes`` (string or list) and ``tokenUri``
  optional. No credentials: requests are sent without a token (emulators).

Environment overrides, taking precedence in this order: ``<location>_GCP_SERVICE_KEYFILE``, then
``<location>_GCP_SERVICE_EMAIL`` with ``<location>_GCP_SERVICE_KEY``; ``<location>_GCP_SERVICE_SCOPE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datanode.backends.gcp_auth import (
    DEFAULT_SCOPE,
    DEFAULT_TOKEN_URI,
    ServiceAccount,
    service_account_from_key_file,
)
from datanode.backends.remote import details_of, optional_bool, required_text
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

DEFAULT_ENDPOINT = "https://storage.googleapis.com"


@dataclass(frozen=True)
class GcpLocation:
    name: str
    endpoint: str
    bucket: str
    mpu_bucket: str
    bucket_match: bool
    account: ServiceAccount | None


def _endpoint_url(text: str) -> str:
    text = text.strip().rstrip("/")
    return text if "://" in text else f"https://{text}"


def _optional_text(location: str, details: Mapping[str, Any], field_name: str) -> str:
    value = details.get(field_name, "")
    if not isinstance(value, str):
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: details.{field_name} must be a string"
        )
    return value


def _scopes(location: str, credentials: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    from_env = environ.get(f"{location}_GCP_SERVICE_SCOPE", "")
    if from_env:
        return from_env
    scopes = credentials.get("scopes", DEFAULT_SCOPE)
    if isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes):
        return " ".join(scopes)
    if isinstance(scopes, str) and scopes:
        return scopes
    raise StrataError(
        ErrorReason.INVALID_ARGUMENT, f"location {location}: serviceCredentials.scopes must be text or a list"
    )


def _read_key_file(location: str, path: str, scopes: str) -> ServiceAccount:
    try:
        text = Path(path).read_text()
    except OSError:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: cannot read the service key file {path}"
        ) from None
    return service_account_from_key_file(location, text, scopes)


def _account(location: str, details: Mapping[str, Any], environ: Mapping[str, str]) -> ServiceAccount | None:
    credentials = details.get("serviceCredentials", {})
    if not isinstance(credentials, Mapping):
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: details.serviceCredentials must be an object"
        )
    scopes = _scopes(location, credentials, environ)
    token_uri = _optional_text(location, credentials, "tokenUri") or DEFAULT_TOKEN_URI
    key_file_env = environ.get(f"{location}_GCP_SERVICE_KEYFILE", "")
    email_env = environ.get(f"{location}_GCP_SERVICE_EMAIL", "")
    key_env = environ.get(f"{location}_GCP_SERVICE_KEY", "")
    if key_file_env:
        return _read_key_file(location, key_file_env, scopes)
    if email_env and key_env:
        return ServiceAccount(email_env, key_env, token_uri, scopes)
    key_file = _optional_text(location, credentials, "keyFilename")
    if key_file:
        return _read_key_file(location, key_file, scopes)
    email = _optional_text(location, credentials, "serviceEmail")
    key = _optional_text(location, credentials, "serviceKey")
    if email and key:
        return ServiceAccount(email, key, token_uri, scopes)
    if email or key:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT,
            f"location {location}: serviceCredentials needs both serviceEmail and serviceKey",
        )
    return None


def parse_location(location: str, config: Mapping[str, Any], environ: Mapping[str, str]) -> GcpLocation:
    details = details_of(location, config)
    bucket = required_text(location, details, "bucketName")
    endpoint = _optional_text(location, details, "jsonEndpoint") or _optional_text(
        location, details, "gcpEndpoint"
    )
    return GcpLocation(
        name=location,
        endpoint=_endpoint_url(endpoint or DEFAULT_ENDPOINT),
        bucket=bucket,
        mpu_bucket=_optional_text(location, details, "mpuBucketName") or bucket,
        bucket_match=optional_bool(location, details, "bucketMatch", False),
        account=_account(location, details, environ),
    )
