from protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersioningState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSIONING_UNSET: _ClassVar[VersioningState]
    VERSIONING_ENABLED: _ClassVar[VersioningState]
    VERSIONING_SUSPENDED: _ClassVar[VersioningState]

class ListingType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LISTING_DELIMITER: _ClassVar[ListingType]
    LISTING_DELIMITER_MASTER: _ClassVar[ListingType]
    LISTING_DELIMITER_VERSIONS: _ClassVar[ListingType]
    LISTING_MPU: _ClassVar[ListingType]

class CompleteProblem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLETE_OK: _ClassVar[CompleteProblem]
    COMPLETE_INVALID_PART: _ClassVar[CompleteProblem]
    COMPLETE_INVALID_PART_ORDER: _ClassVar[CompleteProblem]
    COMPLETE_ENTITY_TOO_SMALL: _ClassVar[CompleteProblem]
    COMPLETE_BAD_DIGEST: _ClassVar[CompleteProblem]
VERSIONING_UNSET: VersioningState
VERSIONING_ENABLED: VersioningState
VERSIONING_SUSPENDED: VersioningState
LISTING_DELIMITER: ListingType
LISTING_DELIMITER_MASTER: ListingType
LISTING_DELIMITER_VERSIONS: ListingType
LISTING_MPU: ListingType
COMPLETE_OK: CompleteProblem
COMPLETE_INVALID_PART: CompleteProblem
COMPLETE_INVALID_PART_ORDER: CompleteProblem
COMPLETE_ENTITY_TOO_SMALL: CompleteProblem
COMPLETE_BAD_DIGEST: CompleteProblem

class BucketInfo(_message.Message):
    __slots__ = ("name", "uid", "owner_id", "owner_display_name", "creation_ms", "location", "versioning", "shard", "tags", "acl", "policy", "cors", "website", "lifecycle", "encryption", "object_lock", "public_access_block", "object_ownership", "logging")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATION_MS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CORS_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LOCK_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_ACCESS_BLOCK_FIELD_NUMBER: _ClassVar[int]
    OBJECT_OWNERSHIP_FIELD_NUMBER: _ClassVar[int]
    LOGGING_FIELD_NUMBER: _ClassVar[int]
    name: str
    uid: str
    owner_id: str
    owner_display_name: str
    creation_ms: int
    location: str
    versioning: VersioningState
    shard: str
    tags: _containers.ScalarMap[str, str]
    acl: bytes
    policy: bytes
    cors: bytes
    website: bytes
    lifecycle: bytes
    encryption: bytes
    object_lock: bytes
    public_access_block: bytes
    object_ownership: str
    logging: bytes
    def __init__(self, name: _Optional[str] = ..., uid: _Optional[str] = ..., owner_id: _Optional[str] = ..., owner_display_name: _Optional[str] = ..., creation_ms: _Optional[int] = ..., location: _Optional[str] = ..., versioning: _Optional[_Union[VersioningState, str]] = ..., shard: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., acl: _Optional[bytes] = ..., policy: _Optional[bytes] = ..., cors: _Optional[bytes] = ..., website: _Optional[bytes] = ..., lifecycle: _Optional[bytes] = ..., encryption: _Optional[bytes] = ..., object_lock: _Optional[bytes] = ..., public_access_block: _Optional[bytes] = ..., object_ownership: _Optional[str] = ..., logging: _Optional[bytes] = ...) -> None: ...

