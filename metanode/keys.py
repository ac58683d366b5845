"""Every byte the metadata node stores: key layout, value framing, version ids (DESIGN section 5).

This is the only module that knows how keys and values are encoded. Changing an
encoding means bumping ``FORMAT_VERSION`` and writing a migration.

Key layout (all keys are bytes; object keys and names are UTF-8):

- ``B<bucket-name>`` -> BucketInfo
- ``O<bucket-uid><key>`` -> master ObjectMD (latest version)
- ``O<bucket-uid><key>\\0<version-id>`` -> one version
- ``U<bucket-uid><key>\\0<upload-id>`` -> UploadInfo; ``P<upload-id><part:05d>`` -> PartInfo
- ``G<seq:020d>`` -> GcEntry; ``I<intent-id>`` -> Intent; ``L<index:020d>`` -> log entry
- ``R<bucket-uid><key>\\0<upload-id>`` -> RepairEntry (blobs short of their replicas)
- ``S<name>`` -> node bookkeeping (last log index, version id floor)
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo, GcEntry, Intent, ObjectMD, PartInfo, RepairEntry, UploadInfo

FORMAT_VERSION = 1

BUCKET_PREFIX = b"B"
OBJECT_PREFIX = b"O"
UPLOAD_PREFIX = b"U"
PART_PREFIX = b"P"
GC_PREFIX = b"G"
INTENT_PREFIX = b"I"
LOG_PREFIX = b"L"
REPAIR_PREFIX = b"R"
SYSTEM_PREFIX = b"S"

VERSION_SEPARATOR = "\0"
VERSION_SEPARATOR_BYTES = b"\0"

BUCKET_UID_LENGTH = 32
MAX_BUCKET_NAME_BYTES = 255
MAX_OBJECT_KEY_BYTES = 1024

LAST_LOG_INDEX_KEY = SYSTEM_PREFIX + b"last-log-index"
# Replicated shards: the term of the last entry, and where the retained log starts
# (the index and term of the entry just before the first ``L`` key kept).
LAST_LOG_TERM_KEY = SYSTEM_PREFIX + b"last-log-term"
LOG_BASE_KEY = SYSTEM_PREFIX + b"log-base"
VERSION_FLOOR_KEY = SYSTEM_PREFIX + b"version-id-floor"
# The last key a bucket's lifecycle scan finished (replicated, so a new leader resumes after it).
LIFECYCLE_POSITION_PREFIX = SYSTEM_PREFIX + b"lifecycle-position/"

# Version ids: (MAX_TS - now_ms) then (MAX_SEQ - seq), zero-padded, then the replication group.
TS_DIGITS = 16
SEQ_DIGITS = 6
MAX_TS = 10**TS_DIGITS - 1
MAX_SEQ = 10**SEQ_DIGITS - 1
DEFAULT_REPLICATION_GROUP_ID = "RG001"
NULL_VERSION_ID = "null"

_UID_RE = re.compile(rf"^[0-9a-f]{{{BUCKET_UID_LENGTH}}}$")
_REPLICATION_GROUP_RE = re.compile(r"^[A-Za-z0-9]{1,16}$")
_INTERNAL_VERSION_RE = re.compile(rf"^[0-9]{{{TS_DIGITS + SEQ_DIGITS}}}[A-Za-z0-9]{{1,16}}$")
_HEX_RE = re.compile(r"^(?:[0-9a-f]{2})+$")

RecordT = TypeVar("RecordT", bound=Message)


def _invalid(message: str) -> StrataError:
    return StrataError(ErrorReason.INVALID_ARGUMENT, message)


# ---- values ----


def encode_record(record: Message) -> bytes:
    """The stored form of a record: the format-version byte, then the protobuf."""
    return bytes((FORMAT_VERSION,)) + record.SerializeToString()


def _decode(factory: Callable[[], RecordT], raw: bytes) -> RecordT:
    if not raw or raw[0] != FORMAT_VERSION:
        version = raw[0] if raw else None
        raise StrataError(ErrorReason.INTERNAL, f"unsupported metadata format version {version}")
    record = factory()
    try:
        record.ParseFromString(raw[1:])
    except DecodeError as error:
        raise StrataError(ErrorReason.INTERNAL, f"corrupt metadata record: {error}") from error
    return record


def decode_bucket(raw: bytes) -> BucketInfo:
    return _decode(BucketInfo, raw)


def decode_object(raw: bytes) -> ObjectMD:
    return _decode(ObjectMD, raw)


def decode_intent(raw: bytes) -> Intent:
    return _decode(Intent, raw)


def decode_gc_entry(raw: bytes) -> GcEntry:
    return _decode(GcEntry, raw)


def decode_repair_entry(raw: bytes) -> RepairEntry:
    return _decode(RepairEntry, raw)


def decode_upload(raw: bytes) -> UploadInfo:
    return _decode(UploadInfo, raw)


def decode_part(raw: bytes) -> PartInfo:
    return _decode(PartInfo, raw)


def encode_counter(value: int) -> bytes:
    return bytes((FORMAT_VERSION,)) + str(value).encode()


def decode_counter(raw: bytes | None) -> int:
    if raw is None:
        return 0
    if not raw or raw[0] != FORMAT_VERSION:
        raise StrataError(ErrorReason.INTERNAL, "unsupported counter format")
    return int(raw[1:].decode())


def encode_text(value: str) -> bytes:
    return bytes((FORMAT_VERSION,)) + value.encode()


def decode_text(raw: bytes | None) -> str:
    if raw is None:
        return ""
    if not raw or raw[0] != FORMAT_VERSION:
        raise StrataError(ErrorReason.INTERNAL, "unsupported text format")
    return raw[1:].decode()


# ---- validation ----


def validate_bucket_name(name: str) -> None:
    if not name or "\0" in name or "/" in name:
        raise _invalid(f"invalid bucket name {name!r}")
    if len(_utf8(name, "bucket name")) > MAX_BUCKET_NAME_BYTES:
        raise _invalid("bucket name too long")


def validate_object_key(key: str) -> None:
    if not key:
        raise _invalid("object key must not be empty")
    if VERSION_SEPARATOR in key:
        raise _invalid("object key must not contain a NUL character")
    if len(_utf8(key, "object key")) > MAX_OBJECT_KEY_BYTES:
        raise _invalid("object key too long")


def validate_listing_text(value: str, what: str) -> None:
    """Prefixes, delimiters and markers: encodable, and never the version separator."""
    if VERSION_SEPARATOR in value:
        raise _invalid(f"{what} must not contain a NUL character")
    _utf8(value, what)


def validate_bucket_uid(uid: str) -> None:
    if not _UID_RE.match(uid):
        raise _invalid(f"bucket uid must be {BUCKET_UID_LENGTH} lower-case hex characters")


def _utf8(value: str, what: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError as error:
        raise _invalid(f"{what} is not valid UTF-8") from error


# ---- keys ----


def new_bucket_uid() -> str:
    return secrets.token_hex(BUCKET_UID_LENGTH // 2)


def new_intent_id() -> str:
    return secrets.token_hex(16)


def bucket_key(name: str) -> bytes:
    return BUCKET_PREFIX + name.encode()


def bucket_name_from_key(raw_key: bytes) -> str:
    return raw_key[len(BUCKET_PREFIX) :].decode()


def object_prefix(bucket_uid: str) -> bytes:
    """Every master and version key of one bucket starts with this."""
    return OBJECT_PREFIX + bucket_uid.encode()


def master_key(bucket_uid: str, key: str) -> bytes:
    return object_prefix(bucket_uid) + key.encode()


def version_key(bucket_uid: str, key: str, version_id: str) -> bytes:
    return master_key(bucket_uid, key) + VERSION_SEPARATOR_BYTES + version_id.encode()


def versions_prefix(bucket_uid: str, key: str) -> bytes:
    """Every version key of one object (not its master) starts with this."""
    return master_key(bucket_uid, key) + VERSION_SEPARATOR_BYTES


def split_listing_key(listing_key: str) -> tuple[str, str | None]:
    """``key`` -> (key, None); ``key\\0vid`` -> (key, vid)."""
    key, separator, version_id = listing_key.partition(VERSION_SEPARATOR)
    return (key, version_id) if separator else (key, None)


def upload_prefix(bucket_uid: str) -> bytes:
    return UPLOAD_PREFIX + bucket_uid.encode()


def upload_key(bucket_uid: str, key: str, upload_id: str) -> bytes:
    return upload_prefix(bucket_uid) + key.encode() + VERSION_SEPARATOR_BYTES + upload_id.encode()


def part_key(upload_id: str, part_number: int) -> bytes:
    return PART_PREFIX + upload_id.encode() + b"%05d" % part_number


def parts_prefix(upload_id: str) -> bytes:
    """Every part key of one upload starts with this (upload ids have one length: no collisions)."""
    return PART_PREFIX + upload_id.encode()


def part_number_from_key(raw_key: bytes) -> int:
    return int(raw_key[-5:])


# Upload ids: base64 with an alphabet in ASCII order, so ids sort like the bytes they encode.
_SORTABLE_B64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
UPLOAD_ID_LENGTH = 32
_UPLOAD_ID_RE = re.compile(rf"^[0-9A-Za-z_~]{{{UPLOAD_ID_LENGTH}}}$")


def new_upload_id(now_ms: int) -> str:
    """Opaque and URL-safe; the leading timestamp makes one key's uploads list oldest first."""
    raw = now_ms.to_bytes(8, "big") + secrets.token_bytes(16)
    value = int.from_bytes(raw, "big")
    chars = [_SORTABLE_B64[(value >> shift) & 63] for shift in range(186, -1, -6)]
    return "".join(chars)


