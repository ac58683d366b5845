"""The embedded all-in-one server: gateway + metadata core + data backends in one process.

No etcd and no gRPC hop: the gateway's ports are served by the metanode core
itself and by ``LocalData`` over the datanode backends (DESIGN section 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datanode.backend import Backend, create_backend
from datanode.backends.blobs import (
    HealthCache,
    RemoteLocations,
    deletable,
    plan_remote,
    remote_object,
    stored_blob,
)
from datanode.backends.remote import ObjectMeta, RemoteObject, RemotePart
from gateway.context import GatewayServices
from gateway.crypto.file_kms import FileKMS
from gateway.s3.accounts import AccountStore, load_accounts, warn_if_exposed_with_default_keys
from gateway.s3.auth import Authenticator
from gateway.serving import start_gateway
from metanode.core import MetadataCore
from metanode.gc import GarbageCollector
from metanode.kv import MemoryKV
from metanode.lifecycle.positions import KVPositions
from metanode.lifecycle.worker import LifecycleWorker
from metanode.server import open_core
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from strata.role_metrics import ProbePort
from strata.runtime.errors import listen_error
from strata.settings import (
    ServerSettings,
    SettingsError,
    check_data_outlives_metadata,
    server_ssl_context,
    usable_directory,
)

log = logging.getLogger("strata.embedded")


class LocalData:
    """DataPort (and the GC's BlobDeleter) over in-process backends: one per local location type,
    one per external location."""

    def __init__(
        self,
        locations: Mapping[str, Mapping[str, Any]],
        backends: Mapping[str, Backend],
        remotes: RemoteLocations | None = None,
    ) -> None:
        self._locations = locations
        self._backends = backends
        self.remotes = remotes if remotes is not None else RemoteLocations(lambda: locations)
        self._health = HealthCache()

    def _backend(self, location: str) -> Backend:
        config = self._locations.get(location)
        backend = self._backends.get(config["type"]) if config else None
        if backend is None:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"no backend serves location {location}")
        return backend

    def is_remote(self, location: str) -> bool:
        return self.remotes.is_remote(location)

    def plan(self, location: str, bucket: str = "", key: str = "") -> BlobRef:
        config = self._locations.get(location)
        if config is not None and self.remotes.is_remote(location):
            return plan_remote(location, config, bucket, key)
        self._backend(location)
        return BlobRef(location=location, blob_id=uuid.uuid4().hex)

    async def put(
        self, blob: BlobRef, chunks: AsyncIterator[bytes], meta: ObjectMeta | None = None
    ) -> BlobRef:
        if blob.remote_name:
            remote = self.remotes.backend(blob.location)
            return stored_blob(blob, await remote.put(blob.remote_name, chunks, meta or ObjectMeta()))
        size = await self._backend(blob.location).put(blob.blob_id, chunks)
        return BlobRef(location=blob.location, blob_id=blob.blob_id, size=size)

    def get(self, blob: BlobRef, offset: int = 0, length: int = -1) -> AsyncIterator[bytes]:
        if blob.remote_name:
            return self.remotes.backend(blob.location).get(remote_object(blob), offset, length)
        return self._backend(blob.location).get(blob.blob_id, offset, length)

    async def delete(self, blob: BlobRef) -> None:
        if blob.remote_name:
            if deletable(blob):
                await self.remotes.backend(blob.location).delete(remote_object(blob))
            return
        await self._backend(blob.location).delete(blob.blob_id)

    async def create_multipart(self, location: str, name: str, meta: ObjectMeta) -> str:
        return await self.remotes.backend(location).create_multipart(name, meta)

    async def upload_part(
        self,
        location: str,
        name: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        size: int,
    ) -> RemotePart:
        return await self.remotes.backend(location).upload_part(name, upload_id, part_number, chunks, size)

    async def complete_multipart(
        self, location: str, name: str, upload_id: str, parts: Sequence[RemotePart], meta: ObjectMeta
    ) -> RemoteObject:
        return await self.remotes.backend(location).complete_multipart(name, upload_id, parts, meta)

    async def abort_multipart(self, location: str, name: str, upload_id: str) -> None:
        await self.remotes.backend(location).abort_multipart(name, upload_id)

    async def location_health(self, location: str) -> str | None:
        async def check() -> None:
            await self.remotes.backend(location).health()

        return await self._health.probe(location, check)

    async def keeps_versions(self, location: str) -> bool:
        if not self.remotes.is_remote(location):
            return True
        problem = await self.location_health(location)  # the backend learns its provider's answer
        if problem is not None:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"location {location}: {problem}")
        return self.remotes.backend(location).keeps_versions

    async def close(self) -> None:
        for backend in self._backends.values():
            await backend.close()
        await self.remotes.close()


@dataclass
class EmbeddedServer:
    settings: ServerSettings
    core: MetadataCore
    data: LocalData
    backends: dict[str, Backend]
    gc: GarbageCollector
    accounts: AccountStore
    lifecycle: LifecycleWorker
    kms: FileKMS | None = None  # encryption at rest
    kms_temporary: tempfile.TemporaryDirectory[str] | None = None  # the mem backend's key directory

    def services(self) -> GatewayServices:
        return GatewayServices(
            metadata=self.core,
            data=self.data,
            authenticator=Authenticator(self.accounts),
            rest_endpoints=lambda: self.settings.rest_endpoints,
            website_endpoints=lambda: self.settings.website_endpoints,
            locations=lambda: self.settings.locations,
            intent_ttl_ms=int(self.settings.intent_ttl_s * 1000),
            lifecycle_day_ms=int(self.settings.lifecycle_day_s * 1000),
            kms=self.kms,
        )

    async def close(self) -> None:
        await self.lifecycle.stop()
        await self.gc.stop()
        await self.data.close()
        await self.core.close()
        if self.kms_temporary is not None:
            self.kms_temporary.cleanup()


def embedded_kms(settings: ServerSettings) -> tuple[FileKMS, tempfile.TemporaryDirectory[str] | None]:
    """The key manager of encryption at rest: STRATA_KMS_DIR, else beside the data of the file
    backend; the mem backend's keys live (like its data) only as long as the process."""
    if settings.gateway.kms_dir:
        return FileKMS(settings.gateway.kms_dir), None
    if settings.backend == "file":
        return FileKMS(os.path.join(settings.data_path, "kms")), None
    temporary = tempfile.TemporaryDirectory(prefix="strata-kms-")
    return FileKMS(temporary.name), temporary


async def open_embedded(settings: ServerSettings) -> EmbeddedServer:
    check_data_outlives_metadata(settings.backend, settings.locations)
    remotes = RemoteLocations(lambda: settings.locations)
    for name in settings.locations:
        if remotes.is_remote(name):
            try:
                remotes.backend(name)  # checks the location's details before anything is opened or created
            except StrataError as error:
                raise SettingsError(f"location file (S3_LOCATION_FILE): {error.message}") from None
    accounts = await asyncio.to_thread(load_accounts, settings.authdata_path)
    types = {location["type"] for location in settings.locations.values()}
    backends: dict[str, Backend] = {}
    for location_type in sorted(types & {"file", "mem"}):
        data_dir = settings.data_path if location_type == "file" else None
        if data_dir:
            await asyncio.to_thread(usable_directory, data_dir, "data directory (S3DATAPATH)")
        backends[location_type] = create_backend(location_type, {}, data_dir=data_dir)
    if settings.backend == "mem":
        core = MetadataCore(
            MemoryKV(),
            replication_group_id=settings.replication_group_id,
            intent_ttl_ms=int(settings.intent_ttl_s * 1000),
        )
    else:
        await asyncio.to_thread(
            usable_directory, settings.metadata_path, "metadata directory (S3METADATAPATH)"
        )
        core = await open_core(
            settings.metadata_path,
            replication_group_id=settings.replication_group_id,
            intent_ttl_ms=int(settings.intent_ttl_s * 1000),
        )
    data = LocalData(settings.locations, backends, remotes)
    core.set_deleter(data)
    gc = GarbageCollector(core, data, interval_s=settings.gc_interval_s, grace_s=settings.gc_grace_s)
    gc.start()
    lifecycle = LifecycleWorker(
        core,
        settings.lifecycle_interval_s,
        day_s=settings.lifecycle_day_s,
        positions=KVPositions(core.kv, core.writer),
    )
    lifecycle.start()
    kms, kms_temporary = embedded_kms(settings)
    return EmbeddedServer(settings, core, data, backends, gc, accounts, lifecycle, kms, kms_temporary)


@contextlib.asynccontextmanager
async def probe_port(starting: Awaitable[ProbePort]) -> AsyncIterator[ProbePort]:
    port = await starting
    try:
        yield port
    finally:
        await port.close()


@contextlib.asynccontextmanager
async def running_embedded(settings: ServerSettings) -> AsyncIterator[tuple[EmbeddedServer, int]]:
    """Serves S3 until the context exits; yields the server and its bound port."""
    server = await open_embedded(settings)
    try:
        ssl_context = server_ssl_context(settings.certificates) if settings.certificates else None
        runner = await start_gateway(
            server.services(), settings.gateway, settings.host, settings.port, ssl_context,
            access_log=None, handle_signals=False,
        )  # fmt: skip
    except OSError as error:
        await server.close()
        raise listen_error(settings.host, settings.port, error) from None
    except BaseException:
        await server.close()
        raise
    try:
        port = runner.addresses[0][1]
        warn_if_exposed_with_default_keys(runner.addresses, server.accounts)
        yield server, port
    finally:
        await runner.cleanup()
        await server.close()


async def serve_forever(settings: ServerSettings, metrics_listen: str | None = None) -> None:
    from strata.role_metrics import GatewayProbes, check_metrics_listen, serve_probes
    from strata.runtime.lifecycle import wait_for_stop_signal

    check_metrics_listen(metrics_listen)
    async with (
        running_embedded(settings) as (server, port),
        probe_port(serve_probes(metrics_listen, GatewayProbes(server.services()))),
    ):
        scheme = "https" if settings.certificates else "http"
        log.info(
            "Strata S3 server listening on %s://%s:%d (backend %s)",
            scheme,
            settings.host,
            port,
            settings.backend,
        )
        await wait_for_stop_signal()
        log.info("shutting down")
    await asyncio.sleep(0)