class ObjectMD(_message.Message):
    __slots__ = ("key", "version_id", "size", "etag", "last_modified_ms", "owner_id", "owner_display_name", "content_type", "content_encoding", "content_disposition", "content_language", "cache_control", "expires", "user_metadata", "blobs", "inline_data", "location", "storage_class", "checksums", "tags", "website_redirect_location", "is_delete_marker", "is_null", "null_version_id", "is_phd", "parts_count", "acl", "part_sizes", "upload_id", "parts", "sse_algorithm", "sse_key_id", "sse_key_version", "sse_wrapped_key", "sse_part_keys")
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
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_MS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CACHE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    USER_METADATA_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    INLINE_DATA_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CLASS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUMS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_REDIRECT_LOCATION_FIELD_NUMBER: _ClassVar[int]
    IS_DELETE_MARKER_FIELD_NUMBER: _ClassVar[int]
    IS_NULL_FIELD_NUMBER: _ClassVar[int]
    NULL_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    IS_PHD_FIELD_NUMBER: _ClassVar[int]
    PARTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    PART_SIZES_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    SSE_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SSE_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SSE_KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    SSE_WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    SSE_PART_KEYS_FIELD_NUMBER: _ClassVar[int]
    key: str
    version_id: str
    size: int
    etag: str
    last_modified_ms: int
    owner_id: str
    owner_display_name: str
    content_type: str
    content_encoding: str
    content_disposition: str
    content_language: str
    cache_control: str
    expires: str
    user_metadata: _containers.ScalarMap[str, str]
    blobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.BlobRef]
    inline_data: bytes
    location: str
    storage_class: str
    checksums: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checksum]
    tags: _containers.ScalarMap[str, str]
    website_redirect_location: str
    is_delete_marker: bool
    is_null: bool
    null_version_id: str
    is_phd: bool
    parts_count: int
    acl: bytes
    part_sizes: _containers.RepeatedScalarFieldContainer[int]
    upload_id: str
    parts: _containers.RepeatedCompositeFieldContainer[ObjectPart]
    sse_algorithm: str
    sse_key_id: str
    sse_key_version: int
    sse_wrapped_key: bytes
    sse_part_keys: _containers.RepeatedCompositeFieldContainer[SealedKey]
    def __init__(self, key: _Optional[str] = ..., version_id: _Optional[str] = ..., size: _Optional[int] = ..., etag: _Optional[str] = ..., last_modified_ms: _Optional[int] = ..., owner_id: _Optional[str] = ..., owner_display_name: _Optional[str] = ..., content_type: _Optional[str] = ..., content_encoding: _Optional[str] = ..., content_disposition: _Optional[str] = ..., content_language: _Optional[str] = ..., cache_control: _Optional[str] = ..., expires: _Optional[str] = ..., user_metadata: _Optional[_Mapping[str, str]] = ..., blobs: _Optional[_Iterable[_Union[_common_pb2.BlobRef, _Mapping]]] = ..., inline_data: _Optional[bytes] = ..., location: _Optional[str] = ..., storage_class: _Optional[str] = ..., checksums: _Optional[_Iterable[_Union[_common_pb2.Checksum, _Mapping]]] = ..., tags: _Optional[_Mapping[str, str]] = ..., website_redirect_location: _Optional[str] = ..., is_delete_marker: _Optional[bool] = ..., is_null: _Optional[bool] = ..., null_version_id: _Optional[str] = ..., is_phd: _Optional[bool] = ..., parts_count: _Optional[int] = ..., acl: _Optional[bytes] = ..., part_sizes: _Optional[_Iterable[int]] = ..., upload_id: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[ObjectPart, _Mapping]]] = ..., sse_algorithm: _Optional[str] = ..., sse_key_id: _Optional[str] = ..., sse_key_version: _Optional[int] = ..., sse_wrapped_key: _Optional[bytes] = ..., sse_part_keys: _Optional[_Iterable[_Union[SealedKey, _Mapping]]] = ...) -> None: ...

class SealedKey(_message.Message):
    __slots__ = ("key_id", "key_version", "wrapped")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_version: int
    wrapped: bytes
    def __init__(self, key_id: _Optional[str] = ..., key_version: _Optional[int] = ..., wrapped: _Optional[bytes] = ...) -> None: ...

class ObjectPart(_message.Message):
    __slots__ = ("part_number", "size", "checksums")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CHECKSUMS_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    size: int
    checksums: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checksum]
    def __init__(self, part_number: _Optional[int] = ..., size: _Optional[int] = ..., checksums: _Optional[_Iterable[_Union[_common_pb2.Checksum, _Mapping]]] = ...) -> None: ...

