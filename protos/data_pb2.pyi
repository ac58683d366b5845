from protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PutHeader(_message.Message):
    __slots__ = ("blob_id", "location", "remote_name", "meta")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    location: str
    remote_name: str
    meta: RemoteMeta
    def __init__(self, blob_id: _Optional[str] = ..., location: _Optional[str] = ..., remote_name: _Optional[str] = ..., meta: _Optional[_Union[RemoteMeta, _Mapping]] = ...) -> None: ...

class RemoteMeta(_message.Message):
    __slots__ = ("content_type", "user_metadata", "tags", "cache_control", "content_disposition", "content_encoding", "content_language", "size")
    class UserMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_METADATA_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    user_metadata: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    cache_control: str
    content_disposition: str
    content_encoding: str
    content_language: str
    size: int
    def __init__(self, content_type: _Optional[str] = ..., user_metadata: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., cache_control: _Optional[str] = ..., content_disposition: _Optional[str] = ..., content_encoding: _Optional[str] = ..., content_language: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("blob_id", "offset", "length", "remote")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    offset: int
    length: int
    remote: RemoteRef
    def __init__(self, blob_id: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., remote: _Optional[_Union[RemoteRef, _Mapping]] = ...) -> None: ...

class RemoteRef(_message.Message):
    __slots__ = ("name", "version", "size")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    size: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class GetChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class BlobId(_message.Message):
    __slots__ = ("blob_id", "remote")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    remote: RemoteRef
    def __init__(self, blob_id: _Optional[str] = ..., remote: _Optional[_Union[RemoteRef, _Mapping]] = ...) -> None: ...

class CreateMultipartRequest(_message.Message):
    __slots__ = ("remote_name", "meta")
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    remote_name: str
    meta: RemoteMeta
    def __init__(self, remote_name: _Optional[str] = ..., meta: _Optional[_Union[RemoteMeta, _Mapping]] = ...) -> None: ...

class CreateMultipartResponse(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class UploadPartHeader(_message.Message):
    __slots__ = ("remote_name", "upload_id", "part_number", "size")
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    remote_name: str
    upload_id: str
    part_number: int
    size: int
    def __init__(self, remote_name: _Optional[str] = ..., upload_id: _Optional[str] = ..., part_number: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class UploadPartChunk(_message.Message):
    __slots__ = ("header", "data", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: UploadPartHeader
    data: bytes
    end: PutEnd
    def __init__(self, header: _Optional[_Union[UploadPartHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[PutEnd, _Mapping]] = ...) -> None: ...

class RemotePartRef(_message.Message):
    __slots__ = ("part_number", "token", "size")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    token: str
    size: int
    def __init__(self, part_number: _Optional[int] = ..., token: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class CompleteMultipartRequest(_message.Message):
    __slots__ = ("remote_name", "upload_id", "parts", "meta")
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    remote_name: str
    upload_id: str
    parts: _containers.RepeatedCompositeFieldContainer[RemotePartRef]
    meta: RemoteMeta
    def __init__(self, remote_name: _Optional[str] = ..., upload_id: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[RemotePartRef, _Mapping]]] = ..., meta: _Optional[_Union[RemoteMeta, _Mapping]] = ...) -> None: ...

class AbortMultipartRequest(_message.Message):
    __slots__ = ("remote_name", "upload_id")
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    remote_name: str
    upload_id: str
    def __init__(self, remote_name: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class HeadResponse(_message.Message):
    __slots__ = ("exists", "size")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    size: int
    def __init__(self, exists: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("ok", "node_id", "location", "detail", "keeps_versions")
    OK_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    KEEPS_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    node_id: str
    location: str
    detail: str
    keeps_versions: bool
    def __init__(self, ok: _Optional[bool] = ..., node_id: _Optional[str] = ..., location: _Optional[str] = ..., detail: _Optional[str] = ..., keeps_versions: _Optional[bool] = ...) -> None: ...

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
