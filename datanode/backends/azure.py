"""Azure Blob Storage as an external location (``type: azure``), over the SDK's asyncio client.

Each write is one block blob named after the S3 object in the location's container.

**Versions.** A write is identified by the ETag Azure gave it (Azurite has no blob versioning,
and Strata does not depend on the account having it on), so ``keeps_versions`` is False. Get and
head send ``If-Match: <etag>``: once the name is overwritten the old write reads as
BLOB_NOT_FOUND. Delete is conditional too (``If-Match``), so deleting an overwritten write never
removes the newer one; Azure makes that check atomically, no race remains.

**Puts** stream in blocks of ``BLOCK_SIZE`` (at most ``STAGE_AHEAD`` staged at once, so memory
per stream stays under a few blocks whatever the length, known or not); a body that ends within
the first block goes as one Put Blob. The blocks are committed with one Put Block List, which
makes the write visible at once; a put that fails before leaves only uncommitted blocks, which
no listing shows and which Azure drops on its own (a week after the last block, or at the next
commit of the name).

**Multipart.** An upload id is 16 random hex digits and holds no state on Azure. A part is staged
as blocks of the target blob, with ids from (upload id, a fresh per-attempt id, part number, block
index); its token names the attempt and the block count, so completion commits exactly the
blocks of the chosen parts in order, never a replaced part's older blocks. Abort has nothing to
remove: uncommitted blocks expire on Azure's side. Azure's rule that committing a block list
discards every other uncommitted block of the blob means two uploads (or a large put and an
upload) in flight to the SAME name cannot both complete: the later one fails (BLOB_NOT_FOUND
at completion, BACKEND_UNAVAILABLE for a put) rather than mixing data.

**Forwarded.** User metadata (as Azure metadata, names encoded by ``azure_encoding``), content
type / encoding / language / disposition / cache control (as the blob's content settings) and
tags (as blob index tags).

**Failures.** The SDK's retries are bounded (``RETRIES`` quick retries) and every call has a
timeout, so an outage reports BACKEND_UNAVAILABLE within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

import aiohttp
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, ContentSettings
from azure.storage.blob.aio import BlobClient, ContainerClient, LinearRetry

from datanode.backends.azure_encoding import (
    AzureSettings,
    azure_metadata,
    azure_tags,
    block_id,
    check_upload_id,
    parse_part_token,
    part_token,
    settings_from,
)
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
BLOCK_SIZE = 8 * MIB
STAGE_AHEAD = 2
GET_PIECE = 4 * MIB
MAX_BLOCKS = 50_000  # Azure's limit of committed blocks per blob
RETRIES = 2

T = TypeVar("T")

# The SDK logs every request's headers at INFO; failures reach the datanode's log as reasons instead.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


class AzureBackend:
    location_type = "azure"
    keeps_versions = False

    def __init__(
        self, location: str, settings: AzureSettings, timeouts: RemoteTimeouts | None = None
    ) -> None:
        self.location = location
        self.settings = settings
        self.bucket_match = settings.bucket_match
        self._timeouts = timeouts or RemoteTimeouts()
        self._container = ContainerClient(
            settings.endpoint,
            settings.container,
            credential=AzureNamedKeyCredential(settings.account_name, settings.access_key),
            # The SDK's default backs off for minutes; a few quick retries keep outages visible.
            retry_policy=LinearRetry(backoff=0.2, retry_total=RETRIES, random_jitter_range=0),  # type: ignore[arg-type]
            connection_timeout=self._timeouts.connect_s,
            read_timeout=self._timeouts.request_s,
            max_single_get_size=GET_PIECE,
            max_chunk_get_size=GET_PIECE,
        )

    async def put(self, name: str, chunks: AsyncIterator[bytes], meta: ObjectMeta) -> RemoteObject:
        blob = self._blob(name)
        settings = _settings(meta)  # bad metadata or tags fail before any byte is sent
        blocks = _blocks(chunks, BLOCK_SIZE)
        first = [await anext(blocks, b"")]  # a list the stream pops, so no reference outlives the block
        if len(first[0]) < BLOCK_SIZE:  # the whole body fits in one request
            _check_size(meta.size, len(first[0]))
            answer = await self._call("put", blob.upload_blob(first[0], overwrite=True, **settings))
            return RemoteObject(name, str(answer["etag"]), len(first[0]))
        write_id = uuid.uuid4().hex
        ids, size = await self._stage_all(
            blob, _prepend(first, blocks), lambda index: block_id(write_id, 0, index)
        )
        _check_size(meta.size, size)
        answer = await self._call(
            "put",
            blob.commit_block_list([BlobBlock(identifier) for identifier in ids], **settings),
            invalid_blocks=ErrorReason.BACKEND_UNAVAILABLE,  # a concurrent commit to the name dropped them
        )
        return RemoteObject(name, str(answer["etag"]), size)

    async def get(self, obj: RemoteObject, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        blob = self._blob(obj.name)
        if length == 0:
            if await self.head(obj) is None:
                raise StrataError(ErrorReason.BLOB_NOT_FOUND, f"azure location {self.location}: blob gone")
            return
        downloader = await self._call(
            "get",
            blob.download_blob(
                offset=offset if offset or length >= 0 else None,  # no range: an empty blob reads fine
                length=None if length < 0 else length,
                etag=obj.version,
                match_condition=MatchConditions.IfNotModified,
                max_concurrency=1,
            ),
        )
        pieces = downloader.chunks()
        while True:
            try:
                piece = await self._call("get", pieces.__anext__())
            except StopAsyncIteration:
                return
            yield piece

    async def head(self, obj: RemoteObject) -> int | None:
        blob = self._blob(obj.name)
        try:
            properties = await self._call(
                "head",
                blob.get_blob_properties(etag=obj.version, match_condition=MatchConditions.IfNotModified),
            )
        except StrataError as error:
            if error.reason == ErrorReason.BLOB_NOT_FOUND:
                return None
            raise
        return int(properties.size)

    async def delete(self, obj: RemoteObject) -> None:
        blob = self._blob(obj.name)
        try:
            await self._call(
                "delete",
                blob.delete_blob(
                    delete_snapshots="include",
                    etag=obj.version,
                    match_condition=MatchConditions.IfNotModified,
                ),
            )
        except StrataError as error:
            if error.reason != ErrorReason.BLOB_NOT_FOUND:  # gone already, or a newer write owns the name
                raise

    async def create_multipart(self, name: str, meta: ObjectMeta) -> str:
        azure_metadata(meta.user_metadata)  # refuse bad metadata and tags now, not at completion
        azure_tags(meta.tags)
        return uuid.uuid4().hex[:16]

    async def upload_part(
        self, name: str, upload_id: str, part_number: int, chunks: AsyncIterator[bytes], size: int
    ) -> RemotePart:
        check_upload_id(upload_id)
        if not 1 <= part_number <= 10_000:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "part numbers go from 1 to 10000")
        blob = self._blob(name)
        attempt = uuid.uuid4().hex[:16]  # a retried part never shares block ids with its earlier attempt
        write_id = upload_id + attempt
        ids, received = await self._stage_all(
            blob, _blocks(chunks, BLOCK_SIZE), lambda index: block_id(write_id, part_number, index)
        )
        if size >= 0 and received != size:
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT, f"part {part_number}: {received} bytes, not {size}"
            )
        return RemotePart(part_number, part_token(attempt, len(ids)), received)

    async def complete_multipart(
        self, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        check_upload_id(upload_id)
        blocks: list[BlobBlock] = []
        for part in parts:
            attempt, count = parse_part_token(part.token)
            write_id = upload_id + attempt
            blocks.extend(BlobBlock(block_id(write_id, part.part_number, index)) for index in range(count))
        if len(blocks) > MAX_BLOCKS:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "upload too large for one azure blob")
        answer = await self._call(
            "complete",
            self._blob(name).commit_block_list(blocks, **_settings(meta)),
            invalid_blocks=ErrorReason.BLOB_NOT_FOUND,
        )
        return RemoteObject(name, str(answer["etag"]), sum(part.size for part in parts))

    async def abort_multipart(self, name: str, upload_id: str) -> None:
        # Azure has no call to drop uncommitted blocks: they expire a week after the last one was
        # staged, or go at the next commit of this name. Nothing of them is visible meanwhile.
        check_upload_id(upload_id)

    async def health(self) -> None:
        await self._call("health", self._container.get_container_properties())

    async def close(self) -> None:
        await self._container.close()

    def _blob(self, name: str) -> BlobClient:
        return self._container.get_blob_client(name)

    async def _stage_all(
        self, blob: BlobClient, blocks: AsyncIterator[bytes], block_name: Callable[[int], str]
    ) -> tuple[list[str], int]:
        """Stages every block, ``STAGE_AHEAD`` in flight; returns their ids in order and the byte count."""
        ids: list[str] = []
        size = 0
        pending: set[asyncio.Task[Any]] = set()
        try:
            async for block in blocks:
                if len(ids) >= MAX_BLOCKS:
                    raise StrataError(ErrorReason.INVALID_ARGUMENT, "too large for one azure blob")
                ids.append(block_name(len(ids)))
                size += len(block)
                stage = blob.stage_block(ids[-1], block, length=len(block))
                pending.add(asyncio.create_task(self._call("stage block", stage)))
                if len(pending) >= STAGE_AHEAD:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
            while pending:
                await pending.pop()
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return ids, size

    async def _call(
        self, operation: str, call: Awaitable[T], *, invalid_blocks: int = ErrorReason.INVALID_ARGUMENT
    ) -> T:
        """Runs one remote call under the request timeout, translating what can go wrong."""
        try:
            return await asyncio.wait_for(call, self._timeouts.connect_s + self._timeouts.request_s)
        except (StrataError, StopAsyncIteration):
            raise
        except BaseException as error:
            reason = translate(error, invalid_blocks=invalid_blocks)
            if reason is None:
                raise
            raise StrataError(
                reason, f"azure location {self.location}: {operation}: {describe(error)}"
            ) from None


def translate(error: BaseException, *, invalid_blocks: int = ErrorReason.INVALID_ARGUMENT) -> int | None:
    """The reason of a failed Azure call, or None for what is not Azure's (cancellation, a caller's bug)."""
    if isinstance(error, TimeoutError):
        return ErrorReason.BACKEND_UNAVAILABLE
    if isinstance(error, ResourceModifiedError):
        return ErrorReason.BLOB_NOT_FOUND
    if isinstance(error, ResourceNotFoundError) and error_code_of(error) != "ContainerNotFound":
        return ErrorReason.BLOB_NOT_FOUND
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        code = error_code_of(error)
        if status == 404:
            return (
                ErrorReason.BACKEND_UNAVAILABLE if code == "ContainerNotFound" else ErrorReason.BLOB_NOT_FOUND
            )
        if status == 412:
            return ErrorReason.BLOB_NOT_FOUND
        if status in (401, 403):
            return ErrorReason.BACKEND_AUTH
        if status == 429 or code == "ServerBusy":
            return ErrorReason.BACKEND_THROTTLED
        if code in ("InvalidBlockList", "InvalidBlockId"):
            return invalid_blocks
        if status >= 500 or status in (408, 409):
            return ErrorReason.BACKEND_UNAVAILABLE
        if 400 <= status < 500:
            return ErrorReason.INVALID_ARGUMENT
        return ErrorReason.BACKEND_UNAVAILABLE
    if isinstance(error, (AzureError, aiohttp.ClientError, OSError)):
        return ErrorReason.BACKEND_UNAVAILABLE
    return None


def error_code_of(error: HttpResponseError) -> str:
    """Azure's error code (``BlobNotFound``), whether the SDK parsed it into its enum or left the text."""
    code = getattr(error, "error_code", None)
    if isinstance(code, Enum):
        return str(code.value)
    return str(code or "")