class Intent(_message.Message):
    __slots__ = ("id", "bucket", "key", "blobs", "expires_ms", "start_order")
    ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    START_ORDER_FIELD_NUMBER: _ClassVar[int]
    id: str
    bucket: str
    key: str
    blobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.BlobRef]
    expires_ms: int
    start_order: int
    def __init__(self, id: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., blobs: _Optional[_Iterable[_Union[_common_pb2.BlobRef, _Mapping]]] = ..., expires_ms: _Optional[int] = ..., start_order: _Optional[int] = ...) -> None: ...

class GcEntry(_message.Message):
    __slots__ = ("blobs", "queued_ms")
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    blobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.BlobRef]
    queued_ms: int
    def __init__(self, blobs: _Optional[_Iterable[_Union[_common_pb2.BlobRef, _Mapping]]] = ..., queued_ms: _Optional[int] = ...) -> None: ...

class RepairEntry(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "queued_ms", "locations")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    queued_ms: int
    locations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., queued_ms: _Optional[int] = ..., locations: _Optional[_Iterable[str]] = ...) -> None: ...

class UploadInfo(_message.Message):
    __slots__ = ("upload_id", "bucket", "key", "object", "initiated_ms", "checksum_algorithm", "checksum_type", "remote_upload_id", "remote_name")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    INITIATED_MS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_TYPE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    REMOTE_NAME_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    bucket: str
    key: str
    object: ObjectMD
    initiated_ms: int
    checksum_algorithm: str
    checksum_type: str
    remote_upload_id: str
    remote_name: str
    def __init__(self, upload_id: _Optional[str] = ..., bucket: _Optional[str] = ..., key: _Optional[str] = ..., object: _Optional[_Union[ObjectMD, _Mapping]] = ..., initiated_ms: _Optional[int] = ..., checksum_algorithm: _Optional[str] = ..., checksum_type: _Optional[str] = ..., remote_upload_id: _Optional[str] = ..., remote_name: _Optional[str] = ...) -> None: ...

class PartInfo(_message.Message):
    __slots__ = ("part_number", "etag", "size", "last_modified_ms", "blob", "checksums", "start_order", "sse_key")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_MS_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    CHECKSUMS_FIELD_NUMBER: _ClassVar[int]
    START_ORDER_FIELD_NUMBER: _ClassVar[int]
    SSE_KEY_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    etag: str
    size: int
    last_modified_ms: int
    blob: _common_pb2.BlobRef
    checksums: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checksum]
    start_order: int
    sse_key: SealedKey
    def __init__(self, part_number: _Optional[int] = ..., etag: _Optional[str] = ..., size: _Optional[int] = ..., last_modified_ms: _Optional[int] = ..., blob: _Optional[_Union[_common_pb2.BlobRef, _Mapping]] = ..., checksums: _Optional[_Iterable[_Union[_common_pb2.Checksum, _Mapping]]] = ..., start_order: _Optional[int] = ..., sse_key: _Optional[_Union[SealedKey, _Mapping]] = ...) -> None: ...

class CreateBucketRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: BucketInfo
    def __init__(self, bucket: _Optional[_Union[BucketInfo, _Mapping]] = ...) -> None: ...

class BucketName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListBucketsRequest(_message.Message):
    __slots__ = ("owner_id", "start_after", "prefix", "max_buckets", "location")
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    MAX_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    start_after: str
    prefix: str
    max_buckets: int
    location: str
    def __init__(self, owner_id: _Optional[str] = ..., start_after: _Optional[str] = ..., prefix: _Optional[str] = ..., max_buckets: _Optional[int] = ..., location: _Optional[str] = ...) -> None: ...

class ListBucketsResponse(_message.Message):
    __slots__ = ("buckets", "is_truncated")
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[BucketInfo]
    is_truncated: bool
    def __init__(self, buckets: _Optional[_Iterable[_Union[BucketInfo, _Mapping]]] = ..., is_truncated: _Optional[bool] = ...) -> None: ...

class GetObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "has_version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    has_version_id: bool
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., has_version_id: _Optional[bool] = ...) -> None: ...

