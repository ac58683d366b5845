"""The ``swift`` location's settings and its two ways of logging in to Swift.

- auth v1 (tempauth, swauth and most v1 gateways): ``GET <swiftAuthUrl>`` with
  ``X-Auth-User``/``X-Auth-Key`` answers the storage URL (``X-Storage-Url``) and a
  token (``X-Auth-Token``, lifetime in ``X-Auth-Token-Expires``);
- Keystone v3 password auth: ``POST <swiftAuthUrl>/auth/tokens`` scoped to a project
  answers the token in ``X-Subject-Token`` and a catalog whose ``object-store``
  endpoint (of ``swiftInterface``, in ``swiftRegion`` when set) is the storage URL.

A token is reused until shortly before it expires; the backend asks for a new one when
Swift answers 401 (a restarted proxy or memcached forgets tokens).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from datanode.backends.remote import RemoteTimeouts, details_of, optional_bool, required_text
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

MIB = 1024 * 1024
DEFAULT_SEGMENT_SIZE = 64 * MIB
MAX_SEGMENT_SIZE = 5 * 1024 * MIB  # Swift's default max_file_size
_TOKEN_EARLY_RENEWAL_S = 60.0
_ENV_OVERRIDES = {  # <location>_<suffix> replaces details.<field>
    "SWIFT_AUTH_URL": "swiftAuthUrl",
    "SWIFT_USER": "swiftUser",
    "SWIFT_KEY": "swiftKey",
}


@dataclass(frozen=True)
class SwiftSettings:
    auth_url: str
    auth_version: int  # 1 or 3
    user: str
    key: str
    project: str  # Keystone v3 only
    user_domain: str
    project_domain: str
    region: str  # "" picks the first object-store endpoint of the interface
    interface: str
    container: str
    segment_container: str
    segment_size: int
    bucket_match: bool

    @classmethod
    def from_location(
        cls, name: str, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> SwiftSettings:
        environ = os.environ if environ is None else environ
        details = dict(details_of(name, config))
        for suffix, field_name in _ENV_OVERRIDES.items():
            override = environ.get(f"{name}_{suffix}")
            if override:
                details[field_name] = override
        version = details.get("swiftAuthVersion", 1)
        if str(version) not in ("1", "3"):
            raise _invalid(name, "details.swiftAuthVersion must be 1 or 3")
        auth_version = int(str(version))
        container = required_text(name, details, "swiftContainerName")
        segment_size = details.get("swiftSegmentSize", DEFAULT_SEGMENT_SIZE)
        if isinstance(segment_size, bool) or not isinstance(segment_size, int):
            raise _invalid(name, "details.swiftSegmentSize must be a whole number of bytes")
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise _invalid(name, f"details.swiftSegmentSize must be between 1 and {MAX_SEGMENT_SIZE}")
        auth_url = required_text(name, details, "swiftAuthUrl")
        if not auth_url.startswith(("http://", "https://")):
            raise _invalid(name, "details.swiftAuthUrl must be an http:// or https:// URL")
        return cls(
            auth_url=auth_url.rstrip("/"),
            auth_version=auth_version,
            user=required_text(name, details, "swiftUser"),
            key=required_text(name, details, "swiftKey"),
            project=required_text(name, details, "swiftProject") if auth_version == 3 else "",
            user_domain=_optional_text(name, details, "swiftUserDomain", "Default"),
            project_domain=_optional_text(name, details, "swiftProjectDomain", "Default"),
            region=_optional_text(name, details, "swiftRegion", ""),
            interface=_optional_text(name, details, "swiftInterface", "public"),
            container=container,
            segment_container=_optional_text(
                name, details, "swiftSegmentContainerName", f"{container}+segments"
            ),
            segment_size=segment_size,
            bucket_match=optional_bool(name, details, "bucketMatch", True),
        )


def _invalid(name: str, message: str) -> StrataError:
    return StrataError(ErrorReason.INVALID_ARGUMENT, f"location {name}: {message}")


def _optional_text(name: str, details: Mapping[str, Any], field_name: str, default: str) -> str:
    value = details.get(field_name, default)
    if not isinstance(value, str):
        raise _invalid(name, f"details.{field_name} must be a string")
    return value or default


@dataclass(frozen=True)
class SwiftToken:
    storage_url: str
    token: str
    expires_at: float  # time.monotonic() deadline; inf when the server did not say


class SwiftAuth:
    """Holds the current token; ``token()`` logs in when there is none or it is about to expire."""

    def __init__(self, location: str, settings: SwiftSettings, timeouts: RemoteTimeouts) -> None:
        self._location = location
        self._settings = settings
        self._timeout = aiohttp.ClientTimeout(
            total=timeouts.connect_s + timeouts.request_s, connect=timeouts.connect_s
        )
        self._current: SwiftToken | None = None
        self._lock = asyncio.Lock()

    async def token(self, session: aiohttp.ClientSession) -> SwiftToken:
        current = self._current
        if current is not None and time.monotonic() < current.expires_at - _TOKEN_EARLY_RENEWAL_S:
            return current
        async with self._lock:
            if self._current is current:  # nobody renewed it while this task waited
                self._current = await self._login(session)
            assert self._current is not None
            return self._current

    def forget(self, stale: SwiftToken) -> None:
        """Drops a token Swift refused, so the next ``token()`` logs in again."""
        if self._current is stale:
            self._current = None

    async def _login(self, session: aiohttp.ClientSession) -> SwiftToken:
        try:
            if self._settings.auth_version == 1:
                return await self._login_v1(session)
            return await self._login_v3(session)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self._location}: Swift auth unreachable ({type(error).__name__})",
            ) from None

    def _refused(self, status: int) -> StrataError:
        if status in (401, 403):
            return StrataError(ErrorReason.BACKEND_AUTH, f"location {self._location}: Swift auth refused")
        if status in (429, 498):
            return StrataError(
                ErrorReason.BACKEND_THROTTLED, f"location {self._location}: Swift auth throttled"
            )
        return StrataError(
            ErrorReason.BACKEND_UNAVAILABLE, f"location {self._location}: Swift auth answered HTTP {status}"
        )

    async def _login_v1(self, session: aiohttp.ClientSession) -> SwiftToken:
        headers = {"X-Auth-User": self._settings.user, "X-Auth-Key": self._settings.key}
        async with session.get(self._settings.auth_url, headers=headers, timeout=self._timeout) as response:
            await response.read()
            if response.status not in (200, 204):
                raise self._refused(response.status)
            storage_url = response.headers.get("X-Storage-Url", "")
            token = response.headers.get("X-Auth-Token") or response.headers.get("X-Storage-Token", "")
            lifetime = response.headers.get("X-Auth-Token-Expires", "")
        if not storage_url or not token:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"location {self._location}: Swift auth gave no storage URL"
            )
        expires = time.monotonic() + float(lifetime) if lifetime.isdigit() else float("inf")
        return SwiftToken(storage_url.rstrip("/"), token, expires)

    async def _login_v3(self, session: aiohttp.ClientSession) -> SwiftToken:
        settings = self._settings
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": settings.user,
                            "domain": {"name": settings.user_domain},
                            "password": settings.key,
                        }
                    },
                },
                "scope": {"project": {"name": settings.project, "domain": {"name": settings.project_domain}}},
            }
        }
        url = f"{settings.auth_url}/auth/tokens"
        async with session.post(url, json=body, timeout=self._timeout) as response:
            if response.status not in (200, 201):
                await response.read()
                raise self._refused(response.status)
            token = response.headers.get("X-Subject-Token", "")
            try:
                document = await response.json(content_type=None)
            except ValueError:
                document = None
        storage_url = self._object_store_url(document)
        if not token or not storage_url:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self._location}: Keystone gave no token or no object-store endpoint"
                f" (interface {settings.interface!r}, region {settings.region or 'any'!r})",
            )
        return SwiftToken(storage_url.rstrip("/"), token, _expiry(document))

    def _object_store_url(self, document: Any) -> str:
        catalog = document.get("token", {}).get("catalog", []) if isinstance(document, dict) else []
        for service in catalog if isinstance(catalog, list) else []:
            if not isinstance(service, dict) or service.get("type") != "object-store":
                continue
            for endpoint in service.get("endpoints", []):
                if not isinstance(endpoint, dict) or endpoint.get("interface") != self._settings.interface:
                    continue
                region = endpoint.get("region_id") or endpoint.get("region") or ""
                if self._settings.region and region != self._settings.region:
                    continue
                url = endpoint.get("url")
                if isinstance(url, str) and url:
                    return url
        return ""


def _expiry(document: Any) -> float:
    """The monotonic deadline of a Keystone token from its ``expires_at`` (inf when absent or unreadable)."""
    expires_at = document.get("token", {}).get("expires_at") if isinstance(document, dict) else None
    if not isinstance(expires_at, str):
        return float("inf")
    try:
        remaining = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp() - time.time()
    except ValueError:
        return float("inf")
    return time.monotonic() + remaining