def is_upload_id(upload_id: str) -> bool:
    return bool(_UPLOAD_ID_RE.match(upload_id))


def gc_key(seq: int) -> bytes:
    return GC_PREFIX + b"%020d" % seq


def gc_seq_from_key(raw_key: bytes) -> int:
    return int(raw_key[len(GC_PREFIX) :])


def repair_key(bucket_uid: str, key: str, upload_id: str = "") -> bytes:
    """The repair-queue entry of one object's versions, or of one upload's parts."""
    return (
        REPAIR_PREFIX
        + master_key(bucket_uid, key)[len(OBJECT_PREFIX) :]
        + VERSION_SEPARATOR_BYTES
        + upload_id.encode()
    )


def lifecycle_position_key(bucket_uid: str) -> bytes:
    validate_bucket_uid(bucket_uid)
    return LIFECYCLE_POSITION_PREFIX + bucket_uid.encode()


def intent_key(intent_id: str) -> bytes:
    return INTENT_PREFIX + intent_id.encode()


def log_key(index: int) -> bytes:
    return LOG_PREFIX + b"%020d" % index


def log_index_from_key(raw_key: bytes) -> int:
    return int(raw_key[len(LOG_PREFIX) :])


def encode_position(index: int, term: int) -> bytes:
    return bytes((FORMAT_VERSION,)) + b"%d:%d" % (index, term)


