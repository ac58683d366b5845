"""A small asyncio client of Backblaze B2's native API (v3): authorization, JSON calls, uploads.

It speaks only what the ``b2`` backend needs and translates every failure into the reasons of
``remote.py`` at this one place: 404 -> BLOB_NOT_FOUND; 401/403 -> BACKEND_AUTH (after one
re-authorization when the token was expired or refused); 429 and 503 -> BACKEND_THROTTLED (B2
answers 503 to say "back off, take another upload URL"); other 5xx, 408, refused connections and
timeouts -> BACKEND_UNAVAILABLE; other 4xx -> INVALID_ARGUMENT. B2's own message text never leaves
this module (only its status and code do, in log-safe form); nor does a key.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from datanode.backends.remote import RemoteTimeouts
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

API_VERSION = "v3"
SHA1_AT_END = "hex_digits_at_end"  # B2 reads the body's sha1 from its last 40 bytes
SHA1_HEX_LENGTH = 40
UPLOAD_URL_MAX_AGE_S = 3600.0  # B2 upload tokens live 24 h; older pooled URLs are dropped, not tried


class B2Failure(Exception):
    """An answer of B2 other than success: its HTTP status and B2's error code (no message text)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code

    @property
    def token_refused(self) -> bool:
        return self.status == 401 and self.code in ("expired_auth_token", "bad_auth_token")


def translate(location: str, operation: str, failure: BaseException) -> StrataError:
    """The reason of ``remote.py`` for a failed call (B2's text and credentials left out)."""
    if isinstance(failure, StrataError):
        return failure
    if isinstance(failure, B2Failure):
        where = f"location {location}: B2 {operation} answered {failure.status} {failure.code}"
        if failure.status == 404:
            return StrataError(ErrorReason.BLOB_NOT_FOUND, where)
        if failure.status in (401, 403):
            return StrataError(ErrorReason.BACKEND_AUTH, where)
        if failure.status in (429, 503):
            return StrataError(ErrorReason.BACKEND_THROTTLED, where)
        if failure.status >= 500 or failure.status == 408:
            return StrataError(ErrorReason.BACKEND_UNAVAILABLE, where)
        return StrataError(ErrorReason.INVALID_ARGUMENT, where)
    kind = type(failure).__name__
    return StrataError(
        ErrorReason.BACKEND_UNAVAILABLE, f"location {location}: B2 {operation} failed ({kind})"
    )


def encode_name(name: str) -> str:
    """B2's percent-encoding of a file name or info value in a header (UTF-8, '/' kept)."""
    return quote(name, safe="/")


@dataclass(frozen=True)
class Authorization:
    token: str
    api_url: str
    download_url: str
    account_id: str
    bucket_id: str


@dataclass(frozen=True)
class UploadTarget:
    url: str
    token: str
    issued_at: float