class PutObjectRequest(_message.Message):
    __slots__ = ("bucket", "object", "versioning", "version_id", "has_version_id", "intent_id", "if_match", "if_none_match", "if_current_modified_ms")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    IF_CURRENT_MODIFIED_MS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object: ObjectMD
    versioning: bool
    version_id: str
    has_version_id: bool
    intent_id: str
    if_match: str
    if_none_match: bool
    if_current_modified_ms: int
    def __init__(self, bucket: _Optional[str] = ..., object: _Optional[_Union[ObjectMD, _Mapping]] = ..., versioning: _Optional[bool] = ..., version_id: _Optional[str] = ..., has_version_id: _Optional[bool] = ..., intent_id: _Optional[str] = ..., if_match: _Optional[str] = ..., if_none_match: _Optional[bool] = ..., if_current_modified_ms: _Optional[int] = ...) -> None: ...

class PutObjectResponse(_message.Message):
    __slots__ = ("version_id", "last_modified_ms")
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_MS_FIELD_NUMBER: _ClassVar[int]
    version_id: str
    last_modified_ms: int
    def __init__(self, version_id: _Optional[str] = ..., last_modified_ms: _Optional[int] = ...) -> None: ...

class DeleteObjectRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "has_version_id", "if_current_modified_ms")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    IF_CURRENT_MODIFIED_MS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    has_version_id: bool
    if_current_modified_ms: int
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., has_version_id: _Optional[bool] = ..., if_current_modified_ms: _Optional[int] = ...) -> None: ...

class DeleteObjectResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: ObjectMD
    def __init__(self, removed: _Optional[_Union[ObjectMD, _Mapping]] = ...) -> None: ...

class ListObjectsRequest(_message.Message):
    __slots__ = ("bucket", "listing_type", "prefix", "delimiter", "marker", "version_id_marker", "max_keys")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    LISTING_TYPE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    listing_type: ListingType
    prefix: str
    delimiter: str
    marker: str
    version_id_marker: str
    max_keys: int
    def __init__(self, bucket: _Optional[str] = ..., listing_type: _Optional[_Union[ListingType, str]] = ..., prefix: _Optional[str] = ..., delimiter: _Optional[str] = ..., marker: _Optional[str] = ..., version_id_marker: _Optional[str] = ..., max_keys: _Optional[int] = ...) -> None: ...

class ListEntry(_message.Message):
    __slots__ = ("key", "object")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    key: str
    object: ObjectMD
    def __init__(self, key: _Optional[str] = ..., object: _Optional[_Union[ObjectMD, _Mapping]] = ...) -> None: ...

class ListObjectsResponse(_message.Message):
    __slots__ = ("entries", "common_prefixes", "is_truncated", "next_marker", "next_version_id_marker")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    COMMON_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NEXT_MARKER_FIELD_NUMBER: _ClassVar[int]
    NEXT_VERSION_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ListEntry]
    common_prefixes: _containers.RepeatedScalarFieldContainer[str]
    is_truncated: bool
    next_marker: str
    next_version_id_marker: str
    def __init__(self, entries: _Optional[_Iterable[_Union[ListEntry, _Mapping]]] = ..., common_prefixes: _Optional[_Iterable[str]] = ..., is_truncated: _Optional[bool] = ..., next_marker: _Optional[str] = ..., next_version_id_marker: _Optional[str] = ...) -> None: ...

class CreateIntentRequest(_message.Message):
    __slots__ = ("bucket", "key", "blobs", "ttl_ms")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    blobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.BlobRef]
    ttl_ms: int
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., blobs: _Optional[_Iterable[_Union[_common_pb2.BlobRef, _Mapping]]] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class AbortIntentRequest(_message.Message):
    __slots__ = ("intent_id", "bucket")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    bucket: str
    def __init__(self, intent_id: _Optional[str] = ..., bucket: _Optional[str] = ...) -> None: ...

class RenewIntentRequest(_message.Message):
    __slots__ = ("intent_id", "ttl_ms", "bucket")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    ttl_ms: int
    bucket: str
    def __init__(self, intent_id: _Optional[str] = ..., ttl_ms: _Optional[int] = ..., bucket: _Optional[str] = ...) -> None: ...

class QueueGarbageRequest(_message.Message):
    __slots__ = ("blobs", "bucket")
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    blobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.BlobRef]
    bucket: str
    def __init__(self, blobs: _Optional[_Iterable[_Union[_common_pb2.BlobRef, _Mapping]]] = ..., bucket: _Optional[str] = ...) -> None: ...

