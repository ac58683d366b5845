"""External location type ``b2``: Backblaze B2 through its native API.

Why a small aiohttp client and not b2sdk: b2sdk is synchronous (requests) and wants seekable
sources it can re-read on retry, so streaming a gateway body through it means a thread per transfer
plus a bridge queue per stream. B2's native API is a handful of JSON calls and plain HTTP bodies, so
``b2_api.py`` speaks it directly on the event loop and streams in both directions with bounded
memory. b2sdk is still used, by the tests, as the server side (its ``RawSimulator``) and as an
independent reader (``B2Api`` over HTTP).

Naming: each write is a B2 file under the object's name. Versions: every upload has a ``fileId``;
it is the write's ``version``, and get/head/delete address exactly it (``b2_download_file_by_id``,
``b2_get_file_info``, ``b2_delete_file_version(fileName, fileId)``), so a delete never touches a
newer write and B2 keeps older writes readable (``keeps_versions = True``) until the garbage
collector deletes them. A ``fileId`` that B2 does not know (404, or 400 for a malformed id), one
that belongs to another name, or one of an unfinished large file reads as BLOB_NOT_FOUND.

Bodies: a sized put up to ``single_upload_max`` streams as one ``b2_upload_file``; larger ones
become a large file whose parts (``part_size``) stream from the source without buffering. A put of
unknown length buffers up to ``buffered_part_size`` (8 MiB): if the stream ends there it is one
upload, otherwise a large file of buffered 8 MiB parts (so memory per stream stays at one part;
B2's 10,000-part limit caps such objects at ~78 GiB). Every body carries its sha1 at its end
(``X-Bz-Content-Sha1: hex_digits_at_end``), so B2 verifies what it stores. A failed put cancels
its large file; a failed single upload stores nothing. B2 tells uploaders to retry a failed upload
on a fresh upload URL: buffered bodies are retried once that way; streamed bodies cannot be
replayed, so their failure reaches the client (as 503) and the client retries.

Multipart: an S3 upload is a B2 large file under the object's name (upload id = its fileId), S3
part N is B2 part N (S3's 5 MiB minimum satisfies B2's 5 MB), the part token is its sha1. Complete
with parts 1..N, all of them, finishes the large file natively. Complete with a subset of uploaded
parts 1..M finishes all M, copies the chosen ranges server-side (``b2_copy_part``) into a new large
file under the same name, and deletes the intermediate version: until that delete the name shows
the intermediate file to B2's own tools (Strata never reads it), and a crash in between leaves it
behind. Uploaded part numbers with gaps cannot be finished by B2: complete answers INVALID_ARGUMENT.

Forwarded: content type; S3 user metadata as ``X-Bz-Info-<name>`` (B2 allows 10 info entries of
names made of letters, digits, '-' and '_' and about 7,000 bytes of headers: entries beyond that,
or with other names, stay in Strata's metadata only); Cache-Control, Content-Disposition,
Content-Encoding and Content-Language as B2's ``b2-*`` info entries, which B2 serves back as
those headers. B2 has no tags: they stay in Strata's metadata.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import aiohttp

from datanode.backends.b2_api import API_VERSION, B2Client, B2Failure, encode_name, translate
from datanode.backends.remote import (
    ObjectMeta,
    RemoteObject,
    RemotePart,
    RemoteTimeouts,
    details_of,
    optional_bool,
    register_remote,
    required_text,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

MIB = 1024 * 1024
DEFAULT_REALM = "https://api.backblazeb2.com"
MAX_INFO_ENTRIES = 10
MAX_COPY_PART = 5_000_000_000  # b2_copy_part copies at most 5 GB per part
_INFO_NAME = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
_CONTENT_INFO = (  # S3 content header -> the B2 info entry B2 serves back as that header
    ("cache_control", "b2-cache-control"),
    ("content_disposition", "b2-content-disposition"),
    ("content_encoding", "b2-content-encoding"),
    ("content_language", "b2-content-language"),
)


def file_info_of(meta: ObjectMeta) -> dict[str, str]:
    """The B2 ``fileInfo`` of an S3 write: content headers first, then user metadata that fits."""
    info = {entry: getattr(meta, field) for field, entry in _CONTENT_INFO if getattr(meta, field)}
    for name, value in sorted(meta.user_metadata.items()):
        if len(info) >= MAX_INFO_ENTRIES:
            break
        if _INFO_NAME.match(name) and not name.lower().startswith("b2-"):
            info[name] = value
    return info


class _Pieces:
    """Takes exact byte counts from a stream of arbitrary pieces (what is over waits for the next take)."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._left = b""
        self.ended = False

    async def _next(self) -> bytes:
        if self._left:
            piece, self._left = self._left, b""
            return piece
        try:
            piece = b""
            while not piece:  # an empty piece mid-stream is not the end
                piece = await anext(self._source)
            return piece
        except StopAsyncIteration:
            self.ended = True
            return b""

    async def take(self, count: int) -> AsyncIterator[bytes]:
        """Yields up to ``count`` bytes, fewer only when the stream ends."""
        while count > 0:
            piece = await self._next()
            if not piece:
                return
            if len(piece) > count:
                piece, self._left = piece[:count], piece[count:]
            count -= len(piece)
            yield piece

    async def read(self, count: int) -> bytes:
        return b"".join([piece async for piece in self.take(count)])

    async def at_end(self) -> bool:
        if not self._left and not self.ended:
            self._left = await self._next()
        return not self._left


