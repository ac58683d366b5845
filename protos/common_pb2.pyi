from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    NO_SUCH_BUCKET: _ClassVar[ErrorReason]
    NO_SUCH_KEY: _ClassVar[ErrorReason]
    NO_SUCH_VERSION: _ClassVar[ErrorReason]
    NO_SUCH_UPLOAD: _ClassVar[ErrorReason]
    BUCKET_EXISTS: _ClassVar[ErrorReason]
    BUCKET_NOT_EMPTY: _ClassVar[ErrorReason]
    PRECONDITION_FAILED: _ClassVar[ErrorReason]
    NOT_LEADER: _ClassVar[ErrorReason]
    STALE_EPOCH: _ClassVar[ErrorReason]
    CHECKSUM_MISMATCH: _ClassVar[ErrorReason]
    BLOB_NOT_FOUND: _ClassVar[ErrorReason]
    BACKEND_UNAVAILABLE: _ClassVar[ErrorReason]
    BACKEND_AUTH: _ClassVar[ErrorReason]
    QUOTA: _ClassVar[ErrorReason]
    INVALID_ARGUMENT: _ClassVar[ErrorReason]
    NO_SUCH_INTENT: _ClassVar[ErrorReason]
    CONFLICT: _ClassVar[ErrorReason]
    INTERNAL: _ClassVar[ErrorReason]
    BLOB_CORRUPT: _ClassVar[ErrorReason]
    BUCKET_OWNED_BY_YOU: _ClassVar[ErrorReason]
    DATA_UNREACHABLE: _ClassVar[ErrorReason]
    INSUFFICIENT_STORAGE: _ClassVar[ErrorReason]
    BACKEND_THROTTLED: _ClassVar[ErrorReason]
    OUTCOME_UNKNOWN: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
NO_SUCH_BUCKET: ErrorReason
NO_SUCH_KEY: ErrorReason
NO_SUCH_VERSION: ErrorReason
NO_SUCH_UPLOAD: ErrorReason
BUCKET_EXISTS: ErrorReason
BUCKET_NOT_EMPTY: ErrorReason
PRECONDITION_FAILED: ErrorReason
NOT_LEADER: ErrorReason
STALE_EPOCH: ErrorReason
CHECKSUM_MISMATCH: ErrorReason
BLOB_NOT_FOUND: ErrorReason
BACKEND_UNAVAILABLE: ErrorReason
BACKEND_AUTH: ErrorReason
QUOTA: ErrorReason
INVALID_ARGUMENT: ErrorReason
NO_SUCH_INTENT: ErrorReason
CONFLICT: ErrorReason
INTERNAL: ErrorReason
BLOB_CORRUPT: ErrorReason
BUCKET_OWNED_BY_YOU: ErrorReason
DATA_UNREACHABLE: ErrorReason
INSUFFICIENT_STORAGE: ErrorReason
BACKEND_THROTTLED: ErrorReason
OUTCOME_UNKNOWN: ErrorReason

class BlobRef(_message.Message):
    __slots__ = ("location", "blob_id", "size", "replicas", "replicas_wanted", "remote_name", "remote_version", "remote_part")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_WANTED_FIELD_NUMBER: _ClassVar[int]
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    REMOTE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REMOTE_PART_FIELD_NUMBER: _ClassVar[int]
    location: str
    blob_id: str
    size: int
    replicas: _containers.RepeatedScalarFieldContainer[str]
    replicas_wanted: int
    remote_name: str
    remote_version: str
    remote_part: bool
    def __init__(self, location: _Optional[str] = ..., blob_id: _Optional[str] = ..., size: _Optional[int] = ..., replicas: _Optional[_Iterable[str]] = ..., replicas_wanted: _Optional[int] = ..., remote_name: _Optional[str] = ..., remote_version: _Optional[str] = ..., remote_part: _Optional[bool] = ...) -> None: ...

class Checksum(_message.Message):
    __slots__ = ("algorithm", "value")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    value: str
    def __init__(self, algorithm: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