class SourceFailed(Exception):
    """Wraps an error raised by the caller's body stream, so it is re-raised as itself."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Sha1TrailedBody:
    """A request body: the caller's pieces then their sha1 in hex, checking the announced length.

    Every piece moves the request's deadline ``request_s`` further, so a stalled peer (or source)
    times out while a long healthy transfer does not.
    """

    def __init__(
        self, pieces: AsyncIterator[bytes], size: int, deadline: asyncio.Timeout, request_s: float
    ) -> None:
        self.pieces = pieces
        self.size = size
        self.deadline = deadline
        self.request_s = request_s
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.sent = 0
        self.source_error: BaseException | None = None

    def _push_deadline(self) -> None:
        try:
            self.deadline.reschedule(asyncio.get_running_loop().time() + self.request_s)
        except RuntimeError:  # the request already ended (B2 answered before reading the whole body)
            pass

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self.pieces:
                if not piece:
                    continue
                self.sent += len(piece)
                if self.sent > self.size:
                    raise StrataError(ErrorReason.INVALID_ARGUMENT, "body longer than its announced size")
                self.sha1.update(piece)
                self._push_deadline()
                yield piece
        except BaseException as error:
            self.source_error = error
            raise
        if self.sent != self.size:
            self.source_error = StrataError(
                ErrorReason.INVALID_ARGUMENT, "body shorter than its announced size"
            )
            raise self.source_error
        self._push_deadline()
        yield self.sha1.hexdigest().encode()


class B2Client:
    """One account's authorization on one bucket, and the calls made with it."""

    def __init__(
        self,
        location: str,
        *,
        realm_url: str,
        key_id: str,
        key: str,
        bucket_name: str,
        timeouts: RemoteTimeouts,
    ) -> None:
        self.location = location
        self.realm_url = realm_url.rstrip("/")
        self._basic = "Basic " + base64.b64encode(f"{key_id}:{key}".encode()).decode()
        self.bucket_name = bucket_name
        self.timeouts = timeouts
        self._session: aiohttp.ClientSession | None = None
        self._authorization: Authorization | None = None
        self._authorizing = asyncio.Lock()
        self._upload_targets: list[UploadTarget] = []

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeouts.connect_s, sock_read=self.timeouts.request_s
            )
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- authorization -----------------------------------------------------------------

    async def authorization(self, *, renew_from: Authorization | None = None) -> Authorization:
        """The current authorization; a new one when ``renew_from`` (a refused one) is still current."""
        async with self._authorizing:
            current = self._authorization
            if current is not None and current is not renew_from:
                return current
            self._authorization = None
            self._upload_targets.clear()
            self._authorization = await self._authorize()
            return self._authorization

    async def _authorize(self) -> Authorization:
        url = f"{self.realm_url}/b2api/{API_VERSION}/b2_authorize_account"
        answer = await self._json_request("GET", url, self._basic, None)
        storage = answer.get("apiInfo", {}).get("storageApi", {})
        api_url, download_url = storage.get("apiUrl"), storage.get("downloadUrl")
        account_id, token = answer.get("accountId"), answer.get("authorizationToken")
        if not all(isinstance(v, str) and v for v in (api_url, download_url, account_id, token)):
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.location}: B2 authorization answer incomplete",
            )
        assert isinstance(token, str) and isinstance(api_url, str) and isinstance(account_id, str)
        listed = await self._json_request(
            "POST",
            f"{api_url}/b2api/{API_VERSION}/b2_list_buckets",
            token,
            {"accountId": account_id, "bucketName": self.bucket_name},
        )
        buckets = [b for b in listed.get("buckets", []) if b.get("bucketName") == self.bucket_name]
        if not buckets:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.location}: B2 bucket {self.bucket_name!r} does not exist for this key",
            )
        return Authorization(token, api_url, str(download_url), account_id, str(buckets[0]["bucketId"]))

    # -- calls ---------------------------------------------------------------------------

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One JSON call of the API, re-authorizing once when the token was refused."""
        authorization = await self.authorization()
        for attempt in range(2):
            url = f"{authorization.api_url}/b2api/{API_VERSION}/{operation}"
            try:
                return await self._json_request("POST", url, authorization.token, params)
            except B2Failure as failure:
                if failure.token_refused and attempt == 0:
                    authorization = await self.authorization(renew_from=authorization)
                    continue
                raise
        raise AssertionError("unreachable")

    async def _json_request(
        self, method: str, url: str, auth: str, params: dict[str, Any] | None
    ) -> dict[str, Any]:
        # JSON calls are small: one deadline covers connect and answer. A connection the
        # server closed while pooled is retried once on a fresh one.
        for attempt in range(2):
            try:
                async with asyncio.timeout(self.timeouts.connect_s + self.timeouts.request_s):
                    async with self.session().request(
                        method, url, json=params, headers={"Authorization": auth}
                    ) as response:
                        return await _json_answer(response)
            except aiohttp.ServerDisconnectedError:
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    async def upload_target(self, *, part_of: str | None = None) -> UploadTarget:
        """An upload URL for a file (pooled: one upload at a time each) or for parts of large file ``part_of``."""
        now = time.monotonic()
        if part_of is None:
            while self._upload_targets:
                target = self._upload_targets.pop()
                if now - target.issued_at < UPLOAD_URL_MAX_AGE_S:
                    return target
            authorization = await self.authorization()
            answer = await self.call("b2_get_upload_url", {"bucketId": authorization.bucket_id})
        else:
            answer = await self.call("b2_get_upload_part_url", {"fileId": part_of})
        return UploadTarget(str(answer["uploadUrl"]), str(answer["authorizationToken"]), now)

    def release_upload_target(self, target: UploadTarget) -> None:
        self._upload_targets.append(target)

    async def upload(
        self, target: UploadTarget, headers: dict[str, str], pieces: AsyncIterator[bytes], size: int
    ) -> tuple[dict[str, Any], str]:
        """POSTs ``size`` bytes with their sha1 appended; returns B2's answer and the sha1 sent.

        An error of the caller's stream is raised as itself; B2 answers raise ``B2Failure``.
        """
        all_headers = {
            **headers,
            "Authorization": target.token,
            "Content-Length": str(size + SHA1_HEX_LENGTH),
            "X-Bz-Content-Sha1": SHA1_AT_END,
        }
        try:
            async with asyncio.timeout(self.timeouts.connect_s + self.timeouts.request_s) as deadline:
                body = Sha1TrailedBody(pieces, size, deadline, self.timeouts.request_s)
                try:
                    async with self.session().post(
                        target.url, data=body.__aiter__(), headers=all_headers
                    ) as response:
                        answer = await _json_answer(response)
                except (aiohttp.ClientError, OSError, B2Failure):
                    if body.source_error is not None:
                        raise SourceFailed(body.source_error) from None
                    raise
        except SourceFailed as failed:
            raise failed.error from None
        if body.source_error is not None:
            raise body.source_error
        sha1 = body.sha1.hexdigest()
        if answer.get("contentSha1") not in (sha1, None):
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"location {self.location}: B2 stored other bytes"
            )
        return answer, sha1


async def _json_answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    if response.status >= 300:
        code = ""
        try:
            answer = await response.json(content_type=None)
            if isinstance(answer, dict):
                code = str(answer.get("code", ""))
        except (ValueError, aiohttp.ContentTypeError):
            pass
        raise B2Failure(response.status, code)
    answer = await response.json(content_type=None)
    if not isinstance(answer, dict):
        raise B2Failure(502, "not_json")
    return answer