async def _one(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), MIB):
        yield data[start : start + MIB]


class B2Backend:
    location_type = "b2"
    keeps_versions = True

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        timeouts: RemoteTimeouts | None = None,
        single_upload_max: int = 200 * MIB,
        part_size: int = 100 * MIB,
        buffered_part_size: int = 8 * MIB,
    ) -> None:
        details = details_of(name, config)
        overrides = _environment_overrides(name)
        self.name = name
        self.bucket_match = optional_bool(name, details, "bucketMatch", False)
        account_id = overrides.get("b2AccountId") or required_text(name, details, "b2AccountId")
        key = overrides.get("b2ApplicationKey") or required_text(name, details, "b2ApplicationKey")
        realm = overrides.get("b2StorageEndpoint") or details.get("b2StorageEndpoint") or DEFAULT_REALM
        if not isinstance(realm, str) or not realm.startswith(("https://", "http://")):
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT,
                f"location {name}: details.b2StorageEndpoint must be an http(s) URL",
            )
        self.bucket_name = required_text(name, details, "b2BucketName")
        self.single_upload_max = single_upload_max
        self.part_size = part_size
        self.buffered_part_size = buffered_part_size
        self.client = B2Client(
            name,
            realm_url=realm,
            key_id=account_id,
            key=key,
            bucket_name=self.bucket_name,
            timeouts=timeouts or RemoteTimeouts(),
        )

    # -- single writes ---------------------------------------------------------------

    async def put(self, name: str, chunks: AsyncIterator[bytes], meta: ObjectMeta) -> RemoteObject:
        try:
            if 0 <= meta.size <= self.single_upload_max:
                return await self._upload_file(name, chunks, meta.size, meta)
            source = _Pieces(chunks)
            if meta.size < 0:
                first = await source.read(self.buffered_part_size)
                if await source.at_end():
                    return await self._upload_file(name, first, len(first), meta)
                return await self._large_file(name, source, meta, first=first)
            return await self._large_file(name, source, meta, first=b"")
        except (B2Failure, aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "upload", failure) from None

    async def _upload_file(
        self, name: str, body: bytes | AsyncIterator[bytes], size: int, meta: ObjectMeta
    ) -> RemoteObject:
        headers = {
            "X-Bz-File-Name": encode_name(name),
            "Content-Type": meta.content_type or "b2/x-auto",
        }
        headers.update({f"X-Bz-Info-{k}": encode_name(v) for k, v in file_info_of(meta).items()})
        answer, _ = await self._send(None, headers, body, size)
        return RemoteObject(name, str(answer["fileId"]), size)

    async def _send(
        self, part_of: str | None, headers: dict[str, str], body: bytes | AsyncIterator[bytes], size: int
    ) -> tuple[dict[str, Any], str]:
        """Uploads a file (``part_of`` None) or a part; a failed upload's URL is dropped, as B2 asks.

        A buffered body (bytes) is sent once more on a fresh URL when B2 refused the upload token
        or failed on its side (B2's documented upload retry); a streamed body cannot be replayed.
        """
        attempts = 2 if isinstance(body, bytes) else 1
        for attempt in range(attempts):
            target = await self.client.upload_target(part_of=part_of)
            pieces = _one(body) if isinstance(body, bytes) else body
            try:
                answer, sha1 = await self.client.upload(target, headers, pieces, size)
            except B2Failure as failure:
                if attempt + 1 < attempts and _worth_another_url(failure):
                    continue
                raise
            except aiohttp.ClientConnectorError:
                # Never connected, so nothing was stored. Not after a timeout or a lost answer:
                # that upload may have landed, and a second one would be an orphan version.
                if attempt + 1 < attempts:
                    continue
                raise
            if part_of is None:
                self.client.release_upload_target(target)
            return answer, sha1
        raise AssertionError("unreachable")

    async def _large_file(
        self, name: str, source: _Pieces, meta: ObjectMeta, *, first: bytes
    ) -> RemoteObject:
        upload_id = await self._start_large_file(name, meta)
        try:
            parts: list[RemotePart] = []
            number = 1
            if first:
                parts.append(await self._upload_part(upload_id, number, first, len(first)))
                number += 1
            while not await source.at_end():
                if meta.size < 0:
                    data = await source.read(self.buffered_part_size)
                    parts.append(await self._upload_part(upload_id, number, data, len(data)))
                else:
                    size = min(self.part_size, meta.size - sum(part.size for part in parts))
                    if size <= 0:
                        raise StrataError(ErrorReason.INVALID_ARGUMENT, "body longer than its announced size")
                    parts.append(await self._upload_part(upload_id, number, source.take(size), size))
                number += 1
            if meta.size >= 0 and sum(part.size for part in parts) != meta.size:
                raise StrataError(ErrorReason.INVALID_ARGUMENT, "body shorter than its announced size")
            answer = await self.client.call(
                "b2_finish_large_file", {"fileId": upload_id, "partSha1Array": [part.token for part in parts]}
            )
            return RemoteObject(name, str(answer["fileId"]), sum(part.size for part in parts))
        except BaseException:
            await self._cancel_quietly(upload_id)
            raise

    # -- reads and deletes -----------------------------------------------------------

    async def get(self, obj: RemoteObject, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        if length == 0:
            if await self.head(obj) is None:
                raise self._missing(obj)
            return
        headers: dict[str, str] = {}
        if offset > 0 or length > 0:
            last = "" if length < 0 else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"
        try:
            authorization = await self.client.authorization()
            for attempt in range(2):
                url = f"{authorization.download_url}/b2api/{API_VERSION}/b2_download_file_by_id"
                async with self.client.session().get(
                    url,
                    params={"fileId": obj.version},
                    headers={**headers, "Authorization": authorization.token},
                ) as response:
                    if response.status == 401 and attempt == 0:
                        authorization = await self.client.authorization(renew_from=authorization)
                        continue
                    if response.status in (400, 404):
                        raise self._missing(obj)
                    if response.status == 416:  # past the end of a write that exists
                        if await self.head(obj) is None:
                            raise self._missing(obj)
                        return
                    if response.status >= 300:
                        raise B2Failure(response.status, "")
                    if unquote(response.headers.get("X-Bz-File-Name", "")) != obj.name:
                        raise self._missing(obj)
                    async for piece in response.content.iter_chunked(MIB):
                        yield piece
                    return
        except (B2Failure, aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "download", failure) from None

    def _missing(self, obj: RemoteObject) -> StrataError:
        return StrataError(
            ErrorReason.BLOB_NOT_FOUND, f"location {self.name}: {obj.name} version {obj.version}"
        )

    async def head(self, obj: RemoteObject) -> int | None:
        try:
            answer = await self.client.call("b2_get_file_info", {"fileId": obj.version})
        except B2Failure as failure:
            if failure.status in (400, 404):
                return None
            raise translate(self.name, "get_file_info", failure) from None
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "get_file_info", failure) from None
        if answer.get("fileName") != obj.name or answer.get("action") != "upload":
            return None
        return int(answer.get("contentLength", 0))

    async def delete(self, obj: RemoteObject) -> None:
        try:
            await self.client.call("b2_delete_file_version", {"fileName": obj.name, "fileId": obj.version})
        except B2Failure as failure:
            if failure.status in (400, 404):  # gone already, or that id is not a version of this name
                return
            raise translate(self.name, "delete_file_version", failure) from None
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "delete_file_version", failure) from None

    # -- multipart -------------------------------------------------------------------

    async def _start_large_file(self, name: str, meta: ObjectMeta) -> str:
        authorization = await self.client.authorization()
        answer = await self.client.call(
            "b2_start_large_file",
            {
                "bucketId": authorization.bucket_id,
                "fileName": name,
                "contentType": meta.content_type or "b2/x-auto",
                "fileInfo": file_info_of(meta),
            },
        )
        return str(answer["fileId"])

    async def _upload_part(
        self, upload_id: str, part_number: int, body: bytes | AsyncIterator[bytes], size: int
    ) -> RemotePart:
        _, sha1 = await self._send(upload_id, {"X-Bz-Part-Number": str(part_number)}, body, size)
        return RemotePart(part_number, sha1, size)

    async def _cancel_quietly(self, upload_id: str) -> None:
        try:
            await self.abort_multipart("", upload_id)
        except StrataError:
            pass  # an unfinished large file left behind is invisible to listings and costs only storage

    async def create_multipart(self, name: str, meta: ObjectMeta) -> str:
        try:
            return await self._start_large_file(name, meta)
        except (B2Failure, aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "start_large_file", failure) from None

    async def upload_part(
        self, name: str, upload_id: str, part_number: int, chunks: AsyncIterator[bytes], size: int
    ) -> RemotePart:
        if not 1 <= part_number <= 10000:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "part numbers go from 1 to 10000")
        try:
            return await self._upload_part(upload_id, part_number, chunks, size)
        except (B2Failure, aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "upload_part", failure) from None

    async def complete_multipart(
        self, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        try:
            uploaded = await self._list_parts(upload_id)
            for part in parts:
                if uploaded.get(part.part_number, ("", 0))[0] != part.token:
                    raise StrataError(
                        ErrorReason.INVALID_ARGUMENT, f"part {part.part_number} is not the one uploaded last"
                    )
            numbers = sorted(uploaded)
            if numbers != list(range(1, len(numbers) + 1)):
                raise StrataError(
                    ErrorReason.INVALID_ARGUMENT, "B2 large files need parts numbered from 1 without gaps"
                )
            wanted = [part.part_number for part in parts]
            everything = await self.client.call(
                "b2_finish_large_file",
                {"fileId": upload_id, "partSha1Array": [uploaded[n][0] for n in numbers]},
            )
            if wanted == numbers:
                return RemoteObject(name, str(everything["fileId"]), sum(uploaded[n][1] for n in numbers))
            return await self._copy_subset(name, upload_id, [uploaded[n][1] for n in numbers], wanted, meta)
        except (B2Failure, aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "finish_large_file", failure) from None

    async def _copy_subset(
        self, name: str, whole_id: str, sizes: list[int], wanted: list[int], meta: ObjectMeta
    ) -> RemoteObject:
        """A new large file of the chosen parts' ranges of the finished ``whole_id``, which is then deleted."""
        starts = [sum(sizes[:index]) for index in range(len(sizes))]
        ranges: list[tuple[int, int]] = []
        for number in wanted:
            start, size = starts[number - 1], sizes[number - 1]
            while size > 0:
                step = min(size, MAX_COPY_PART)
                ranges.append((start, start + step - 1))
                start, size = start + step, size - step
        subset_id = await self._start_large_file(name, meta)
        try:
            sha1s = []
            for index, (first, last) in enumerate(ranges, start=1):
                answer = await self.client.call(
                    "b2_copy_part",
                    {
                        "sourceFileId": whole_id,
                        "largeFileId": subset_id,
                        "partNumber": index,
                        "range": f"bytes={first}-{last}",
                    },
                )
                sha1s.append(str(answer["contentSha1"]))
            finished = await self.client.call(
                "b2_finish_large_file", {"fileId": subset_id, "partSha1Array": sha1s}
            )
        except BaseException:
            await self._cancel_quietly(subset_id)
            raise
        await self.delete(RemoteObject(name, whole_id, sum(sizes)))
        return RemoteObject(name, str(finished["fileId"]), sum(last - first + 1 for first, last in ranges))

    async def _list_parts(self, upload_id: str) -> dict[int, tuple[str, int]]:
        uploaded: dict[int, tuple[str, int]] = {}
        start: int | None = 1
        while start is not None:
            answer = await self.client.call(
                "b2_list_parts", {"fileId": upload_id, "startPartNumber": start, "maxPartCount": 1000}
            )
            for part in answer.get("parts", []):
                uploaded[int(part["partNumber"])] = (str(part["contentSha1"]), int(part["contentLength"]))
            next_number = answer.get("nextPartNumber")
            start = int(next_number) if next_number else None
        return uploaded

    async def abort_multipart(self, name: str, upload_id: str) -> None:
        try:
            await self.client.call("b2_cancel_large_file", {"fileId": upload_id})
        except B2Failure as failure:
            if failure.status in (400, 404):  # unknown, finished or cancelled already
                return
            raise translate(self.name, "cancel_large_file", failure) from None
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "cancel_large_file", failure) from None

    # -- state -----------------------------------------------------------------------

    async def health(self) -> None:
        """Authorizes (once per token) and checks the token still sees the bucket."""
        try:
            authorization = await self.client.authorization()
            await self.client.call(
                "b2_list_buckets", {"accountId": authorization.account_id, "bucketName": self.bucket_name}
            )
        except (B2Failure, aiohttp.ClientError, TimeoutError) as failure:
            raise translate(self.name, "health", failure) from None

    async def close(self) -> None:
        await self.client.close()


def _worth_another_url(failure: B2Failure) -> bool:
    # Not 429: B2 asks the caller to slow down, and an immediate retry would not.
    return failure.token_refused or failure.status == 408 or failure.status >= 500


def _environment_overrides(location: str) -> dict[str, str]:
    """``<location>_B2_ACCOUNT_ID``, ``_B2_APPLICATION_KEY``, ``_B2_STORAGE_ENDPOINT`` win over details."""
    names = {
        "b2AccountId": "B2_ACCOUNT_ID",
        "b2ApplicationKey": "B2_APPLICATION_KEY",
        "b2StorageEndpoint": "B2_STORAGE_ENDPOINT",
    }
    found = {}
    for field, suffix in names.items():
        value = os.environ.get(f"{location}_{suffix}")
        if value:
            found[field] = value
    return found


def _factory(name: str, config: Mapping[str, Any]) -> B2Backend:
    return B2Backend(name, config)


register_remote("b2", _factory)
