"""A blob backend held in process memory (CloudServer's ``mem`` backend): for tests and demos."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from datanode.backend import CHUNK_SIZE, BlobCheck, Pace, blob_not_found, resolve_range, validate_blob_id
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError


class MemoryBackend:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._closed = False

    async def put(self, blob_id: str, chunks: AsyncIterator[bytes]) -> int:
        validate_blob_id(blob_id)
        pieces = [bytes(piece) async for piece in chunks]
        # Stored only after the whole stream arrived, so a broken put leaves nothing.
        blob = b"".join(pieces)
        self._blobs[blob_id] = blob
        return len(blob)

    async def get(self, blob_id: str, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        validate_blob_id(blob_id)
        blob = self._blobs.get(blob_id)
        if blob is None:
            raise blob_not_found(blob_id)
        start, end = resolve_range(len(blob), offset, length)
        view = memoryview(blob)
        for position in range(start, end, CHUNK_SIZE):
            yield bytes(view[position : min(end, position + CHUNK_SIZE)])

    async def head(self, blob_id: str) -> int | None:
        validate_blob_id(blob_id)
        blob = self._blobs.get(blob_id)
        return None if blob is None else len(blob)

    async def delete(self, blob_id: str) -> None:
        validate_blob_id(blob_id)
        self._blobs.pop(blob_id, None)

    async def list_blobs(self) -> AsyncGenerator[str, None]:
        for blob_id in list(self._blobs):
            yield blob_id

    async def verify(self, blob_id: str, pace: Pace | None = None) -> BlobCheck:
        """Memory keeps no checksums to verify against: a present blob checks as sound."""
        validate_blob_id(blob_id)
        blob = self._blobs.get(blob_id)
        if blob is None:
            return BlobCheck(0, False)
        if pace is not None:
            await pace(len(blob))
        return BlobCheck(len(blob), False)

    async def unhealed_quarantined(self) -> list[str]:
        return []

    async def health(self) -> None:
        if self._closed:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "memory backend is closed")

    async def close(self) -> None:
        self._closed = True
