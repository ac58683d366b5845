"""Opening a metadata core on disk and serving it over gRPC (the process entry point wires these)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import grpc

from metanode.core import MetadataCore
from metanode.kv import RocksKV
from metanode.replication.node import ShardNode
from metanode.replication.servicer import ReplicationServicer
from metanode.servicer import MetadataServicer
from protos import metadata_pb2_grpc
from strata.runtime.errors import StartupError
from strata.runtime.grpc_context import RequestIdServerInterceptor

_bound_ports: weakref.WeakKeyDictionary[grpc.aio.Server, int] = weakref.WeakKeyDictionary()


async def open_store(data_dir: str) -> RocksKV:
    """The RocksDB directory ``data_dir`` (created if missing).

    Raises StartupError when the directory cannot be used, e.g. another process holds its LOCK.
    """
    try:
        return await asyncio.to_thread(RocksKV, data_dir)
    except Exception as error:  # rocksdict raises plain Exception with RocksDB's status text
        if "LOCK" in str(error):
            raise StartupError(
                f"metadata directory {data_dir} is in use by another process (its RocksDB LOCK is held)"
            ) from None
        raise StartupError(f"cannot open metadata directory {data_dir}: {error}") from None


async def open_core(data_dir: str, **options: Any) -> MetadataCore:
    """A core over the RocksDB directory ``data_dir`` (see :func:`open_store`); options go to MetadataCore."""
    kv = await open_store(data_dir)
    try:
        return await asyncio.to_thread(lambda: MetadataCore(kv, **options))
    except BaseException:
        await asyncio.to_thread(kv.close)
        raise


async def start_server(source: MetadataCore | ShardNode, listen: str) -> grpc.aio.Server:
    """Serves a core, or a shard replica (its clients' and its leader's calls), on ``listen``
    ("host:port"; port 0 picks a free one, see :func:`bound_port`)."""
    # No SO_REUSEPORT: a second server on a taken port must fail, not share it.
    server = grpc.aio.server(interceptors=[RequestIdServerInterceptor()], options=[("grpc.so_reuseport", 0)])
    metadata_pb2_grpc.add_MetadataServiceServicer_to_server(MetadataServicer(source), server)
    if isinstance(source, ShardNode):
        metadata_pb2_grpc.add_ReplicationServiceServicer_to_server(ReplicationServicer(source), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    _bound_ports[server] = port
    return server


def bound_port(server: grpc.aio.Server) -> int:
    """The TCP port a server from :func:`start_server` listens on."""
    return _bound_ports[server]