def decode_position(raw: bytes | None) -> tuple[int, int]:
    """(index, term); (0, 0) when absent."""
    if raw is None:
        return 0, 0
    if not raw or raw[0] != FORMAT_VERSION:
        raise StrataError(ErrorReason.INTERNAL, "unsupported log position format")
    index, _, term = raw[1:].partition(b":")
    return int(index), int(term)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


# ---- version ids ----


def validate_replication_group_id(replication_group_id: str) -> None:
    if not _REPLICATION_GROUP_RE.match(replication_group_id):
        raise _invalid("replication group id must be 1-16 letters or digits")


def make_version_id(timestamp_ms: int, seq: int, replication_group_id: str) -> str:
    return f"{MAX_TS - timestamp_ms:0{TS_DIGITS}d}{MAX_SEQ - seq:0{SEQ_DIGITS}d}{replication_group_id}"


def parse_version_id(version_id: str) -> tuple[int, int, str]:
    """(timestamp_ms, seq, replication group) of an internal version id."""
    if not _INTERNAL_VERSION_RE.match(version_id):
        raise _invalid(f"malformed internal version id {version_id!r}")
    timestamp_ms = MAX_TS - int(version_id[:TS_DIGITS])
    seq = MAX_SEQ - int(version_id[TS_DIGITS : TS_DIGITS + SEQ_DIGITS])
    return timestamp_ms, seq, version_id[TS_DIGITS + SEQ_DIGITS :]


