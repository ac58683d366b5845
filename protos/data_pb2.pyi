from protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PutHeader(_message.Message):
    __slots__ = ("blob_id", "location")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    location: str
    def __init__(self, blob_id: _Optional[str] = ..., location: _Optional[str] = ...) -> None: ...

class PutEnd(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class PutChunk(_message.Message):
    __slots__ = ("header", "data", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: PutHeader
    data: bytes
    end: PutEnd
    def __init__(self, header: _Optional[_Union[PutHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[PutEnd, _Mapping]] = ...) -> None: ...

class PutResponse(_message.Message):
    __slots__ = ("blob",)
    BLOB_FIELD_NUMBER: _ClassVar[int]
    blob: _common_pb2.BlobRef
    def __init__(self, blob: _Optional[_Union[_common_pb2.BlobRef, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("blob_id", "offset", "length")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    offset: int
    length: int
    def __init__(self, blob_id: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class GetChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class BlobId(_message.Message):
    __slots__ = ("blob_id",)
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    def __init__(self, blob_id: _Optional[str] = ...) -> None: ...

class HeadResponse(_message.Message):
    __slots__ = ("exists", "size")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    size: int
    def __init__(self, exists: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("ok", "node_id", "location", "detail")
    OK_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    node_id: str
    location: str
    detail: str
    def __init__(self, ok: _Optional[bool] = ..., node_id: _Optional[str] = ..., location: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ListBlobsResponse(_message.Message):
    __slots__ = ("blob_ids",)
    BLOB_IDS_FIELD_NUMBER: _ClassVar[int]
    blob_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, blob_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ScrubRequest(_message.Message):
    __slots__ = ("rate_mb_per_s", "unhealed_only")
    RATE_MB_PER_S_FIELD_NUMBER: _ClassVar[int]
    UNHEALED_ONLY_FIELD_NUMBER: _ClassVar[int]
    rate_mb_per_s: float
    unhealed_only: bool
    def __init__(self, rate_mb_per_s: _Optional[float] = ..., unhealed_only: _Optional[bool] = ...) -> None: ...

class ScrubProgress(_message.Message):
    __slots__ = ("blobs_total", "blobs_checked", "bytes_checked", "corrupt_blob_ids", "done")
    BLOBS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BLOBS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BYTES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_BLOB_IDS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    blobs_total: int
    blobs_checked: int
    bytes_checked: int
    corrupt_blob_ids: _containers.RepeatedScalarFieldContainer[str]
    done: bool
    def __init__(self, blobs_total: _Optional[int] = ..., blobs_checked: _Optional[int] = ..., bytes_checked: _Optional[int] = ..., corrupt_blob_ids: _Optional[_Iterable[str]] = ..., done: _Optional[bool] = ...) -> None: ...