def describe(error: BaseException) -> str:
    """What went wrong, without the provider's text (which may echo request details)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, HttpResponseError) and error.status_code:
        code = error_code_of(error)
        return f"HTTP {error.status_code}{' ' + code if code else ''}"
    return f"unreachable ({type(error).__name__})"


def _settings(meta: ObjectMeta) -> dict[str, Any]:
    return {
        "metadata": azure_metadata(meta.user_metadata),
        "tags": azure_tags(meta.tags),
        "content_settings": ContentSettings(
            content_type=meta.content_type or "application/octet-stream",
            content_encoding=meta.content_encoding or None,
            content_language=meta.content_language or None,
            content_disposition=meta.content_disposition or None,
            cache_control=meta.cache_control or None,
        ),
    }


async def _blocks(chunks: AsyncIterator[bytes], block_size: int) -> AsyncIterator[bytes]:
    """Regroups a stream into ``block_size`` pieces (the last one shorter), holding at most one block."""
    held: list[bytes] = []
    held_size = 0
    async for chunk in chunks:
        held.append(chunk)
        held_size += len(chunk)
        if held_size < block_size:
            continue
        joined = b"".join(held)
        start = 0
        while len(joined) - start >= block_size:
            yield joined[start : start + block_size]
            start += block_size
        held = [joined[start:]] if start < len(joined) else []
        held_size = len(joined) - start
    if held_size:
        yield b"".join(held)


async def _prepend(first: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first.pop()
    async for block in rest:
        yield block


def _check_size(declared: int, received: int) -> None:
    if declared >= 0 and received != declared:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"the body had {received} bytes, not {declared}")


def create_azure(location: str, config: Mapping[str, Any]) -> AzureBackend:
    return AzureBackend(location, settings_from(location, config))


register_remote("azure", create_azure)
