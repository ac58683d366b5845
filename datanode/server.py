"""Starts the DataService gRPC server for one backend."""

from __future__ import annotations

import weakref

import grpc

from datanode.backend import Backend
from datanode.backends.blobs import RemoteLocations
from datanode.remote_servicer import RemoteDataServicer
from datanode.servicer import DataServicer
from protos import data_pb2_grpc
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.runtime.grpc_context import RequestIdServerInterceptor

# Room above 1 MiB data chunks for framing; the default is 4 MiB.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

_BOUND_PORTS: weakref.WeakKeyDictionary[grpc.aio.Server, int] = weakref.WeakKeyDictionary()


async def start_server(
    backend: Backend | RemoteLocations, listen: str, node_id: str, location: str
) -> grpc.aio.Server:
    """Serves ``backend`` on ``listen`` ("host:port"; port 0 picks a free one, see :func:`bound_port`).

    ``RemoteLocations``: the node relays to external location ``location``.
    """
    server = grpc.aio.server(
        interceptors=[RequestIdServerInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # No SO_REUSEPORT: a second server on a taken port must fail, not share it.
            ("grpc.so_reuseport", 0),
        ],
    )
    servicer: data_pb2_grpc.DataServiceServicer = (
        RemoteDataServicer(backend, node_id, location)
        if isinstance(backend, RemoteLocations)
        else DataServicer(backend, node_id, location)
    )
    data_pb2_grpc.add_DataServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"cannot listen on {listen}")
    _BOUND_PORTS[server] = port
    await server.start()
    return server


def bound_port(server: grpc.aio.Server) -> int:
    """The TCP port a server from :func:`start_server` listens on (useful after binding port 0)."""
    return _BOUND_PORTS[server]
