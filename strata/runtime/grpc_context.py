"""Carries the request id across gRPC calls, in both directions."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc

from strata.runtime.log import log_fields, request_id_var
from strata.runtime.metrics import observe_grpc_server

log = logging.getLogger("rpc")

REQUEST_ID_METADATA_KEY = "x-strata-request-id"


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """Metadata to attach to an outgoing call: the current request id."""
    return ((REQUEST_ID_METADATA_KEY, request_id_var.get()),)


class RequestIdServerInterceptor(grpc.aio.ServerInterceptor):
    """Sets ``request_id_var`` from the caller's metadata for the handler's duration."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        request_id = "-"
        for key, value in handler_call_details.invocation_metadata or ():
            if key == REQUEST_ID_METADATA_KEY:
                request_id = value
        return _wrap_handler(handler, request_id, handler_call_details.method)


# Calls between the replicas of a shard, several per second even when idle: logged at debug.
_QUIET_METHODS = frozenset({"Append"})


def _log_call(full_method: str, started: float, context: grpc.aio.ServicerContext) -> None:
    code = context.code()
    elapsed = time.monotonic() - started
    observe_grpc_server(full_method, code if isinstance(code, grpc.StatusCode) else None, elapsed)
    method = full_method.rsplit("/", 1)[-1]
    quiet = method in _QUIET_METHODS and not isinstance(code, grpc.StatusCode)
    (log.debug if quiet else log.info)(
        "rpc %s %s",
        method,
        code.name if isinstance(code, grpc.StatusCode) else "OK",
        extra=log_fields(ms=round(elapsed * 1000, 2)),
    )


def _wrap_handler(handler: grpc.RpcMethodHandler, request_id: str, method: str) -> grpc.RpcMethodHandler:
    def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = request_id_var.set(request_id)
            started = time.monotonic()
            try:
                return await fn(request, context)
            finally:
                _log_call(method, started, context)
                request_id_var.reset(token)

        return call

    def streaming(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = request_id_var.set(request_id)
            started = time.monotonic()
            try:
                async for item in fn(request, context):
                    yield item
            finally:
                _log_call(method, started, context)
                # A stream cancelled by its client is closed from another context: nothing to restore there.
                with contextlib.suppress(ValueError):
                    request_id_var.reset(token)

        return call

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            streaming(handler.unary_stream), handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(
            streaming(handler.stream_stream), handler.request_deserializer, handler.response_serializer
        )
    return handler


# Channels to peers that restart (metanodes, datanodes): reconnect within a second of the peer
# coming back. gRPC's default backoff grows to two minutes, which would keep a restarted
# follower out of its shard, or a gateway away from a new leader, long after it returned.
QUICK_RECONNECT: list[tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
