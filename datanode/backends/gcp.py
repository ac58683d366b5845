"""The ``gcp`` external location: Google Cloud Storage through its JSON API.

Each write is a GCS object under the S3 object's name; its ``generation`` is the write's
version. Reads ask for that generation (``generation=``), so an overwritten write is either
still readable (bucket versioning on: ``keeps_versions``) or reported missing
(``BLOB_NOT_FOUND``), never answered with the newer bytes.

Deletes: in a bucket without versioning, the delete is conditional (``ifGenerationMatch``) so
it never removes a newer write. Before it, the live generation is read and a delete of a write
that is no longer live is dropped: fake-gcs-server (1.54) ignores delete preconditions, and this
check keeps the adapter safe there too; on GCS the precondition closes the remaining race
between the check and the delete. With versioning on, ``generation=`` deletes exactly that
generation, live or not.

A body within one chunk (8 MiB) is uploaded in one request; a longer one streams through a
resumable session in 8 MiB chunks (``gcp_json``), whether its size is known or not. Multipart uploads stage each part as an object ``.strata-mpu/<upload>/part-NNNNN``
in ``mpuBucketName`` (the main bucket when unset), together with a small record of the
upload's metadata; completion composes the parts (at most 32 sources per compose, so a
tree of composes for more), then, when the staging bucket is another bucket, rewrites the
result into the main bucket; the staged objects are deleted afterwards. Abort deletes them.

Forwarded: user metadata (``metadata``), ``contentType``, ``contentEncoding``,
``contentLanguage``, ``contentDisposition``, ``cacheControl``; S3 tags go into the
``metadata`` entry ``strata-tagging`` (URL-encoded), GCS having no tags of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from datanode.backends.gcp_auth import ServiceAccountTokens
from datanode.backends.gcp_config import GcpLocation, parse_location
from datanode.backends.gcp_json import DEFAULT_CHUNK_SIZE, GcsJsonClient, object_path
from datanode.backends.remote import (
    ObjectMeta,
    RemoteObject,
    RemotePart,
    RemoteTimeouts,
    register_remote,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.runtime.log import log_fields

logger = logging.getLogger(__name__)

MPU_PREFIX = ".strata-mpu/"
COMPOSE_MAX_SOURCES = 32  # the JSON API's limit per compose call
PARALLEL_CALLS = 8  # composes or deletes in flight at once during a multipart completion or cleanup
TAGGING_KEY = "strata-tagging"


def object_resource(name: str, meta: ObjectMeta) -> dict[str, Any]:
    """The JSON API object resource carrying what S3 said about the object."""
    resource: dict[str, Any] = {"name": name}
    fields = {
        "contentType": meta.content_type,
        "cacheControl": meta.cache_control,
        "contentDisposition": meta.content_disposition,
        "contentEncoding": meta.content_encoding,
        "contentLanguage": meta.content_language,
    }
    resource.update({key: value for key, value in fields.items() if value})
    metadata = dict(meta.user_metadata)
    if meta.tags:
        metadata[TAGGING_KEY] = urlencode(dict(meta.tags), quote_via=quote)
    if metadata:
        resource["metadata"] = metadata
    return resource


def _size(resource: Mapping[str, Any]) -> int:
    try:
        return int(resource.get("size", 0))
    except (TypeError, ValueError):
        return 0


async def _one_piece(data: bytes) -> AsyncIterator[bytes]:
    yield data


class GcpBackend:
    """One ``gcp`` location (stateless: any number of datanodes may serve it)."""

    location_type = "gcp"

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        timeouts: RemoteTimeouts | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings: GcpLocation = parse_location(name, config, os.environ if environ is None else environ)
        self._timeouts = timeouts or RemoteTimeouts()
        self.tokens = (
            ServiceAccountTokens(name, self.settings.account, self._timeouts)
            if self.settings.account
            else None
        )
        self._client = GcsJsonClient(name, self.settings.endpoint, self.tokens, self._timeouts, chunk_size)
        self.bucket_match = self.settings.bucket_match
        self.keeps_versions = False  # learnt from the bucket on first use
        self._bucket_checked = False

    # -- the bucket ------------------------------------------------------------------------------

    async def _bucket_versioning(self) -> bool:
        """Whether the bucket keeps old generations (asked once, then remembered)."""
        if not self._bucket_checked:
            bucket = await self._client.call(
                "GET",
                f"/storage/v1/b/{quote(self.settings.bucket, safe='')}",
                "bucket",
                query={"fields": "versioning"},
                missing_ok=True,
            )
            if bucket is None:
                raise self._no_bucket(self.settings.bucket)
            versioning = bucket.get("versioning") or {}
            self.keeps_versions = bool(versioning.get("enabled", False))
            self._bucket_checked = True
        return self.keeps_versions

    async def health(self) -> None:
        self._bucket_checked = False
        for bucket in dict.fromkeys([self.settings.bucket, self.settings.mpu_bucket]):
            found = await self._client.call(
                "GET",
                f"/storage/v1/b/{quote(bucket, safe='')}",
                "health",
                query={"fields": "name"},
                missing_ok=True,
            )
            if found is None:
                raise self._no_bucket(bucket)
        await self._bucket_versioning()

    def _no_bucket(self, bucket: str) -> StrataError:
        return StrataError(
            ErrorReason.BACKEND_UNAVAILABLE, f"location {self.settings.name}: bucket {bucket} does not exist"
        )

    async def close(self) -> None:
        await self._client.close()

    # -- single writes ---------------------------------------------------------------------------

    async def put(self, name: str, chunks: AsyncIterator[bytes], meta: ObjectMeta) -> RemoteObject:
        await self._bucket_versioning()
        resource = await self._client.upload(
            self.settings.bucket, object_resource(name, meta), chunks, meta.size
        )
        return RemoteObject(name, str(resource.get("generation", "")), _size(resource))

    async def get(self, obj: RemoteObject, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        if length == 0:
            if await self.head(obj) is None:
                raise StrataError(
                    ErrorReason.BLOB_NOT_FOUND, f"location {self.settings.name}: download: gone"
                )
            return
        async for piece in self._client.download(self.settings.bucket, obj.name, obj.version, offset, length):
            yield piece

    async def _resource(self, bucket: str, name: str, generation: str) -> dict[str, Any] | None:
        query: dict[str, str | int] = {"fields": "generation,size"}
        if generation:
            query["generation"] = generation
        found = await self._client.call(
            "GET", object_path(bucket, name), "head", query=query, missing_ok=True
        )
        if found is None or (generation and str(found.get("generation", "")) != generation):
            return None
        return found

    async def head(self, obj: RemoteObject) -> int | None:
        if not obj.version:
            return None
        found = await self._resource(self.settings.bucket, obj.name, obj.version)
        return None if found is None else _size(found)

    async def delete(self, obj: RemoteObject) -> None:
        if not obj.version:
            return
        query: dict[str, str | int] = {"generation": obj.version}
        if not await self._bucket_versioning():
            live = await self._resource(self.settings.bucket, obj.name, "")
            if live is None or str(live.get("generation", "")) != obj.version:
                return  # gone already, or a newer write owns the name now
            query["ifGenerationMatch"] = obj.version
        await self._client.call(
            "DELETE", object_path(self.settings.bucket, obj.name), "delete", query=query, missing_ok=True
        )

    # -- multipart -------------------------------------------------------------------------------

    @staticmethod
    def _staging_prefix(upload_id: str) -> str:
        return f"{MPU_PREFIX}{upload_id}/"

    def _part_name(self, upload_id: str, part_number: int) -> str:
        return f"{self._staging_prefix(upload_id)}part-{part_number:05d}"

    def _record_name(self, upload_id: str) -> str:
        return f"{self._staging_prefix(upload_id)}upload.json"

    @staticmethod
    def _check_upload_id(upload_id: str) -> None:
        if not upload_id or any(char not in "0123456789abcdef" for char in upload_id):
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "not an upload id of this location")

    async def create_multipart(self, name: str, meta: ObjectMeta) -> str:
        upload_id = uuid.uuid4().hex
        # The record keeps the object's metadata from creation to completion: datanodes keep no state.
        record = json.dumps(object_resource(name, meta)).encode()
        await self._client.upload(
            self.settings.mpu_bucket,
            {"name": self._record_name(upload_id), "contentType": "application/json"},
            _one_piece(record),
            len(record),
        )
        return upload_id

    async def upload_part(
        self, name: str, upload_id: str, part_number: int, chunks: AsyncIterator[bytes], size: int
    ) -> RemotePart:
        self._check_upload_id(upload_id)
        if not 1 <= part_number <= 10000:
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT, f"part number {part_number} is not within 1..10000"
            )
        resource = {
            "name": self._part_name(upload_id, part_number),
            "contentType": "application/octet-stream",
        }
        stored = await self._client.upload(self.settings.mpu_bucket, resource, chunks, size)
        return RemotePart(part_number, str(stored.get("generation", "")), _size(stored))

    async def _upload_record(self, upload_id: str) -> dict[str, Any]:
        found = await self._resource(self.settings.mpu_bucket, self._record_name(upload_id), "")
        if found is None:
            return {}
        pieces = [
            piece
            async for piece in self._client.download(
                self.settings.mpu_bucket, self._record_name(upload_id), str(found["generation"]), 0, -1
            )
        ]
        try:
            record = json.loads(b"".join(pieces))
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    async def _compose(
        self, bucket: str, destination: str, sources: Sequence[tuple[str, str]], resource: Mapping[str, Any]
    ) -> tuple[str, str]:
        body = {
            "sourceObjects": [
                {
                    "name": source,
                    "generation": generation,
                    "objectPreconditions": {"ifGenerationMatch": generation},
                }
                for source, generation in sources
            ],
            "destination": {key: value for key, value in resource.items() if key != "name"},
        }
        composed = await self._client.call(
            "POST", object_path(bucket, destination) + "/compose", "compose", body=body
        )
        assert composed is not None
        return destination, str(composed.get("generation", ""))

    async def _compose_tree(self, upload_id: str, sources: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Composes groups of 32 into intermediate objects until at most 32 sources remain."""
        limit = asyncio.Semaphore(PARALLEL_CALLS)
        level = 0

        async def compose_group(index: int, group: Sequence[tuple[str, str]]) -> tuple[str, str]:
            async with limit:
                target = f"{self._staging_prefix(upload_id)}compose-{level}-{index:05d}"
                return await self._compose(self.settings.mpu_bucket, target, group, {})

        while len(sources) > COMPOSE_MAX_SOURCES:
            groups = [
                sources[start : start + COMPOSE_MAX_SOURCES]
                for start in range(0, len(sources), COMPOSE_MAX_SOURCES)
            ]
            sources = list(await asyncio.gather(*(compose_group(i, g) for i, g in enumerate(groups))))
            level += 1
        return sources

    async def complete_multipart(
        self, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        self._check_upload_id(upload_id)
        numbers = [part.part_number for part in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT, "parts must be listed once each, in ascending order"
            )
        await self._bucket_versioning()
        resource = await self._upload_record(upload_id)
        resource.update(object_resource(name, meta))  # what completion says overrides what creation said
        sources = [(self._part_name(upload_id, part.part_number), part.token) for part in parts]
        sources = await self._compose_tree(upload_id, sources)
        if self.settings.mpu_bucket == self.settings.bucket:
            _, generation = await self._compose(self.settings.bucket, name, sources, resource)
        else:
            staged, staged_generation = await self._compose(
                self.settings.mpu_bucket, f"{self._staging_prefix(upload_id)}composed", sources, resource
            )
            generation = await self._rewrite(staged, staged_generation, name, resource)
        try:
            await self.abort_multipart(name, upload_id)
        except StrataError as error:
            # The object is complete: leftovers in the staging area must not fail the upload.
            logger.warning(
                "multipart staging not cleaned up",
                extra=log_fields(location=self.settings.name, upload_id=upload_id, reason=error.reason_name),
            )
        return RemoteObject(name, generation, sum(part.size for part in parts))

    async def _rewrite(self, source: str, generation: str, name: str, resource: Mapping[str, Any]) -> str:
        """Copies the staged object into the main bucket (several calls for large objects on GCS)."""
        path = (
            object_path(self.settings.mpu_bucket, source)
            + "/rewriteTo"
            + object_path(self.settings.bucket, name).removeprefix("/storage/v1")
        )
        query: dict[str, str | int] = {"sourceGeneration": generation}
        body = {key: value for key, value in resource.items() if key != "name"}
        while True:
            answer = await self._client.call("POST", path, "rewrite", query=query, body=body)
            assert answer is not None
            if answer.get("done", True):
                return str((answer.get("resource") or {}).get("generation", ""))
            query["rewriteToken"] = str(answer.get("rewriteToken", ""))

    async def abort_multipart(self, name: str, upload_id: str) -> None:
        self._check_upload_id(upload_id)
        staged = await self._client.list_names(self.settings.mpu_bucket, self._staging_prefix(upload_id))
        limit = asyncio.Semaphore(PARALLEL_CALLS)

        async def remove(staged_name: str) -> None:
            async with limit:
                await self._client.call(
                    "DELETE", object_path(self.settings.mpu_bucket, staged_name), "cleanup", missing_ok=True
                )

        await asyncio.gather(*(remove(staged_name) for staged_name in staged))


def _create(name: str, config: Mapping[str, Any]) -> GcpBackend:
    return GcpBackend(name, config)


register_remote("gcp", _create)
