"""OAuth2 access tokens for a Google service account (the JWT-bearer grant), cached and refreshed.

A service account signs a short JWT (RS256, its private key) naming itself, the scopes it
wants and the token endpoint; the endpoint answers an access token valid for about an
hour. ``ServiceAccountTokens`` keeps the token and fetches a new one a minute before it
expires, one fetch at a time however many requests are waiting for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from datanode.backends.remote import RemoteTimeouts
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600
REFRESH_MARGIN_S = 60.0  # a token this close to its expiry is replaced before use


@dataclass(frozen=True)
class ServiceAccount:
    """A service account's identity: its e-mail, its PEM private key, where to trade a JWT for a token."""

    email: str
    private_key_pem: str
    token_uri: str = DEFAULT_TOKEN_URI
    scopes: str = DEFAULT_SCOPE

    def __repr__(self) -> str:  # never print the key
        return f"ServiceAccount(email={self.email!r}, token_uri={self.token_uri!r})"


def service_account_from_key_file(location: str, text: str, scopes: str) -> ServiceAccount:
    """Reads the JSON key file Google hands out for a service account (``client_email``, ``private_key``)."""
    try:
        document = json.loads(text)
    except ValueError:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: the service key file is not JSON"
        ) from None
    if not isinstance(document, dict):
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: the service key file is not an object"
        )
    email, key = document.get("client_email"), document.get("private_key")
    if not isinstance(email, str) or not email or not isinstance(key, str) or not key:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT,
            f"location {location}: the service key file needs client_email and private_key",
        )
    token_uri = document.get("token_uri")
    return ServiceAccount(
        email, key, token_uri if isinstance(token_uri, str) and token_uri else DEFAULT_TOKEN_URI, scopes
    )


def load_private_key(location: str, private_key_pem: str) -> rsa.RSAPrivateKey:
    # Keys pasted into JSON or environment variables often carry literal "\n" sequences.
    pem = private_key_pem.replace("\\n", "\n").encode()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: the service key is not a PEM private key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {location}: the service key is not an RSA key"
        )
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_assertion(account: ServiceAccount, key: rsa.RSAPrivateKey, now: float) -> str:
    """The RS256 JWT that asks ``account.token_uri`` for a token with ``account.scopes``."""
    header = {"alg": "RS256", "typ": "JWT"}
    issued = int(now)
    claims = {
        "iss": account.email,
        "scope": account.scopes,
        "aud": account.token_uri,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_S,
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(signature)


class ServiceAccountTokens:
    """Hands out a valid access token for one service account, fetching a new one only when needed."""

    def __init__(self, location: str, account: ServiceAccount, timeouts: RemoteTimeouts) -> None:
        self._location = location
        self._account = account
        self._key = load_private_key(location, account.private_key_pem)
        self._timeouts = timeouts
        self._token = ""
        self._expires_at = 0.0  # time.monotonic() seconds
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many tokens were fetched (tests and metrics read it)

    @property
    def account(self) -> ServiceAccount:
        return self._account

    def invalidate(self) -> None:
        """Forgets the token (the provider refused it): the next request fetches a fresh one."""
        self._token = ""
        self._expires_at = 0.0

    async def token(self, session: aiohttp.ClientSession) -> str:
        if self._token and time.monotonic() < self._expires_at - REFRESH_MARGIN_S:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at - REFRESH_MARGIN_S:
                return self._token  # another request refreshed it while this one waited
            token, lifetime_s = await self._fetch(session)
            self._token, self._expires_at = token, time.monotonic() + lifetime_s
            self.fetches += 1
            return token

    async def _fetch(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        assertion = signed_assertion(self._account, self._key, time.time())
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        timeout = aiohttp.ClientTimeout(
            total=self._timeouts.connect_s + self._timeouts.request_s, connect=self._timeouts.connect_s
        )
        try:
            async with session.post(self._account.token_uri, data=form, timeout=timeout) as response:
                if response.status in (400, 401, 403):
                    # invalid_grant / unauthorized_client: the key or the account is refused.
                    raise StrataError(
                        ErrorReason.BACKEND_AUTH,
                        f"location {self._location}: the token endpoint refused the service account",
                    )
                if response.status == 429:
                    raise StrataError(
                        ErrorReason.BACKEND_THROTTLED,
                        f"location {self._location}: the token endpoint is throttling",
                    )
                if response.status != 200:
                    raise StrataError(
                        ErrorReason.BACKEND_UNAVAILABLE,
                        f"location {self._location}: the token endpoint answered {response.status}",
                    )
                answer: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self._location}: the token endpoint is unreachable",
            ) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self._location}: the token endpoint sent no token",
            )
        lifetime = answer.get("expires_in", ASSERTION_LIFETIME_S)
        lifetime_s = float(lifetime) if isinstance(lifetime, int | float) else float(ASSERTION_LIFETIME_S)
        return token, lifetime_s