class RunGcRequest(_message.Message):
    __slots__ = ("expire_all_intents",)
    EXPIRE_ALL_INTENTS_FIELD_NUMBER: _ClassVar[int]
    expire_all_intents: bool
    def __init__(self, expire_all_intents: _Optional[bool] = ...) -> None: ...

class RunGcResponse(_message.Message):
    __slots__ = ("blobs_deleted", "intents_expired", "entries_remaining")
    BLOBS_DELETED_FIELD_NUMBER: _ClassVar[int]
    INTENTS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_REMAINING_FIELD_NUMBER: _ClassVar[int]
    blobs_deleted: int
    intents_expired: int
    entries_remaining: int
    def __init__(self, blobs_deleted: _Optional[int] = ..., intents_expired: _Optional[int] = ..., entries_remaining: _Optional[int] = ...) -> None: ...

class RunRepairRequest(_message.Message):
    __slots__ = ("lost_nodes",)
    LOST_NODES_FIELD_NUMBER: _ClassVar[int]
    lost_nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, lost_nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class RunRepairResponse(_message.Message):
    __slots__ = ("blobs_repaired", "entries_remaining", "blobs_checked", "blobs_copied", "blobs_remaining", "lost_blobs_remaining")
    BLOBS_REPAIRED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_REMAINING_FIELD_NUMBER: _ClassVar[int]
    BLOBS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_COPIED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    LOST_BLOBS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    blobs_repaired: int
    entries_remaining: int
    blobs_checked: int
    blobs_copied: int
    blobs_remaining: int
    lost_blobs_remaining: int
    def __init__(self, blobs_repaired: _Optional[int] = ..., entries_remaining: _Optional[int] = ..., blobs_checked: _Optional[int] = ..., blobs_copied: _Optional[int] = ..., blobs_remaining: _Optional[int] = ..., lost_blobs_remaining: _Optional[int] = ...) -> None: ...

class RepairProgress(_message.Message):
    __slots__ = ("running", "blobs_total", "blobs_checked", "blobs_copied", "blobs_repaired")
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    BLOBS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BLOBS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_COPIED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_REPAIRED_FIELD_NUMBER: _ClassVar[int]
    running: bool
    blobs_total: int
    blobs_checked: int
    blobs_copied: int
    blobs_repaired: int
    def __init__(self, running: _Optional[bool] = ..., blobs_total: _Optional[int] = ..., blobs_checked: _Optional[int] = ..., blobs_copied: _Optional[int] = ..., blobs_repaired: _Optional[int] = ...) -> None: ...

class RepairStatusResponse(_message.Message):
    __slots__ = ("entries", "entries_by_location", "progress")
    class EntriesByLocationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_BY_LOCATION_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    entries: int
    entries_by_location: _containers.ScalarMap[str, int]
    progress: RepairProgress
    def __init__(self, entries: _Optional[int] = ..., entries_by_location: _Optional[_Mapping[str, int]] = ..., progress: _Optional[_Union[RepairProgress, _Mapping]] = ...) -> None: ...

class GcProgress(_message.Message):
    __slots__ = ("running", "entries_total", "entries_done", "blobs_deleted")
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_DONE_FIELD_NUMBER: _ClassVar[int]
    BLOBS_DELETED_FIELD_NUMBER: _ClassVar[int]
    running: bool
    entries_total: int
    entries_done: int
    blobs_deleted: int
    def __init__(self, running: _Optional[bool] = ..., entries_total: _Optional[int] = ..., entries_done: _Optional[int] = ..., blobs_deleted: _Optional[int] = ...) -> None: ...

class GcStatusResponse(_message.Message):
    __slots__ = ("entries", "progress")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    entries: int
    progress: GcProgress
    def __init__(self, entries: _Optional[int] = ..., progress: _Optional[_Union[GcProgress, _Mapping]] = ...) -> None: ...

