"""A small SigV4-signed aiohttp client of the S3 REST API, and its error translation.

Requests are signed with botocore's signer (botocore is already a dependency; no
synchronous SDK call runs). Bodies stream: a streamed body is signed as
``UNSIGNED-PAYLOAD`` (its hash is not known before it is sent), a small one (an XML
document) with its sha256. Every request has a connect timeout and a progress timeout:
the time allowed for the response to start, and for each piece of a streamed body to
go out or come in.

Provider errors become ``StrataError`` reasons here and nowhere else; a message names the
location, the operation, the HTTP status and S3's error code (a fixed token), never the
provider's text or a credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import aiohttp.abc
import yarl
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from datanode.backends.aws_s3_config import AwsS3Settings
from datanode.backends.remote import RemoteTimeouts
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AccountProblem",
    "AllAccessDisabled",
}
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}
_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchUpload"}
_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


class _PresetPayloadSigner(S3SigV4Auth):
    """botocore's S3 signer, with the payload hash given by the caller (a stream cannot be hashed first)."""

    def payload(self, request: AWSRequest) -> str:
        return str(request.context["payload_hash"])


@dataclass(frozen=True)
class S3Failure:
    """What an S3 error response said: its status and error code (empty for bodiless answers)."""

    status: int
    code: str


def error_code(body: bytes) -> str:
    found = _CODE.search(body)
    return found.group(1).decode("ascii", "replace") if found else ""


def reason_of_failure(failure: S3Failure) -> int:
    """The Strata reason of an S3 error response (see the module docstring of remote.py)."""
    status, code = failure.status, failure.code
    if code in _THROTTLE_CODES or status == 429:
        return ErrorReason.BACKEND_THROTTLED
    if code in _AUTH_CODES or status in (401, 403):
        return ErrorReason.BACKEND_AUTH
    if code == "NoSuchBucket":
        return ErrorReason.BACKEND_UNAVAILABLE  # the location's bucket is gone: an operator's problem
    if code in _MISSING_CODES or status in (404, 412):
        return ErrorReason.BLOB_NOT_FOUND
    if status >= 500:
        return ErrorReason.BACKEND_UNAVAILABLE
    return ErrorReason.INVALID_ARGUMENT


class S3Client:
    """Signed requests to one location's bucket, over one pooled aiohttp session."""

    def __init__(
        self,
        settings: AwsS3Settings,
        timeouts: RemoteTimeouts,
        resolver: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        self.settings = settings
        self.timeouts = timeouts
        self._resolver = resolver  # None: the system's; tests give virtual-hosted names an address
        self._signer = _PresetPayloadSigner(
            Credentials(
                settings.credentials.access_key,
                settings.credentials.secret_key,
                settings.credentials.session_token or None,
            ),
            "s3",
            settings.region,
        )
        self._session: aiohttp.ClientSession | None = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.timeouts.connect_s,
                    sock_read=self.timeouts.request_s,
                ),
                connector=aiohttp.TCPConnector(limit=64, resolver=self._resolver),
                auto_decompress=False,  # bytes come back exactly as stored, Content-Encoding or not
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def failure(self, operation: str, failure: S3Failure) -> StrataError:
        detail = f"HTTP {failure.status}" + (f" {failure.code}" if failure.code else "")
        return StrataError(
            reason_of_failure(failure), f"location {self.settings.location}: {operation} failed ({detail})"
        )

    def unavailable(self, operation: str, error: BaseException) -> StrataError:
        kind = "timed out" if isinstance(error, TimeoutError) else f"unreachable ({type(error).__name__})"
        return StrataError(
            ErrorReason.BACKEND_UNAVAILABLE,
            f"location {self.settings.location}: {operation} failed: {self.settings.endpoint} {kind}",
        )

    def _signed_headers(
        self, method: str, url: str, headers: Mapping[str, str], payload_hash: str
    ) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, headers=dict(headers))
        request.context["payload_hash"] = payload_hash
        self._signer.add_auth(request)
        return dict(request.headers.items())

    @asynccontextmanager
    async def request(
        self,
        operation: str,
        method: str,
        name: str | None,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] | None = None,
        accept: tuple[int, ...] = (200,),
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Sends one signed request; yields the response when its status is in ``accept``.

        Any other status raises the translated error; so do connection failures and timeouts.
        """
        url = self.settings.bucket_url() if name is None else self.settings.object_url(name)
        if query:
            url += "?" + "&".join(
                f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}" if value else quote(key, safe="-_.~")
                for key, value in sorted(query.items())
            )
        request_headers = dict(headers or {})
        if body is None:
            payload_hash = EMPTY_SHA256
        elif isinstance(body, bytes):
            payload_hash = hashlib.sha256(body).hexdigest()
            request_headers["Content-Length"] = str(len(body))
        else:
            payload_hash = UNSIGNED_PAYLOAD
        signed = self._signed_headers(method, url, request_headers, payload_hash)
        session = self._client_session()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeouts.request_s) as progress:
                data: Any = body
                if body is not None and not isinstance(body, bytes):
                    data = _progressing(body, progress, loop, self.timeouts.request_s)
                async with session.request(
                    method, yarl.URL(url, encoded=True), headers=signed, data=data, allow_redirects=False
                ) as response:
                    if response.status not in accept:
                        code = error_code(await response.read()) if method != "HEAD" else ""
                        raise self.failure(operation, S3Failure(response.status, code))
                    # Reading the body is bounded per piece by sock_read, not by this deadline.
                    progress.reschedule(None)
                    yield response
        except StrataError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise self.unavailable(operation, error) from None


async def _progressing(
    body: AsyncIterator[bytes], progress: asyncio.Timeout, loop: asyncio.AbstractEventLoop, window_s: float
) -> AsyncIterator[bytes]:
    """Passes ``body`` through, giving each piece a fresh deadline (a stalled upload times out)."""
    async for piece in body:
        progress.reschedule(loop.time() + window_s)
        yield piece
    progress.reschedule(loop.time() + window_s)  # the wait for the answer once the body is sent
