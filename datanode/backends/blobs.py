"""Between Strata's blob references and external-location writes: conversions, and the backends by location.

A blob on an external location is a ``BlobRef`` whose ``remote_name`` / ``remote_version``
name one write on the provider (``RemoteObject``); a native multipart part is a BlobRef
with ``remote_part`` set, its provider token in ``remote_version``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from datanode.backends.remote import (
    ObjectMeta,
    RemoteBackend,
    RemoteObject,
    create_remote,
    is_remote,
    remote_name,
)
from protos.common_pb2 import BlobRef, ErrorReason
from protos.data_pb2 import RemoteMeta, RemoteRef
from protos.errors import StrataError
from strata.runtime.log import log_fields

log = logging.getLogger(__name__)


def plan_remote(location: str, config: Mapping[str, Any], bucket: str, key: str) -> BlobRef:
    """A new BlobRef for S3 object ``bucket/key`` on external location ``location``.

    The provider name follows the location's ``bucketMatch`` (default false: ``<bucket>/<key>``).
    """
    details = config.get("details")
    bucket_match = bool(details.get("bucketMatch", False)) if isinstance(details, Mapping) else False
    return BlobRef(
        location=location,
        blob_id=uuid.uuid4().hex,
        remote_name=remote_name(bucket, key, bucket_match=bucket_match),
    )


def remote_object(blob: BlobRef) -> RemoteObject:
    return RemoteObject(blob.remote_name, blob.remote_version, blob.size)


def stored_blob(planned: BlobRef, written: RemoteObject) -> BlobRef:
    return BlobRef(
        location=planned.location,
        blob_id=planned.blob_id,
        size=written.size,
        remote_name=written.name,
        remote_version=written.version,
    )


def remote_ref(obj: RemoteObject) -> RemoteRef:
    return RemoteRef(name=obj.name, version=obj.version, size=obj.size)


def from_remote_ref(ref: RemoteRef) -> RemoteObject:
    return RemoteObject(ref.name, ref.version, ref.size)


def meta_to_proto(meta: ObjectMeta) -> RemoteMeta:
    return RemoteMeta(
        content_type=meta.content_type,
        user_metadata=dict(meta.user_metadata),
        tags=dict(meta.tags),
        cache_control=meta.cache_control,
        content_disposition=meta.content_disposition,
        content_encoding=meta.content_encoding,
        content_language=meta.content_language,
        size=meta.size,
    )


def meta_from_proto(meta: RemoteMeta) -> ObjectMeta:
    return ObjectMeta(
        content_type=meta.content_type,
        user_metadata=dict(meta.user_metadata),
        tags=dict(meta.tags),
        cache_control=meta.cache_control,
        content_disposition=meta.content_disposition,
        content_encoding=meta.content_encoding,
        content_language=meta.content_language,
        size=meta.size,
    )


def deletable(blob: BlobRef) -> bool:
    """Whether deleting ``blob`` alone is meaningful and safe on its external location.

    A multipart part goes with its upload; a write whose provider id was never learned (the
    writer stopped between the provider's answer and recording it) cannot be told apart from
    a newer write under the same name, so it is left where it is rather than risk that one.
    """
    if blob.remote_part:
        return False
    if not blob.remote_version:
        log.warning(
            "leaving an unidentified write on an external location",
            extra=log_fields(location=blob.location, remote_name=blob.remote_name),
        )
        return False
    return True


class RemoteLocations:
    """The backend of each external location, made on first use and remade when its config changes."""

    def __init__(self, locations: Callable[[], Mapping[str, Mapping[str, Any]]]) -> None:
        self._locations = locations
        self._backends: dict[str, tuple[str, RemoteBackend]] = {}
        self._retired: list[RemoteBackend] = []

    def config(self, location: str) -> Mapping[str, Any] | None:
        return self._locations().get(location)

    def is_remote(self, location: str) -> bool:
        config = self.config(location)
        return config is not None and is_remote(str(config.get("type", "")))

    def backend(self, location: str) -> RemoteBackend:
        config = self.config(location)
        if config is None or not is_remote(str(config.get("type", ""))):
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"{location} is not an external location here")
        fingerprint = json.dumps(config, sort_keys=True, default=str)
        cached = self._backends.get(location)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        if cached is not None:
            self._retired.append(cached[1])  # closed with the rest: calls may still be using it
        backend = create_remote(location, config)
        self._backends[location] = (fingerprint, backend)
        return backend

    async def close(self) -> None:
        backends = [backend for _, backend in self._backends.values()] + self._retired
        self._backends.clear()
        self._retired.clear()
        for backend in backends:
            await backend.close()


HEALTH_TIMEOUT_S = 5.0
HEALTH_CACHE_S = (
    2.0  # a load balancer polling every gateway's health check does not poll the provider as often
)
_HEALTH_WORDS: dict[int, str] = {
    ErrorReason.BACKEND_UNAVAILABLE: "unreachable",
    ErrorReason.BACKEND_AUTH: "credentials refused",
    ErrorReason.BACKEND_THROTTLED: "throttling requests",
    ErrorReason.INVALID_ARGUMENT: "misconfigured",
}


def describe_problem(error: StrataError) -> str:
    """A health message for an external location's failure: the kind of problem, never provider text."""
    return _HEALTH_WORDS.get(error.reason, error.reason_name.lower().replace("_", " "))


class HealthCache:
    """The last health probe of each location, reused for ``HEALTH_CACHE_S``."""

    def __init__(self) -> None:
        self._results: dict[str, tuple[float, str | None]] = {}

    async def probe(self, location: str, check: Callable[[], Awaitable[str | None]]) -> str | None:
        """None when healthy, else what is wrong; ``check`` runs at most every ``HEALTH_CACHE_S``."""
        cached = self._results.get(location)
        now = time.monotonic()
        if cached is not None and now - cached[0] < HEALTH_CACHE_S:
            return cached[1]
        try:
            problem = await asyncio.wait_for(check(), HEALTH_TIMEOUT_S)
        except StrataError as error:
            problem = describe_problem(error)
        except TimeoutError:
            problem = "unreachable (no answer in time)"
        self._results[location] = (time.monotonic(), problem)
        return problem
