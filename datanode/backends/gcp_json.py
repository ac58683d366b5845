"""A small asynchronous client of the Google Cloud Storage JSON API (aiohttp), as the gcp backend needs it.

Every call has a timeout and leaves only as a ``StrataError`` with an allowed reason, never
with the provider's text. Uploads use resumable sessions: the body is sent in chunks of a
fixed size (a multiple of 256 KiB, as the API demands) while the next chunk is read, so a
stream of unknown length never holds more than two chunks in memory. Downloads stream
``alt=media`` with a ``Range`` header, in pieces of 1 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from datanode.backends.gcp_auth import ServiceAccountTokens
from datanode.backends.remote import RemoteTimeouts
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

KIB = 1024
MIB = 1024 * KIB
UPLOAD_GRANULARITY = 256 * KIB  # non-final resumable chunks must be multiples of this
DEFAULT_CHUNK_SIZE = 8 * MIB
READ_PIECE = MIB
RESUME_INCOMPLETE = 308  # a resumable session took the chunk and waits for more

_REASON_BY_STATUS = {
    401: ErrorReason.BACKEND_AUTH,
    403: ErrorReason.BACKEND_AUTH,
    404: ErrorReason.BLOB_NOT_FOUND,
    410: ErrorReason.BLOB_NOT_FOUND,  # an upload session that expired or was cancelled
    412: ErrorReason.BLOB_NOT_FOUND,  # a generation precondition: that write is not the one there
    429: ErrorReason.BACKEND_THROTTLED,
}


def reason_for_status(status: int) -> int:
    """The error reason of an HTTP status from the JSON API (anything unexpected: unavailable)."""
    if status in _REASON_BY_STATUS:
        return _REASON_BY_STATUS[status]
    if 400 <= status < 500:
        return ErrorReason.INVALID_ARGUMENT
    return ErrorReason.BACKEND_UNAVAILABLE


def object_path(bucket: str, name: str) -> str:
    return f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"


class _ChunkBuffer:
    """Pieces of an upload waiting to be sent; ``take`` cuts exactly n bytes off the front without copying."""

    def __init__(self) -> None:
        self._pieces: list[memoryview] = []
        self.size = 0

    def append(self, piece: bytes) -> None:
        self._pieces.append(memoryview(piece))
        self.size += len(piece)

    def take(self, count: int) -> list[memoryview]:
        taken: list[memoryview] = []
        while count > 0:
            head = self._pieces[0]
            if len(head) <= count:
                taken.append(self._pieces.pop(0))
                count -= len(head)
                self.size -= len(head)
            else:
                taken.append(head[:count])
                self._pieces[0] = head[count:]
                self.size -= count
                count = 0
        return taken

    def take_all(self) -> list[memoryview]:
        return self.take(self.size)


def _size_of(pieces: Sequence[memoryview]) -> int:
    return sum(len(piece) for piece in pieces)


def _skip(pieces: Sequence[memoryview], count: int) -> list[memoryview]:
    """The pieces left after dropping ``count`` bytes from their front."""
    left: list[memoryview] = []
    for piece in pieces:
        if count >= len(piece):
            count -= len(piece)
        elif count > 0:
            left.append(piece[count:])
            count = 0
        else:
            left.append(piece)
    return left


async def _body(pieces: Sequence[memoryview]) -> AsyncIterator[memoryview]:
    for piece in pieces:
        yield piece


class GcsJsonClient:
    """One endpoint of the JSON API, with the credentials of one location (or none, for emulators)."""

    def __init__(
        self,
        location: str,
        endpoint: str,
        tokens: ServiceAccountTokens | None,
        timeouts: RemoteTimeouts,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if chunk_size <= 0 or chunk_size % UPLOAD_GRANULARITY:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "upload chunks must be multiples of 256 KiB")
        self._location = location
        self._endpoint = endpoint.rstrip("/")
        self._tokens = tokens
        self._timeouts = timeouts
        self.chunk_size = chunk_size
        self._session: aiohttp.ClientSession | None = None
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.connect_s,
            sock_connect=timeouts.connect_s,
            sock_read=timeouts.request_s,
        )

    @property
    def location(self) -> str:
        return self._location

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No automatic gunzip: objects stored with Content-Encoding gzip come back as stored.
            self._session = aiohttp.ClientSession(auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str, query: Mapping[str, str | int] | None = None) -> URL:
        text = self._endpoint + path
        if query:
            text += "?" + urlencode({key: str(value) for key, value in query.items()}, quote_via=quote)
        return URL(text, encoded=True)

    async def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._tokens is not None:
            headers["Authorization"] = "Bearer " + await self._tokens.token(self._client())
        return headers

    def failure(self, status: int, what: str) -> StrataError:
        if status == 401 and self._tokens is not None:
            self._tokens.invalidate()  # revoked or expired early: the next call fetches a new one
        reason = reason_for_status(status)
        return StrataError(
            reason, f"location {self._location}: {what}: {ErrorReason.Name(reason)} ({status})"
        )

    def unreachable(self, what: str) -> StrataError:
        return StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"location {self._location}: {what}: unreachable")

    async def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """One small JSON request; its answer, or None when missing (404/412) and ``missing_ok``."""
        try:
            async with asyncio.timeout(self._timeouts.connect_s + self._timeouts.request_s):
                headers = await self._headers()
                async with self._client().request(
                    method,
                    self.url(path, query),
                    json=body,
                    headers=headers,
                    timeout=self._stream_timeout,
                    allow_redirects=False,
                ) as response:
                    if response.status in (200, 201):
                        answer = await response.json(content_type=None)
                        return answer if isinstance(answer, dict) else {}
                    if response.status == 204:
                        return {}
                    if missing_ok and response.status in (404, 412):
                        return None
                    raise self.failure(response.status, what)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise self.unreachable(what) from None

    async def list_names(self, bucket: str, prefix: str) -> list[str]:
        names: list[str] = []
        query: dict[str, str | int] = {
            "prefix": prefix,
            "fields": "items(name),nextPageToken",
            "maxResults": 1000,
        }
        while True:
            page = await self.call("GET", f"/storage/v1/b/{quote(bucket, safe='')}/o", "list", query=query)
            assert page is not None
            names.extend(item["name"] for item in page.get("items", []) if isinstance(item, dict))
            token = page.get("nextPageToken")
            if not token:
                return names
            query["pageToken"] = token

    async def upload(
        self, bucket: str, resource: Mapping[str, Any], chunks: AsyncIterator[bytes], expected_size: int
    ) -> dict[str, Any]:
        """Streams ``chunks`` into a new object described by ``resource``; its resource once complete.

        A body that fits in one chunk goes in one request (``uploadType=multipart``); a longer one
        through a resumable session. The object appears only when the last byte is accepted: a
        stream that fails (or whose length differs from ``expected_size`` when that is not -1)
        cancels the session, and nothing is left under the name.
        """
        buffer = _ChunkBuffer()
        source = aiter(chunks)
        if await self._fill(buffer, source):
            self._check_size(buffer.size, expected_size)
            return await self._upload_whole(bucket, resource, buffer.take_all())
        session_uri = await self._start_session(bucket, resource)
        # fake-gcs-server takes the object's type from the chunks' Content-Type (GCS ignores it there).
        content_type = str(resource.get("contentType") or "application/octet-stream")
        offset = 0
        sending: asyncio.Task[None] | None = None
        try:
            ended = False
            while not ended:
                while buffer.size > self.chunk_size:  # strictly more: the last chunk is always sent as final
                    chunk = buffer.take(self.chunk_size)
                    if sending is not None:
                        await sending
                    sending = asyncio.create_task(self._send_chunk(session_uri, chunk, offset, content_type))
                    offset += self.chunk_size
                ended = await self._fill(buffer, source)
            if sending is not None:
                await sending
                sending = None
            total = offset + buffer.size
            self._check_size(total, expected_size)
            return await self._send_final(session_uri, buffer.take_all(), offset, total, content_type)
        except BaseException:
            if sending is not None:
                sending.cancel()
                with contextlib.suppress(BaseException):
                    await sending
            await asyncio.shield(self._cancel_session(session_uri))
            raise

    async def _fill(self, buffer: _ChunkBuffer, source: AsyncIterator[bytes]) -> bool:
        """Reads until the buffer holds more than a chunk; True when the stream ended first."""
        while buffer.size <= self.chunk_size:
            try:
                piece = await anext(source)
            except StopAsyncIteration:
                return True
            if piece:
                buffer.append(piece)
        return False

    def _check_size(self, total: int, expected_size: int) -> None:
        if expected_size >= 0 and total != expected_size:
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT,
                f"location {self._location}: the body had {total} bytes, {expected_size} were announced",
            )

    async def _upload_whole(
        self, bucket: str, resource: Mapping[str, Any], pieces: Sequence[memoryview]
    ) -> dict[str, Any]:
        """One request carrying the object's resource and its bytes (``multipart/related``)."""
        what = "upload"
        boundary = "strata-" + uuid.uuid4().hex
        content_type = str(resource.get("contentType") or "application/octet-stream")
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(dict(resource))}\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        body = [memoryview(head), *pieces, memoryview(tail)]
        query = {"uploadType": "multipart", "name": str(resource["name"])}
        try:
            async with asyncio.timeout(self._timeouts.connect_s + self._timeouts.request_s):
                headers = await self._headers(
                    {
                        "Content-Type": f"multipart/related; boundary={boundary}",
                        "Content-Length": str(_size_of(body)),
                    }
                )
                url = self.url(f"/upload/storage/v1/b/{quote(bucket, safe='')}/o", query)
                async with self._client().post(
                    url,
                    data=_body(body),
                    headers=headers,
                    timeout=self._stream_timeout,
                    allow_redirects=False,
                ) as response:
                    if response.status not in (200, 201):
                        raise self.failure(response.status, what)
                    answer = await response.json(content_type=None)
                    return answer if isinstance(answer, dict) else {}
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise self.unreachable(what) from None

    async def _start_session(self, bucket: str, resource: Mapping[str, Any]) -> URL:
        what = "upload start"
        query = {"uploadType": "resumable", "name": str(resource["name"])}
        try:
            async with asyncio.timeout(self._timeouts.connect_s + self._timeouts.request_s):
                headers = await self._headers({"Content-Type": "application/json; charset=UTF-8"})
                url = self.url(f"/upload/storage/v1/b/{quote(bucket, safe='')}/o", query)
                async with self._client().post(
                    url,
                    data=json.dumps(dict(resource)),
                    headers=headers,
                    timeout=self._stream_timeout,
                    allow_redirects=False,
                ) as response:
                    if response.status != 200:
                        raise self.failure(response.status, what)
                    location = response.headers.get("Location", "")
        except (aiohttp.ClientError, TimeoutError):
            raise self.unreachable(what) from None
        if not location:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"location {self._location}: no upload session"
            )
        return URL(location, encoded=True)

    async def _put_range(
        self, session_uri: URL, pieces: Sequence[memoryview], content_range: str, content_type: str
    ) -> tuple[int, int, dict[str, Any] | None]:
        """One PUT into the session: (status, bytes the session holds now, the object when complete)."""
        what = "upload chunk"
        size = _size_of(pieces)
        try:
            async with asyncio.timeout(self._timeouts.connect_s + self._timeouts.request_s):
                headers = await self._headers(
                    {
                        "Content-Range": content_range,
                        "Content-Length": str(size),
                        "Content-Type": content_type,
                    }
                )
                async with self._client().put(
                    session_uri,
                    data=_body(pieces),
                    headers=headers,
                    timeout=self._stream_timeout,
                    allow_redirects=False,
                ) as response:
                    if response.status == RESUME_INCOMPLETE:
                        return response.status, _persisted(response.headers.get("Range", "")), None
                    if response.status in (200, 201):
                        answer = await response.json(content_type=None)
                        return response.status, -1, answer if isinstance(answer, dict) else {}
                    raise self.failure(response.status, what)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise self.unreachable(what) from None

    async def _send_chunk(
        self, session_uri: URL, pieces: list[memoryview], offset: int, content_type: str
    ) -> None:
        """Sends one non-final chunk, resending whatever part of it the session did not keep."""
        end = offset + _size_of(pieces)
        while offset < end:
            status, persisted, _ = await self._put_range(
                session_uri, pieces, f"bytes {offset}-{end - 1}/*", content_type
            )
            if status != RESUME_INCOMPLETE or persisted <= offset:
                raise StrataError(
                    ErrorReason.BACKEND_UNAVAILABLE, f"location {self._location}: the upload made no progress"
                )
            pieces = _skip(pieces, persisted - offset)
            offset = persisted

    async def _send_final(
        self, session_uri: URL, pieces: list[memoryview], offset: int, total: int, content_type: str
    ) -> dict[str, Any]:
        while True:
            content_range = f"bytes {offset}-{total - 1}/{total}" if total > offset else f"bytes */{total}"
            status, persisted, answer = await self._put_range(
                session_uri, pieces, content_range, content_type
            )
            if answer is not None:
                return answer
            if persisted <= offset:
                raise StrataError(
                    ErrorReason.BACKEND_UNAVAILABLE, f"location {self._location}: the upload made no progress"
                )
            pieces = _skip(pieces, persisted - offset)
            offset = persisted

    async def _cancel_session(self, session_uri: URL) -> None:
        """Best effort: an unfinished session never becomes an object, cancelling only frees it sooner."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeouts.connect_s + self._timeouts.request_s):
                headers = await self._headers()
                async with self._client().delete(
                    session_uri, headers=headers, timeout=self._stream_timeout, allow_redirects=False
                ):
                    pass

    async def download(
        self, bucket: str, name: str, generation: str, offset: int, length: int
    ) -> AsyncGenerator[bytes, None]:
        """Streams bytes [offset, offset+length) (length -1: to the end) of exactly that generation."""
        what = "download"
        # Asking for gzip keeps the service from decompressing objects stored gzip-encoded (ranges stay true).
        extra = {"Accept-Encoding": "gzip"}
        if offset > 0 or length >= 0:
            extra["Range"] = f"bytes={offset}-" if length < 0 else f"bytes={offset}-{offset + length - 1}"
        query = {"alt": "media", "generation": generation}
        try:
            headers = await self._headers(extra)
            async with self._client().get(
                self.url(object_path(bucket, name), query),
                headers=headers,
                timeout=self._stream_timeout,
                allow_redirects=False,
            ) as response:
                if response.status == 416:  # the range starts at or past the end: no bytes
                    return
                if response.status not in (200, 206):
                    raise self.failure(response.status, what)
                served = response.headers.get("x-goog-generation")
                if served and served != generation:
                    raise StrataError(
                        ErrorReason.BLOB_NOT_FOUND, f"location {self._location}: {what}: overwritten"
                    )
                async for piece in response.content.iter_chunked(READ_PIECE):
                    yield piece
        except (aiohttp.ClientError, TimeoutError):
            raise self.unreachable(what) from None


def _persisted(range_header: str) -> int:
    """How many bytes a session holds, from its ``Range: bytes=0-N`` answer (none: 0)."""
    if not range_header.startswith("bytes="):
        return 0
    _, _, last = range_header[len("bytes=") :].partition("-")
    try:
        return int(last) + 1
    except ValueError:
        return 0