class BucketStats(_message.Message):
    __slots__ = ("bucket", "objects", "bytes", "versions", "stored_bytes", "uploads", "delete_markers")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPLOADS_FIELD_NUMBER: _ClassVar[int]
    DELETE_MARKERS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    objects: int
    bytes: int
    versions: int
    stored_bytes: int
    uploads: int
    delete_markers: int
    def __init__(self, bucket: _Optional[str] = ..., objects: _Optional[int] = ..., bytes: _Optional[int] = ..., versions: _Optional[int] = ..., stored_bytes: _Optional[int] = ..., uploads: _Optional[int] = ..., delete_markers: _Optional[int] = ...) -> None: ...

class BucketStatsRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    def __init__(self, bucket: _Optional[str] = ...) -> None: ...

class BucketStatsResponse(_message.Message):
    __slots__ = ("buckets",)
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[BucketStats]
    def __init__(self, buckets: _Optional[_Iterable[_Union[BucketStats, _Mapping]]] = ...) -> None: ...

class CreateUploadRequest(_message.Message):
    __slots__ = ("upload",)
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    upload: UploadInfo
    def __init__(self, upload: _Optional[_Union[UploadInfo, _Mapping]] = ...) -> None: ...

class UploadRef(_message.Message):
    __slots__ = ("bucket", "key", "upload_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class PutPartRequest(_message.Message):
    __slots__ = ("upload", "part", "intent_id")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    upload: UploadRef
    part: PartInfo
    intent_id: str
    def __init__(self, upload: _Optional[_Union[UploadRef, _Mapping]] = ..., part: _Optional[_Union[PartInfo, _Mapping]] = ..., intent_id: _Optional[str] = ...) -> None: ...

class PutPartResponse(_message.Message):
    __slots__ = ("replaced", "superseded")
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    replaced: PartInfo
    superseded: bool
    def __init__(self, replaced: _Optional[_Union[PartInfo, _Mapping]] = ..., superseded: _Optional[bool] = ...) -> None: ...

class ListPartsRequest(_message.Message):
    __slots__ = ("upload", "part_number_marker", "max_parts")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_MARKER_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTS_FIELD_NUMBER: _ClassVar[int]
    upload: UploadRef
    part_number_marker: int
    max_parts: int
    def __init__(self, upload: _Optional[_Union[UploadRef, _Mapping]] = ..., part_number_marker: _Optional[int] = ..., max_parts: _Optional[int] = ...) -> None: ...

class ListPartsResponse(_message.Message):
    __slots__ = ("upload", "parts", "is_truncated", "next_part_number_marker")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NEXT_PART_NUMBER_MARKER_FIELD_NUMBER: _ClassVar[int]
    upload: UploadInfo
    parts: _containers.RepeatedCompositeFieldContainer[PartInfo]
    is_truncated: bool
    next_part_number_marker: int
    def __init__(self, upload: _Optional[_Union[UploadInfo, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[PartInfo, _Mapping]]] = ..., is_truncated: _Optional[bool] = ..., next_part_number_marker: _Optional[int] = ...) -> None: ...

class CompletedPart(_message.Message):
    __slots__ = ("part_number", "etag", "checksums")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CHECKSUMS_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    etag: str
    checksums: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checksum]
    def __init__(self, part_number: _Optional[int] = ..., etag: _Optional[str] = ..., checksums: _Optional[_Iterable[_Union[_common_pb2.Checksum, _Mapping]]] = ...) -> None: ...

class CompleteUploadRequest(_message.Message):
    __slots__ = ("upload", "parts", "put", "min_part_size", "expected_checksum", "remote_blob")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    MIN_PART_SIZE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    REMOTE_BLOB_FIELD_NUMBER: _ClassVar[int]
    upload: UploadRef
    parts: _containers.RepeatedCompositeFieldContainer[CompletedPart]
    put: PutObjectRequest
    min_part_size: int
    expected_checksum: _common_pb2.Checksum
    remote_blob: _common_pb2.BlobRef
    def __init__(self, upload: _Optional[_Union[UploadRef, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[CompletedPart, _Mapping]]] = ..., put: _Optional[_Union[PutObjectRequest, _Mapping]] = ..., min_part_size: _Optional[int] = ..., expected_checksum: _Optional[_Union[_common_pb2.Checksum, _Mapping]] = ..., remote_blob: _Optional[_Union[_common_pb2.BlobRef, _Mapping]] = ...) -> None: ...