def non_versioned_version_id(replication_group_id: str) -> str:
    """The id given to a null version put before versioning: it sorts after every real version."""
    return make_version_id(0, 0, replication_group_id)


def is_newer_version(candidate: str, than: str) -> bool:
    """Newest sorts first, so a newer id is the smaller string."""
    return candidate < than


class VersionIdGenerator:
    """Strictly monotonic version ids, even within one millisecond and across restarts.

    ``floor`` is the newest id issued before (persisted by the caller); ids
    issued from now on are always newer, even if the clock went backwards.
    """

    def __init__(
        self,
        replication_group_id: str = DEFAULT_REPLICATION_GROUP_ID,
        floor: str = "",
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        validate_replication_group_id(replication_group_id)
        self.replication_group_id = replication_group_id
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._last_ms = -1
        self._last_seq = MAX_SEQ
        self._last_issued = ""
        self._lock = threading.Lock()
        if floor:
            self.observe(floor)

    @property
    def last_issued(self) -> str:
        return self._last_issued

    def observe(self, version_id: str) -> None:
        """Never issue an id older than or equal to ``version_id`` from now on."""
        timestamp_ms, seq, _ = parse_version_id(version_id)
        with self._lock:
            if (timestamp_ms, seq) > (self._last_ms, self._last_seq):
                self._last_ms, self._last_seq = timestamp_ms, seq
                self._last_issued = version_id

    def next(self) -> str:
        with self._lock:
            now_ms = self._clock_ms()
            if now_ms > self._last_ms:
                timestamp_ms, seq = now_ms, 0
            elif self._last_seq < MAX_SEQ:
                timestamp_ms, seq = self._last_ms, self._last_seq + 1
            else:  # a whole millisecond's worth of ids used up: borrow the next millisecond
                timestamp_ms, seq = self._last_ms + 1, 0
            if timestamp_ms > MAX_TS:
                raise StrataError(ErrorReason.INTERNAL, "version id clock overflow")
            self._last_ms, self._last_seq = timestamp_ms, seq
            self._last_issued = make_version_id(timestamp_ms, seq, self.replication_group_id)
            return self._last_issued


def encode_version_id(internal: str) -> str:
    """The opaque form clients see ("" stays "", "null" stays "null")."""
    if internal in ("", NULL_VERSION_ID):
        return internal
    return internal.encode().hex()


def decode_version_id(external: str) -> str:
    """The internal id behind a client's version id ("" and "null" pass through)."""
    if external in ("", NULL_VERSION_ID):
        return external
    if not _HEX_RE.match(external):
        raise _invalid("Invalid version id specified")
    try:
        internal = bytes.fromhex(external).decode("ascii")
    except (ValueError, UnicodeDecodeError) as error:
        raise _invalid("Invalid version id specified") from error
    if not _INTERNAL_VERSION_RE.match(internal):
        raise _invalid("Invalid version id specified")
    return internal


def listing_key(key_prefix: bytes, raw_key: bytes) -> str:
    """The part of a stored key a listing sees (object key, maybe ``\\0<version-id>``)."""
    return raw_key[len(key_prefix) :].decode("utf-8", "surrogatepass")


def raw_listing_key(key_prefix: bytes, listing_key_text: str) -> bytes:
    """Inverse of :func:`listing_key`; also used for seek targets that are not stored keys."""
    return key_prefix + listing_key_text.encode("utf-8", "surrogatepass")
