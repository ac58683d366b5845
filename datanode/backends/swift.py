"""The ``swift`` external location: OpenStack Swift through its native API, with aiohttp.

Objects land in ``swiftContainerName`` under the S3 object's name. Login is auth v1 or
Keystone v3 (``swift_auth``); a refused token is renewed once and the request retried.

**Versions.** The backend turns on Swift object versioning on its container
(``X-Versions-Enabled: true``; Swift 2.24+ with ``allow_object_versioning`` in the
proxy's ``versioned_writes``). Every write answers its ``X-Object-Version-Id``;
get, head and delete pass ``version-id`` so they address exactly that write, and an
overwritten write stays readable until Strata's GC deletes it (``keeps_versions``).
Deleting the current version makes Swift promote the previous one, so a container only
lists what Strata still references. A cluster without object versioning is refused
(the put raises BACKEND_UNAVAILABLE naming the missing setting) rather than risking
another write's data.

**Large objects.** A body of known size up to ``swiftSegmentSize`` (default 64 MiB) is
one streamed PUT with its Content-Length. Larger bodies, and bodies of unknown size
past 8 MiB, become a Static Large Object: segments of ``swiftSegmentSize`` streamed
into ``swiftSegmentContainerName`` (default ``<container>+segments``, created on first
use) under ``w-<write id>/<index>``, then the manifest (``?multipart-manifest=put``)
under the object's name. A multipart upload stores each part as one segment
``u-<upload id>/<part>-<attempt>``; completion writes the manifest of the chosen parts
and removes the others; abort removes them all. The write's version string carries
its segment prefix, so deleting it removes its segments too (after the manifest:
a crash in between leaves unreferenced segments, never a manifest missing segments).
Swift's ``max_manifest_segments`` (1000 by default) bounds a multipart upload to that
many non-empty parts (nested manifests would lift it, but Swift 2.38 answers 409 to a
``version-id`` read of a nested manifest).

**Metadata.** User metadata goes to ``X-Object-Meta-*``; Content-Type,
Content-Encoding, Content-Disposition, Content-Language and Cache-Control are sent as
object headers (Swift keeps the ones in its object server's ``allowed_headers``).
Swift has no object tags: tags are not forwarded.

**Errors.** 404/412 (and a version id Swift cannot parse) -> BLOB_NOT_FOUND,
401/403 -> BACKEND_AUTH, 429/498 -> BACKEND_THROTTLED, 400/413 on a write (a name or body
past Swift's limits) -> INVALID_ARGUMENT, connection failures, timeouts and 5xx ->
BACKEND_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp

from datanode.backends.remote import (
    ObjectMeta,
    RemoteObject,
    RemotePart,
    RemoteTimeouts,
    register_remote,
)
from datanode.backends.swift_auth import MIB, SwiftAuth, SwiftSettings, SwiftToken
from datanode.backends.swift_stream import BodySource
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

logger = logging.getLogger(__name__)

READ_PIECE = MIB
UNSIZED_BUFFER = 8 * MIB  # an unsized body that ends within this is one plain PUT
_DELETE_CONCURRENCY = 8
_CONTENT_HEADERS = {
    "content_encoding": "Content-Encoding",
    "content_disposition": "Content-Disposition",
    "content_language": "Content-Language",
    "cache_control": "Cache-Control",
}


class SwiftBackend:
    location_type = "swift"
    keeps_versions = True

    def __init__(
        self,
        location: str,
        config: Mapping[str, Any],
        *,
        timeouts: RemoteTimeouts | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.location = location
        self.settings = SwiftSettings.from_location(location, config, environ)
        self.bucket_match = self.settings.bucket_match
        self.timeouts = timeouts or RemoteTimeouts()
        self._auth = SwiftAuth(location, self.settings, self.timeouts)
        self._session: aiohttp.ClientSession | None = None
        self._versioning_checked = False
        self._segments_ready = False
        self._setup_lock = asyncio.Lock()

    # ---- transport -------------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.timeouts.connect_s, sock_read=self.timeouts.request_s
                ),
                auto_decompress=False,  # Content-Encoding is the object's, not the transfer's
            )
        return self._session

    def _unavailable(self, what: str, error: BaseException) -> StrataError:
        logger.warning("location %s: Swift %s failed: %s", self.location, what, type(error).__name__)
        return StrataError(
            ErrorReason.BACKEND_UNAVAILABLE, f"location {self.location}: Swift unreachable ({what})"
        )

    def _status_error(self, status: int, what: str) -> StrataError:
        if status in (404, 412):
            reason = ErrorReason.BLOB_NOT_FOUND
        elif status in (401, 403):
            reason = ErrorReason.BACKEND_AUTH
        elif status in (429, 498):
            reason = ErrorReason.BACKEND_THROTTLED
        elif status in (400, 413):  # e.g. a name past Swift's 1024 bytes, a body past max_file_size
            reason = ErrorReason.INVALID_ARGUMENT
        else:
            reason = ErrorReason.BACKEND_UNAVAILABLE
        return StrataError(reason, f"location {self.location}: Swift {what} answered HTTP {status}")

    def _url(self, token: SwiftToken, container: str, name: str = "") -> str:
        path = f"{token.storage_url}/{urllib.parse.quote(container, safe='')}"
        return f"{path}/{urllib.parse.quote(name, safe='/')}" if name else path

    async def _send(
        self,
        method: str,
        container: str,
        name: str = "",
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        source: BodySource | None = None,
        what: str = "request",
    ) -> aiohttp.ClientResponse:
        """One request with a valid token (renewed and retried once on 401 if no body was read yet).

        The caller releases the response (``async with``). Transport failures become
        BACKEND_UNAVAILABLE; a failure of the caller's own body stream is re-raised as is.
        """
        session = self._client()
        for attempt in (1, 2):
            token = await self._auth.token(session)
            sent = {"X-Auth-Token": token.token, **(headers or {})}
            try:
                # A streamed body waits for 100 Continue: a refused token is answered before any byte
                # of the body is read, so the same body can go again with a new token.
                response = await session.request(
                    method,
                    self._url(token, container, name),
                    params=params,
                    headers=sent,
                    data=data,
                    expect100=source is not None,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                if source is not None and source.error is not None:
                    raise source.error from None
                raise self._unavailable(what, error) from None
            if response.status == 401 and attempt == 1 and (source is None or not source.started):
                response.release()
                self._auth.forget(token)
                continue
            return response
        raise AssertionError("unreachable")

    async def _call(self, method: str, container: str, name: str = "", **kwargs: Any) -> tuple[int, Any]:
        """A small request whose answer is read whole: (status, headers)."""
        what = kwargs.get("what", method)
        try:
            async with await self._send(method, container, name, **kwargs) as response:
                await response.read()
                return response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._unavailable(what, error) from None

    # ---- container set-up ------------------------------------------------------------------------

    async def _ensure_versioning(self) -> None:
        if self._versioning_checked:
            return
        async with self._setup_lock:
            if self._versioning_checked:
                return
            status, headers = await self._call("HEAD", self.settings.container, what="container HEAD")
            if status == 404:
                raise StrataError(
                    ErrorReason.BACKEND_UNAVAILABLE,
                    f"location {self.location}: container {self.settings.container} does not exist",
                )
            if status >= 300:
                raise self._status_error(status, "container HEAD")
            if headers.get("X-Versions-Enabled", "").lower() != "true":
                status, _ = await self._call(
                    "POST",
                    self.settings.container,
                    headers={"X-Versions-Enabled": "true"},
                    what="enabling versioning",
                )
                if status >= 300:
                    raise self._status_error(status, "enabling versioning")
            self._versioning_checked = True

    async def _ensure_segment_container(self) -> None:
        if self._segments_ready:
            return
        async with self._setup_lock:
            if not self._segments_ready:
                status, _ = await self._call("PUT", self.settings.segment_container, what="segment container")
                if status >= 300:
                    raise self._status_error(status, "creating the segment container")
                self._segments_ready = True

    # ---- writes ----------------------------------------------------------------------------------

    def _object_headers(self, meta: ObjectMeta) -> dict[str, str]:
        headers = {f"X-Object-Meta-{key}": value for key, value in meta.user_metadata.items()}
        if meta.content_type:
            headers["Content-Type"] = meta.content_type
        for attribute, header in _CONTENT_HEADERS.items():
            value = getattr(meta, attribute)
            if value:
                headers[header] = value
        return headers

    def _version_of(self, headers: Any, what: str) -> str:
        version = headers.get("X-Object-Version-Id", "")
        if not version or version == "null":
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.location}: Swift gave no version id for the {what}; the cluster needs"
                " object versioning (allow_object_versioning = true in versioned_writes)",
            )
        return str(version)

    async def _put_stream(
        self,
        container: str,
        name: str,
        source: BodySource,
        body: AsyncIterator[bytes],
        size: int,
        headers: Mapping[str, str],
        what: str,
    ) -> Any:
        """Streams ``body`` (with a Content-Length when ``size >= 0``, chunked otherwise); the answer's headers."""
        sent = dict(headers)
        if size >= 0:
            sent["Content-Length"] = str(size)
        try:
            async with await self._send(
                "PUT", container, name, headers=sent, data=body, source=source, what=what
            ) as response:
                await response.read()
                if response.status >= 300:
                    raise self._status_error(response.status, what)
                return response.headers
        except (aiohttp.ClientError, TimeoutError) as error:
            if source.error is not None:
                raise source.error from None
            raise self._unavailable(what, error) from None

    async def put(self, name: str, chunks: AsyncIterator[bytes], meta: ObjectMeta) -> RemoteObject:
        await self._ensure_versioning()
        source = BodySource(chunks)
        segment_size = self.settings.segment_size
        if meta.size < 0:
            _, buffered = await source.buffer(min(UNSIZED_BUFFER, segment_size))
            if source.ended:
                return await self._put_plain(name, source, buffered, meta)
        elif meta.size <= segment_size:
            return await self._put_plain(name, source, meta.size, meta)
        return await self._put_large(name, source, meta)

    async def _put_plain(self, name: str, source: BodySource, size: int, meta: ObjectMeta) -> RemoteObject:
        counter = [0]
        body = self._exact(source.take(size, counter), source, size, counter, last=True)
        headers = await self._put_stream(
            self.settings.container, name, source, body, size, self._object_headers(meta), "object PUT"
        )
        return RemoteObject(name, self._version_of(headers, "object PUT"), size)

    async def _exact(
        self, pieces: AsyncIterator[bytes], source: BodySource, size: int, counter: list[int], *, last: bool
    ) -> AsyncIterator[bytes]:
        """``pieces``, failing (so the request is cut, never committed) unless they are exactly ``size``
        bytes and, for the ``last`` piece of a body, the body ends there."""
        async for piece in pieces:
            yield piece
        if counter[0] != size or (last and await source.has_more()):
            source.error = StrataError(
                ErrorReason.INVALID_ARGUMENT, f"body length differs from the declared {size} bytes"
            )
            raise source.error

    async def _put_large(self, name: str, source: BodySource, meta: ObjectMeta) -> RemoteObject:
        await self._ensure_segment_container()
        prefix = f"w-{uuid.uuid4().hex}/"
        manifest: list[dict[str, Any]] = []
        total = 0
        try:
            while await source.has_more():
                remaining = meta.size - total if meta.size >= 0 else -1
                length = min(self.settings.segment_size, remaining) if remaining >= 0 else -1
                counter = [0]
                pieces = source.take(self.settings.segment_size, counter)
                body = (
                    self._exact(pieces, source, length, counter, last=length == remaining)
                    if length >= 0
                    else pieces
                )
                segment = f"{prefix}{len(manifest):08d}"
                headers = await self._put_stream(
                    self.settings.segment_container, segment, source, body, length, {}, "segment PUT"
                )
                manifest.append(self._manifest_entry(segment, headers, counter[0]))
                total += counter[0]
            if meta.size >= 0 and total != meta.size:
                raise StrataError(
                    ErrorReason.INVALID_ARGUMENT, f"body length differs from the declared {meta.size} bytes"
                )
            version = await self._put_manifest(name, manifest, meta)
        except BaseException:
            await self._delete_segments_quietly(prefix)
            raise
        return RemoteObject(name, f"{version}/{prefix}", total)

    def _manifest_entry(self, segment: str, headers: Any, size: int) -> dict[str, Any]:
        return {
            "path": f"/{self.settings.segment_container}/{segment}",
            "etag": str(headers.get("Etag", "")).strip('"') or None,
            "size_bytes": size,
        }

    async def _put_manifest(self, name: str, manifest: list[dict[str, Any]], meta: ObjectMeta) -> str:
        """Writes the object's SLO manifest; its version id.

        Past the cluster's ``max_manifest_segments`` (1000 by default) Swift answers 400,
        reported as INVALID_ARGUMENT. Nesting sub-manifests would lift that limit, but Swift
        2.38 answers 409 to a ``version-id`` read of a nested manifest, so it is not done.
        """
        headers = {
            **self._object_headers(meta),
            "Content-Type": meta.content_type or "application/octet-stream",
        }
        answer = await self._write_manifest(self.settings.container, name, manifest, headers)
        return self._version_of(answer, "manifest PUT")

    async def _write_manifest(
        self, container: str, name: str, manifest: list[dict[str, Any]], headers: Mapping[str, str]
    ) -> Any:
        status, answer = await self._call(
            "PUT",
            container,
            name,
            params={"multipart-manifest": "put"},
            headers=headers,
            data=json.dumps(manifest).encode(),
            what="manifest PUT",
        )
        if status >= 300:
            raise self._status_error(status, "manifest PUT")
        return answer

    # ---- reads and deletes -----------------------------------------------------------------------

    @staticmethod
    def _address(obj: RemoteObject) -> tuple[str, str]:
        """(Swift version id, segment prefix or "") of a write."""
        version, _, prefix = obj.version.partition("/")
        return version, prefix

    def _missing(self, status: int) -> bool:
        # A version id Swift cannot parse (400) addresses no write of ours.
        return status in (400, 404, 412)

    async def get(self, obj: RemoteObject, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        version, _ = self._address(obj)
        if length == 0:
            if await self.head(obj) is None:
                raise self._status_error(404, "object GET")
            return
        headers: dict[str, str] = {}
        if offset > 0 or length > 0:
            end = "" if length < 0 else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        try:
            async with await self._send(
                "GET",
                self.settings.container,
                obj.name,
                params={"version-id": version},
                headers=headers,
                what="object GET",
            ) as response:
                if response.status == 416:
                    return  # the range starts at the end: nothing to read
                if self._missing(response.status):
                    raise self._status_error(404, "object GET")
                if response.status >= 300:
                    raise self._status_error(response.status, "object GET")
                async for piece in response.content.iter_chunked(READ_PIECE):
                    yield piece
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._unavailable("object GET", error) from None

    async def head(self, obj: RemoteObject) -> int | None:
        version, _ = self._address(obj)
        status, headers = await self._call(
            "HEAD", self.settings.container, obj.name, params={"version-id": version}, what="object HEAD"
        )
        if self._missing(status):
            return None
        if status >= 300:
            raise self._status_error(status, "object HEAD")
        return int(headers.get("Content-Length", "0"))

    async def delete(self, obj: RemoteObject) -> None:
        version, prefix = self._address(obj)
        status, _ = await self._call(
            "DELETE", self.settings.container, obj.name, params={"version-id": version}, what="object DELETE"
        )
        if status >= 300 and not self._missing(status):
            raise self._status_error(status, "object DELETE")
        if prefix:
            await self._delete_segments(prefix)

    async def _list_segments(self, prefix: str) -> list[str]:
        names: list[str] = []
        marker = ""
        while True:
            params = {"format": "json", "prefix": prefix, "marker": marker}
            try:
                async with await self._send(
                    "GET", self.settings.segment_container, params=params, what="segment listing"
                ) as response:
                    if response.status == 404:
                        return names
                    if response.status >= 300:
                        raise self._status_error(response.status, "segment listing")
                    page = await response.json(content_type=None) if response.status == 200 else []
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                raise self._unavailable("segment listing", error) from None
            if not page:
                return names
            names += [entry["name"] for entry in page]
            marker = names[-1]

    async def _delete_segments(self, prefix: str, keep: frozenset[str] = frozenset()) -> None:
        doomed = [name for name in await self._list_segments(prefix) if name not in keep]
        limit = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def delete_one(segment: str) -> None:
            async with limit:
                status, _ = await self._call(
                    "DELETE", self.settings.segment_container, segment, what="segment DELETE"
                )
                if status >= 300 and status != 404:
                    raise self._status_error(status, "segment DELETE")

        await asyncio.gather(*(delete_one(segment) for segment in doomed))

    async def _delete_segments_quietly(self, prefix: str) -> None:
        """Cleanup after a failed write: what cannot be removed now is only unreferenced space."""
        try:
            await asyncio.shield(self._delete_segments(prefix))
        except (StrataError, asyncio.CancelledError):
            logger.warning("location %s: segments under %s left behind", self.location, prefix)

    # ---- multipart -------------------------------------------------------------------------------

    async def create_multipart(self, name: str, meta: ObjectMeta) -> str:
        await self._ensure_versioning()
        await self._ensure_segment_container()
        return f"u-{uuid.uuid4().hex}"

    @staticmethod
    def _upload_prefix(upload_id: str) -> str:
        if not upload_id.startswith("u-") or "/" in upload_id:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "not a Swift upload id")
        return f"{upload_id}/"

    async def upload_part(
        self, name: str, upload_id: str, part_number: int, chunks: AsyncIterator[bytes], size: int
    ) -> RemotePart:
        if not 1 <= part_number <= 10000:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "part numbers go from 1 to 10000")
        await self._ensure_segment_container()
        # Each attempt has its own segment: a part uploaded again never overwrites one a manifest may use.
        segment = f"{self._upload_prefix(upload_id)}{part_number:05d}-{uuid.uuid4().hex[:12]}"
        source = BodySource(chunks)
        counter = [0]
        pieces = source.take(size if size >= 0 else 1 << 62, counter)
        body = self._exact(pieces, source, size, counter, last=True) if size >= 0 else pieces
        try:
            headers = await self._put_stream(
                self.settings.segment_container, segment, source, body, size, {}, "part PUT"
            )
        except BaseException:
            await self._delete_segments_quietly(segment)
            raise
        etag = str(headers.get("Etag", "")).strip('"')
        return RemotePart(part_number, f"{segment}\n{etag}", counter[0])

    async def complete_multipart(
        self, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        prefix = self._upload_prefix(upload_id)
        manifest: list[dict[str, Any]] = []
        chosen: set[str] = set()
        for part in parts:
            segment, _, etag = part.token.partition("\n")
            if not segment.startswith(prefix):
                raise StrataError(ErrorReason.INVALID_ARGUMENT, "a part of another upload")
            chosen.add(segment)
            if part.size > 0:  # SLO refuses empty segments; they add no bytes anyway
                manifest.append(
                    {
                        "path": f"/{self.settings.segment_container}/{segment}",
                        "etag": etag or None,
                        "size_bytes": part.size,
                    }
                )
        total = sum(part.size for part in parts)
        if manifest:
            version = await self._put_manifest(name, manifest, meta)
            await self._delete_segments(prefix, keep=frozenset(chosen))
            return RemoteObject(name, f"{version}/{prefix}", total)
        empty = await self.put(name, _no_chunks(), ObjectMeta(**{**meta.__dict__, "size": 0}))
        await self._delete_segments(prefix)
        return empty

    async def abort_multipart(self, name: str, upload_id: str) -> None:
        await self._delete_segments(self._upload_prefix(upload_id))

    # ---- health ----------------------------------------------------------------------------------

    async def health(self) -> None:
        status, _ = await self._call("HEAD", self.settings.container, what="health check")
        if status == 404:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.location}: container {self.settings.container} does not exist",
            )
        if status >= 300:
            raise self._status_error(status, "health check")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield b""


def create_swift_backend(name: str, config: Mapping[str, Any]) -> SwiftBackend:
    return SwiftBackend(name, config)


register_remote("swift", create_swift_backend)
