"""The one domain error every package raises, and its gRPC codec.

An error crosses gRPC as a status code plus its ``ErrorReason`` name in the
trailing metadata key ``strata-error-reason``. Servers encode with
:func:`abort_with`; clients decode with :func:`from_rpc_error`. Nothing else
looks at error text.
"""

from __future__ import annotations

import grpc

from protos.common_pb2 import ErrorReason

REASON_METADATA_KEY = "strata-error-reason"

_STATUS_BY_REASON: dict[int, grpc.StatusCode] = {
    ErrorReason.NO_SUCH_BUCKET: grpc.StatusCode.NOT_FOUND,
    ErrorReason.NO_SUCH_KEY: grpc.StatusCode.NOT_FOUND,
    ErrorReason.NO_SUCH_VERSION: grpc.StatusCode.NOT_FOUND,
    ErrorReason.NO_SUCH_UPLOAD: grpc.StatusCode.NOT_FOUND,
    ErrorReason.NO_SUCH_INTENT: grpc.StatusCode.NOT_FOUND,
    ErrorReason.BLOB_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorReason.BUCKET_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorReason.BUCKET_OWNED_BY_YOU: grpc.StatusCode.ALREADY_EXISTS,
    ErrorReason.BUCKET_NOT_EMPTY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorReason.PRECONDITION_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorReason.CONFLICT: grpc.StatusCode.ABORTED,
    ErrorReason.NOT_LEADER: grpc.StatusCode.UNAVAILABLE,
    ErrorReason.STALE_EPOCH: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorReason.CHECKSUM_MISMATCH: grpc.StatusCode.DATA_LOSS,
    ErrorReason.BLOB_CORRUPT: grpc.StatusCode.DATA_LOSS,
    ErrorReason.BACKEND_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorReason.DATA_UNREACHABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorReason.OUTCOME_UNKNOWN: grpc.StatusCode.UNAVAILABLE,
    ErrorReason.BACKEND_AUTH: grpc.StatusCode.PERMISSION_DENIED,
    ErrorReason.QUOTA: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorReason.INSUFFICIENT_STORAGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorReason.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorReason.INTERNAL: grpc.StatusCode.INTERNAL,
}

# Transport failures with no reason attached mean the peer could not be reached.
_REASON_BY_BARE_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.UNAVAILABLE: ErrorReason.BACKEND_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorReason.BACKEND_UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorReason.BACKEND_UNAVAILABLE,
}


class StrataError(Exception):
    """A domain failure with a machine-readable reason."""

    def __init__(self, reason: int, message: str = "") -> None:
        super().__init__(message or ErrorReason.Name(reason))
        self.reason = reason
        self.message = message or ErrorReason.Name(reason)

    @property
    def reason_name(self) -> str:
        return ErrorReason.Name(self.reason)

    def __repr__(self) -> str:
        return f"StrataError({self.reason_name}, {self.message!r})"


def grpc_status_for(reason: int) -> grpc.StatusCode:
    return _STATUS_BY_REASON.get(reason, grpc.StatusCode.UNKNOWN)


async def abort_with(context: grpc.aio.ServicerContext, error: StrataError) -> None:
    """Ends the current RPC with ``error`` encoded for :func:`from_rpc_error`."""
    context.set_trailing_metadata(((REASON_METADATA_KEY, error.reason_name),))
    await context.abort(grpc_status_for(error.reason), error.message)


def from_rpc_error(error: grpc.RpcError) -> StrataError:
    """Decodes a failed RPC into a StrataError (the single decoding point)."""
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == REASON_METADATA_KEY and value in ErrorReason.keys():
            return StrataError(ErrorReason.Value(value), error.details() or value)
    code = error.code() if hasattr(error, "code") else None
    reason = _REASON_BY_BARE_STATUS.get(code, ErrorReason.INTERNAL)
    return StrataError(reason, f"rpc failed: {code.name if code else 'unknown'}")
