"""The ``details`` of an ``aws_s3`` location, parsed and checked once at construction.

Field names follow the reference's ``locationConfig.json``: ``awsEndpoint``, ``bucketName``,
``bucketMatch``, ``credentialsProfile`` or ``credentials {accessKey, secretKey}`` (one of
the two), ``https``, ``pathStyle``, ``serverSideEncryption``, ``supportsVersioning`` and
``region``. A profile is read from the standard AWS shared credentials file
(``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials``).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from datanode.backends.remote import details_of, optional_bool, required_text
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class AwsCredentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class AwsS3Settings:
    location: str
    endpoint: str  # host or host:port, no scheme
    bucket: str
    bucket_match: bool
    credentials: AwsCredentials
    https: bool = True
    path_style: bool = False
    server_side_encryption: bool = False
    supports_versioning: bool = False
    region: str = DEFAULT_REGION

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    def bucket_url(self) -> str:
        """The URL of the bucket itself (path-style ``endpoint/bucket/``, else ``bucket.endpoint/``)."""
        if self.path_style:
            return f"{self.scheme}://{self.endpoint}/{quote(self.bucket, safe='')}/"
        return f"{self.scheme}://{self.bucket}.{self.endpoint}/"

    def object_url(self, name: str) -> str:
        """The percent-encoded URL of object ``name`` (S3 keeps ``/`` as is; everything else is escaped)."""
        return self.bucket_url() + quote(name, safe="/~")


def _fail(location: str, message: str) -> StrataError:
    return StrataError(ErrorReason.INVALID_ARGUMENT, f"location {location}: {message}")


def _endpoint(location: str, details: Mapping[str, Any]) -> str:
    endpoint = required_text(location, details, "awsEndpoint").strip()
    if "://" in endpoint:
        raise _fail(
            location, "details.awsEndpoint is a host or host:port, without a scheme (see details.https)"
        )
    endpoint = endpoint.rstrip("/")
    if not endpoint or "/" in endpoint or " " in endpoint:
        raise _fail(location, "details.awsEndpoint must be a host or host:port")
    return endpoint


def _inline_credentials(location: str, value: Any) -> AwsCredentials:
    if not isinstance(value, Mapping):
        raise _fail(location, "details.credentials must be an object with accessKey and secretKey")
    access_key, secret_key = value.get("accessKey"), value.get("secretKey")
    if not isinstance(access_key, str) or not access_key:
        raise _fail(location, "details.credentials.accessKey must be a non-empty string")
    if not isinstance(secret_key, str) or not secret_key:
        raise _fail(location, "details.credentials.secretKey must be a non-empty string")
    return AwsCredentials(access_key, secret_key)


def shared_credentials_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("AWS_SHARED_CREDENTIALS_FILE")
    return Path(configured).expanduser() if configured else Path.home() / ".aws" / "credentials"


def profile_credentials(location: str, profile: str, path: Path) -> AwsCredentials:
    """The keys of ``[profile]`` in an AWS shared credentials file (its secrets never reach a message)."""
    parser = configparser.RawConfigParser()
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise _fail(location, f"credentialsProfile {profile!r}: no credentials file at {path}") from None
    except (OSError, configparser.Error):
        raise _fail(
            location, f"credentialsProfile {profile!r}: cannot read the credentials file {path}"
        ) from None
    if not parser.has_section(profile):
        raise _fail(location, f"credentialsProfile {profile!r} is not in {path}")
    access_key = parser.get(profile, "aws_access_key_id", fallback="").strip()
    secret_key = parser.get(profile, "aws_secret_access_key", fallback="").strip()
    if not access_key or not secret_key:
        raise _fail(
            location,
            f"credentialsProfile {profile!r} in {path} lacks aws_access_key_id or aws_secret_access_key",
        )
    session_token = parser.get(profile, "aws_session_token", fallback="").strip()
    return AwsCredentials(access_key, secret_key, session_token)


def parse_settings(
    location: str, config: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> AwsS3Settings:
    details = details_of(location, config)
    profile, inline = details.get("credentialsProfile"), details.get("credentials")
    if profile is not None and inline is not None:
        raise _fail(location, "use details.credentialsProfile or details.credentials, not both")
    if inline is not None:
        credentials = _inline_credentials(location, inline)
    elif profile is not None:
        if not isinstance(profile, str) or not profile:
            raise _fail(location, "details.credentialsProfile must be a non-empty string")
        credentials = profile_credentials(location, profile, shared_credentials_path(env))
    else:
        raise _fail(location, "details.credentialsProfile or details.credentials is required")
    region = details.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or not region:
        raise _fail(location, "details.region must be a non-empty string")
    bucket = required_text(location, details, "bucketName")
    path_style = optional_bool(location, details, "pathStyle", False)
    if not path_style and "." in bucket and optional_bool(location, details, "https", True):
        # A dotted bucket name breaks the provider's wildcard certificate in the virtual-hosted form.
        path_style = True
    return AwsS3Settings(
        location=location,
        endpoint=_endpoint(location, details),
        bucket=bucket,
        bucket_match=optional_bool(location, details, "bucketMatch", False),
        credentials=credentials,
        https=optional_bool(location, details, "https", True),
        path_style=path_style,
        server_side_encryption=optional_bool(location, details, "serverSideEncryption", False),
        supports_versioning=optional_bool(location, details, "supportsVersioning", False),
        region=region,
    )
