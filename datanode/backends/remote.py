"""The contract every external-location backend implements, and their registry.

An external backend stores each blob as an object of the provider's own, under the S3
object's name (``<key>`` with ``bucketMatch: true``, ``<bucket>/<key>`` with false) so
the data stays readable with the provider's tools. A write answers a ``RemoteObject``:
the name plus the provider's identifier of exactly that write (version id, generation,
file id, or an etag where the provider keeps no versions). Reads and deletes address that
write, never "whatever the name holds now": a delete never removes data a newer write
owns, and a read never returns another write's bytes.

Errors leave an adapter only as ``StrataError`` with these reasons, and never carry the
provider's raw text or a credential:

- ``BLOB_NOT_FOUND`` — that write is not there (gone, overwritten, never existed);
- ``BACKEND_UNAVAILABLE`` — unreachable, timed out, or 5xx;
- ``BACKEND_AUTH`` — credentials refused (the gateway answers 503: it is the operator's problem);
- ``BACKEND_THROTTLED`` — the provider asks to slow down (the gateway answers 503 SlowDown);
- ``INVALID_ARGUMENT`` — a bad location ``details`` (at construction) or a bad call.

Every remote call has a timeout (``RemoteTimeouts``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from protos.common_pb2 import ErrorReason
from protos.errors import StrataError


@dataclass(frozen=True)
class ObjectMeta:
    """What an S3 request says about the object being written, forwarded where the provider has room."""

    content_type: str = ""
    user_metadata: Mapping[str, str] = field(default_factory=dict)  # names without ``x-amz-meta-``
    tags: Mapping[str, str] = field(default_factory=dict)
    cache_control: str = ""
    content_disposition: str = ""
    content_encoding: str = ""
    content_language: str = ""
    size: int = -1  # the body's length when known in advance; -1: unknown (stream until the end)


@dataclass(frozen=True)
class RemoteObject:
    """One write on the provider: its object name and the provider's identifier of that write."""

    name: str
    version: str
    size: int


@dataclass(frozen=True)
class RemotePart:
    """One uploaded part of a native multipart upload, as the provider needs it to complete."""

    part_number: int
    token: str  # the provider's part etag / block id / file id / segment name
    size: int


@dataclass(frozen=True)
class RemoteTimeouts:
    connect_s: float = 5.0
    request_s: float = 30.0  # one request, or the gap between two pieces of a streamed body


@runtime_checkable
class RemoteBackend(Protocol):
    """One external location. Stateless: any number of datanodes may serve the same location."""

    location_type: str
    keeps_versions: bool
    """True when earlier writes to one name stay readable after an overwrite (provider versioning)."""

    async def put(self, name: str, chunks: AsyncIterator[bytes], meta: ObjectMeta) -> RemoteObject:
        """Stores the stream under ``name``; visible only once complete (a failed put leaves nothing)."""
        ...

    def get(self, obj: RemoteObject, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        """Streams ``length`` bytes (-1: to the end) from ``offset`` of exactly that write.

        Raises BLOB_NOT_FOUND on the first iteration when that write is gone.
        """
        ...

    async def head(self, obj: RemoteObject) -> int | None:
        """That write's size, or None if it is gone."""
        ...

    async def delete(self, obj: RemoteObject) -> None:
        """Deletes exactly that write; a missing one, or a name a newer write now owns, is left alone."""
        ...

    async def create_multipart(self, name: str, meta: ObjectMeta) -> str:
        """Starts a native multipart upload to ``name``; returns the provider's upload id."""
        ...

    async def upload_part(
        self, name: str, upload_id: str, part_number: int, chunks: AsyncIterator[bytes], size: int
    ) -> RemotePart:
        """Stores one part (1..10000; uploading a number again replaces it)."""
        ...

    async def complete_multipart(
        self, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        """Joins ``parts`` (ascending part numbers, a subset of those uploaded) into one object."""
        ...

    async def abort_multipart(self, name: str, upload_id: str) -> None:
        """Drops an upload and its parts; an unknown upload is not an error."""
        ...

    async def health(self) -> None:
        """Returns when the location is reachable and the credentials work; raises the reason otherwise."""
        ...

    async def close(self) -> None: ...


RemoteFactory = Callable[[str, Mapping[str, Any]], RemoteBackend]
"""Builds a backend from the location's name and its locationConfig entry (``type``, ``details``, ...)."""

_FACTORIES: dict[str, RemoteFactory] = {}
_MODULES = {
    "aws_s3": "datanode.backends.aws_s3",
    "azure": "datanode.backends.azure",
    "gcp": "datanode.backends.gcp",
    "b2": "datanode.backends.b2",
    "swift": "datanode.backends.swift",
}


def register_remote(location_type: str, factory: RemoteFactory) -> None:
    _FACTORIES[location_type] = factory


def remote_location_types() -> list[str]:
    return sorted(_MODULES)


def is_remote(location_type: str) -> bool:
    return location_type in _MODULES


def create_remote(name: str, config: Mapping[str, Any]) -> RemoteBackend:
    """The backend of external location ``name`` (its module is imported on first use)."""
    location_type = config.get("type", "")
    module = _MODULES.get(location_type)
    if module is None:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {name}: {location_type!r} is not an external type"
        )
    if location_type not in _FACTORIES:
        __import__(module)  # the module registers itself
    return _FACTORIES[location_type](name, config)


def remote_name(bucket: str, key: str, *, bucket_match: bool) -> str:
    """The provider object name of S3 object ``bucket/key`` (the reference's ``bucketMatch`` rule)."""
    return key if bucket_match else f"{bucket}/{key}"


def details_of(name: str, config: Mapping[str, Any]) -> Mapping[str, Any]:
    details = config.get("details")
    if not isinstance(details, Mapping):
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"location {name}: 'details' must be an object")
    return details


def required_text(name: str, details: Mapping[str, Any], field_name: str) -> str:
    value = details.get(field_name)
    if not isinstance(value, str) or not value:
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {name}: details.{field_name} must be a non-empty string"
        )
    return value


def optional_bool(name: str, details: Mapping[str, Any], field_name: str, default: bool) -> bool:
    value = details.get(field_name, default)
    if not isinstance(value, bool):
        raise StrataError(
            ErrorReason.INVALID_ARGUMENT, f"location {name}: details.{field_name} must be true or false"
        )
    return value