class CompleteUploadResponse(_message.Message):
    __slots__ = ("problem", "problem_part_number", "object", "already_completed")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    problem: CompleteProblem
    problem_part_number: int
    object: ObjectMD
    already_completed: bool
    def __init__(self, problem: _Optional[_Union[CompleteProblem, str]] = ..., problem_part_number: _Optional[int] = ..., object: _Optional[_Union[ObjectMD, _Mapping]] = ..., already_completed: _Optional[bool] = ...) -> None: ...

class ListUploadsRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "delimiter", "key_marker", "upload_id_marker", "max_uploads")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    KEY_MARKER_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    MAX_UPLOADS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    delimiter: str
    key_marker: str
    upload_id_marker: str
    max_uploads: int
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., delimiter: _Optional[str] = ..., key_marker: _Optional[str] = ..., upload_id_marker: _Optional[str] = ..., max_uploads: _Optional[int] = ...) -> None: ...

class ListUploadsResponse(_message.Message):
    __slots__ = ("uploads", "common_prefixes", "is_truncated", "next_key_marker", "next_upload_id_marker")
    UPLOADS_FIELD_NUMBER: _ClassVar[int]
    COMMON_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NEXT_KEY_MARKER_FIELD_NUMBER: _ClassVar[int]
    NEXT_UPLOAD_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    uploads: _containers.RepeatedCompositeFieldContainer[UploadInfo]
    common_prefixes: _containers.RepeatedScalarFieldContainer[str]
    is_truncated: bool
    next_key_marker: str
    next_upload_id_marker: str
    def __init__(self, uploads: _Optional[_Iterable[_Union[UploadInfo, _Mapping]]] = ..., common_prefixes: _Optional[_Iterable[str]] = ..., is_truncated: _Optional[bool] = ..., next_key_marker: _Optional[str] = ..., next_upload_id_marker: _Optional[str] = ...) -> None: ...

class KeyValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class LogRecord(_message.Message):
    __slots__ = ("index", "term", "puts", "deletes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    PUTS_FIELD_NUMBER: _ClassVar[int]
    DELETES_FIELD_NUMBER: _ClassVar[int]
    index: int
    term: int
    puts: _containers.RepeatedCompositeFieldContainer[KeyValue]
    deletes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., term: _Optional[int] = ..., puts: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., deletes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("shard", "term", "leader_id", "prev_index", "prev_term", "entries", "commit_index")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    PREV_INDEX_FIELD_NUMBER: _ClassVar[int]
    PREV_TERM_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    shard: str
    term: int
    leader_id: str
    prev_index: int
    prev_term: int
    entries: _containers.RepeatedCompositeFieldContainer[LogRecord]
    commit_index: int
    def __init__(self, shard: _Optional[str] = ..., term: _Optional[int] = ..., leader_id: _Optional[str] = ..., prev_index: _Optional[int] = ..., prev_term: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[LogRecord, _Mapping]]] = ..., commit_index: _Optional[int] = ...) -> None: ...

class AppendResponse(_message.Message):
    __slots__ = ("ok", "last_index", "last_term")
    OK_FIELD_NUMBER: _ClassVar[int]
    LAST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_TERM_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    last_index: int
    last_term: int
    def __init__(self, ok: _Optional[bool] = ..., last_index: _Optional[int] = ..., last_term: _Optional[int] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("shard", "term", "leader_id", "last_index", "last_term", "file", "data")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_TERM_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    shard: str
    term: int
    leader_id: str
    last_index: int
    last_term: int
    file: str
    data: bytes
    def __init__(self, shard: _Optional[str] = ..., term: _Optional[int] = ..., leader_id: _Optional[str] = ..., last_index: _Optional[int] = ..., last_term: _Optional[int] = ..., file: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ReadSnapshotRequest(_message.Message):
    __slots__ = ("shard",)
    SHARD_FIELD_NUMBER: _ClassVar[int]
    shard: str
    def __init__(self, shard: _Optional[str] = ...) -> None: ...
