"""The ``aws_s3`` external backend: AWS S3 and any S3-compatible service.

Each blob is one object in the location's bucket under the S3 object's own name. The
client is a small SigV4-signed aiohttp client (``aws_s3_http``), fully async.

Versions. A write records the provider's identifier of exactly that write:

- ``vid:<VersionId>`` when the bucket answers with a version id (``supportsVersioning``,
  or a bucket found versioned): get/head/delete send ``versionId=``, so every write stays
  readable until its own delete, and a delete removes only that version;
- otherwise (an unversioned or versioning-suspended bucket, whose writes have the version
  id ``null`` that the next write replaces) the quoted ETag. Get/head send ``If-Match`` with it, so a write that was
  overwritten reads as BLOB_NOT_FOUND instead of returning the newer bytes. Delete first
  checks with a conditional HEAD, then sends a DeleteObject with ``If-Match`` (S3's
  conditional delete; a service that ignores it, or refuses it with 501 NotImplemented, which
  makes this backend fall back to a plain DELETE, is still protected by the HEAD). The race
  left on such a service: an overwrite landing between the HEAD and the DELETE is removed.
  Two writes of identical bytes by single PUT share an ETag, so they are the same write
  to this backend; that is harmless, as either reference reads the right bytes.

Writes. A body of known size up to ``MULTIPART_THRESHOLD`` is one streamed PutObject;
a larger one, or one of unknown size past ``PART_SIZE`` bytes, becomes an internal
multipart upload whose parts are streamed (known size) or buffered one part at a time
(unknown size), so memory stays bounded per stream; a failed write aborts its upload.
Native multipart maps one to one to S3's (parts of 5 MiB or more except the last).

Forwarded: Content-Type, Cache-Control, Content-Disposition, Content-Encoding,
Content-Language, user metadata as ``x-amz-meta-*``, tags as ``x-amz-tagging``, and
``x-amz-server-side-encryption: AES256`` on every write when ``serverSideEncryption``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import aiohttp.abc

from datanode.backends.aws_s3_config import AwsS3Settings, parse_settings
from datanode.backends.aws_s3_http import S3Client, S3Failure, error_code
from datanode.backends.remote import (
    ObjectMeta,
    RemoteObject,
    RemotePart,
    RemoteTimeouts,
    register_remote,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

MIB = 1024 * 1024
PART_SIZE = 8 * MIB  # internal multipart parts (S3 needs >= 5 MiB except the last)
MULTIPART_THRESHOLD = 64 * MIB  # a sized body above this goes up in parts
MAX_PARTS = 10_000
READ_PIECE = MIB
VERSION_ID_PREFIX = "vid:"

_UPLOAD_ID = re.compile(r"<UploadId>([^<]+)</UploadId>")
_ETAG_XML = re.compile(r"<ETag>([^<]+)</ETag>")


def write_headers(settings: AwsS3Settings, meta: ObjectMeta) -> dict[str, str]:
    """The headers a PutObject or CreateMultipartUpload carries for ``meta``."""
    headers: dict[str, str] = {}
    for header, value in (
        ("Content-Type", meta.content_type),
        ("Cache-Control", meta.cache_control),
        ("Content-Disposition", meta.content_disposition),
        ("Content-Encoding", meta.content_encoding),
        ("Content-Language", meta.content_language),
    ):
        if value:
            headers[header] = value
    for key, value in meta.user_metadata.items():
        headers[f"x-amz-meta-{key}"] = value
    if meta.tags:
        headers["x-amz-tagging"] = "&".join(
            f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in meta.tags.items()
        )
    if settings.server_side_encryption:
        headers["x-amz-server-side-encryption"] = "AES256"
    return headers


def part_size_for(part_number: int) -> int:
    """Internal parts grow every 1,000 so an unknown-length stream of up to ~5 TiB fits in 10,000 parts."""
    return PART_SIZE << min((part_number - 1) // 1000, 9)


def _version_query(version: str) -> tuple[dict[str, str], dict[str, str]]:
    """(query, headers) that address exactly the write ``version`` names."""
    if version.startswith(VERSION_ID_PREFIX):
        return {"versionId": version[len(VERSION_ID_PREFIX) :]}, {}
    return {}, {"If-Match": version}


async def _take(source: AsyncIterator[bytes], leftover: bytearray, size: int) -> AsyncIterator[bytes]:
    """Exactly ``size`` bytes of ``source`` (starting with ``leftover``), keeping any excess in ``leftover``."""
    remaining = size
    if leftover:
        head = bytes(leftover[:remaining])
        del leftover[: len(head)]
        remaining -= len(head)
        yield head
    while remaining > 0:
        try:
            piece = await anext(source)
        except StopAsyncIteration:
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT, "the body ended before its declared size"
            ) from None
        if len(piece) > remaining:
            leftover.extend(piece[remaining:])
            piece = piece[:remaining]
        remaining -= len(piece)
        if piece:
            yield piece


async def _fill(source: AsyncIterator[bytes], buffer: bytearray, size: int) -> bool:
    """Reads ``source`` into ``buffer`` until it holds ``size`` bytes; False when the source ended first."""
    while len(buffer) < size:
        try:
            buffer.extend(await anext(source))
        except StopAsyncIteration:
            return False
    return True


async def _pieces(data: bytes | bytearray | memoryview) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), READ_PIECE):
        yield bytes(view[start : start + READ_PIECE])


class AwsS3Backend:
    location_type = "aws_s3"

    def __init__(
        self,
        settings: AwsS3Settings,
        timeouts: RemoteTimeouts | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        self.settings = settings
        self.keeps_versions = settings.supports_versioning
        self._conditional_delete = True  # until the service answers that it has no If-Match on DELETE
        self._client = S3Client(settings, timeouts or RemoteTimeouts(), resolver)

    @property
    def bucket_match(self) -> bool:
        return self.settings.bucket_match

    async def close(self) -> None:
        await self._client.close()

    async def health(self) -> None:
        try:
            async with self._client.request("HeadBucket", "HEAD", None):
                pass
        except StrataError as error:
            if error.reason != ErrorReason.BLOB_NOT_FOUND:
                raise
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.settings.location}: bucket {self.settings.bucket} does not exist",
            ) from None

    # -- writes ---------------------------------------------------------------------------------

    def _written(self, name: str, headers: Mapping[str, str], size: int) -> RemoteObject:
        version_id = headers.get("x-amz-version-id", "")
        # "null" names whatever the next unversioned write puts there: only the ETag pins this one.
        if version_id and version_id != "null":
            return RemoteObject(name, VERSION_ID_PREFIX + version_id, size)
        etag = headers.get("ETag", "")
        if not etag:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.settings.location}: a write answered no ETag",
            )
        return RemoteObject(name, etag if etag.startswith('"') else f'"{etag}"', size)

    async def _put_object(
        self, name: str, body: bytes | AsyncIterator[bytes], size: int, meta: ObjectMeta
    ) -> RemoteObject:
        headers = write_headers(self.settings, meta)
        headers["Content-Length"] = str(size)
        async with self._client.request("PutObject", "PUT", name, headers=headers, body=body) as response:
            return self._written(name, response.headers, size)

    async def put(self, name: str, chunks: AsyncIterator[bytes], meta: ObjectMeta) -> RemoteObject:
        source = aiter(chunks)
        if 0 <= meta.size <= MULTIPART_THRESHOLD:
            leftover = bytearray()
            obj = await self._put_object(name, _take(source, leftover, meta.size), meta.size, meta)
            if leftover or await _fill(source, leftover, 1):
                await self.delete(obj)
                raise StrataError(ErrorReason.INVALID_ARGUMENT, "the body is longer than its declared size")
            return obj
        first = bytearray()
        if meta.size < 0 and not await _fill(source, first, PART_SIZE + 1):
            return await self._put_object(name, bytes(first), len(first), meta)
        return await self._put_in_parts(name, source, first, meta)

    async def _put_in_parts(
        self, name: str, source: AsyncIterator[bytes], first: bytearray, meta: ObjectMeta
    ) -> RemoteObject:
        upload_id = await self.create_multipart(name, meta)
        try:
            parts: list[RemotePart] = []
            buffer, remaining = first, meta.size
            while True:
                number = len(parts) + 1
                if number > MAX_PARTS:
                    raise StrataError(ErrorReason.INVALID_ARGUMENT, "the body is larger than S3 can store")
                size = part_size_for(number)
                if meta.size >= 0:  # known length: stream each part straight through
                    size = min(size, remaining)
                    part = await self.upload_part(name, upload_id, number, _take(source, buffer, size), size)
                    remaining -= size
                    parts.append(part)
                    if remaining == 0:
                        break
                    continue
                # Unknown length: one part in memory at a time, and one byte more to know it is not the last.
                more = await _fill(source, buffer, size + 1)
                body = bytes(buffer[:size])
                del buffer[:size]
                parts.append(await self.upload_part(name, upload_id, number, _pieces(body), len(body)))
                if not more:
                    break
            if meta.size >= 0 and (buffer or await _fill(source, buffer, 1)):
                raise StrataError(ErrorReason.INVALID_ARGUMENT, "the body is longer than its declared size")
            return await self.complete_multipart(name, upload_id, parts, meta)
        except BaseException:
            # The write's own failure is the one to report; an upload the abort could not reach
            # is left to the bucket's lifecycle rule for incomplete uploads.
            with contextlib.suppress(StrataError):
                await self.abort_multipart(name, upload_id)
            raise

    # -- reads and deletes ------------------------------------------------------------------------

    async def get(self, obj: RemoteObject, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        if length == 0:
            if await self.head(obj) is None:
                raise StrataError(
                    ErrorReason.BLOB_NOT_FOUND, f"location {self.settings.location}: no such write"
                )
            return
        query, headers = _version_query(obj.version)
        if offset > 0 or length > 0:
            headers["Range"] = f"bytes={offset}-" + (str(offset + length - 1) if length > 0 else "")
        async with self._client.request(
            "GetObject", "GET", obj.name, query=query, headers=headers, accept=(200, 206, 416)
        ) as response:
            if response.status == 416:  # the range starts at or past the end: nothing to read
                return
            async for piece in response.content.iter_chunked(READ_PIECE):
                yield piece

    async def _head(self, obj: RemoteObject, operation: str) -> int | None:
        query, headers = _version_query(obj.version)
        try:
            async with self._client.request(
                operation, "HEAD", obj.name, query=query, headers=headers
            ) as response:
                if response.headers.get("x-amz-delete-marker") == "true":
                    return None
                return int(response.headers.get("Content-Length", "0"))
        except StrataError as error:
            if error.reason == ErrorReason.BLOB_NOT_FOUND:
                return None
            if error.reason == ErrorReason.INVALID_ARGUMENT and query:
                return None  # a version id the bucket does not know (e.g. versioning was never on)
            raise

    async def head(self, obj: RemoteObject) -> int | None:
        return await self._head(obj, "HeadObject")

    async def delete(self, obj: RemoteObject) -> None:
        query, headers = _version_query(obj.version)
        if not query and await self._head(obj, "HeadObject before DeleteObject") is None:
            return  # gone already, or the name now holds a newer write: not ours to delete
        if not self._conditional_delete:
            headers = {}
        try:
            async with self._client.request(
                "DeleteObject", "DELETE", obj.name, query=query, headers=headers, accept=(200, 204, 412, 501)
            ) as response:
                status = response.status
            if status == 501:
                # A service without conditional deletes: the HEAD above is the only check (see above).
                self._conditional_delete = False
            elif status == 412 and await self._head(obj, "HeadObject after a refused DeleteObject") is None:
                return  # a newer write owns the name now
            # 412 while a HEAD with the same If-Match still matches: the service compares a DELETE's
            # condition with another ETag (Swift's s3api: a large object's manifest ETag), so the HEAD
            # is the check, as on a service without conditional deletes.
            refused_condition = status in (412, 501)
            if refused_condition and headers:
                async with self._client.request(
                    "DeleteObject", "DELETE", obj.name, query=query, accept=(200, 204)
                ):
                    pass
            elif refused_condition:
                raise self._client.failure("DeleteObject", S3Failure(501, "NotImplemented"))
        except StrataError as error:
            if error.reason == ErrorReason.BLOB_NOT_FOUND:
                return  # 404: gone; 412: a newer write owns the name
            if error.reason == ErrorReason.INVALID_ARGUMENT and query:
                return
            raise

    # -- native multipart -------------------------------------------------------------------------

    async def create_multipart(self, name: str, meta: ObjectMeta) -> str:
        headers = write_headers(self.settings, meta)
        async with self._client.request(
            "CreateMultipartUpload", "POST", name, query={"uploads": ""}, headers=headers
        ) as response:
            found = _UPLOAD_ID.search(await response.text())
        if found is None:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE,
                f"location {self.settings.location}: no UploadId in the answer",
            )
        return found.group(1)

    async def upload_part(
        self, name: str, upload_id: str, part_number: int, chunks: AsyncIterator[bytes], size: int
    ) -> RemotePart:
        if not 1 <= part_number <= MAX_PARTS:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, f"part number {part_number} is not in 1..10000")
        leftover = bytearray()
        async with self._client.request(
            "UploadPart",
            "PUT",
            name,
            query={"partNumber": str(part_number), "uploadId": upload_id},
            headers={"Content-Length": str(size)},
            body=_take(aiter(chunks), leftover, size),
        ) as response:
            etag = response.headers.get("ETag", "")
        if leftover:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "the part is longer than its declared size")
        return RemotePart(part_number, etag, size)

    async def complete_multipart(
        self, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        document = (
            "<CompleteMultipartUpload>"
            + "".join(
                f"<Part><PartNumber>{part.part_number}</PartNumber><ETag>{escape(part.token)}</ETag></Part>"
                for part in parts
            )
            + "</CompleteMultipartUpload>"
        )
        async with self._client.request(
            "CompleteMultipartUpload",
            "POST",
            name,
            query={"uploadId": upload_id},
            headers={"Content-Type": "application/xml"},
            body=document.encode(),
        ) as response:
            answer = await response.read()
            version_id = response.headers.get("x-amz-version-id", "")
        if b"<Error>" in answer:  # S3 may report a failed completion inside a 200 answer
            raise self._client.failure("CompleteMultipartUpload", S3Failure(500, error_code(answer)))
        etag = _ETAG_XML.search(answer.decode("utf-8", "replace"))
        written = {
            "x-amz-version-id": version_id,
            "ETag": etag.group(1).replace("&quot;", '"') if etag else "",
        }
        return self._written(name, written, sum(part.size for part in parts))

    async def abort_multipart(self, name: str, upload_id: str) -> None:
        try:
            async with self._client.request(
                "AbortMultipartUpload", "DELETE", name, query={"uploadId": upload_id}, accept=(200, 204)
            ):
                pass
        except StrataError as error:
            if error.reason != ErrorReason.BLOB_NOT_FOUND:
                raise


def create_aws_s3(name: str, config: Mapping[str, Any]) -> AwsS3Backend:
    return AwsS3Backend(parse_settings(name, config))


register_remote("aws_s3", create_aws_s3)
