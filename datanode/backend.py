"""The blob storage contract every data backend implements, and the registry of backends.

A backend stores immutable blobs named by a 128-bit id (32 lowercase hex characters).
A blob appears atomically when its put completes; a failed or cancelled put leaves
nothing behind. Backends are chosen by CloudServer location type (``file``, ``mem``,
and later ``aws_s3``, ``azure``, ...) through :func:`create_backend`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

CHUNK_SIZE = 1024 * 1024
"""Unit of streaming (and of checksumming on disk): 1 MiB."""

_BLOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


Pace = Callable[[int], Awaitable[None]]
"""Called with each number of bytes a scrub has just read; waits as long as the rate bound asks."""


@dataclass(frozen=True)
class BlobCheck:
    """What verifying one blob found."""

    bytes_checked: int
    corrupt: bool  # found corrupt by this check (and quarantined: it is never served again)


@runtime_checkable
class Backend(Protocol):
    async def put(self, blob_id: str, chunks: AsyncIterator[bytes]) -> int:
        """Stores the blob; returns its size. Visible only once complete."""
        ...

    def get(self, blob_id: str, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        """Streams ``length`` bytes (-1: to the end) from ``offset`` in pieces of at most 1 MiB.

        Raises BLOB_NOT_FOUND on the first iteration if the blob is missing, BLOB_CORRUPT if a
        checksum does not match. An async generator, so a caller that stops early can ``aclose()`` it.
        """
        ...

    async def head(self, blob_id: str) -> int | None:
        """The blob's size, or None if it does not exist."""
        ...

    async def delete(self, blob_id: str) -> None:
        """Removes the blob; deleting a missing blob is not an error."""
        ...

    def list_blobs(self) -> AsyncGenerator[str, None]:
        """Every stored blob id, in no particular order."""
        ...

    async def verify(self, blob_id: str, pace: Pace | None = None) -> BlobCheck:
        """Re-reads the blob and checks it against its stored checksums (a missing blob checks nothing).

        A corrupt blob is quarantined: Head and Get report it missing from then on.
        """
        ...

    async def unhealed_quarantined(self) -> list[str]:
        """Ids of blobs quarantined earlier that no healed copy has replaced (and nothing deleted)."""
        ...

    async def health(self) -> None:
        """Returns if the backend is usable, else raises StrataError(BACKEND_UNAVAILABLE)."""
        ...

    async def close(self) -> None: ...


BackendFactory = Callable[[dict[str, Any], str | None], Backend]
"""Builds a backend from a location's ``details`` and the process's data directory."""

_FACTORIES: dict[str, BackendFactory] = {}


def register_backend(location_type: str, factory: BackendFactory) -> None:
    _FACTORIES[location_type] = factory


def registered_location_types() -> list[str]:
    return sorted(_FACTORIES)


def create_backend(location_type: str, details: dict[str, Any], *, data_dir: str | None) -> Backend:
    """The backend for one location of ``location_type`` (CloudServer's locationConfig ``type``)."""
    factory = _FACTORIES.get(location_type)
    if factory is None:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT,
            f"unknown location type {location_type!r}; known: {', '.join(registered_location_types())}",
        )
    return factory(details, data_dir)


def validate_blob_id(blob_id: str) -> str:
    if not isinstance(blob_id, str) or not _BLOB_ID_PATTERN.fullmatch(blob_id):
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"invalid blob id {blob_id!r}")
    return blob_id


def resolve_range(size: int, offset: int, length: int) -> tuple[int, int]:
    """``(start, end)`` of the requested range, clamped to the blob's end."""
    if offset < 0 or length < -1:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"invalid range offset={offset} length={length}")
    if offset > size:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"offset {offset} beyond blob size {size}")
    end = size if length == -1 else min(size, offset + length)
    return offset, end


def blob_not_found(blob_id: str) -> StrataError:
    return StrataError(ErrorReason.BLOB_NOT_FOUND, f"blob {blob_id} not found")


def _file_backend(details: dict[str, Any], data_dir: str | None) -> Backend:
    from datanode.disk import DiskBackend  # imported lazily: disk.py imports this module

    root = details.get("path") or data_dir
    if not root:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, "a 'file' location needs a data directory")
    reserve = details.get("reserveBytes", 0)
    if not isinstance(reserve, int) or isinstance(reserve, bool) or reserve < 0:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"reserveBytes must be a whole number >= 0, not {reserve!r}"
        )
    return DiskBackend(root, reserve_bytes=reserve)


def _memory_backend(details: dict[str, Any], data_dir: str | None) -> Backend:
    from datanode.memory import MemoryBackend

    return MemoryBackend()


register_backend("file", _file_backend)
register_backend("mem", _memory_backend)
